"""The PIUMA-style machine: the specification of what op streams cost, and its resolved shape.

Implemented twice: sim/reference/machine.py (SimPy, plain) and sim/kernels/machine.py (numba);
tests/test_machine_differential.py requires identical completion times and statistics.
``MachineSpec`` (below) is the resolved configuration both consume; sim/config/machine.py
builds it from YAML. Op encoding: workloads/ops.py.

Time and clocks
    Time is int64 picoseconds. Cores, mesh, die links and host links run on the core clock
    (period ``cycle_ps``); DRAM on its tCK; scratchpads on their SRAM clock. Converting a
    time t to a clock of period P takes ceil(t / P) ("the first edge at or after t").

Threads and pipelines
    Core c has ``mtp`` multithreaded pipelines of ``threads_per_mtp`` threads and ``stp``
    single-threaded pipelines. Local thread l of a core: l < mtp*T belongs to MTP l // T;
    the others are STPs, one thread each. Global thread id = c * threads_per_core + l, global
    pipeline id = c * pipelines_per_core + p (MTPs first). Stream s runs on thread s; threads
    without a stream stay idle. Every thread starts ready at time 0.
    A pipeline issues at most one op per core cycle: at a cycle t it picks, round-robin after
    the thread it issued last (initially its last thread, so thread 0 goes first), the first
    of its threads that has an op and is ready (ready time <= t). No switch penalty.

Events and their order
    One event queue; events at equal times run in order of (class, id): class 0 = ARRIVE
    (id = the request's sequence number, counted from 0 in order of creation), class 1 =
    PIPE (id = pipeline id; DMA engines are pipelines numbered after every core pipeline).
    A pipeline has at most one live PIPE event: when a thread of a pipeline becomes ready at
    r (core-clock aligned) and the pipeline's next event is later than r (or absent), a new
    PIPE event at r replaces it; the old one is ignored when it comes up. After handling a
    PIPE event at t, the pipeline's next event is at t + cycle if a thread is ready by then,
    else at the earliest ready time of its threads (none if all are blocked on something
    without a known time), never before the pipeline's busy-until time (COMPUTE).

Ops (the thread issuing at core cycle t; "done" = the time the thread may issue again)
    COMPUTE n: MTP: holds the pipeline and the thread for n cycles (n issue slots);
        STP: ceil(n / stp_speedup) cycles. done = t + that * cycle.
    LOAD / ATOMIC (blocking unless ATOMIC sub has FLAG_POSTED): done = response time, below.
    STORE and posted ATOMIC: posted. The thread keeps the arrival times (at the target) of
        its last ``max_posted`` posted ops; if all of them are > t it stalls until the
        earliest of them before issuing (the op issues then, not at t). done = t + cycle.
    DMA: queued on the core's DMA engine (handle = op.handle, per thread); done = t + cycle.
    WAIT h: done = max(t + cycle, completion of the thread's DMA h) (blocked while unknown).
    BARRIER(scope, id): the thread arrives at max(t, its posted arrivals). When every thread
        with a stream in the scope instance (its core / die / the machine) has arrived, all
        are released at max(arrival) + barrier_latency[scope] cycles.
    PIM (space DRAM, addr, size = bytes per bank; blocking): done = response time, below
        (bank-level PIM: the addressed channel streams size bytes of every bank).
    Ready times are aligned up to core-cycle edges.

Request paths (times in core cycles inside the network)
    A packet of B bytes needs ser = ceil(B / link_bytes) slots on a link. Links keep a slot
    calendar: a packet reaching a link at cycle a takes the first ser consecutive free slots
    at or after a, [s, s+ser), and reaches the next router at s + ser - 1 + hop_latency
    (die links: + die_link_latency, host links: + host_link_latency, in cycles). On a die,
    routing is XY (all X hops, then Y). Between dies: mesh to the source die's gateway
    node, the die link (one per ordered pair of dies), mesh from the destination die's
    gateway. A packet to its own node arrives when sent. Requests carry header_bytes (+ the
    data for stores and atomics); responses carry header_bytes (+ the data for loads and
    atomics).
    SP_LOCAL: served by the core's scratchpad at t (no network). SP_REMOTE core k (k != own
        core; k == own core is SP_LOCAL): request to k's node, ARRIVE event there, served,
        response back from the serve completion.
    DRAM: global address -> unit = addr // interleave_bytes; controller index g = unit %
        (dies * controllers_per_die), die = g // controllers_per_die; local address =
        (unit // total_controllers) * interleave_bytes + addr % interleave_bytes. Request to
        the controller's node, ARRIVE event, served by the controller (atomics by its atomic
        unit), response back. LOAD without FLAG_BYPASS on a core with an L1 looks up the
        line at t: a hit is done at max(t + l1_latency cycles, the line's fill time); a miss
        requests the whole aligned line instead of the op's bytes and inserts the line (LRU
        victim) when the request is served, with fill time = the response's delivery. Stores
        write through without allocating; atomics bypass the L1. The L1 is not coherent.
    HOST: request over the mesh to the die's host node, the host link (out), host memory
        (host_latency cycles, no contention), host link (back), mesh back; resolved at issue.
    PIM: a request of header_bytes to the controller of addr (DRAM mapping above), ARRIVE
        event, the controller runs the all-bank sequence (below); when its last column's
        data is consumed a second ARRIVE-class event (id = the next sequence number,
        taken when the request arrives) sends the response (header_bytes) back.

DRAM controller (one DRAM channel; the memory preset's organisation without its channels)
    A request of B bytes at local address a is served as the aligned accesses of
    access_bytes covering [a, a+B), in address order, at DRAM clock e = ceil(arrival/tCK) +
    controller_latency. Each access decodes (rank, bank group, bank, row) with the preset's
    mapping string: dram_fields, least significant first, applied to local_address //
    access_bytes (ch/pc and zero-width fields left out). Open page. Per bank: the open row,
    earliest column, earliest precharge, earliest activate. Per rank: an ACT calendar in
    which every ACT holds max(tRRD_S, ceil(tFAW / 4)) consecutive clocks (tRRD, and tFAW as
    a rate; an ACT whose bank is ready may take a slot before one placed earlier for a bank
    that is not, the freedom a real scheduler's reordering gives). Hit: column at
    c = max(e, bank column-ready). Closed bank: ACT at the first free ACT slot at or after
    max(e, bank act-ready), c = ACT + tRCD. Conflict: PRE at max(e, bank precharge-ready),
    ACT at the first free ACT slot at or after PRE + tRP, c = ACT + tRCD. Data: the first
    d >= c + CL (CWL for writes) with BURST
    consecutive free clocks on the controller's data-bus calendar; the column issues at
    d - CL (d - CWL). Then: bank column-ready = column + tCCD_L; precharge-ready = max(ACT +
    tRAS, read column + tRTP, write data end + tWR); the access ends at d + BURST. A request
    is served when its last access ends. No refresh, no read/write turnaround, requests to
    one bank in arrival order (a simplification of sim/memory/dram.py, checked against it
    in tests/test_machine_dram_validation.py).
    Atomics: the controller's atomic unit starts one per atomic_interval clocks in arrival
    order (start = max(e, unit free)); it reads (an access at start), and the result is
    ready at the read's end + atomic_latency; the write-back access is served at that clock
    and counts as bytes written; the response leaves at the result time.
    PIM (bank-level, all banks of the channel in lockstep; sim/memory/pim_sequence.py is
    the rule, docs/pim.md its sources): the local address decodes (row r, column c), the
    byte offset in every bank o = (r * 2^(co bits) + c) * access_bytes + local %
    access_bytes; the op reads per bank the columns (of column_bytes, 0: access_bytes;
    row_bytes / column_bytes per row, row_bytes = access_bytes * 2^(co bits)) holding
    bytes [o, o + size), row-major: k0 = o // column_bytes .. k0 + n - 1; they must end
    within the bank's 2^(ro bits) rows. Start (e as above): if a bank is open, a
    precharge-all at p = max(e, precharge-ready of the open banks) and the first all-bank
    ACT at A = max(p + tRP, activate-ready of the closed banks); else A = max(e,
    activate-ready of the banks). Per row touched: ACT at A_i, its columns at A_i + tRCD,
    tCCD_L apart, precharge-all at P_i = max(A_i + tRAS, last column + tRTP), the next
    ACT at max(P_i + tRP, A_i + tRC) (tRC 0: not given). One all-bank command: no ACT
    calendar slot, no data bus. The data is consumed (done) at the last column + CL +
    BURST, when the response leaves; afterwards every bank is closed with activate-ready
    = P_last + tRP, so ordinary requests to the channel wait for the sequence (no
    refresh in this controller). Statistics: pim_ops, and pim_bytes = banks x n x
    column_bytes per controller (not DRAM bytes or requests, not on the timeline); the
    serve end is P_last + tRP.

Scratchpad (per core; the sim/memory/sram.py bank and atomic-unit rules, requests served
    in processing order, without the same-word chain): ready r = ceil(arrival / sp_clock);
    pieces per interleave unit; per piece start = max(r, bank's earliest free port), the
    port is held occupancy = ceil(bytes / bytes_per_clock_per_port) clocks; reads and writes
    end at start + occupancy + latency; atomics also wait for the atomic unit (at most
    ops_per_clock starts per clock, in order) and end at start + occupancy + atomic_latency.

DMA engine (per core, a pipeline of ``dma_slots`` slot-threads)
    Jobs queue FIFO. Each element (count elements of size bytes; source address advances by
    stride, destination by stride2) is cut into chunks of at most dma_chunk_bytes, also cut
    where a DRAM source or destination address crosses an interleave boundary. An idle
    slot takes the next chunk; it issues a read of the chunk from the source (blocking, like
    a LOAD with FLAG_BYPASS issued by the core), then when the data is back a write to the
    destination (blocking until its acknowledgement: a response of header_bytes). A job
    completes when its last chunk's write is acknowledged; its completion = the latest ack.

Stall accounting (per thread, picoseconds; STALL_NAMES order)
    Each op's issue cycle is not a stall. When a pipeline picks a thread at t that has been
    ready since r: issue += t - r. A thread whose next op is posted but whose posted slots
    are all taken at t is not eligible: its ready time moves from r to m (the earliest of
    those arrivals, aligned) and posted += m - r. For the picked op with done time dn:
    COMPUTE: compute += dn - t - cycle. Blocking LOAD/ATOMIC/PIM: network += request transit
    (arrival at the target - send) + response transit (delivery - serve end); the rest of
    dn - t - cycle goes to the op's category: atomic for any ATOMIC, else cache for an L1
    hit, dram (L1 misses and PIM too), scratchpad (local or remote) or host (network is
    capped at dn - t - cycle, the category gets the rest). WAIT: dma_wait; BARRIER: barrier. A done
    time is aligned up to the core clock and never before t + cycle. So for every thread:
    ops issued * cycle + sum of its stalls = its done time.

Errors (MachineError, a UserError: "stream S op I: reason"; both implementations raise the
    same message): unknown op or space, a PIM op whose space is not DRAM, a PIM op
    streaming past its banks' last row, size <= 0, a scratchpad
    access outside [0, sp_size), a remote core that does not exist, a DRAM address outside
    [0, controllers * channel capacity), a host address < 0, a DMA source in a remote
    scratchpad, handle outside [0, max_handles), WAIT on a handle never issued, a DMA
    reusing a handle whose job is still running, a DRAM LOAD/STORE/ATOMIC crossing an
    interleave boundary (DMA chunks are cut there instead), a stream
    ending while a barrier of its scope waits for it, mismatched barrier ids in one
    barrier, more streams than threads, and a calendar reservation beyond calendar_slots
    / 2 clocks after the current event ("calendar horizon exceeded").

Statistics (identical from both implementations; sim/machine/stats.py)
    per core: issue slots used; per thread: stalls as above, ops, done time, blocking-LOAD
    count and summed latency (done - issue); per tier (dram per controller, scratchpad per
    core, host per die): bytes read and written, requests; per controller: PIM ops and
    PIM (internal) bytes; per link: packets, bytes, busy
    slots; timelines (bins merge pairwise, doubling the width, when time runs past the last
    bin): DRAM bytes per controller by access end time, then scratchpad bytes (at the
    serve), host payload bytes both ways (at the issue), mesh and die-link bytes (at the
    injection, per link crossed); atomic counts; the end
    time = the latest op done, serve end, response delivery or DMA completion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.machine.errors import MachineError
from sim.memory.pim_sequence import PimTiming

# ATOMIC sub: low 2 bits are the kind, this bit posts it (defined with the op encoding)
from workloads.ops import FLAG_POSTED as FLAG_POSTED

# stall categories, in the order of the stats arrays
STALL_NAMES = ("issue", "compute", "dram", "scratchpad", "atomic", "network", "cache", "host",
               "barrier", "dma_wait", "posted")


@dataclass(frozen=True)
class MachineSpec:
    """A fully resolved machine: integers only (ps, cycles, bytes, DRAM clocks)."""

    name: str
    cycle_ps: int
    dies: int
    cores_per_die: int
    mtp: int
    threads_per_mtp: int
    stp: int
    stp_speedup: int
    max_posted: int
    # L1 data cache (l1_size 0 = none)
    l1_size: int
    l1_ways: int
    l1_line: int
    l1_latency: int  # cycles
    # scratchpad
    sp_size: int
    sp_banks: int
    sp_interleave: int
    sp_clock_ps: int
    sp_latency: int
    sp_bytes_per_clock: int
    sp_ports: int
    sp_atomic_latency: int
    sp_atomic_per_clock: int
    # network
    mesh_x: int
    mesh_y: int
    hop_latency: int  # cycles
    link_bytes: int  # bytes per cycle
    header_bytes: int
    core_nodes: tuple[int, ...]  # node of each core on its die
    controller_nodes: tuple[int, ...]  # node of each controller on its die
    gateway_node: int
    die_link_latency: int  # cycles
    die_link_bytes: int  # bytes per cycle
    host_node: int
    host_link_latency: int  # cycles
    host_link_bytes: int
    host_latency: int  # cycles
    calendar_slots: int  # horizon of the slot calendars (power of two)
    # DRAM (per controller = one channel)
    controllers_per_die: int
    interleave_bytes: int
    access_bytes: int
    tck_ps: int
    controller_latency: int  # DRAM clocks
    ranks: int
    bank_groups: int
    banks_per_group: int
    dram_fields: tuple[tuple[str, int], ...]  # (field, bits) LSB first, ch/pc removed
    CL: int
    CWL: int
    RCD: int
    RP: int
    RAS: int
    RTP: int
    WR: int
    CCD_L: int
    RRD_S: int
    FAW: int
    BURST: int
    atomic_interval: int  # DRAM clocks between atomic-unit starts
    atomic_latency: int  # DRAM clocks
    # DMA
    dma_slots: int
    dma_chunk_bytes: int
    max_handles: int
    # barriers, cycles per scope (core, die, machine)
    barrier_latency: tuple[int, int, int]
    timeline_bin_ps: int
    timeline_bins: int
    source: str = ""
    path: str = ""
    memory_preset: str = ""
    extra: dict = field(default_factory=dict)
    # tRC, spacing the all-bank ACTs of PIM ops (0: not given; tRAS + tRP then bound it,
    # which is at least tRC on every preset in hw_configs/memory)
    RC: int = 0
    # bytes one column command delivers per bank to a PIM unit: the preset's column access
    # (bus width x burst length), which access_bytes may undercut (0: access_bytes)
    column_bytes: int = 0

    @property
    def threads_per_core(self) -> int:
        return self.mtp * self.threads_per_mtp + self.stp

    @property
    def pipelines_per_core(self) -> int:
        return self.mtp + self.stp

    @property
    def cores(self) -> int:
        return self.dies * self.cores_per_die

    @property
    def threads(self) -> int:
        return self.cores * self.threads_per_core

    @property
    def controllers(self) -> int:
        return self.dies * self.controllers_per_die

    @property
    def banks_per_controller(self) -> int:
        return self.ranks * self.bank_groups * self.banks_per_group

    def dram_peak_bytes_per_s(self) -> float:
        """Data-bus peak of all controllers: access_bytes per BURST clocks each."""
        return self.controllers * self.access_bytes / (self.BURST * self.tck_ps * 1e-12)

    def thread_of(self, core: int, local: int) -> int:
        return core * self.threads_per_core + local

    @property
    def row_bytes(self) -> int:
        """Bytes of one row of one bank: access_bytes x 2^(co bits)."""
        return self.access_bytes << dict(self.dram_fields).get("co", 0)

    def pim_timing(self) -> PimTiming:
        """One controller's channel as the all-bank PIM sequence sees it."""
        cb = self.column_bytes or self.access_bytes
        if cb & (cb - 1) or self.row_bytes % cb:
            raise MachineError(f"column_bytes {cb} must be a power of two dividing a row "
                               f"({self.row_bytes} B)")
        return PimTiming(
            banks=self.banks_per_controller, column_bytes=cb,
            columns_per_row=self.row_bytes // cb, rows=1 << dict(self.dram_fields).get("ro", 0),
            RCD=self.RCD, RAS=self.RAS, RP=self.RP, RC=self.RC, RTP=self.RTP,
            CCD_L=self.CCD_L, CL=self.CL, BURST=self.BURST)
