"""SimPy reference of the PIUMA-style machine: the executable specification.

Semantics: the module docstring of sim/machine/model.py (op encoding: workloads/ops.py,
statistics: sim/machine/stats.py). Written plainly, one Python object per component; speed
is not a goal (this is the slow baseline the numba kernel is compared against).

Event calendar
    SimPy's Environment is the one event queue. Only two kinds of entries are ever put on
    it, both plain events with a callback, scheduled with ``env.schedule(event, priority,
    delay)``: ARRIVE (class 0, id = request sequence number) and PIPE (class 1, id =
    pipeline id; DMA engines after every core pipeline). SimPy orders its queue by (time,
    priority, insertion counter); the priority integer encodes (class, id), so events at
    equal times run in the specification's (class, id) order. No processes, timeouts or
    resources are used, so nothing else can reorder them. Times are integer picoseconds.

Where the specification is silent or ambiguous, the reading chosen is written down in a
comment starting with "CHOICE:" (and listed in the hand-back notes of this module's author).
"""

from __future__ import annotations

from collections import OrderedDict, deque

import simpy

from sim.machine import errors as ERR
from sim.machine.errors import MachineError
from sim.machine.model import FLAG_POSTED, MachineSpec
from sim.machine.stats import (
    N_STALL,
    ST_ATOMIC,
    ST_BARRIER,
    ST_CACHE,
    ST_COMPUTE,
    ST_DMA_WAIT,
    ST_DRAM,
    ST_HOST,
    ST_ISSUE,
    ST_NETWORK,
    ST_POSTED,
    ST_SCRATCHPAD,
    MachineStats,
    add_to_timeline,
    die_link,
    empty_stats,
    host_link,
    mesh_link,
    timeline_row,
)
from sim.memory.pim_sequence import all_bank_sequence, columns_of
from workloads.ops import (
    ATOMIC,
    BARRIER,
    COMPUTE,
    DMA,
    DRAM,
    FLAG_BYPASS,
    HOST,
    LOAD,
    PIM,
    SP_LOCAL,
    SP_REMOTE,
    STORE,
    WAIT,
    OpSource,
)

ARRIVE, PIPE = 0, 1  # event classes
_PRIO_BASE = 10  # above SimPy's own URGENT / NORMAL (never used here anyway)
_PRIO_CLASS = 1 << 62  # priority = base + class * 2**62 + id (Python ints: no overflow)

READ, WRITE, ATOM = 0, 1, 2  # what a memory tier is asked to do
MESH, DIE, HOSTLINK = 0, 1, 2  # link kinds
IDLE, READING, WRITE_READY, WRITING = range(4)  # DMA slot states


# Error reasons: the texts of sim/machine/errors.py, shared with the numba engine.
E_OP = ERR.ERROR_TEXT[ERR.E_OP]
E_PIM = ERR.ERROR_TEXT[ERR.E_PIM]
E_SIZE = ERR.ERROR_TEXT[ERR.E_SIZE]
E_SP_RANGE = ERR.ERROR_TEXT[ERR.E_SP_RANGE]
E_CORE = ERR.ERROR_TEXT[ERR.E_CORE]
E_DRAM_RANGE = ERR.ERROR_TEXT[ERR.E_DRAM_RANGE]
E_HOST_RANGE = ERR.ERROR_TEXT[ERR.E_HOST_RANGE]
E_DMA_SRC = ERR.ERROR_TEXT[ERR.E_DMA_SRC]
E_HANDLE = ERR.ERROR_TEXT[ERR.E_HANDLE]
E_WAIT_UNKNOWN = ERR.ERROR_TEXT[ERR.E_WAIT_UNKNOWN]
E_HANDLE_BUSY = ERR.ERROR_TEXT[ERR.E_HANDLE_BUSY]
E_INTERLEAVE = ERR.ERROR_TEXT[ERR.E_INTERLEAVE]
E_BAR_ENDED = ERR.ERROR_TEXT[ERR.E_BAR_ENDED]
E_BAR_ID = ERR.ERROR_TEXT[ERR.E_BAR_ID]
E_HORIZON = ERR.ERROR_TEXT[ERR.E_HORIZON]
E_DEADLOCK = ERR.ERROR_TEXT[ERR.E_DEADLOCK]
E_PIM_ROWS = ERR.ERROR_TEXT[ERR.E_PIM_ROWS]


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


class _At(simpy.events.Event):
    """A plain calendar entry: calls ``fn(event)`` at ``time_ps``, ordered by (class, id).

    Built like simpy.Timeout (already triggered, value None) but with our own priority.
    """

    def __init__(self, env: simpy.Environment, time_ps: int, cls: int, ident: int, fn):
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._ok = True
        env.schedule(self, _PRIO_BASE + cls * _PRIO_CLASS + ident, time_ps - env.now)


# ----------------------------------------------------------------------------- calendars
class SlotCalendar:
    """Busy slots of one link or DRAM data bus, as a Python set of slot (clock) numbers."""

    def __init__(self, m: Machine, period_ps: int):
        self.m = m
        self.period = period_ps
        self.busy: set[int] = set()
        self._prune_at = 4096

    def reserve(self, at: int, n: int, origin: tuple[int, int]) -> int:
        """Take the first n consecutive free slots at or after ``at``; return the first."""
        busy = self.busy
        s = at
        while True:
            for j in range(s, s + n):
                if j in busy:
                    s = j + 1
                    break
            else:
                break
        # CHOICE: "beyond calendar_slots / 2 clocks after the current event" means the last
        # reserved slot s + n - 1 > floor(now / period) + calendar_slots // 2.
        now_clk = self.m.env.now // self.period
        if s + n - 1 > now_clk + self.m.spec.calendar_slots // 2:
            raise MachineError(E_HORIZON, *origin)
        busy.update(range(s, s + n))
        if len(busy) > self._prune_at:
            # every reservation starts at or after the current event, so older slots are dead
            self.busy = busy = {x for x in busy if x >= now_clk}
            self._prune_at = max(4096, 2 * len(busy))
        return s


# ----------------------------------------------------------------------------- memories
class Scratchpad:
    """One core's scratchpad: banks with ports, an in-order atomic unit (sim/memory/sram.py)."""

    def __init__(self, m: Machine, core: int):
        sp = m.spec
        self.m, self.core, self.sp = m, core, sp
        self.port_free = [[0] * sp.sp_ports for _ in range(sp.sp_banks)]  # clocks
        # CHOICE: sram.py's bank in-order issue rule (start >= previous start at the bank) is
        # kept; it only matters with several ports when an atomic was delayed by the unit.
        self.bank_last_start = [0] * sp.sp_banks
        self.au_last = -1  # clock of the latest atomic start
        self.au_count = 0  # atomics started at that clock

    def serve(self, arrival_ps: int, addr: int, size: int, kind: int) -> int:
        """Serve [addr, addr+size) arriving at arrival_ps; return the serve end in ps."""
        sp, st = self.sp, self.m.stats
        r = cdiv(arrival_ps, sp.sp_clock_ps)
        end = 0
        a, stop = addr, addr + size
        while a < stop:  # one piece per interleave unit
            unit = a // sp.sp_interleave
            piece_end = min(stop, (unit + 1) * sp.sp_interleave)
            bank = unit % sp.sp_banks
            occ = cdiv(piece_end - a, sp.sp_bytes_per_clock)
            ports = self.port_free[bank]
            p = ports.index(min(ports))
            start = max(r, ports[p], self.bank_last_start[bank])
            if kind == ATOM:
                # CHOICE: an atomic spanning several pieces treats every piece as an atomic.
                start = max(start, self.au_last)
                if start == self.au_last and self.au_count >= sp.sp_atomic_per_clock:
                    start += 1
                if start == self.au_last:
                    self.au_count += 1
                else:
                    self.au_last, self.au_count = start, 1
                piece_done = start + occ + sp.sp_atomic_latency
            else:
                piece_done = start + occ + sp.sp_latency
            ports[p] = start + occ
            self.bank_last_start[bank] = start
            end = max(end, piece_done)
            a = piece_end
        st.sp_requests[self.core] += 1
        if kind in (READ, ATOM):
            st.sp_bytes_read[self.core] += size
        if kind in (WRITE, ATOM):
            st.sp_bytes_written[self.core] += size
        add_to_timeline(st, timeline_row(sp, "scratchpad"), arrival_ps,
                        2 * size if kind == ATOM else size)
        if kind == ATOM:
            st.sp_atomics[self.core] += 1
        return end * sp.sp_clock_ps


class Bank:
    def __init__(self):
        self.open_row = -1  # -1: closed
        self.col_ready = 0
        self.pre_ready = 0
        # CHOICE: the spec never says how "earliest activate" changes; it is set to PRE + tRP
        # at a precharge, which is never read again (a conflict activates at once), so a
        # closed bank (only ever initially) has act_ready 0.
        self.act_ready = 0
        self.last_act = 0


class Rank:
    def __init__(self, m: Machine):
        # ACT calendar: each ACT holds max(tRRD_S, ceil(tFAW / 4)) clocks, placed out of order
        self.acts = SlotCalendar(m, m.spec.tck_ps)


class DramController:
    """One DRAM channel: open-page banks, per-rank ACT limits, a data-bus calendar and an
    atomic unit. All work of a request is computed when it arrives (processing order)."""

    def __init__(self, m: Machine, index: int):
        sp = m.spec
        self.m, self.g, self.sp = m, index, sp
        self.banks = [Bank() for _ in range(sp.banks_per_controller)]
        self.ranks = [Rank(m) for _ in range(sp.ranks)]
        self.act_hold = max(sp.RRD_S, -(-sp.FAW // 4))
        self.bus = SlotCalendar(m, sp.tck_ps)
        self.atomic_free = 0  # DRAM clock the atomic unit may start the next atomic

    def fields(self, index: int) -> dict[str, int]:
        """The mapping's fields of access ``index`` (= local // access_bytes)."""
        f = {"co": 0, "bg": 0, "ba": 0, "ra": 0, "ro": 0}
        for name, bits in self.sp.dram_fields:  # least significant field first
            f[name] = index & ((1 << bits) - 1)
            index >>= bits
        return f

    def decode(self, index: int) -> tuple[int, int, int]:
        """(rank, bank within controller, row) of access ``index`` (= local // access_bytes)."""
        f = self.fields(index)
        sp = self.sp
        bank = (f["ra"] * sp.bank_groups + f["bg"]) * sp.banks_per_group + f["ba"]
        return f["ra"], bank, f["ro"]

    def pim_columns(self, local: int, size: int) -> tuple[int, int]:
        """(first column, columns) every bank streams for a PIM op at local address local."""
        ab = self.sp.access_bytes
        f = self.fields(local // ab)
        offset = f["ro"] * self.sp.row_bytes + f["co"] * ab + local % ab  # within each bank
        return columns_of(self.m.pim_timing, offset, size)

    def serve_pim(self, arrival_ps: int, local: int, size: int) -> tuple[int, int]:
        """Run the all-bank PIM sequence of a request arriving at arrival_ps; returns (ps the
        last column's data is consumed, ps the channel may activate again)."""
        sp, st = self.sp, self.m.stats
        e = cdiv(arrival_ps, sp.tck_ps) + sp.controller_latency
        start = max([e] + [b.act_ready for b in self.banks if b.open_row == -1])
        opened = [b.pre_ready for b in self.banks if b.open_row != -1]
        if opened:  # precharge-all once every open bank may precharge
            start = max(start, max(e, *opened) + sp.RP)
        first, n = self.pim_columns(local, size)
        seq = all_bank_sequence(self.m.pim_timing, start, first, n)
        for bank in self.banks:  # the sequence closes every bank
            bank.open_row = -1
            bank.act_ready = seq.free
        st.pim_ops[self.g] += 1
        st.pim_bytes[self.g] += seq.internal_bytes
        return seq.done * sp.tck_ps, seq.free * sp.tck_ps

    def activate(self, rank: Rank, bank: Bank, earliest: int, row: int, origin) -> int:
        """Place an ACT at or after ``earliest`` in the rank's ACT calendar; its clock."""
        at = rank.acts.reserve(earliest, self.act_hold, origin)
        bank.last_act = at
        bank.open_row = row
        return at

    def access(self, index: int, e: int, write: bool, nbytes: int, origin) -> int:
        """One access (number ``index``) at DRAM clock e moving nbytes of its request;
        returns its end clock."""
        sp, st = self.sp, self.m.stats
        ra, b, row = self.decode(index)
        bank, rank = self.banks[b], self.ranks[ra]
        if bank.open_row == row:  # hit
            c = max(e, bank.col_ready)
            st.dram_row_hits[self.g] += 1
        elif bank.open_row == -1:  # closed
            act = self.activate(rank, bank, max(e, bank.act_ready), row, origin)
            c = act + sp.RCD
        else:  # conflict
            pre = max(e, bank.pre_ready)
            bank.act_ready = pre + sp.RP
            act = self.activate(rank, bank, pre + sp.RP, row, origin)
            c = act + sp.RCD
        lat = sp.CWL if write else sp.CL
        d = self.bus.reserve(c + lat, sp.BURST, origin)
        column = d - lat
        end = d + sp.BURST
        # CHOICE: column-ready and precharge-ready only ever grow (running max), so a read
        # after a write still waits for the write recovery.
        bank.col_ready = max(bank.col_ready, column + sp.CCD_L)
        recover = end + sp.WR if write else column + sp.RTP
        bank.pre_ready = max(bank.pre_ready, bank.last_act + sp.RAS, recover)
        # CHOICE: DRAM bytes (read / written / timeline) count the request's bytes inside
        # each access (not access_bytes), like the scratchpad and host tiers.
        st.dram_accesses[self.g] += 1
        if write:
            st.dram_bytes_written[self.g] += nbytes
        else:
            st.dram_bytes_read[self.g] += nbytes
        add_to_timeline(st, self.g, end * sp.tck_ps, nbytes)
        return end

    def serve(self, arrival_ps: int, local: int, size: int, kind: int, origin):
        """Serve one request; returns (response-leave ps, last access end ps)."""
        sp, st = self.sp, self.m.stats
        e = cdiv(arrival_ps, sp.tck_ps) + sp.controller_latency
        st.dram_requests[self.g] += 1
        if kind == ATOM:
            st.dram_atomics[self.g] += 1
            start = max(e, self.atomic_free)
            self.atomic_free = start + sp.atomic_interval
            # CHOICE: the atomic reads and writes back the one access holding its address.
            index = local // sp.access_bytes
            n = min(size, (index + 1) * sp.access_bytes - local)
            read_end = self.access(index, start, False, n, origin)
            result = read_end + sp.atomic_latency
            wb_end = self.access(index, result, True, n, origin)
            return result * sp.tck_ps, max(read_end, wb_end) * sp.tck_ps
        first = local // sp.access_bytes
        last = (local + size - 1) // sp.access_bytes
        end = 0
        ab = sp.access_bytes
        for index in range(first, last + 1):  # address order
            n = min(local + size, (index + 1) * ab) - max(local, index * ab)
            end = max(end, self.access(index, e, kind == WRITE, n, origin))
        return end * sp.tck_ps, end * sp.tck_ps


class L1Cache:
    """Set-associative LRU cache of line tags with fill times (not coherent, no data)."""

    def __init__(self, spec: MachineSpec):
        self.line = spec.l1_line
        self.ways = spec.l1_ways
        self.nsets = spec.l1_size // (spec.l1_ways * spec.l1_line)
        self.sets = [OrderedDict() for _ in range(self.nsets)]  # line -> fill ps, LRU first

    def lookup(self, addr: int):
        """Fill time of the line holding addr (made most recently used), or None on a miss."""
        line = addr // self.line
        s = self.sets[line % self.nsets]
        if line in s:
            s.move_to_end(line)
            return s[line]
        return None

    def insert(self, line: int, fill_ps: int) -> None:
        s = self.sets[line % self.nsets]
        if line in s:
            # CHOICE: a line already present (two misses in flight) keeps its earlier fill
            # time and its LRU position: its data is there already.
            return
        if len(s) >= self.ways:
            s.popitem(last=False)
        s[line] = fill_ps


# ----------------------------------------------------------------------------- threads
class Thread:
    def __init__(self, m: Machine, tid: int, core: int, stream: int):
        self.m, self.tid, self.core, self.stream = m, tid, core, stream
        self.pipe: CorePipeline | None = None
        self.buf: list[tuple] = []
        self.pos = 0
        self.op_index = 0  # index in the stream of the op at buf[pos]
        self.ended = True  # no op left (or no stream)
        self.ready: int | None = 0  # None: blocked on something without a known time
        self.done = 0
        # posted slots: the arrival times (at the target) of its posted ops still holding a
        # slot; a slot is free again once its arrival is <= now.
        # CHOICE: a new posted op takes the slot with the earliest arrival (a free one: the
        # op only issues when one is free), so a slot is never taken from an op in flight;
        # max_posted = 0 keeps nothing, so posted ops never stall.
        self.posted: list[int] = []
        self.handles: dict[int, DmaJob] = {}
        self.stall = [0] * N_STALL
        self.ops = 0
        self.loads = 0
        self.load_ps = 0
        self.barrier_op = -1  # op index of the barrier it waits at

    def fetch(self) -> None:
        chunk = self.m.source.next_chunk(self.stream, self.m.chunk)
        if len(chunk) == 0:
            self.ended, self.buf, self.pos = True, [], 0
        else:
            self.ended, self.buf, self.pos = False, chunk.tolist(), 0

    def advance(self) -> None:
        self.pos += 1
        self.op_index += 1
        if self.pos == len(self.buf):
            self.fetch()

    @property
    def op(self) -> tuple:
        return self.buf[self.pos]


class DmaSlot:
    def __init__(self, idx: int):
        self.idx = idx
        self.state = IDLE
        self.ready: int | None = 0
        self.chunk = None  # (job, src, dst, bytes)


class DmaJob:
    def __init__(self, origin, core, op, t):
        (_, self.src_space, self.dst_space, self.dst_core, self.size, self.src, self.dst,
         self.count, self.stride, self.stride2, self.handle) = op
        self.origin, self.core, self.issue_ps = origin, core, t
        self.chunks = None  # iterator of (src, dst, bytes), set by Machine.issue_dma
        self.pending = None  # the next chunk to hand out (None: all handed out)
        self.handed = 0  # chunks handed to slots
        self.acked = 0
        self.completion = t
        self.complete = False
        self.waiters: list[tuple[Thread, int]] = []


# ----------------------------------------------------------------------------- pipelines
class Pipeline:
    """Issues at most one op per core cycle from its members, round robin (see the spec)."""

    def __init__(self, m: Machine, pid: int, members: list):
        self.m, self.pid, self.members = m, pid, members
        self.last = len(members) - 1  # so member 0 goes first
        self.next_ev = None
        self.next_t = -1
        # CHOICE: after issuing at t the pipeline is busy until t + cycle (t + held cycles for
        # COMPUTE); a thread becoming ready earlier gets its PIPE event at busy-until, never
        # before (otherwise COMPUTE would not hold the pipeline: the literal "a new PIPE
        # event at r replaces it" would let another thread issue during a COMPUTE).
        self.busy_until = 0
        self.handling = False

    # hooks
    def has_op(self, x) -> bool:
        raise NotImplementedError

    def eligible(self, x, t: int) -> bool:
        return True

    def issue(self, x, t: int) -> None:
        raise NotImplementedError

    # scheduling
    def notify(self, r: int) -> None:
        """A member becomes ready (with an op) at r."""
        if self.handling:
            return  # the PIPE event being handled computes the next event at its end
        r = max(r, self.busy_until)
        assert r >= self.m.env.now, "ready time in the past"
        if self.next_ev is None or self.next_t > r:
            self.schedule(r)

    def schedule(self, t: int) -> None:
        self.next_t = t
        self.next_ev = _At(self.m.env, t, PIPE, self.pid, self.fire)

    def fire(self, ev) -> None:
        if ev is not self.next_ev:
            return  # replaced by an earlier PIPE event: stale
        self.next_ev = None
        t = self.m.env.now
        cycle = self.m.cycle
        self.handling = True
        n = len(self.members)
        for k in range(1, n + 1):
            i = (self.last + k) % n
            x = self.members[i]
            if self.has_op(x) and x.ready is not None and x.ready <= t and self.eligible(x, t):
                self.last = i
                self.busy_until = t + cycle
                self.issue(x, t)
                break
        self.handling = False
        best = None
        for x in self.members:
            if self.has_op(x) and x.ready is not None and (best is None or x.ready < best):
                best = x.ready
        if best is not None:
            self.schedule(max(t + cycle, best, self.busy_until))


class CorePipeline(Pipeline):
    def __init__(self, m, pid, threads, mtp: bool):
        super().__init__(m, pid, threads)
        self.mtp = mtp

    def has_op(self, th: Thread) -> bool:
        return not th.ended

    def eligible(self, th: Thread, t: int) -> bool:
        m = self.m
        if not m.is_posted(th.op):
            return True
        q = th.posted
        if m.spec.max_posted > 0 and len(q) == m.spec.max_posted and min(q) > t:
            mt = m.align(min(q))
            th.stall[ST_POSTED] += mt - th.ready
            th.ready = mt
            return False
        return True

    def issue(self, th: Thread, t: int) -> None:
        th.stall[ST_ISSUE] += t - th.ready  # waiting for the pipeline since it was ready
        self.m.issue_op(th, t)


class DmaEngine(Pipeline):
    def __init__(self, m, pid, core):
        super().__init__(m, pid, [DmaSlot(i) for i in range(m.spec.dma_slots)])
        self.core = core
        self.fifo: deque[DmaJob] = deque()

    def has_op(self, slot: DmaSlot) -> bool:
        return slot.state == WRITE_READY or (slot.state == IDLE and bool(self.fifo))

    def enqueue(self, job: DmaJob, t: int) -> None:
        self.fifo.append(job)
        for slot in self.members:
            if slot.state == IDLE:
                self.notify(max(slot.ready, t))

    def take_chunk(self):
        job = self.fifo[0]
        src, dst, n = job.pending
        job.handed += 1
        job.pending = next(job.chunks, None)
        if job.pending is None:
            self.fifo.popleft()
        return job, src, dst, n

    def issue(self, slot: DmaSlot, t: int) -> None:
        self.m.dma_issue(self, slot, t)


# ----------------------------------------------------------------------------- requests
class Request:
    """A request travelling to a scratchpad or DRAM controller (ARRIVE event at the target)."""

    __slots__ = ("seq", "origin", "tier", "unit", "addr", "size", "kind", "posted",
                 "resp_bytes", "src", "dst", "send_ps", "arrive_ps", "l1", "on_done")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class Machine:
    def __init__(self, spec: MachineSpec, source: OpSource, chunk: int):
        self.spec, self.source, self.chunk = spec, source, chunk
        self.cycle = spec.cycle_ps
        self.env = simpy.Environment()
        self.stats = empty_stats(spec)
        self.end = 0
        self.seq = 0
        sp = spec
        n_streams = source.n_streams
        if n_streams > sp.threads:
            # CHOICE: named after the first stream without a thread, op 0.
            raise MachineError(f"{n_streams} streams but the machine has {sp.threads} threads "
                               f"({sp.cores} cores x {sp.threads_per_core})", sp.threads, 0)
        self.n_streams = n_streams
        nodes = sp.mesh_x * sp.mesh_y
        n_links = sp.dies * nodes * 4 + sp.dies * sp.dies + sp.dies * 2
        self.links = [SlotCalendar(self, self.cycle) for _ in range(n_links)]
        self.scratchpads = [Scratchpad(self, c) for c in range(sp.cores)]
        self.controllers = [DramController(self, g) for g in range(sp.controllers)]
        self.l1 = [L1Cache(sp) for _ in range(sp.cores)] if sp.l1_size > 0 else None
        self.pim_timing = sp.pim_timing()
        bits = sum(b for _, b in sp.dram_fields)
        # CHOICE: channel capacity = access_bytes * 2**(sum of the mapping field widths).
        self.dram_limit = sp.controllers * (sp.access_bytes << bits)
        # threads and pipelines
        tpc, ppc, T = sp.threads_per_core, sp.pipelines_per_core, sp.threads_per_mtp
        self.threads = [Thread(self, tid, tid // tpc, tid if tid < n_streams else -1)
                        for tid in range(sp.threads)]
        self.pipelines: list[Pipeline] = []
        for c in range(sp.cores):
            base = c * tpc
            for p in range(ppc):
                if p < sp.mtp:
                    members = self.threads[base + p * T: base + (p + 1) * T]
                else:
                    members = [self.threads[base + sp.mtp * T + (p - sp.mtp)]]
                pipe = CorePipeline(self, c * ppc + p, members, p < sp.mtp)
                for th in members:
                    th.pipe = pipe
                self.pipelines.append(pipe)
        self.dma = [DmaEngine(self, sp.cores * ppc + c, c) for c in range(sp.cores)]
        self.active: list[Thread] = []  # threads with a non-empty stream (set in run)
        # barrier participants: threads with a stream in each scope instance (set in run)
        self.participants: dict[tuple[int, int], list[Thread]] = {}
        self.barriers: dict[tuple[int, int], dict] = {}

    # --------------------------------------------------------------- helpers
    def align(self, t_ps: int) -> int:
        return cdiv(t_ps, self.cycle) * self.cycle

    def note_end(self, t_ps: int) -> None:
        if t_ps > self.end:
            self.end = t_ps

    @staticmethod
    def is_posted(op) -> bool:
        return op[0] == STORE or (op[0] == ATOMIC and bool(op[2] & FLAG_POSTED))

    def core_loc(self, core: int) -> tuple[int, int]:
        sp = self.spec
        return core // sp.cores_per_die, sp.core_nodes[core % sp.cores_per_die]

    def dram_target(self, addr: int) -> tuple[int, int, tuple[int, int]]:
        """(controller, local address, (die, node)) of a global DRAM address."""
        sp = self.spec
        unit = addr // sp.interleave_bytes
        g = unit % sp.controllers
        local = (unit // sp.controllers) * sp.interleave_bytes + addr % sp.interleave_bytes
        die = g // sp.controllers_per_die
        return g, local, (die, sp.controller_nodes[g % sp.controllers_per_die])

    def barrier_key(self, th: Thread, scope: int) -> tuple[int, int]:
        if scope == 0:
            return 0, th.core
        if scope == 1:
            return 1, th.core // self.spec.cores_per_die
        return 2, 0

    # --------------------------------------------------------------- network
    def mesh_path(self, die: int, src: int, dst: int) -> list[tuple[int, int]]:
        """XY route on one die: (link, kind) per hop."""
        sp = self.spec
        out = []
        x, y = src % sp.mesh_x, src // sp.mesh_x
        dx, dy = dst % sp.mesh_x, dst // sp.mesh_x
        while x != dx:
            d = 0 if dx > x else 1
            out.append((mesh_link(sp, die, y * sp.mesh_x + x, d), MESH))
            x += 1 if d == 0 else -1
        while y != dy:
            d = 2 if dy > y else 3
            out.append((mesh_link(sp, die, y * sp.mesh_x + x, d), MESH))
            y += 1 if d == 2 else -1
        return out

    def path(self, src: tuple[int, int], dst: tuple[int, int]) -> list[tuple[int, int]]:
        (sd, sn), (dd, dn) = src, dst
        if sd == dd:
            return self.mesh_path(sd, sn, dn)
        gw = self.spec.gateway_node
        return (self.mesh_path(sd, sn, gw) + [(die_link(self.spec, sd, dd), DIE)]
                + self.mesh_path(dd, gw, dn))

    def traverse(self, links, nbytes: int, a: int, origin) -> int:
        """Send a packet of nbytes entering its first link at cycle a; return arrival cycle."""
        sp, st = self.spec, self.stats
        for link, kind in links:
            if kind == MESH:
                per, lat = sp.link_bytes, sp.hop_latency
            elif kind == DIE:
                # CHOICE: a die link's latency replaces hop_latency (not added to it).
                per, lat = sp.die_link_bytes, sp.die_link_latency
            else:
                per, lat = sp.host_link_bytes, sp.host_link_latency
            ser = cdiv(nbytes, per)
            s = self.links[link].reserve(a, ser, origin)
            st.link_packets[link] += 1
            st.link_bytes[link] += nbytes
            st.link_busy_slots[link] += ser
            if kind != HOSTLINK:
                add_to_timeline(st, timeline_row(sp, "mesh" if kind == MESH else "die"),
                                self.env.now, nbytes)
            a = s + ser - 1 + lat
        return a

    def send_request(self, t: int, origin, src, tier: str, unit: int, dst, addr: int,
                     size: int, kind: int, req_bytes: int, resp_bytes: int, posted: bool,
                     on_done, l1=None) -> int:
        """Send a request at t (ps, a core-cycle edge); returns its arrival time (ps)."""
        a = self.traverse(self.path(src, dst), req_bytes, t // self.cycle, origin)
        req = Request(seq=self.seq, origin=origin, tier=tier, unit=unit, addr=addr,
                      size=size, kind=kind, posted=posted, resp_bytes=resp_bytes, src=src,
                      dst=dst, send_ps=t, arrive_ps=a * self.cycle, l1=l1, on_done=on_done)
        self.seq += 1
        _At(self.env, req.arrive_ps, ARRIVE, req.seq, lambda ev: self.on_arrive(req))
        return req.arrive_ps

    def on_arrive(self, req: Request) -> None:
        now = self.env.now
        if req.tier == "pim":
            done, free = self.controllers[req.unit].serve_pim(now, req.addr, req.size)
            self.note_end(free)
            # the response leaves when the data is consumed: a second ARRIVE-class event
            _At(self.env, done, ARRIVE, self.seq, lambda ev: self.pim_respond(req, done))
            self.seq += 1
            return
        if req.tier == "sp":
            leave = end = self.scratchpads[req.unit].serve(now, req.addr, req.size, req.kind)
        else:
            leave, end = self.controllers[req.unit].serve(now, req.addr, req.size, req.kind,
                                                         req.origin)
        self.note_end(end)
        start = cdiv(leave, self.cycle)
        d = self.traverse(self.path(req.dst, req.src), req.resp_bytes, start, req.origin)
        d *= self.cycle
        self.note_end(d)
        if req.posted:
            return  # CHOICE: a posted op's response (ack) travels, but nobody waits for it
        if req.l1 is not None:
            core, line = req.l1
            self.l1[core].insert(line, d)
        # network = request transit + response transit (delivery - time the response leaves
        # the server; for DRAM atomics the result time, not the write-back end)
        req.on_done(d, (req.arrive_ps - req.send_ps) + (d - leave))

    def pim_respond(self, req: Request, done: int) -> None:
        """A PIM op's data is consumed at done: its response goes back to the thread."""
        d = self.traverse(self.path(req.dst, req.src), req.resp_bytes, cdiv(done, self.cycle),
                          req.origin) * self.cycle
        self.note_end(d)
        req.on_done(d, (req.arrive_ps - req.send_ps) + (d - done))

    def host_access(self, core: int, t: int, req_bytes: int, resp_bytes: int, origin):
        """Resolved at issue: returns (arrival ps, serve end ps, delivery ps)."""
        sp = self.spec
        die, node = self.core_loc(core)
        # host payload bytes, both ways, at the issue
        add_to_timeline(self.stats, timeline_row(sp, "host"), self.env.now,
                        req_bytes + resp_bytes - 2 * sp.header_bytes)
        out = self.mesh_path(die, node, sp.host_node) + [(host_link(sp, die, False), HOSTLINK)]
        a = self.traverse(out, req_bytes, t // self.cycle, origin)
        served = a + sp.host_latency
        self.note_end(served * self.cycle)
        back = [(host_link(sp, die, True), HOSTLINK)] + self.mesh_path(die, sp.host_node, node)
        d = self.traverse(back, resp_bytes, served, origin) * self.cycle
        self.note_end(d)
        return a * self.cycle, served * self.cycle, d

    # --------------------------------------------------------------- thread completion
    def finish(self, th: Thread, t: int, dn: int, cat: int | None, net: int = 0,
               load: bool = False) -> None:
        """The op th issued at t is done at dn (aligned): stalls, ready, wake its pipeline.

        cat None: an op done one cycle after its issue (no stall). A done time is aligned up
        to the core clock and never before t + cycle; the network stall is capped at
        dn - t - cycle and the category gets the rest."""
        dn = max(self.align(dn), t + self.cycle)
        if cat is not None:
            net = min(net, dn - t - self.cycle)
            th.stall[cat] += dn - t - self.cycle - net
            th.stall[ST_NETWORK] += net
        if load:
            th.loads += 1
            th.load_ps += dn - t
        th.ready = dn
        th.done = dn
        self.note_end(dn)
        if not th.ended:
            th.pipe.notify(dn)

    def fail(self, th: Thread, reason: str):
        return MachineError(reason, th.stream, th.op_index)

    # --------------------------------------------------------------- validation
    def check_sp(self, th, addr, size):
        if addr < 0 or addr + size > self.spec.sp_size:
            raise self.fail(th, E_SP_RANGE)

    def check_dram(self, th, lo, hi):
        if lo < 0 or hi > self.dram_limit:
            raise self.fail(th, E_DRAM_RANGE)

    def check_core(self, th, core):
        if core < 0 or core >= self.spec.cores:
            raise self.fail(th, E_CORE)

    def check_space(self, th, space):
        if space > HOST:
            raise self.fail(th, E_OP)

    def check_range(self, th, space, lo, hi, core):
        """Bytes [lo, hi) of an access in space (core: SP_REMOTE target)."""
        if space == SP_REMOTE:
            self.check_core(th, core)
        if space in (SP_LOCAL, SP_REMOTE):
            self.check_sp(th, lo, hi - lo)
        elif space == DRAM:
            self.check_dram(th, lo, hi)
        elif lo < 0:
            raise self.fail(th, E_HOST_RANGE)

    # --------------------------------------------------------------- issuing thread ops
    def issue_op(self, th: Thread, t: int) -> None:
        sp, st, cyc = self.spec, self.stats, self.cycle
        op = th.op
        code, space, sub, core, size, addr = op[0], op[1], op[2], op[3], op[4], op[5]
        origin = (th.stream, th.op_index)
        # validation (before anything is counted)
        if code > PIM:
            raise self.fail(th, E_OP)
        if code == PIM:
            if space != DRAM:
                raise self.fail(th, E_PIM)
            if size <= 0:
                raise self.fail(th, E_SIZE)
            self.check_dram(th, addr, addr + 1)
            g, local, _ = self.dram_target(addr)
            first, n = self.controllers[g].pim_columns(local, size)
            tm = self.pim_timing
            if first + n > tm.rows * tm.columns_per_row:
                raise self.fail(th, E_PIM_ROWS)
        if code in (LOAD, STORE, ATOMIC):
            self.check_space(th, space)
            # (the ATOMIC kind, sub & 3, does not change timing and is not checked)
            if size <= 0:
                raise self.fail(th, E_SIZE)
            self.check_range(th, space, addr, addr + size, core)
            il = sp.interleave_bytes
            if space == DRAM and addr // il != (addr + size - 1) // il:
                raise self.fail(th, E_INTERLEAVE)
        elif code == COMPUTE:
            # CHOICE: "size <= 0" applies to COMPUTE's cycle count too.
            if size <= 0:
                raise self.fail(th, E_SIZE)
        elif code == DMA:
            self.check_dma(th, op)
            old = th.handles.get(op[10])
            # CHOICE: "still running" at the DMA's issue t = completion unknown or > t.
            if old is not None and (not old.complete or old.completion > t):
                raise self.fail(th, E_HANDLE_BUSY)
        elif code == WAIT:
            h = op[10]
            if h < 0 or h >= sp.max_handles:
                raise self.fail(th, E_HANDLE)
            if h not in th.handles:
                raise self.fail(th, E_WAIT_UNKNOWN)
        elif code == BARRIER:
            if sub > 2:
                raise self.fail(th, E_OP)

        th.ops += 1
        st.core_issue_slots[th.core] += 1
        th.ready = None  # until its done time is known
        if space == SP_REMOTE and core == th.core and code in (LOAD, STORE, ATOMIC):
            space = SP_LOCAL

        if code == COMPUTE:
            held = size if th.pipe.mtp else cdiv(size, sp.stp_speedup)
            th.pipe.busy_until = t + held * cyc
            # CHOICE: issue slots used = cycles the pipeline is held (STP: ceil(n/speedup)).
            st.core_issue_slots[th.core] += held - 1
            self.finish(th, t, t + held * cyc, ST_COMPUTE)
        elif code == LOAD:
            self.issue_load(th, t, op, space, origin)
        elif code == STORE or (code == ATOMIC and sub & FLAG_POSTED):
            self.issue_posted(th, t, op, space, origin)
        elif code == ATOMIC:
            self.issue_atomic(th, t, op, space, origin)
        elif code == DMA:
            self.issue_dma(th, t, op, origin)
        elif code == PIM:
            g, local, dst = self.dram_target(addr)
            self.send_request(t, origin, self.core_loc(th.core), "pim", g, dst, local, size,
                              READ, sp.header_bytes, sp.header_bytes, False,
                              self.thread_done_cb(th, t, ST_DRAM, False))
        elif code == WAIT:
            job = th.handles[op[10]]
            if job.complete:
                self.finish(th, t, max(t + cyc, job.completion), ST_DMA_WAIT)
            else:
                job.waiters.append((th, t))
        elif code == BARRIER:
            self.arrive_barrier(th, t, sub, op[10])

        th.advance()
        if th.ended:
            self.stream_ended(th)

    def thread_done_cb(self, th, t, cat, load):
        return lambda d, net: self.finish(th, t, d, cat, net, load)

    def issue_load(self, th, t, op, space, origin):
        sp, st = self.spec, self.stats
        size, addr, core = op[4], op[5], op[3]
        src = self.core_loc(th.core)
        if space == SP_LOCAL:
            end = self.scratchpads[th.core].serve(t, addr, size, READ)
            self.note_end(end)
            # CHOICE: a local scratchpad access has no network stall; the wait for the core
            # clock edge after the serve end goes to the scratchpad category.
            self.finish(th, t, self.align(end), ST_SCRATCHPAD, 0, True)
        elif space == SP_REMOTE:
            self.send_request(t, origin, src, "sp", core, self.core_loc(core), addr, size,
                              READ, sp.header_bytes, sp.header_bytes + size, False,
                              self.thread_done_cb(th, t, ST_SCRATCHPAD, True))
        elif space == DRAM:
            l1line = None
            if self.l1 is not None and not op[2] & FLAG_BYPASS:
                cache = self.l1[th.core]
                fill = cache.lookup(addr)
                if fill is not None:
                    st.l1_hits[th.core] += 1
                    dn = max(t + sp.l1_latency * self.cycle, fill)
                    self.finish(th, t, dn, ST_CACHE, 0, True)
                    return
                st.l1_misses[th.core] += 1
                # CHOICE: only the line holding the op's first byte is looked up / fetched.
                line = addr // sp.l1_line
                addr, size = line * sp.l1_line, sp.l1_line
                l1line = (th.core, line)
            g, local, dst = self.dram_target(addr)
            self.send_request(t, origin, src, "dram", g, dst, local, size, READ,
                              sp.header_bytes, sp.header_bytes + size, False,
                              self.thread_done_cb(th, t, ST_DRAM, True), l1line)
        else:  # HOST
            st.host_bytes_read[th.core // sp.cores_per_die] += size
            a, served, d = self.host_access(th.core, t, sp.header_bytes,
                                            sp.header_bytes + size, origin)
            self.finish(th, t, d, ST_HOST, (a - t) + (d - served), True)

    def issue_posted(self, th, t, op, space, origin):
        sp, st = self.spec, self.stats
        code, size, addr, core = op[0], op[4], op[5], op[3]
        kind = WRITE if code == STORE else ATOM
        src = self.core_loc(th.core)
        req_bytes = sp.header_bytes + size
        # responses carry header_bytes (+ the data for atomics)
        resp_bytes = sp.header_bytes + (size if kind == ATOM else 0)
        noop = lambda d, net: None  # noqa: E731  (never called: posted)
        if space == SP_LOCAL:
            self.note_end(self.scratchpads[th.core].serve(t, addr, size, kind))
            arrival = t
        elif space == SP_REMOTE:
            arrival = self.send_request(t, origin, src, "sp", core, self.core_loc(core), addr,
                                        size, kind, req_bytes, resp_bytes, True, noop)
        elif space == DRAM:
            g, local, dst = self.dram_target(addr)
            arrival = self.send_request(t, origin, src, "dram", g, dst, local, size, kind,
                                        req_bytes, resp_bytes, True, noop)
        else:  # HOST
            die = th.core // sp.cores_per_die
            st.host_bytes_written[die] += size
            if kind == ATOM:
                st.host_bytes_read[die] += size
            arrival = self.host_access(th.core, t, req_bytes, resp_bytes, origin)[0]
        q = th.posted
        if len(q) < sp.max_posted:
            q.append(arrival)
        elif q:
            q[q.index(min(q))] = arrival  # the earliest arrival: a free slot
        self.finish(th, t, t + self.cycle, None)

    def issue_atomic(self, th, t, op, space, origin):
        sp, st = self.spec, self.stats
        size, addr, core = op[4], op[5], op[3]
        src = self.core_loc(th.core)
        hb = sp.header_bytes
        if space == SP_LOCAL:
            end = self.scratchpads[th.core].serve(t, addr, size, ATOM)
            self.note_end(end)
            self.finish(th, t, self.align(end), ST_ATOMIC)
        elif space == SP_REMOTE:
            self.send_request(t, origin, src, "sp", core, self.core_loc(core), addr, size,
                              ATOM, hb + size, hb + size, False,
                              self.thread_done_cb(th, t, ST_ATOMIC, False))
        elif space == DRAM:
            g, local, dst = self.dram_target(addr)
            self.send_request(t, origin, src, "dram", g, dst, local, size, ATOM, hb + size,
                              hb + size, False, self.thread_done_cb(th, t, ST_ATOMIC, False))
        else:  # HOST: no atomic unit; host memory latency like any access
            die = th.core // sp.cores_per_die
            st.host_bytes_read[die] += size
            st.host_bytes_written[die] += size
            a, served, d = self.host_access(th.core, t, hb + size, hb + size, origin)
            self.finish(th, t, d, ST_ATOMIC, (a - t) + (d - served))

    # --------------------------------------------------------------- DMA
    def check_dma(self, th, op):
        sp = self.spec
        _, src_space, dst_space, dst_core, size, src, dst, count, stride, stride2, h = op
        if h < 0 or h >= sp.max_handles:
            raise self.fail(th, E_HANDLE)
        self.check_space(th, src_space)
        self.check_space(th, dst_space)
        if size <= 0:
            raise self.fail(th, E_SIZE)
        if src_space == SP_REMOTE:
            raise self.fail(th, E_DMA_SRC)
        if count <= 0:
            raise self.fail(th, E_SIZE)
        for space, base, step, core in ((src_space, src, stride, th.core),
                                        (dst_space, dst, stride2, dst_core)):
            last = base + (count - 1) * step
            self.check_range(th, space, min(base, last), max(base, last) + size, core)

    def dma_chunks(self, job: DmaJob):
        """(src, dst, bytes) of every chunk of a job, in order."""
        sp = self.spec
        il, cb = sp.interleave_bytes, sp.dma_chunk_bytes
        for i in range(job.count):
            src, dst = job.src + i * job.stride, job.dst + i * job.stride2
            off = 0
            while off < job.size:
                # CHOICE: greedy: a chunk takes as many bytes as it can, at most
                # dma_chunk_bytes, and ends at the next interleave boundary of a DRAM source
                # or destination (so chunks after a cut restart their dma_chunk_bytes count).
                n = min(cb, job.size - off)
                if job.src_space == DRAM:
                    n = min(n, il - (src + off) % il)
                if job.dst_space == DRAM:
                    n = min(n, il - (dst + off) % il)
                yield src + off, dst + off, n
                off += n

    def issue_dma(self, th, t, op, origin):
        st = self.stats
        job = DmaJob(origin, th.core, op, t)
        job.chunks = self.dma_chunks(job)
        job.pending = next(job.chunks, None)
        th.handles[job.handle] = job  # a finished job's handle may be reused
        st.dma_jobs[th.core] += 1
        st.dma_bytes[th.core] += max(job.count, 0) * job.size
        self.finish(th, t, t + self.cycle, None)
        if job.pending is None:
            job.complete = True
        else:
            self.dma[th.core].enqueue(job, t)

    def dma_issue(self, eng: DmaEngine, slot: DmaSlot, t: int) -> None:
        sp, st = self.spec, self.stats
        hb = sp.header_bytes
        src_loc = self.core_loc(eng.core)
        slot.ready = None
        if slot.state == IDLE:  # read the next chunk from the source
            slot.chunk = job, src, dst, n = eng.take_chunk()
            slot.state = READING
            done = lambda d, net: self.dma_read_done(eng, slot, d)  # noqa: E731
            if job.src_space == SP_LOCAL:
                end = self.scratchpads[eng.core].serve(t, src, n, READ)
                self.note_end(end)
                self.dma_read_done(eng, slot, max(self.align(end), t + self.cycle))
            elif job.src_space == DRAM:
                g, local, dst_loc = self.dram_target(src)
                self.send_request(t, job.origin, src_loc, "dram", g, dst_loc, local, n, READ,
                                  hb, hb + n, False, done)
            else:  # HOST
                st.host_bytes_read[eng.core // sp.cores_per_die] += n
                self.dma_read_done(eng, slot, self.host_access(eng.core, t, hb, hb + n,
                                                               job.origin)[2])
        else:  # WRITE_READY: write the chunk to the destination
            job, src, dst, n = slot.chunk
            slot.state = WRITING
            done = lambda d, net: self.dma_write_done(eng, slot, d)  # noqa: E731
            space = job.dst_space
            # CHOICE: op.core names the destination only for SP_REMOTE; SP_LOCAL (or
            # SP_REMOTE naming the engine's own core) is the engine's own scratchpad.
            if space == SP_REMOTE and job.dst_core == eng.core:
                space = SP_LOCAL
            if space == SP_LOCAL:
                end = self.scratchpads[eng.core].serve(t, dst, n, WRITE)
                self.note_end(end)
                self.dma_write_done(eng, slot, max(self.align(end), t + self.cycle))
            elif space == SP_REMOTE:
                self.send_request(t, job.origin, src_loc, "sp", job.dst_core,
                                  self.core_loc(job.dst_core), dst, n, WRITE, hb + n, hb,
                                  False, done)
            elif space == DRAM:
                g, local, dst_loc = self.dram_target(dst)
                self.send_request(t, job.origin, src_loc, "dram", g, dst_loc, local, n, WRITE,
                                  hb + n, hb, False, done)
            else:  # HOST
                st.host_bytes_written[eng.core // sp.cores_per_die] += n
                self.dma_write_done(eng, slot, self.host_access(eng.core, t, hb + n, hb,
                                                                job.origin)[2])

    def dma_read_done(self, eng: DmaEngine, slot: DmaSlot, d: int) -> None:
        slot.state = WRITE_READY
        slot.ready = d
        self.note_end(d)
        eng.notify(d)

    def dma_write_done(self, eng: DmaEngine, slot: DmaSlot, ack: int) -> None:
        job = slot.chunk[0]
        slot.state = IDLE
        slot.ready = ack
        slot.chunk = None
        self.note_end(ack)
        job.acked += 1
        job.completion = max(job.completion, ack)
        if job.pending is None and job.acked == job.handed:
            job.complete = True
            self.note_end(job.completion)
            for th, tw in job.waiters:
                self.finish(th, tw, max(tw + self.cycle, job.completion), ST_DMA_WAIT)
            job.waiters = []
        if eng.fifo:
            eng.notify(ack)

    # --------------------------------------------------------------- barriers
    def arrive_barrier(self, th: Thread, t: int, scope: int, bid: int) -> None:
        key = self.barrier_key(th, scope)
        parts = self.participants[key]
        inst = self.barriers.get(key)
        if inst is None:
            # a participant whose stream already ended can never arrive.
            # CHOICE: the error names the arriving thread's barrier op (the op that can never
            # complete), as the numba engine does.
            if any(p.ended for p in parts):
                raise self.fail(th, E_BAR_ENDED)
            inst = self.barriers[key] = {"id": bid, "arrived": {}}
        elif inst["id"] != bid:
            raise self.fail(th, E_BAR_ID)
        arrival = max([t, *th.posted])  # (a replaced slot's arrival was <= its issue time)
        inst["arrived"][th] = (t, arrival)
        th.barrier_op = th.op_index
        if len(inst["arrived"]) == len(parts):
            del self.barriers[key]
            release = max(a for _, a in inst["arrived"].values())
            release += self.spec.barrier_latency[scope] * self.cycle
            for p, (tp, _) in inst["arrived"].items():
                self.finish(p, tp, release, ST_BARRIER)  # done >= tp + cycle (finish)

    def stream_ended(self, th: Thread) -> None:
        """th issued its last op: no pending barrier of its scopes may wait for it.

        CHOICE: the error names the barrier op of the lowest-numbered thread waiting at the
        first such barrier (scopes core, die, machine in that order)."""
        for scope in range(3):
            inst = self.barriers.get(self.barrier_key(th, scope))
            if inst is not None and th not in inst["arrived"]:
                w = min(inst["arrived"], key=lambda x: x.tid)
                raise MachineError(E_BAR_ENDED, w.stream, w.barrier_op)

    # --------------------------------------------------------------- run
    def run(self) -> MachineStats:
        for th in self.threads[:self.n_streams]:
            th.fetch()
        # CHOICE: an empty stream counts as no stream: its thread stays idle, is no barrier
        # participant and reports thread_done_ps -1.
        self.active = [th for th in self.threads[:self.n_streams] if not th.ended]
        for th in self.active:
            for scope in range(3):
                self.participants.setdefault(self.barrier_key(th, scope), []).append(th)
        for pipe in self.pipelines:
            if any(not th.ended for th in pipe.members):
                pipe.schedule(0)
        self.env.run()
        for th in self.active:
            if not th.ended or th.ready is None:
                # CHOICE (not in the spec's list): threads left waiting at barriers that can
                # never complete (e.g. crossed scopes) are reported as a deadlock.
                raise MachineError(E_DEADLOCK, th.stream, th.barrier_op)
        st = self.stats
        for th in self.active:
            st.thread_done_ps[th.tid] = th.done
            st.thread_ops[th.tid] = th.ops
            st.stall_ps[th.tid, :] = th.stall
            st.load_count[th.tid] = th.loads
            st.load_latency_ps[th.tid] = th.load_ps
        st.end_ps = self.end
        return st


def run_reference(spec: MachineSpec, source: OpSource, chunk: int = 256) -> MachineStats:
    """Run the SimPy machine model on ``source`` (read in chunks of ``chunk`` ops)."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    return Machine(spec, source, chunk).run()
