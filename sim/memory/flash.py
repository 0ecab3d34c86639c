"""NAND flash SSD model, request by request: specification, replay, statistics, bandwidth.

The semantics are written once, in the docstring of sim/reference/flash.py (the SimPy
specification); sim/kernels/flash.py is the numba fast path. This module holds what both
share: the resolved preset (FlashSpec, loaded by sim/config/storage.py), the split of
requests into pages (the address map), the summary statistics and the transfer-level
entry point flash_read_bandwidth().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from sim.errors import UserError
from sim.kernels import flash as K

PS_PER_S = 10**12
ENGINES = ("fast", "reference")
# the bandwidth function simulates at most about this many pages per call (~0.1 s)
_PAGE_BUDGET = 400_000
_SEED = 20240607
SWEEP_SIZES = (4096, 16384, 65536, 262144, 1 << 20)
SWEEP_DEPTHS = (1, 4, 16, 64, 256)


@dataclass(frozen=True)
class FlashSpec:
    """A flash SSD preset resolved to integers (bytes, ps, bytes/s)."""

    name: str
    channels: int
    dies_per_channel: int
    planes_per_die: int
    page_bytes: int
    pages_per_block: int
    blocks_per_plane: int
    t_read_ps: int  # tR: array to the die's page register
    t_prog_ps: int  # tPROG
    t_erase_ps: int  # tBERS (0: not given; unused by reads and writes)
    channel_bytes_per_s: int  # transfer rate x bus bytes
    channel_overhead_ps: int  # channel time per page command, on top of the data
    controller_latency_ps: int  # from a command's start on the controller to its pages queued
    link_name: str
    link_bytes_per_s: int  # host link, each direction (the link preset's payload peak)
    link_latency_ps: int  # added once to every request's completion
    # the controller's time per command (its command rate is 1e12 / this); 0: no limit
    controller_read_ps: int = 0
    controller_write_ps: int = 0
    source: str = ""
    path: str = ""

    @property
    def dies(self) -> int:
        return self.channels * self.dies_per_channel

    @property
    def capacity_bytes(self) -> int:
        return (self.dies * self.planes_per_die * self.blocks_per_plane * self.pages_per_block
                * self.page_bytes)

    @property
    def die_read_bytes_per_s(self) -> int:
        """Every plane of every die reading a full page per tR (multi-plane reads)."""
        return self.dies * self.planes_per_die * self.page_bytes * PS_PER_S // self.t_read_ps

    @property
    def channel_read_bytes_per_s(self) -> int:
        """Every channel moving full pages back to back (command overhead included)."""
        per_page = self.channel_overhead_ps + _xfer_ps(self.page_bytes, self.channel_bytes_per_s)
        return self.channels * self.page_bytes * PS_PER_S // per_page

    @property
    def internal_read_bytes_per_s(self) -> int:
        """Peak read bandwidth inside the drive: the lower of the die and channel limits."""
        return min(self.die_read_bytes_per_s, self.channel_read_bytes_per_s)

    @property
    def peak_read_bytes_per_s(self) -> int:
        """Peak read bandwidth seen by the host: the internal peak capped by the link."""
        return min(self.internal_read_bytes_per_s, self.link_bytes_per_s)

    @property
    def max_read_iops(self) -> float:
        """The controller's read command rate (commands/s), inf when it has no limit."""
        return PS_PER_S / self.controller_read_ps if self.controller_read_ps else float("inf")

    @property
    def max_write_iops(self) -> float:
        """The controller's write command rate (commands/s), inf when it has no limit."""
        return PS_PER_S / self.controller_write_ps if self.controller_write_ps else float("inf")


def command_ps(iops: int) -> int:
    """A controller's time per command for a rate of ``iops`` commands/s, rounded up to a
    whole ps (so the modelled rate never exceeds the datasheet's)."""
    return -(-PS_PER_S // iops)


def _xfer_ps(nbytes: int, rate: int) -> int:
    return -(-nbytes * PS_PER_S // rate)


def load_flash(name_or_path: str) -> FlashSpec:
    """Load a flash preset by name (hw_configs/storage/<name>.yaml) or by file path."""
    from sim.config.storage import load_flash as load

    return load(name_or_path)


def list_flash() -> list[str]:
    """Names of the flash presets in hw_configs/storage."""
    from sim.config.storage import list_flash as names

    return names()


# --------------------------------------------------------------------------- address map


@dataclass
class Units:
    """Requests split into pages ("units"), structure of arrays; request i owns units
    first[i]:first[i + 1], in address order."""

    first: np.ndarray
    req: np.ndarray
    die: np.ndarray  # channel * dies_per_channel + die within the channel
    plane: np.ndarray
    chan: np.ndarray
    write: np.ndarray  # int8: 1 for a write
    nbytes: np.ndarray  # the request's bytes within this page

    def __len__(self) -> int:
        return len(self.req)


def make_units(spec: FlashSpec, addr: np.ndarray, nbytes: np.ndarray, is_write: np.ndarray,
               wrap: bool = False, source: str = "trace") -> Units:
    """Split each request into the pages it touches and map each page.

    Address map, from the least significant bit: byte in page | channel | die | plane |
    page in block | block. Consecutive pages go to consecutive channels, then dies, then
    planes, so a large request spreads over the whole drive.
    """
    a64 = np.asarray(addr, np.uint64)
    nbytes = np.asarray(nbytes, np.int64)
    n = len(a64)
    if n and int(nbytes.min()) < 1:
        raise UserError(f"{source}: request {int(np.argmin(nbytes))} has no bytes")
    cap = spec.capacity_bytes
    if wrap:
        addr = (a64 % np.uint64(cap)).astype(np.int64)
    else:
        far = a64 > np.uint64(cap)  # also keeps addresses >= 2**63 out of int64
        addr = np.where(far, 0, a64).astype(np.int64)
        beyond = np.nonzero(far | (addr + nbytes > cap))[0]
        if len(beyond):
            i = int(beyond[0])
            raise UserError(f"{source}: request {i}: bytes {int(a64[i]):#x}+{int(nbytes[i])} "
                            f"are beyond the {cap} B capacity of {spec.name} "
                            f"(use --wrap to fold addresses)")
    shift = spec.page_bytes.bit_length() - 1
    first_page = addr >> shift
    last_page = (addr + nbytes - 1) >> shift
    count = last_page - first_page + 1
    first = np.zeros(n + 1, np.int64)
    np.cumsum(count, out=first[1:])
    req = np.repeat(np.arange(n, dtype=np.int64), count)
    page = first_page[req] + (np.arange(len(req), dtype=np.int64) - first[req])
    lo = np.maximum(addr[req], page << shift)
    hi = np.minimum((addr + nbytes)[req], (page + 1) << shift)
    page %= cap >> shift  # a wrapped request continues at page 0
    cb = spec.channels.bit_length() - 1
    db = spec.dies_per_channel.bit_length() - 1
    chan = page & (spec.channels - 1)
    die = chan * spec.dies_per_channel + ((page >> cb) & (spec.dies_per_channel - 1))
    plane = (page >> (cb + db)) & (spec.planes_per_die - 1)
    write = np.asarray(is_write, np.bool_)[req].astype(np.int8)
    return Units(first, req, die, plane, chan, write, hi - lo)


# --------------------------------------------------------------------------- replay


@dataclass
class FlashRaw:
    """What an engine returns (identical across engines). Per request: issue, start on the
    controller and completion (ps). Per unit: start and end of its die operation, channel
    transfer and link transfer (-1 where the page has no such stage). Per resource: busy ps
    and, for dies, the number of operations (a multi-plane batch counts once); the
    controller's busy ps in ctrl_busy[0]."""

    issue: np.ndarray
    ctrl_start: np.ndarray
    complete: np.ndarray
    d_start: np.ndarray
    d_end: np.ndarray
    c_start: np.ndarray
    c_end: np.ndarray
    l_start: np.ndarray
    l_end: np.ndarray
    die_busy: np.ndarray
    die_ops: np.ndarray
    ch_busy: np.ndarray
    link_busy: np.ndarray  # [device-to-host, host-to-device]
    ctrl_busy: np.ndarray  # one entry

    @classmethod
    def empty(cls, spec: FlashSpec, n_req: int, n_units: int) -> FlashRaw:
        def unit() -> np.ndarray:
            return np.full(n_units, -1, np.int64)

        def req() -> np.ndarray:
            return np.full(n_req, -1, np.int64)

        return cls(req(), req(), req(), unit(), unit(), unit(), unit(), unit(), unit(),
                   np.zeros(spec.dies, np.int64), np.zeros(spec.dies, np.int64),
                   np.zeros(spec.channels, np.int64), np.zeros(2, np.int64),
                   np.zeros(1, np.int64))


@dataclass
class FlashResult:
    spec: FlashSpec
    units: Units
    raw: FlashRaw
    arrival: np.ndarray
    nbytes: np.ndarray
    is_write: np.ndarray
    queue_depth: int
    through_link: bool
    summary: dict = field(default_factory=dict)


def kernel_params(spec: FlashSpec, queue_depth: int, through_link: bool) -> np.ndarray:
    p = np.zeros(K.N_PARAMS, np.int64)
    p[K.P_CH] = spec.channels
    p[K.P_DIES] = spec.dies_per_channel
    p[K.P_PLANES] = spec.planes_per_die
    p[K.P_TR] = spec.t_read_ps
    p[K.P_TPROG] = spec.t_prog_ps
    p[K.P_CH_RATE] = spec.channel_bytes_per_s
    p[K.P_CH_OVH] = spec.channel_overhead_ps
    p[K.P_LINK_RATE] = spec.link_bytes_per_s
    p[K.P_CTRL_LAT] = spec.controller_latency_ps
    p[K.P_CTRL_RD] = spec.controller_read_ps
    p[K.P_CTRL_WR] = spec.controller_write_ps
    p[K.P_LINK_LAT] = spec.link_latency_ps
    p[K.P_QD] = queue_depth
    p[K.P_LINK] = int(through_link)
    return p


def run_fast(spec: FlashSpec, units: Units, arrival: np.ndarray, queue_depth: int,
             through_link: bool) -> FlashRaw:
    raw = FlashRaw.empty(spec, len(arrival), len(units))
    issued = K.run_flash(kernel_params(spec, queue_depth, through_link), arrival, units.first,
                         units.req, units.die, units.plane, units.chan, units.write,
                         units.nbytes, raw.issue, raw.ctrl_start, raw.complete, raw.d_start,
                         raw.d_end, raw.c_start, raw.c_end, raw.l_start, raw.l_end,
                         raw.die_busy, raw.die_ops, raw.ch_busy, raw.link_busy, raw.ctrl_busy)
    if issued != len(arrival) or (len(arrival) and int(raw.complete.min()) < 0):
        raise RuntimeError("flash kernel stopped with requests outstanding (model bug)")
    return raw


def simulate(spec: FlashSpec, addr: np.ndarray, nbytes: int | np.ndarray, is_write: np.ndarray,
             arrival_ps: np.ndarray, *, queue_depth: int = 0, through_link: bool = True,
             engine: str = "fast", wrap: bool = False, source: str = "trace") -> FlashResult:
    """Replay requests (byte address, bytes, write flag, arrival in ps) on one SSD.

    queue_depth 0 issues every request at its arrival (in trace order); QD >= 1 keeps at
    most QD requests outstanding (closed loop, still no request before its arrival).
    through_link=False leaves the host link out (the data stays in the drive).
    """
    if queue_depth < 0:
        raise UserError(f"queue depth must be 0 (issue by arrival) or positive, got {queue_depth}")
    n = len(addr)
    sizes = np.broadcast_to(np.asarray(nbytes, np.int64), (n,)).copy()
    arrival = np.ascontiguousarray(arrival_ps, np.int64)
    if n and int(arrival.min()) < 0:
        raise UserError(f"{source}: request {int(np.argmin(arrival))} has a negative arrival time")
    if n and int(arrival.max()) > 1 << 60:
        raise UserError(f"{source}: arrival times beyond 2**60 ps are not supported")
    units = make_units(spec, addr, sizes, is_write, wrap, source)
    if engine == "fast":
        raw = run_fast(spec, units, arrival, queue_depth, through_link)
    elif engine == "reference":
        from sim.reference.flash import run_reference

        raw = run_reference(spec, units, arrival, queue_depth, through_link)
    else:
        raise UserError(f"unknown engine '{engine}' (expected fast or reference)")
    res = FlashResult(spec, units, raw, arrival, sizes, np.asarray(is_write, np.bool_),
                      queue_depth, through_link)
    res.summary = summarize(res)
    return res


def _latency_us(lat_ps: np.ndarray) -> dict[str, float]:
    if not len(lat_ps):
        return {"mean": 0.0, "p50": 0.0, "p99": 0.0}
    p50, p99 = np.percentile(lat_ps, [50, 99])
    return {"mean": float(lat_ps.mean()) / 1e6, "p50": float(p50) / 1e6, "p99": float(p99) / 1e6}


def summarize(res: FlashResult) -> dict:
    """Totals of one replay (the dict the CLI prints and writes as JSON)."""
    spec, raw = res.spec, res.raw
    n = len(res.arrival)
    w = res.is_write
    bytes_read = int(res.nbytes[~w].sum())
    bytes_written = int(res.nbytes[w].sum())
    end_ps = int(raw.complete.max()) if n else 0
    lat = raw.complete - raw.issue
    read_bw = bytes_read * PS_PER_S // end_ps if end_ps else 0
    peak = spec.peak_read_bytes_per_s if res.through_link else spec.internal_read_bytes_per_s

    def busy(ps: np.ndarray) -> list[float]:
        return [float(b) / end_ps if end_ps else 0.0 for b in ps]

    return {
        "memory": spec.name,
        "kind": "flash",
        "requests": n,
        "queue_depth": res.queue_depth,
        "through_link": res.through_link,
        "bytes_read": bytes_read,
        "bytes_written": bytes_written,
        "sim_time_ns": end_ps / 1000.0,
        "read_bytes_per_s": read_bw,
        "read_bandwidth_gb_per_s": read_bw / 1e9,
        "bandwidth_gb_per_s": (bytes_read + bytes_written) * PS_PER_S / end_ps / 1e9 if end_ps else 0.0,
        "peak_read_gb_per_s": peak / 1e9,
        "read_utilization": read_bw / peak if peak else 0.0,
        "read_latency_us": _latency_us(lat[~w]),
        "write_latency_us": _latency_us(lat[w]),
        "pages": len(res.units),
        "die_operations": int(raw.die_ops.sum()),
        "per_channel_busy_ns": [float(b) / 1000.0 for b in raw.ch_busy],
        "per_die_busy_ns": [float(b) / 1000.0 for b in raw.die_busy],
        "per_channel_utilization": busy(raw.ch_busy),
        "per_die_utilization": busy(raw.die_busy),
        "link_utilization": {"to_host": busy(raw.link_busy[:1])[0],
                             "to_device": busy(raw.link_busy[1:])[0]},
        "controller_utilization": busy(raw.ctrl_busy)[0],
    }


# --------------------------------------------------------------------------- bandwidth


def random_reads(spec: FlashSpec, request_bytes: int, n: int,
                 rng: np.random.Generator) -> np.ndarray:
    """n random read addresses, aligned to the request's largest power-of-two divisor
    (capped at a page), so 4 KiB reads never straddle a page and 1 MiB reads are page
    aligned."""
    align = min(spec.page_bytes, request_bytes & -request_bytes)
    slots = (spec.capacity_bytes - request_bytes) // align + 1
    return rng.integers(0, slots, n, dtype=np.int64) * align


@lru_cache(maxsize=4096)
def flash_read_bandwidth(spec: FlashSpec, request_bytes: int, queue_depth: int, *,
                         through_link: bool = True) -> int:
    """Sustained read bytes/s for random reads of request_bytes at queue_depth (closed loop).

    Simulates a few thousand seeded random reads with the numba kernel and measures the
    steady state: the bytes delivered between the QD-th and the QD-th-from-last request
    completion (the ramp at the start and the drain at the end are left out). through_link=False leaves the host
    link out (computational storage reading the flash internally).
    """
    if request_bytes < 1 or queue_depth < 1:
        raise UserError(f"request bytes and queue depth must be positive, got "
                        f"{request_bytes} B at QD {queue_depth}")
    if request_bytes > spec.capacity_bytes:
        raise UserError(f"{request_bytes} B exceeds the {spec.capacity_bytes} B of {spec.name}")
    pages = -(-request_bytes // spec.page_bytes) + 1
    n = max(6 * queue_depth, min(2000, max(64, _PAGE_BUDGET // pages)))
    rng = np.random.default_rng(_SEED)
    addr = random_reads(spec, request_bytes, n, rng)
    res = simulate(spec, addr.astype(np.uint64), request_bytes, np.zeros(n, np.bool_),
                   np.zeros(n, np.int64), queue_depth=queue_depth, through_link=through_link)
    done = np.sort(res.raw.complete)
    t0, t1 = int(done[queue_depth]), int(done[n - queue_depth - 1])
    # bytes delivered inside the window, page by page: counting whole requests would credit
    # a request's pages that crossed before the window opened
    page_done = res.raw.l_end if through_link else res.raw.c_end
    inside = (page_done > t0) & (page_done <= t1)
    return int(res.units.nbytes[inside].sum()) * PS_PER_S // (t1 - t0)


def bandwidth_sweep(spec: FlashSpec, sizes: tuple[int, ...] = SWEEP_SIZES,
                    depths: tuple[int, ...] = SWEEP_DEPTHS, *,
                    through_link: bool = True) -> dict:
    """Sustained random-read bandwidth for every (request size, queue depth)."""
    table = [[flash_read_bandwidth(spec, s, q, through_link=through_link) for q in depths]
             for s in sizes]
    peak = spec.peak_read_bytes_per_s if through_link else spec.internal_read_bytes_per_s
    return {"memory": spec.name, "through_link": through_link, "sizes": list(sizes),
            "depths": list(depths), "read_bytes_per_s": table,
            "limits_bytes_per_s": {"die": spec.die_read_bytes_per_s,
                                   "channel": spec.channel_read_bytes_per_s,
                                   "link": spec.link_bytes_per_s, "peak": peak},
            # None: no command-rate limit; otherwise it binds at read_iops x request bytes
            "read_iops": None if not spec.controller_read_ps else spec.max_read_iops}


# --------------------------------------------------------------------------- text


def _size(nbytes: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale and nbytes % scale == 0:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} B"


def summary_table(summary: dict, title: str = "") -> str:
    """One flash replay as terminal text."""
    from sim.report_table import render_table

    r, wl = summary["read_latency_us"], summary["write_latency_us"]
    rows = [
        ("requests", f"{summary['requests']:,}"),
        ("queue depth (0: by arrival)", str(summary["queue_depth"])),
        ("bytes read (B)", f"{summary['bytes_read']:,}"),
        ("bytes written (B)", f"{summary['bytes_written']:,}"),
        ("simulated time (ns)", f"{summary['sim_time_ns']:,.2f}"),
        ("read bandwidth (GB/s)", f"{summary['read_bandwidth_gb_per_s']:.3f}"),
        ("peak read bandwidth (GB/s)", f"{summary['peak_read_gb_per_s']:.3f}"),
        ("read utilization (%)", f"{100.0 * summary['read_utilization']:.1f}"),
        ("read latency mean (us)", f"{r['mean']:.2f}"),
        ("read latency p50 (us)", f"{r['p50']:.2f}"),
        ("read latency p99 (us)", f"{r['p99']:.2f}"),
        ("write latency mean (us)", f"{wl['mean']:.2f}"),
        ("write latency p99 (us)", f"{wl['p99']:.2f}"),
        ("pages", f"{summary['pages']:,}"),
        ("die operations", f"{summary['die_operations']:,}"),
    ]
    parts = [title, ""] if title else []
    parts.append(render_table(("quantity", "value"), rows))
    for what, key in (("channel", "per_channel_utilization"), ("die", "per_die_utilization")):
        u = summary[key]
        parts.append(f"{'' if what == 'die' else chr(10)}  {what} busy (%) over {len(u)} {what}s: min {100 * min(u):.1f}  "
                     f"mean {100 * sum(u) / len(u):.1f}  max {100 * max(u):.1f}")
    link = summary["link_utilization"]
    parts.append(f"  link busy (%): to host {100 * link['to_host']:.1f}  "
                 f"to device {100 * link['to_device']:.1f}")
    parts.append(f"  controller busy (%): {100 * summary['controller_utilization']:.1f}")
    return "\n".join(parts)


def sweep_table(sweep: dict, title: str = "") -> str:
    """A bandwidth sweep as a size x queue-depth table in GB/s, with the limits."""
    from sim.report_table import render_table

    headers = ("request", *(f"QD {q}" for q in sweep["depths"]))
    rows = [(_size(s), *(f"{b / 1e9:.3f}" for b in row))
            for s, row in zip(sweep["sizes"], sweep["read_bytes_per_s"], strict=True)]
    lim = sweep["limits_bytes_per_s"]
    parts = [title, ""] if title else []
    parts.append(render_table(headers, rows))
    link = "" if not sweep["through_link"] else f"  link {lim['link'] / 1e9:.3f}"
    parts.append(f"\n  limits (GB/s): dies {lim['die'] / 1e9:.3f}  channels "
                 f"{lim['channel'] / 1e9:.3f}{link}  -> peak {lim['peak'] / 1e9:.3f}")
    if sweep.get("read_iops"):
        iops = sweep["read_iops"]
        parts.append(f"  controller: {iops / 1e3:,.0f}K read commands/s (x 4 KiB = "
                     f"{iops * 4096 / 1e9:.3f} GB/s)")
    return "\n".join(parts)
