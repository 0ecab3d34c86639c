"""DRAM family timing model: one model, standards and controller structures as data.

Semantics (implemented twice: sim/kernels/dram.py in numba, sim/reference/dram.py in SimPy)
-------------------------------------------------------------------------------------------
Time advances in DRAM clocks (tCK). A trace request is split into column accesses of
`access_bytes` (bus width x burst length) at consecutive addresses; each access is decoded
by the address-mapping string into (channel, pseudo-channel, rank, bank group, bank, row,
column). Pseudo-channels of a channel share its controller, queues and command bus (as in JEDEC
HBM pseudo-channel mode) but have their own banks, tFAW window and data bus.

Every clock, in this order:
1. Each channel (in index order): a refresh becomes due every tREFI/ranks for the next
   rank (rank_staggered) or every tREFI for all ranks (all_bank); due refreshes queue FIFO.
   Then at most one command issues on the channel's command bus:
   * fr_fcfs only: the oldest request in the active buffer (requests whose ACT has issued)
     whose next command is timing-ready;
   * if a refresh is pending for rank r: precharge the first open bank of r whose PRE is
     ready (fr_fcfs: only the first open bank, and not while an active-buffer request
     targets it), else REF once every bank of r is closed and tRP/tRFC allow it. While
     pending, bank_queues skips r's bank queues; fr_fcfs serves nothing but the active
     buffer (Ramulator's priority buffer blocks the other buffers);
   * bank_queues (DRAMSim3): per-bank command queues are visited round-robin starting after
     the last queue served; in a queue, the first entry (queue order) whose next command
     (ACT if the bank is closed, RD/WR on a row hit, else PRE) is timing-ready issues;
   * fr_fcfs (Ramulator 2): the read buffer, or the write buffer while in write mode
     (enter above the high watermark or when reads are empty; leave below the low
     watermark when reads wait), offers its oldest request whose next command is ready.
     A request that issues ACT moves to the active buffer;
   * a PRE for a conflicting request is allowed only (bank_queues) at the head of its bank
     queue, and (both) only when no queued request hits the open row or the row has served
     `row_hit_cap` column commands; fr_fcfs also never closes a row an active request needs;
   * closed page: after a column command, the bank is precharged once ready unless a
     queued request hits its row.
   bank_queues then moves at most one transaction from the read queue (or, while draining
   writes, the write queue) into its bank queue: the first in queue order whose bank queue
   has room. A write drain starts when the write queue reaches the high watermark, or
   exceeds the low one while all bank queues are empty, or finds any write waiting while no
   read is queued anywhere in the controller; it lasts for that many writes.
2. The front end admits requests in trace order, at most K per clock, none before its
   arrival clock; when the queue a request needs is full, it and all behind it wait.

Timing constraints come from sim/memory/dram_timing_table.py plus tFAW (four ACTs per
rank in any tFAW window) and tRFC/tRP around REF. A read's data is back at column issue +
CL + BURST; a write's at column issue + CWL + BURST. The run ends at the last data beat.

Latency breakdown: each time one of a read's own commands (its PRE, ACT or RD) issues at t,
the wait since its previous milestone (arrival or previous own command) is split in order
into: row (same-bank tRP/tRCD/tRAS/tRTP/tRC still running), refresh (tRFC), window (tRRD,
tFAW), turnaround (write-to-read, rank switch), and the remainder as queued (other requests
ahead, bus busy, scheduler). CL + BURST after the RD is `transfer`. Parts sum to the latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import UserError
from sim.kernels import address as A
from sim.kernels import dram as K
from sim.memory import address_map as amap
from sim.memory import dram_stats
from sim.memory.commands import COMMAND_LOG_DTYPE
from sim.memory.dram_config import ROW_DTYPE, UNIT_DTYPE, DramConfig
from sim.memory.dram_timing_table import COMMANDS, SCOPES, compile_table

BREAKDOWN_KEYS = ("queued", "row_conflict", "faw_rrd", "refresh", "turnaround", "transfer")
_STRUCT = {"bank_queues": K.STRUCT_BANK_QUEUES, "fr_fcfs": K.STRUCT_FR_FCFS}
_PAGE = {"open": K.PAGE_OPEN, "closed": K.PAGE_CLOSED}
_REFRESH = {"none": K.REFRESH_NONE, "rank_staggered": K.REFRESH_STAGGERED,
            "all_bank": K.REFRESH_ALL_BANK}



@dataclass
class Accesses:
    """Column accesses in admission order (structure of arrays); a request's `per`
    accesses are consecutive."""

    per: int  # accesses per trace request
    controller: np.ndarray  # channel: one controller and command bus per channel
    channel: np.ndarray  # data channel: channel * pseudo_channels + pseudo-channel
    rank: np.ndarray  # within the controller: pseudo-channel * ranks + rank
    bankgroup: np.ndarray  # within the rank
    bank: np.ndarray  # within the controller: (rank * bank_groups + bankgroup) * banks_per_group + bank
    row: np.ndarray
    is_write: np.ndarray
    arrival: np.ndarray  # clocks

    def __len__(self) -> int:
        return len(self.controller)

    @property
    def request(self) -> np.ndarray:
        """Index of the trace request each access belongs to."""
        return np.repeat(np.arange(len(self) // self.per, dtype=np.int64), self.per)


@dataclass
class RawResult:
    """What an engine returns: per-access clocks and counters (identical across engines)."""

    end_clk: int
    enter: np.ndarray
    col: np.ndarray
    kind: np.ndarray
    breakdown: np.ndarray  # clocks summed over read accesses, BREAKDOWN_KEYS order
    log: np.ndarray | None = None  # int64 [n, 7] command log when requested


@dataclass
class DramResult:
    cfg: DramConfig
    accesses: Accesses
    raw: RawResult
    n_requests: int
    request_bytes: int
    request_is_write: np.ndarray
    summary: dict = field(default_factory=dict)


_FIELD_CODE = {"ch": A.F_CH, "pc": A.F_PC, "ra": A.F_RA, "bg": A.F_BG, "ba": A.F_BA,
               "ro": A.F_RO, "co": A.F_CO}


def make_accesses(cfg: DramConfig, addr: np.ndarray, is_write: np.ndarray, arrival: np.ndarray,
                  request_bytes: int = 64, wrap: bool = False, source: str = "trace") -> Accesses:
    """Split requests into column accesses at consecutive addresses and decode each one by
    the mapping string and its XOR terms (sim.memory.address_map; fields missing from the
    string are zero); --wrap folds high bits away."""
    per = max(1, request_bytes // cfg.access_bytes)
    n = len(addr)
    c = cfg.controller
    widths = cfg.field_bits
    segs = amap.segments(amap.pieces_of(c.address_mapping), widths)
    terms = amap.xor_terms(c.xor, c.bank_xor, widths)

    def column(rows: list, k: int, code: bool) -> np.ndarray:
        return np.array([_FIELD_CODE[r[k]] if code else r[k] for r in rows], np.int64)

    outs = [np.empty(n * per, UNIT_DTYPE) for _ in range(5)] + [np.empty(n * per, ROW_DTYPE)]
    addr64 = np.ascontiguousarray(addr, dtype=np.uint64)
    beyond = A.decode_accesses(
        addr64, per, cfg.access_bytes, cfg.access_bytes.bit_length() - 1,
        column(segs, 0, True), column(segs, 1, False), column(segs, 2, False),
        column(terms, 0, True), column(terms, 1, True), column(terms, 2, False),
        column(terms, 3, False), cfg.pseudo_channels, cfg.ranks, cfg.bank_groups,
        cfg.banks_per_group, wrap, *outs)
    if beyond >= 0:
        raise UserError(
            f"{source}: request {beyond}: address {int(addr64[beyond]):#x} is beyond the "
            f"{cfg.capacity_bytes} B capacity of {cfg.name} (use --wrap to fold addresses)"
        )
    controller, channel, rank, bankgroup, bank, row = outs
    def spread(x: np.ndarray) -> np.ndarray:  # one value per access; no copy when per == 1
        return x if per == 1 else np.repeat(x, per)

    return Accesses(
        per=per,
        controller=controller,
        channel=channel,
        rank=rank,
        bankgroup=bankgroup,
        bank=bank,
        row=row,
        is_write=spread(np.asarray(is_write, np.bool_)),
        arrival=spread(np.asarray(arrival, np.int64)),
    )


def kernel_params(cfg: DramConfig, requests_per_clock: int, log_capacity: int) -> np.ndarray:
    t = cfg.timing
    c = cfg.controller
    p = np.zeros(K.N_PARAMS, np.int64)
    p[K.P_NCH] = cfg.channels
    p[K.P_RANKS] = cfg.ranks * cfg.pseudo_channels
    p[K.P_RPP] = cfg.ranks
    p[K.P_BGS] = cfg.bank_groups
    p[K.P_BPG] = cfg.banks_per_group
    p[K.P_CL] = t.CL
    p[K.P_CWL] = t.CWL
    p[K.P_BURST] = t.BURST
    p[K.P_RQ] = c.read_queue
    p[K.P_WQ] = c.write_queue
    p[K.P_BQ] = c.bank_queue
    p[K.P_WLOW] = c.write_drain_low
    p[K.P_WHIGH] = c.write_drain_high
    p[K.P_STRUCT] = _STRUCT[c.structure]
    p[K.P_PAGE] = _PAGE[c.page_policy]
    p[K.P_REFRESH] = _REFRESH[c.refresh]
    p[K.P_REFI] = t.REFI
    p[K.P_RFC] = t.RFC
    p[K.P_RP] = t.RP
    p[K.P_FAW] = t.FAW
    p[K.P_CAP] = c.row_hit_cap
    p[K.P_K] = requests_per_clock
    p[K.P_LOGCAP] = log_capacity
    p[K.P_QUEUES] = K.QUEUES_PER_BANK if c.command_queues == "per_bank" else K.QUEUES_PER_RANK
    return p


def sparse_table(cfg: DramConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dense = compile_table(cfg.timing)
    ns, nx, ne = dense.shape
    sp_n = np.zeros((ns, nx), np.int64)
    sp_e = np.zeros((ns, nx, ne), np.int64)
    sp_lat = np.zeros((ns, nx, ne), np.int64)
    for s in range(ns):
        for x in range(nx):
            for e in range(ne):
                if dense[s, x, e] >= 0:
                    k = sp_n[s, x]
                    sp_e[s, x, k] = e
                    sp_lat[s, x, k] = dense[s, x, e]
                    sp_n[s, x] = k + 1
    assert len(SCOPES) == ns and len(COMMANDS) == nx
    return sp_n, sp_e, sp_lat


def run_fast(cfg: DramConfig, acc: Accesses, requests_per_clock: int,
             with_log: bool = False) -> RawResult:
    n = len(acc)
    sp_n, sp_e, sp_lat = sparse_table(cfg)
    cap = 0
    if with_log:
        # every access needs at most PRE+ACT+column; refresh adds a few per interval
        cap = 3 * n + 1024
    while True:
        log = np.zeros((max(cap, 1), 7), np.int64)
        log_n = np.zeros(2, np.int64)
        enter = np.full(n, -1, np.int64)
        col = np.full(n, -1, np.int64)
        kind = np.full(n, -1, np.int8)
        bd = np.zeros(K.N_BREAKDOWN, np.int64)
        params = kernel_params(cfg, requests_per_clock, cap)
        end = K.run_dram(params, sp_n, sp_e, sp_lat, acc.controller, acc.rank, acc.bankgroup,
                         acc.bank, acc.row, acc.is_write, acc.arrival,
                         enter, col, kind, bd, log, log_n)
        if end < 0:
            raise RuntimeError("DRAM kernel stalled with requests outstanding (model bug)")
        if with_log and log_n[1]:
            cap *= 2
            continue
        return RawResult(int(end), enter, col, kind, bd, log[: log_n[0]].copy() if with_log else None)


def simulate(cfg: DramConfig, addr: np.ndarray, is_write: np.ndarray, arrival: np.ndarray,
             *, requests_per_clock: int | None = None, request_bytes: int = 64,
             engine: str = "fast", wrap: bool = False, with_log: bool = False,
             source: str = "trace", workers: int = 1) -> DramResult:
    """Replay requests (byte addresses, write flags, arrival clocks) on one DRAM configuration.

    workers > 1 (fast engine) spreads the channels over that many processes, with results
    identical to workers=1 (sim.memory.dram_parallel)."""
    k = requests_per_clock or cfg.controller.requests_per_clock
    if k < 1:
        raise UserError(f"--requests-per-clock must be at least 1, got {k}")
    if request_bytes % cfg.access_bytes and request_bytes > cfg.access_bytes:
        raise UserError(f"request size {request_bytes} B is not a multiple of the "
                        f"{cfg.access_bytes} B access of {cfg.name}")
    acc = make_accesses(cfg, addr, is_write, arrival, request_bytes, wrap, source)
    if engine == "fast" and workers > 1:
        from sim.memory.dram_parallel import run_parallel

        raw = run_parallel(cfg, acc, k, with_log, workers)[0]
    elif engine == "fast":
        raw = run_fast(cfg, acc, k, with_log)
    elif engine == "reference":
        from sim.reference.dram import run_reference

        raw = run_reference(cfg, acc, k, with_log)
    else:
        raise UserError(f"unknown engine '{engine}' (expected fast or reference)")
    res = DramResult(cfg, acc, raw, len(addr), request_bytes, np.asarray(is_write, np.bool_))
    res.summary = summarize(res)
    return res


def command_log(res: DramResult) -> np.ndarray:
    """The run's command log as a COMMAND_LOG_DTYPE array (run with with_log=True)."""
    if res.raw.log is None:
        raise ValueError("simulate(..., with_log=True) keeps the command log")
    raw = res.raw.log
    log = np.zeros(len(raw), COMMAND_LOG_DTYPE)
    for i, name in enumerate(COMMAND_LOG_DTYPE.names):
        log[name] = raw[:, i]
    return log


def summarize(res: DramResult) -> dict:
    cfg, acc, raw = res.cfg, res.accesses, res.raw
    tck = cfg.tck_ps
    t = cfg.timing
    n = res.n_requests
    nbytes_r = (n - int(np.count_nonzero(res.request_is_write))) * res.request_bytes
    nbytes_w = (n * res.request_bytes) - nbytes_r
    end_ps = raw.end_clk * tck
    out: dict = {"memory": cfg.name, "requests": n, "bytes_read": nbytes_r,
                 "bytes_written": nbytes_w, "sim_time_ns": end_ps / 1000.0}
    peak = cfg.peak_bytes_per_s / 1e9
    bw = (nbytes_r + nbytes_w) / end_ps * 1000.0 if end_ps > 0 else 0.0
    out["bandwidth_gb_per_s"] = bw
    out["peak_gb_per_s"] = peak
    out["utilization"] = bw / peak if peak > 0 else 0.0
    # per-request read latency: first access admitted -> last data beat of its last access
    per = acc.per
    kinds = np.zeros(3, np.int64)
    chan = np.zeros(cfg.scheduled_channels, np.int64)
    clocks = np.empty(n, np.int64)
    nread = K.result_counts(acc.is_write, raw.col, raw.enter, raw.kind, acc.channel, per,
                            t.CL + t.BURST, kinds, chan, clocks)
    clocks = clocks[:nread]
    nread_acc = nread * per
    lat = {"mean": 0.0, "p50": 0.0, "p99": 0.0}
    if nread:
        p50, p99 = np.percentile(clocks, [50, 99])  # one selection pass for both
        ns = tck / 1000.0
        lat = {"mean": float(clocks.mean()) * ns, "p50": float(p50) * ns, "p99": float(p99) * ns}
    out["read_latency_ns"] = lat
    out["write_latency_ns"] = dram_stats.write_latency_ns(res)
    out["read_latency_histogram"] = dram_stats.latency_histogram(clocks, tck)
    ncol = len(acc)
    out["row_hit_rate"] = float(kinds[K.K_HIT] / ncol) if ncol else 0.0
    out["row_miss_rate"] = float(kinds[K.K_MISS] / ncol) if ncol else 0.0
    out["row_conflict_rate"] = float(kinds[K.K_CONFLICT] / ncol) if ncol else 0.0
    per_ch = chan * cfg.access_bytes
    out["per_channel_gb_per_s"] = [float(b / end_ps * 1000.0) if end_ps else 0.0 for b in per_ch]
    bd = raw.breakdown
    out["latency_breakdown_ns"] = {
        key: (float(bd[i]) * tck / 1000.0 / nread_acc if nread_acc else 0.0)
        for i, key in enumerate(BREAKDOWN_KEYS)
    }
    out["commands"] = dram_stats.command_counts(res)  # None without the command log
    out["per_bank"] = dram_stats.per_bank(res)
    return out
