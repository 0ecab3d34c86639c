"""Channels of one DRAM replay on several cores, with results identical to the serial run.

Why this is not a plain split by channel
----------------------------------------
Channels share nothing but the front end (sim.memory.dram, step 2): requests enter in
trace order, at most K per clock, and a request whose queue is full holds back every
request behind it, whatever their channels. So when queues fill, one channel's service
times decide when every other channel receives its next request.

The scheme: a fixed point of admission times
--------------------------------------------
Write E[a] for the clock at which access a enters its controller. Given any candidate E,
each channel can be replayed alone (run_dram on its accesses only) with access a offered
at

    O(E)[a] = the first clock >= max(arrival[a], E[a-1]) at which fewer than K of the
              accesses before a have E == that clock;

the lone channel then admits a at the first clock >= O(E)[a] at which its queue has room,
after its own earlier accesses: call that G(E)[a]. A pass computes G(E) for every channel
independently, so the channels of a pass run in parallel.

1. A fixed point E = G(E) is the serial run. The serial front end admits a at the first
   clock >= O(E)[a] (the K rule needs no later clock: once a waits for room, every earlier
   access entered before the clock it finally gets room) at which its queue has room, and
   a channel's state before that clock depends only on its own accesses before a. That
   recursion fixes E[a] from E[0..a-1], so it has exactly one solution: the serial one.
2. Iterating E <- G(E) from the lower bound L (arrivals and the K rule alone) reaches it
   in at most n + 1 passes: if E agrees with the serial run on accesses 0..a0-1, then
   O(E) does on 0..a0, each lone channel replays its share of those exactly (its state
   before an access depends only on its own earlier accesses), and G(E) agrees on 0..a0.
3. The pass whose output equals its input is itself the serial run, so its per-access
   results (enter, column clock, row outcome), its read-latency breakdown and its command
   log are the serial ones; the passes before it are discarded.

What it costs: a pass is a full replay split across cores. When no queue ever fills, L is
the fixed point and one pass decides everything. When queues fill, the argument of 2 only
promises one more correct access per pass, and under saturation that is about what
happens: on hbm3 with every request at clock 0, 4,000 requests took 642 passes against
537 clocks at which the serial front end resumed admitting (2,000 requests, which fit in
the queues, took 19), so 5 M saturated requests would need some 10^5 passes. Exact
channel parallelism is therefore out of reach for a saturated front end: the channels are
coupled at nearly every admission. The pass budget is small (`max_passes`, default
workers - 1, at least 1); a run that has not converged within it is replayed serially,
which is exact by definition. Before any pass, a cheap bound detects traffic that must
fill a queue (the lower-bound admissions overfill one even if it lost a transaction
every clock, the most it can); such runs go serial at once. `ParallelStats` says what
happened and how long each phase took.

Parallelism is processes, not threads: the kernel's loops hold the GIL (they are not
compiled nogil; run_dram is a Python-level dispatch to them). Each pass forks workers
that inherit the compiled kernel and the inputs; outputs go to shared anonymous memory.
Where fork is unavailable the passes run in this process. Measured on the 2-core VM (5 M
random reads on hbm3, one pass): the pass takes 1.8 s on two processes against 3.4 s in
one; splitting the trace into segments and merging the results back cost about 0.3 s.
"""

from __future__ import annotations

import mmap
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.kernels import dram as K
from sim.memory.dram import Accesses, RawResult, kernel_params, run_fast, sparse_table
from sim.memory.dram_config import DramConfig

# Below this many accesses a pass runs in this process: forking a worker (page tables of a
# process holding numba and numpy, ~5-10 ms here) costs more than it saves.
FORK_MIN_ACCESSES = 50_000


@dataclass
class ParallelStats:
    """How a parallel replay went."""

    workers: int  # processes the passes used (1: replayed serially without a pass)
    passes: int  # parallel passes run
    converged: bool  # False: replayed serially after `passes` passes (see `why`)
    why: str = ""  # why the replay ended serial, if it did
    seconds: dict = field(default_factory=dict)  # wall time per phase


@njit(cache=True)
def _offers(sched, arrival, k_max, t0, out):
    """out[a] = O(sched)[a] (module docstring). With sched and out the same array this
    computes the lower bound L (arrivals and the K rule alone) in place."""
    n = arrival.shape[0]
    run = 0  # accesses before a sharing sched[a-1]
    for a in range(n):
        lo = arrival[a]
        if lo < t0:
            lo = t0
        if a > 0:
            p = sched[a - 1]
            if p >= lo:
                lo = p + 1 if run >= k_max else p
        out[a] = lo
        if a > 0 and sched[a] == sched[a - 1]:
            run += 1
        else:
            run = 1


@njit(cache=True)
def _must_block(sched, ctrl, is_write, nch, rq, wq):
    """True if admitting at `sched` (the lower bound) would overfill some queue even if it
    lost one transaction every clock, the most any queue loses (bank_queues moves one
    transaction per clock and channel; fr_fcfs's buffers lose one per command)."""
    occ = np.zeros((nch, 2), np.int64)
    last = np.full((nch, 2), sched[0] if sched.shape[0] else 0, np.int64)
    for a in range(sched.shape[0]):
        c = ctrl[a]
        w = 1 if is_write[a] else 0
        o = occ[c, w] - (sched[a] - last[c, w])  # departures come before admissions
        if o < 0:
            o = 0
        o += 1
        if o > (wq if w else rq):
            return True
        occ[c, w] = o
        last[c, w] = sched[a]
    return False


def _shared(n: int, dtype: np.dtype) -> np.ndarray:
    """A zeroed array in anonymous shared memory: forked workers' writes are seen here.
    Large arrays live there even when only this process writes them: on this VM its pages
    cost about a third of private memory's in first-touch faults (0.5 vs 1.7 ms per MB)."""
    dt = np.dtype(dtype)
    buf = mmap.mmap(-1, max(n * dt.itemsize, 1))
    return np.frombuffer(buf, dt, count=n)


class _Segments:
    """Each channel's accesses as one kernel input: a dummy write on channel 1 first, then
    the channel's accesses on channel 0 in trace order and, when the log is kept, a second
    dummy write on channel 1.

    The first dummy pins the kernel's first clock to the serial run's (the kernel starts at
    its first arrival, and refresh is due at absolute clocks). The serial log holds every
    channel's commands up to the clock of the run's last column command, refreshes of idle
    channels included; the second dummy, arriving at or after that clock, keeps the lone
    channel running until then. Writes on a channel of their own, the dummies add nothing
    to the channel, to the read breakdown or to the kept log."""

    def __init__(self, cfg: DramConfig, acc: Accesses, with_log: bool) -> None:
        self.ctrl = acc.controller
        counts = np.bincount(acc.controller, minlength=cfg.channels)
        # idle channels only matter for their refresh commands in the log
        self.channels = np.arange(cfg.channels) if with_log else np.flatnonzero(counts)
        self.seg_of = np.full(cfg.channels, -1, np.int64)
        self.seg_of[self.channels] = np.arange(len(self.channels))
        self.extra = 2 if with_log else 1
        self.sizes = counts[self.channels] + self.extra
        self.starts = np.zeros(len(self.sizes) + 1, np.int64)
        np.cumsum(self.sizes, out=self.starts[1:])
        m = int(self.starts[-1])
        # inputs (forked workers inherit them)
        self.ch = _shared(m, acc.controller.dtype)
        self.rank = _shared(m, acc.rank.dtype)
        self.bankgroup = _shared(m, acc.bankgroup.dtype)
        self.bank = _shared(m, acc.bank.dtype)
        self.row = _shared(m, acc.row.dtype)
        self.is_write = _shared(m, np.bool_)
        self.arrival = _shared(m, np.int64)
        _split(acc.controller, self.seg_of, self.starts, acc.rank, acc.bankgroup, acc.bank,
               acc.row, np.asarray(acc.is_write, np.bool_), self.ch, self.rank,
               self.bankgroup, self.bank, self.row, self.is_write)
        nseg = len(self.sizes)
        # outputs, shared with forked workers
        self.enter = _shared(m, np.int64)
        self.col = _shared(m, np.int64)
        self.kind = _shared(m, np.int8)
        self.bd = _shared(nseg * K.N_BREAKDOWN, np.int64).reshape(nseg, K.N_BREAKDOWN)
        self.log_n = _shared(nseg * 2, np.int64).reshape(nseg, 2)
        self.ends = _shared(nseg, np.int64)
        self.last = _shared(nseg, np.int64)  # the last clock each replay went through
        self.log_caps = np.zeros(nseg, np.int64)
        self.log_starts = np.zeros(nseg + 1, np.int64)
        self.log = _shared(0, np.int64).reshape(0, 7)
        if with_log:
            self.size_logs(3 * self.sizes + 1024)

    def offer(self, offers: np.ndarray, t0: int, tail_at: int) -> None:
        """Arrivals for the next pass: the offers, t0 for the first dummy, tail_at for the
        second."""
        _split_arrivals(self.ctrl, self.seg_of, self.starts, offers, t0, tail_at, self.arrival)

    def results(self, is_write: np.ndarray, cl: int, cwl: int, burst: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
        """Per-access enter, column clock and kind in trace order, the last column clock
        and the last data beat."""
        n = len(self.ctrl)
        enter = _shared(n, np.int64)
        col = _shared(n, np.int64)
        kind = _shared(n, np.int8)
        last, end = _merge(self.ctrl, self.seg_of, self.starts, self.enter, self.col, self.kind,
                           is_write, cl, cwl, burst, enter, col, kind)
        return enter, col, kind, int(last), int(end)

    def size_logs(self, caps: np.ndarray) -> None:
        """(Re)allocate the log buffers with these capacities, keeping what they hold."""
        old, old_starts, old_n = self.log, self.log_starts, np.array(self.log_n[:, 0])
        self.log_caps = np.asarray(caps, np.int64)
        self.log_starts = np.zeros(len(caps) + 1, np.int64)
        np.cumsum(self.log_caps, out=self.log_starts[1:])
        self.log = _shared(int(self.log_starts[-1]) * 7, np.int64).reshape(-1, 7)
        for s in range(len(old_starts) - 1):
            k = min(int(old_n[s]), int(self.log_caps[s]))
            self.log[self.log_starts[s]:self.log_starts[s] + k] = old[old_starts[s]:old_starts[s] + k]

    def run(self, s: int, params: np.ndarray, table: tuple) -> None:
        """Replay segment s (in this process) into the shared outputs."""
        lo, hi = int(self.starts[s]), int(self.starts[s + 1])
        p = params.copy()
        p[K.P_LOGCAP] = self.log_caps[s]
        log = self.log[self.log_starts[s]:self.log_starts[s + 1]]
        if len(log) == 0:
            log = np.zeros((1, 7), np.int64)
        # counters the kernel updates on every command stay private until the end: rows
        # of one shared page written by two processes at once share cache lines, and that
        # false sharing cost more than a third of a pass
        bd = np.zeros(K.N_BREAKDOWN, np.int64)
        log_n = np.zeros(2, np.int64)
        sp_n, sp_e, sp_lat = table
        self.ends[s] = K.run_dram(p, sp_n, sp_e, sp_lat, self.ch[lo:hi], self.rank[lo:hi],
                                  self.bankgroup[lo:hi], self.bank[lo:hi], self.row[lo:hi],
                                  self.is_write[lo:hi], self.arrival[lo:hi], self.enter[lo:hi],
                                  self.col[lo:hi], self.kind[lo:hi], bd, log, log_n)
        self.bd[s] = bd
        self.log_n[s] = log_n
        self.last[s] = self.col[lo:hi].max()


# One sequential pass over the trace each (the segments are written as 16 or so sequential
# streams): gathering a channel's accesses by index instead costs several times more,
# since every cache line of the trace then holds accesses of every channel.
@njit(cache=True)
def _split(ctrl, seg_of, starts, rank, bg, bank, row, is_write,
           o_ch, o_rank, o_bg, o_bank, o_row, o_write):
    """The accesses into their channels' segments (trace order kept), dummies around. The
    outputs come zeroed (fresh shared memory): only the dummies' fields need setting."""
    for s in range(starts.shape[0] - 1):
        for j in (starts[s], starts[s + 1] - 1):  # (the last slot is a dummy only with a log)
            o_ch[j] = 1
            o_write[j] = True
    nxt = starts[:-1] + 1
    for a in range(ctrl.shape[0]):
        s = seg_of[ctrl[a]]
        i = nxt[s]
        nxt[s] = i + 1
        o_ch[i] = 0
        o_rank[i] = rank[a]
        o_bg[i] = bg[a]
        o_bank[i] = bank[a]
        o_row[i] = row[a]
        o_write[i] = is_write[a]


@njit(cache=True)
def _split_arrivals(ctrl, seg_of, starts, offers, t0, tail_at, o_arrival):
    nseg = starts.shape[0] - 1
    for s in range(nseg):
        o_arrival[starts[s + 1] - 1] = tail_at  # (the last access when there is no tail)
        o_arrival[starts[s]] = t0
    nxt = starts[:-1] + 1
    for a in range(ctrl.shape[0]):
        s = seg_of[ctrl[a]]
        o_arrival[nxt[s]] = offers[a]
        nxt[s] += 1


@njit(cache=True)
def _merge(ctrl, seg_of, starts, s_enter, s_col, s_kind, is_write, cl, cwl, burst,
           enter, col, kind):
    """Results back into trace order; returns the last column clock and last data beat."""
    nxt = starts[:-1] + 1
    last = np.int64(0)
    end = np.int64(0)
    for a in range(ctrl.shape[0]):
        s = seg_of[ctrl[a]]
        i = nxt[s]
        nxt[s] = i + 1
        c = s_col[i]
        enter[a] = s_enter[i]
        col[a] = c
        kind[a] = s_kind[i]
        if c > last:
            last = c
        fin = c + (cwl if is_write[a] else cl) + burst
        if fin > end:
            end = fin
    return last, end


def _share_out(segments: list[int], sizes: np.ndarray, workers: int) -> list[list[int]]:
    """Segments per worker, largest first onto the least loaded (LPT)."""
    loads = [0] * workers
    parts: list[list[int]] = [[] for _ in range(workers)]
    for s in sorted(segments, key=lambda s: -int(sizes[s])):
        w = loads.index(min(loads))
        parts[w].append(s)
        loads[w] += int(sizes[s])
    return [p for p in parts if p]


def _run_pass(seg: _Segments, segments: list[int], params: np.ndarray, table: tuple,
              workers: int) -> None:
    """Replay the given segments, this process taking one share and forked workers the
    others."""
    parts = _share_out(segments, seg.sizes, workers)
    small = int(seg.sizes[segments].sum()) < FORK_MIN_ACCESSES
    if len(parts) <= 1 or small or not hasattr(os, "fork"):
        for part in parts:
            for s in part:
                seg.run(s, params, table)
        return
    pids = []
    for part in parts[1:]:
        pid = os.fork()
        if pid == 0:  # worker: replay its segments, report through the exit status only
            code = 0
            try:
                for s in part:
                    seg.run(s, params, table)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    failed = False
    try:
        for s in parts[0]:
            seg.run(s, params, table)
    finally:
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            failed = failed or os.waitstatus_to_exitcode(status) != 0
    if failed:
        raise RuntimeError("a DRAM channel worker failed (traceback above)")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_parallel(cfg: DramConfig, acc: Accesses, requests_per_clock: int, with_log: bool = False,
                 workers: int | None = None,
                 max_passes: int | None = None,
                 screen: bool = True) -> tuple[RawResult, ParallelStats]:
    """Replay like sim.memory.dram.run_fast, channels spread over `workers` processes
    (default: the cores this process may use); the result is identical to run_fast's
    (module docstring). A pass costs about a serial replay / workers, so by default at
    most workers - 1 passes (at least one) are tried before replaying serially, and none
    when the traffic must fill a queue (screen=False tries them anyway: for tests)."""
    w = workers or default_workers()
    n = len(acc)
    if n == 0 or w < 2 or cfg.channels < 2:
        why = "one channel" if cfg.channels < 2 else "one worker" if w < 2 else "no requests"
        return run_fast(cfg, acc, requests_per_clock, with_log), ParallelStats(1, 0, False, why)
    budget = max(1, w - 1) if max_passes is None else max_passes
    clock = time.perf_counter
    t_start = clock()
    sec: dict = {}
    arrival = np.asarray(acc.arrival, np.int64)
    t0 = max(int(arrival[0]), 0)  # the kernel's first clock
    sched = _shared(n, np.int64)  # (cheaper first touch than np.empty: see _shared)
    _offers(sched, arrival, requests_per_clock, t0, sched)  # the lower bound L = O(L)
    c = cfg.controller
    if budget < 1 or screen and _must_block(sched, acc.controller, np.asarray(acc.is_write, np.bool_),
                                 cfg.channels, c.read_queue, c.write_queue):
        # L is not the fixed point, and a saturated front end needs about one pass per
        # blocking event (module docstring): the serial replay is faster
        sec["screen"] = clock() - t_start
        raw = run_fast(cfg, acc, requests_per_clock, with_log)
        return raw, ParallelStats(1, 0, False, "queues must fill (front end saturated)", sec)
    sec["screen"] = clock() - t_start
    t_split = clock()
    seg = _Segments(cfg, acc, with_log)
    params = kernel_params(cfg, requests_per_clock, 0)
    params[K.P_NCH] = 2  # the channel and the dummies'
    params[K.P_K] = n + 2  # admission is decided by the offers, not by the lone front end
    table = sparse_table(cfg)
    t = cfg.timing
    is_write = np.asarray(acc.is_write, np.bool_)
    everything = list(range(len(seg.sizes)))
    offers = _shared(n, np.int64)
    offers[:] = sched
    passes = 0
    sec["split"] = clock() - t_split
    sec["passes"] = sec["merge"] = 0.0
    while True:
        t_pass = clock()
        # the second dummy's arrival is a guess at the run's last clock (the log's tail);
        # segments whose replay stops short of the real one run again below
        seg.offer(offers, t0, int(sched[-1]) + max(int(sched[-1]) - t0, 4096))
        _replay(seg, everything, params, table, w)
        passes += 1
        t_merge = clock()
        sec["passes"] += t_merge - t_pass
        enter, col, kind, last, end = seg.results(is_write, t.CL, t.CWL, t.BURST)
        sec["merge"] += clock() - t_merge
        if np.array_equal(enter, sched):
            break
        if passes >= budget:
            raw = run_fast(cfg, acc, requests_per_clock, with_log)
            return raw, ParallelStats(w, passes, False, f"no fixed point after {passes} passes", sec)
        sched = enter
        _offers(sched, arrival, requests_per_clock, t0, offers)
    log = None
    if with_log:
        short = [s for s in everything if seg.last[s] < last]  # last: the serial run's
        if short:
            seg.offer(offers, t0, last)
            _replay(seg, short, params, table, w)
        log = _merged_log(cfg, seg, last)
    bd = np.asarray(seg.bd).sum(axis=0)
    sec["total"] = clock() - t_start
    return RawResult(end, enter, col, kind, bd, log), ParallelStats(w, passes, True, "", sec)


def _replay(seg: _Segments, segments: list[int], params: np.ndarray, table: tuple,
            workers: int) -> None:
    """Replay segments; again with twice the log room while any log overflowed."""
    while True:
        _run_pass(seg, segments, params, table, workers)
        if np.any(seg.ends[segments] < 0):
            raise RuntimeError("DRAM kernel stalled with requests outstanding (model bug)")
        full = [s for s in segments if seg.log_n[s, 1]]
        if not full:
            return
        caps = seg.log_caps.copy()
        caps[full] *= 2
        seg.size_logs(caps)
        segments = full


def _merged_log(cfg: DramConfig, seg: _Segments, last: int) -> np.ndarray:
    """The serial command log: every channel's commands up to clock `last`, by clock and
    then controller index (each segment's own order kept: lexsort is stable)."""
    pcs = cfg.pseudo_channels
    parts = []
    for s, c in enumerate(seg.channels):
        part = np.array(seg.log[seg.log_starts[s]:seg.log_starts[s] + seg.log_n[s, 0]])
        part = part[(part[:, 2] < pcs) & (part[:, 0] <= last)]  # not the dummies' channel
        part[:, 2] += int(c) * pcs
        parts.append(part)
    log = np.concatenate(parts)
    return log[np.lexsort((log[:, 2] // pcs, log[:, 0]))]
