"""Task graph -> op streams: a kernel's task graph as the request-level machine runs it.

Rules (the machine's op semantics: sim/machine/model.py; op encoding: workloads/ops.py):

Places and threads
    A task's ``place`` is the thread block that runs it. Place p runs on core (SM)
    ``p % cores`` as its local thread ``p // cores``: places beyond the SM count become
    further threads of the SMs, which share the SM's pipeline (its tensor cores) and its
    scratchpad. A task with place -1 takes the place of its first dependency (place 0 if it
    has none). Stream s of the result is global thread s; threads without a place get an
    empty stream.

Transfers become DMAs
    hbm -> sram: a DMA from DRAM into the SM's scratchpad. A contiguous transfer (stride 0
    or equal to chunk) is one element of nbytes; a strided one is nbytes // chunk elements
    of chunk bytes every stride bytes (the DMA op's count and stride fields, the scratchpad
    side contiguous), plus one DMA for a shorter last run. sram -> hbm: a DMA from the
    scratchpad to DRAM at dst_addr (the HBM side is contiguous, as the task-graph format
    says). hbm -> hbm and sram -> sram are DMAs too. Scratchpad addresses are allocated in
    a ring per SM within its usable SRAM (``sram_bytes``), aligned to ``SRAM_ALIGN``; a
    transfer larger than the SRAM is an error. HBM addresses are the graph's src_addr and
    dst_addr, through the bank hash below.

Bank hash (``bank_hash=True``, the default)
    GPUs hash physical addresses onto DRAM banks so that streams a power of two apart do
    not all open rows in the same bank; the machine maps addresses by plain modulo
    interleave (sim/machine/model.py), under which, e.g., a contiguous KV cache with 1 MiB
    per (request, head) starts every head's stream on the same bank of every controller.
    So HBM addresses go through a permutation-based bank interleaving (in the spirit of
    Zhang, Zhu and Zhang, "A Permutation-based Page Interleaving Scheme to Reduce
    Row-buffer Conflicts and Exploit Data Locality", MICRO 2000): the bank field's bits of
    the global address are XORed with the XOR-fold of its row bits (``BankHash``; field
    positions from the machine's interleave, controller count and DRAM mapping,
    ``bank_hash_for``). Rows, columns and controllers are unchanged, so a run's row
    locality is kept; blocks of 2**(bank field's lowest bit) bytes move whole, and a DMA
    whose HBM side crosses a block is cut there (elements of a strided DMA that share a
    block stay one strided DMA). Payload and access bytes are unchanged (blocks are
    aligned far above the access size). When the bank field lies inside an interleave
    unit (a DMA chunk) the hash cannot be applied by cutting DMAs and is skipped.
    Each DMA signals a handle of its thread. A task that depends on a transfer WAITs for
    its handles before it issues (once per thread: a job already waited for is not waited
    again).

Compute
    COMPUTE of F > 0 FLOPs: COMPUTE ceil(F / flops_per_cycle) core cycles.
    A zero-FLOP COMPUTE whose dependencies (and own place) span one place is a marker: no
    op; its dependents inherit its dependencies. One spanning several places is a join: a
    machine-scope BARRIER that every thread with a stream takes part in (the machine's
    barriers are per core, die or machine, not per set of threads). Before arriving, each
    place waits for the DMAs of its own that the join depends on. Every place may depend on
    a join. Any other dependency on a task of another place is an ``ExpandError``: places
    synchronise only through joins.

Ordering: loads overlap compute
    Ops that block their thread (WAIT, COMPUTE, BARRIER) go to the end of the place's
    stream in task order. A DMA is placed right after the last blocking op it must follow
    (the ops of its dependencies on its place, the WAITs for transfers it depends on, the
    barrier of a join it depends on), i.e. as early as the stream's order allows, so loads
    of later tiles run while earlier tiles compute, as in a double-buffered kernel. This
    matches the transfer level, where a task starts when its dependencies end.

Handles
    A thread has ``spec.max_handles`` handles. A handle is free again after the WAIT on its
    job; a DMA takes a handle that is free at its position. When none is, the thread first
    WAITs for its oldest unwaited job (appended at the end, which also delays the DMA to
    there): the handle count bounds a thread's loads in flight.

Bytes
    The DMAs move exactly the graph's bytes: ``Expansion.dram_bytes_read`` / ``_written``
    are the graph's HBM bytes, which the machine's DRAM statistics count as payload. Its
    DRAM serves whole ``access_bytes`` units, though: DMA chunks are cut at
    ``dma_chunk_bytes`` from each element's start and at interleave boundaries, and each
    chunk touches the aligned accesses covering it. ``dram_access_bytes`` counts those by
    the same rule (the bus traffic): equal to the payload when every run starts and ends on
    an access boundary, more otherwise (e.g. a 4-byte block-table entry costs one 32 B access).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import UserError
from sim.machine.model import MachineSpec
from workloads.llm.taskgraph import COMPUTE, TaskGraph
from workloads.ops import (
    BARRIER,
    DMA,
    DRAM,
    OP_DTYPE,
    SCOPE_MACHINE,
    SP_LOCAL,
    WAIT,
    ArrayStreams,
)
from workloads.ops import COMPUTE as OP_COMPUTE

SRAM_ALIGN = 128  # bytes: scratchpad buffers start on a whole row of the 32 x 4 B banks
INT32_MAX = 2**31 - 1
GLOBAL = -1  # the "place" of a join: every place has passed it


class ExpandError(UserError):
    """A task graph the request-level machine cannot run as written."""


@dataclass
class Expansion:
    """The op streams of a graph and what they should cost in bytes and cycles."""

    streams: list[np.ndarray]  # one per global thread
    compute_cycles: int  # sum of COMPUTE op cycles
    dram_bytes_read: int  # payload bytes the DMAs read from DRAM
    dram_bytes_written: int  # payload bytes the DMAs write to DRAM
    dram_access_bytes: int  # bytes of the whole DRAM accesses they touch (reads + writes)
    dma_jobs: int
    barriers: int
    thread_of_place: dict[int, int] = field(default_factory=dict)

    def source(self) -> ArrayStreams:
        return ArrayStreams(self.streams)


def dram_access_bytes(addr: int, size: int, count: int, stride: int, spec: MachineSpec) -> int:
    """Bytes of the DRAM accesses a DMA side (count elements of size bytes) touches."""
    ab, il, ch = spec.access_bytes, spec.interleave_bytes, spec.dma_chunk_bytes
    if addr % ab == 0 and size % ab == 0 and (count == 1 or stride % ab == 0):
        return size * count  # every piece starts and ends on an access boundary
    total = 0
    for e in range(count):
        off = 0
        while off < size:
            a = addr + e * stride + off
            n = min(ch, size - off, il - a % il)
            total += (-(-(a + n) // ab) - a // ab) * ab
            off += n
    return total


@dataclass(frozen=True)
class BankHash:
    """The bank bits of a global DRAM address XORed with the XOR-fold of its row bits.

    ``block`` = 2**ba_shift bytes move as a whole (the bits below the bank field are kept),
    so a contiguous run is cut only at block boundaries (module docstring, HBM addresses).
    """

    ba_shift: int  # global address bit of the bank field's least significant bit
    ba_bits: int
    ro_shift: int  # global address bit of the row field's least significant bit

    @property
    def block(self) -> int:
        return 1 << self.ba_shift

    def __call__(self, addr: int) -> int:
        r, h, mask = addr >> self.ro_shift, 0, (1 << self.ba_bits) - 1
        while r:
            h ^= r & mask
            r >>= self.ba_bits
        return addr ^ (h << self.ba_shift)


def bank_hash_for(spec: MachineSpec) -> BankHash | None:
    """The machine's bank hash, or None when it cannot be applied at DMA granularity.

    Global bit of local address bit b (local = the controller's address, see the machine's
    DRAM rule): b below log2(interleave), else b + log2(controllers). None when the
    interleave or the controller count is not a power of two, the mapping has no bank or
    row field, the bank field is not above the interleave (inside a DMA chunk), or the row
    field is not above the bank field.
    """
    il, c = spec.interleave_bytes, spec.controllers
    if il & (il - 1) or c & (c - 1) or spec.access_bytes & (spec.access_bytes - 1):
        return None
    pos, at = spec.access_bytes.bit_length() - 1, {}
    for name, bits in spec.dram_fields:
        at[name] = (pos, bits)
        pos += bits
    if "ba" not in at or "ro" not in at:
        return None
    il_bits, c_bits = il.bit_length() - 1, c.bit_length() - 1
    (ba, ba_bits), (ro, _) = at["ba"], at["ro"]
    if ba < il_bits or ro < ba + ba_bits:
        return None
    return BankHash(ba_shift=ba + c_bits, ba_bits=ba_bits, ro_shift=ro + c_bits)


def hashed_pieces(sa: int, da: int, size: int, count: int, stride: int, s_hash, d_hash,
                  block: int) -> list[tuple[int, int, int, int, int]]:
    """A DMA (count elements of size bytes, source every stride bytes, destination
    contiguous) cut where a hashed side crosses a hash block, with hashed addresses.

    Elements that stay within one block on each hashed side keep a common XOR, so a run of
    them stays one strided DMA; an element that crosses a block is cut at the crossing.
    """
    out: list[tuple[int, int, int, int, int]] = []

    def blk(a: int, on) -> int:
        return a // block if on is not None else 0

    def put(s: int, d: int, n: int) -> None:
        hs = s_hash(s) if s_hash else s
        hd = d_hash(d) if d_hash else d
        if out:  # extend the last strided group when this element continues it
            ps, pd, pn, pc, pst = out[-1]
            if pn == n and hs == ps + pc * stride and hd == pd + pc * n:
                out[-1] = (ps, pd, pn, pc + 1, stride)
                return
        out.append((hs, hd, n, 1, n))

    for e in range(count):
        s, d, off = sa + e * stride, da + e * size, 0
        while off < size:
            n = size - off
            if s_hash is not None:
                n = min(n, block - (s + off) % block)
            if d_hash is not None:
                n = min(n, block - (d + off) % block)
            put(s + off, d + off, n)
            off += n
    return [(hs, hd, n, c, st if c > 1 else n) for hs, hd, n, c, st in out]


class _Thread:
    """One place's stream under construction."""

    def __init__(self, max_handles: int):
        self.ops: list[tuple] = []  # (stage, order, seq, op tuple)
        self.stage = 0  # blocking ops so far
        self.seq = 0
        self.handle_free = [0] * max_handles  # stage from which each handle may be reused
        self.handle_job: list[int | None] = [None] * max_handles
        self.waited: dict[int, int] = {}  # job -> stage of its WAIT
        self.job_handle: dict[int, int] = {}
        self.job_stage: dict[int, int] = {}

    def block(self, op: tuple) -> int:
        """Append a blocking op; returns its stage."""
        self.stage += 1
        self.seq += 1
        self.ops.append((self.stage, 0, self.seq, op))
        return self.stage

    def wait_jobs(self, jobs) -> int:
        """WAIT for each job not yet waited; the stage after which they are all complete."""
        s = 0
        for j in jobs:
            if j not in self.waited:
                h = self.job_handle[j]
                w = self.block((WAIT, 0, 0, 0, 0, 0, 0, 0, 0, 0, h))
                self.waited[j] = w
                self.handle_free[h] = w
            s = max(s, self.waited[j])
        return s

    def dma(self, op: list, stage: int, job: int) -> None:
        """Place a DMA after blocking op ``stage`` with a free handle (see Handles)."""
        free = [h for h, f in enumerate(self.handle_free) if f <= stage]
        if not free:
            waited = [h for h, j in enumerate(self.handle_job) if j in self.waited]
            if waited:  # free after a later WAIT: the DMA goes after it
                h = min(waited, key=lambda h: (self.handle_free[h], h))
                stage = self.handle_free[h]
            else:  # every handle's job is still unwaited: wait for the oldest first
                oldest = min(self.handle_job, key=lambda j: (self.job_stage[j], j))
                stage = max(stage, self.wait_jobs([oldest]))
                h = self.job_handle[oldest]
            free = [h]
        h = free[0]
        self.handle_free[h] = 1 << 62  # busy until waited
        self.handle_job[h] = job
        self.job_handle[job] = h
        self.job_stage[job] = stage
        op[10] = h
        self.seq += 1
        self.ops.append((stage, 1, self.seq, tuple(op)))

    def stream(self) -> np.ndarray:
        self.ops.sort(key=lambda r: r[:3])
        return np.array([r[3] for r in self.ops], OP_DTYPE) if self.ops else np.zeros(0, OP_DTYPE)


def expand_graph(graph: TaskGraph, spec: MachineSpec, flops_per_cycle: int, *,
                 sram_bytes: int | None = None, hbm: str = "hbm",
                 sram: str = "sram", bank_hash: bool = True) -> Expansion:
    """Op streams for ``graph`` on ``spec`` by the rules of the module docstring."""
    graph.validate()
    if flops_per_cycle < 1:
        raise ExpandError(f"flops_per_cycle must be at least 1, got {flops_per_cycle}")
    sram_bytes = spec.sp_size if sram_bytes is None else sram_bytes
    hasher = bank_hash_for(spec) if bank_hash else None
    if not 0 < sram_bytes <= spec.sp_size:
        raise ExpandError(f"sram_bytes {sram_bytes} must be in 1..{spec.sp_size} (the scratchpad)")
    t = graph.tasks
    n = graph.n
    space = {}
    for i, name in enumerate(graph.memories):
        if name == hbm:
            space[i] = DRAM
        elif name == sram:
            space[i] = SP_LOCAL
    labels = graph.labels

    def who(i: int) -> str:
        lab = labels[t["label"][i]] if 0 <= t["label"][i] < len(labels) else ""
        return f"task {i}" + (f" ({lab})" if lab else "")

    # pass 1: each task's place (GLOBAL for joins and for markers with nothing to follow),
    # and which zero-FLOP tasks are joins
    home = np.empty(n, np.int64)
    is_join = np.zeros(n, bool)
    for i in range(n):
        deps = graph.deps_of(i)
        own = int(t["place"][i])
        if t["kind"][i] == COMPUTE and t["flops"][i] == 0:
            spans = {int(home[d]) for d in deps if home[d] != GLOBAL}
            if own >= 0:
                spans.add(own)
            if len(spans) > 1:
                is_join[i] = True
                home[i] = GLOBAL
            else:
                home[i] = spans.pop() if spans else GLOBAL
            continue
        if own < 0:
            placed = [int(home[d]) for d in deps if home[d] != GLOBAL]
            own = placed[0] if placed else 0
        home[i] = own
    places = sorted({int(p) for p in home if p != GLOBAL})
    if not places:
        places = [0]
    C, tpc = spec.cores, spec.threads_per_core
    thread_of = {}
    for p in places:
        core, local = p % C, p // C
        if local >= tpc:
            raise ExpandError(f"place {p} needs thread {local} of SM {core}, but an SM has "
                              f"{tpc} threads ({C} SMs x {tpc} = {C * tpc} places)")
        thread_of[p] = spec.thread_of(core, local)
    th = {p: _Thread(spec.max_handles) for p in places}

    # what a dependent on place p must follow: per task, the stage on each place after
    # which it is complete (joins: every place) and its unwaited DMA jobs (transfers)
    stage_of: list[dict[int, int]] = [dict() for _ in range(n)]
    jobs_of: list[list[int]] = [[] for _ in range(n)]
    ring = dict.fromkeys(range(C), 0)
    compute_cycles = dram_read = dram_written = dram_access = 0
    n_jobs = n_barriers = 0

    def alloc(core: int, nbytes: int, i: int) -> int:
        if nbytes > sram_bytes:
            raise ExpandError(f"{who(i)}: {nbytes} B do not fit the {sram_bytes} B of SRAM "
                              f"of an SM")
        a = ring[core]
        if a + nbytes > sram_bytes:
            a = 0
        ring[core] = -(-(a + nbytes) // SRAM_ALIGN) * SRAM_ALIGN
        return a

    def check(i: int, p: int) -> None:
        for d in graph.deps_of(i):
            if home[d] != p and home[d] != GLOBAL:
                raise ExpandError(
                    f"{who(i)} on place {p} depends on {who(int(d))} on place {home[d]}: "
                    f"places synchronise only through a zero-FLOP join task")

    def follow(i: int, p: int) -> int:
        """Check i's dependencies for place p; WAIT for its DMAs; the stage to follow."""
        check(i, p)
        s = 0
        for d in graph.deps_of(i):
            s = max(s, stage_of[d].get(p, 0), th[p].wait_jobs(jobs_of[d]))
        return s

    for i in range(n):
        p = int(home[i])
        deps = graph.deps_of(i)
        if is_join[i]:
            for q in places:
                own_jobs = [j for d in deps if home[d] == q for j in jobs_of[d]]
                th[q].wait_jobs(own_jobs)
                stage_of[i][q] = th[q].block((BARRIER, 0, SCOPE_MACHINE, 0, 0, 0, 0, 0, 0, 0,
                                              n_barriers))
            n_barriers += 1
            continue
        if t["kind"][i] == COMPUTE and t["flops"][i] == 0:  # a marker
            if p != GLOBAL:
                check(i, p)
            for d in deps:  # dependents follow what the marker follows, nothing more
                for q, s in stage_of[d].items():
                    stage_of[i][q] = max(stage_of[i].get(q, 0), s)
                jobs_of[i].extend(jobs_of[d])
            continue
        s = follow(i, p)
        if t["kind"][i] == COMPUTE:
            cycles = -(-int(t["flops"][i]) // flops_per_cycle)
            compute_cycles += cycles
            while cycles > 0:
                part = min(cycles, INT32_MAX)
                s = th[p].block((OP_COMPUTE, 0, 0, 0, part, 0, 0, 0, 0, 0, 0))
                cycles -= part
            stage_of[i][p] = s
            continue
        # a transfer
        src, dst = int(t["src"][i]), int(t["dst"][i])
        if src not in space or dst not in space:
            bad = graph.memories[src if src not in space else dst]
            raise ExpandError(f"{who(i)}: memory '{bad}' has no request-level model (only "
                              f"'{hbm}' and '{sram}')")
        nbytes, chunk, stride = int(t["nbytes"][i]), int(t["chunk"][i]), int(t["stride"][i])
        core = p % C
        s_sp, d_sp = space[src], space[dst]
        s_addr = alloc(core, nbytes, i) if s_sp == SP_LOCAL else int(t["src_addr"][i])
        d_addr = alloc(core, nbytes, i) if d_sp == SP_LOCAL else int(t["dst_addr"][i])
        if stride in (0, chunk) or chunk >= nbytes:
            pieces = [(s_addr, d_addr, nbytes, 1, nbytes)]
        else:
            full, rest = divmod(nbytes, chunk)
            pieces = [(s_addr, d_addr, chunk, full, stride)]
            if rest:
                pieces.append((s_addr + full * stride, d_addr + full * chunk, rest, 1, rest))
        if hasher is not None and DRAM in (s_sp, d_sp):
            pieces = [q for sa, da, size, count, st in pieces
                      for q in hashed_pieces(sa, da, size, count, st,
                                             hasher if s_sp == DRAM else None,
                                             hasher if d_sp == DRAM else None, hasher.block)]
        for sa, da, size, count, st in pieces:
            if size > INT32_MAX or count > INT32_MAX or st > INT32_MAX:
                raise ExpandError(f"{who(i)}: a run of {size} B x {count} every {st} B "
                                  f"exceeds the DMA op's 32-bit fields")
            if s_sp == DRAM:
                dram_read += size * count
                dram_access += dram_access_bytes(sa, size, count, st, spec)
            if d_sp == DRAM:
                dram_written += size * count
                dram_access += dram_access_bytes(da, size, count, size, spec)
            op = [DMA, s_sp, d_sp, core, size, sa, da, count, st, size, 0]
            th[p].dma(op, s, n_jobs)
            jobs_of[i].append(n_jobs)
            n_jobs += 1
        stage_of[i][p] = 0

    streams = [np.zeros(0, OP_DTYPE)] * (max(thread_of.values()) + 1)
    for p in places:
        streams[thread_of[p]] = th[p].stream()
    return Expansion(streams=streams, compute_cycles=compute_cycles, dram_bytes_read=dram_read,
                     dram_bytes_written=dram_written, dram_access_bytes=dram_access,
                     dma_jobs=n_jobs, barriers=n_barriers,
                     thread_of_place=thread_of)


def graph_to_streams(graph: TaskGraph, spec: MachineSpec, flops_per_cycle: int,
                     **kw) -> ArrayStreams:
    """The op streams of ``expand_graph`` as an OpSource for sim/engine.py run_machine."""
    return expand_graph(graph, spec, flops_per_cycle, **kw).source()
