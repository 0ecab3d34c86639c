"""Runs op streams on a machine: the control plane around the numba data plane.

``run_machine(spec, source)`` lays out the kernel's state arrays, feeds every thread's
ops in chunks (so memory stays bounded however long the streams are), calls the kernel
until it reports done, and turns kernel errors into one-line MachineErrors. The same call
with ``engine="reference"`` runs the SimPy specification instead.
"""

from __future__ import annotations

import numpy as np

from sim.kernels import machine as K
from sim.machine.errors import ERROR_TEXT, MachineError
from sim.machine.model import MachineSpec
from sim.machine.stats import N_STALL, TIMELINE_ROWS, MachineStats, n_links
from workloads.ops import OP_DTYPE, OpSource

DEFAULT_CHUNK = 512
ENGINES = ("fast", "reference")



def _fields(spec: MachineSpec) -> dict[str, tuple[int, int]]:
    """(shift, mask) of each DRAM address field within an access index."""
    out = {f: (0, 0) for f in ("co", "bg", "ba", "ra", "ro")}
    shift = 0
    for name, bits in spec.dram_fields:
        out[name] = (shift, (1 << bits) - 1)
        shift += bits
    out["_total"] = (shift, 0)
    return out


def pack_params(spec: MachineSpec) -> np.ndarray:
    f = _fields(spec)
    l1_sets = spec.l1_size // (spec.l1_line * spec.l1_ways) if spec.l1_size > 0 else 0
    vals = {
        K.P_CYCLE: spec.cycle_ps, K.P_DIES: spec.dies, K.P_CPD: spec.cores_per_die,
        K.P_MTP: spec.mtp, K.P_TPM: spec.threads_per_mtp, K.P_STP: spec.stp,
        K.P_STP_SPEED: spec.stp_speedup, K.P_MAXPOST: spec.max_posted,
        K.P_L1_SETS: l1_sets, K.P_L1_WAYS: spec.l1_ways, K.P_L1_LINE: spec.l1_line,
        K.P_L1_LAT: spec.l1_latency, K.P_SP_SIZE: spec.sp_size, K.P_SP_BANKS: spec.sp_banks,
        K.P_SP_IL: spec.sp_interleave, K.P_SP_CLK: spec.sp_clock_ps, K.P_SP_LAT: spec.sp_latency,
        K.P_SP_BPC: spec.sp_bytes_per_clock, K.P_SP_PORTS: spec.sp_ports,
        K.P_SP_ALAT: spec.sp_atomic_latency, K.P_SP_APC: spec.sp_atomic_per_clock,
        K.P_MX: spec.mesh_x, K.P_MY: spec.mesh_y, K.P_HOP: spec.hop_latency,
        K.P_LINKB: spec.link_bytes, K.P_HDR: spec.header_bytes, K.P_GW: spec.gateway_node,
        K.P_DLAT: spec.die_link_latency, K.P_DLB: spec.die_link_bytes,
        K.P_HOSTN: spec.host_node, K.P_HLAT: spec.host_link_latency,
        K.P_HLB: spec.host_link_bytes, K.P_HMEM: spec.host_latency,
        K.P_CAL: spec.calendar_slots, K.P_CPDIE: spec.controllers_per_die,
        K.P_IL: spec.interleave_bytes, K.P_AB: spec.access_bytes, K.P_TCK: spec.tck_ps,
        K.P_CLAT: spec.controller_latency, K.P_RANKS: spec.ranks, K.P_BGS: spec.bank_groups,
        K.P_BPG: spec.banks_per_group, K.P_CL: spec.CL, K.P_CWL: spec.CWL, K.P_RCD: spec.RCD,
        K.P_RP: spec.RP, K.P_RAS: spec.RAS, K.P_RTP: spec.RTP, K.P_WR: spec.WR,
        K.P_CCDL: spec.CCD_L, K.P_RRD: spec.RRD_S, K.P_FAW: spec.FAW, K.P_BURST: spec.BURST,
        K.P_AINT: spec.atomic_interval, K.P_ALAT: spec.atomic_latency,
        K.P_DSLOTS: spec.dma_slots, K.P_DCHUNK: spec.dma_chunk_bytes,
        K.P_HANDLES: spec.max_handles, K.P_BAR0: spec.barrier_latency[0],
        K.P_BAR1: spec.barrier_latency[1], K.P_BAR2: spec.barrier_latency[2],
        K.P_CH_CAP: spec.access_bytes << f["_total"][0],
        K.P_F_BG_S: f["bg"][0],
        K.P_F_BG_M: f["bg"][1], K.P_F_BA_S: f["ba"][0], K.P_F_BA_M: f["ba"][1],
        K.P_F_RA_S: f["ra"][0], K.P_F_RA_M: f["ra"][1], K.P_F_RO_S: f["ro"][0],
        K.P_F_RO_M: f["ro"][1], K.P_TL_BINS: spec.timeline_bins,
        K.P_F_CO_S: f["co"][0], K.P_F_CO_M: f["co"][1], K.P_RC: spec.RC,
        K.P_PIM_CB: spec.pim_timing().column_bytes,
    }
    P = np.zeros(K.N_PARAMS, np.int64)
    for k, v in vals.items():
        P[k] = v
    return P


def xy_routes(mx: int, my: int) -> np.ndarray:
    """Route table: row u * nodes + v = [hops, link, link, ...] of the XY route u -> v.

    A link is numbered node * 4 + direction (0 +x, 1 -x, 2 +y, 3 -y) within its die.
    """
    nodes = mx * my
    width = 1 + (mx - 1) + (my - 1)
    rt = np.zeros((nodes * nodes, width), np.int64)
    for u in range(nodes):
        for v in range(nodes):
            x, y = u % mx, u // mx
            vx, vy = v % mx, v // mx
            links = []
            while x != vx:
                d = 0 if vx > x else 1
                links.append((y * mx + x) * 4 + d)
                x += 1 if d == 0 else -1
            while y != vy:
                d = 2 if vy > y else 3
                links.append((y * mx + x) * 4 + d)
                y += 1 if d == 2 else -1
            rt[u * nodes + v, 0] = len(links)
            rt[u * nodes + v, 1:1 + len(links)] = links
    return rt


def channel_capacity(spec: MachineSpec) -> int:
    return spec.access_bytes << _fields(spec)["_total"][0]


class _FastRun:
    """The kernel's state for one run, and the loop that feeds it."""

    def __init__(self, spec: MachineSpec, source: OpSource, chunk: int):
        self.spec, self.source, self.chunk = spec, source, chunk
        ns = source.n_streams
        T, C, M, D = spec.threads, spec.cores, spec.controllers, spec.dies
        if ns > T:
            raise MachineError(f"{ns} streams but the machine has {T} threads "
                               f"({C} cores x {spec.threads_per_core})", T, 0)
        P = pack_params(spec)
        sets = spec.l1_size // (spec.l1_line * spec.l1_ways) if spec.l1_size > 0 else 0
        n_pipes = C * spec.pipelines_per_core + C
        rq_cap = T * (1 + spec.max_posted) + C * spec.dma_slots + 16
        heap_cap = 4 * n_pipes * (spec.threads_per_mtp + 2) + rq_cap + 1024
        jcap = spec.threads_per_core * spec.max_handles
        tt_leaves = 1 << max(1, (n_pipes - 1).bit_length())
        nodes = spec.mesh_x * spec.mesh_y
        rt_w = 1 + (spec.mesh_x - 1) + (spec.mesh_y - 1)  # hop count, then the links
        nb = spec.banks_per_controller
        L = n_links(spec)
        shapes = {
            "TH": (T, K.N_TF), "STALL": (T, N_STALL), "TST": (T, 2),
            "POST": (T, spec.max_posted), "PP": (n_pipes, 3),
            "HT": (heap_cap,), "HK": (heap_cap,), "HP": (heap_cap,), "RQ": (rq_cap, K.N_RF),
            "RQFREE": (rq_cap,), "LS": (L, 3), "BK": (M * nb, 4),
            "AU": (M,), "DS": (M, K.N_DS), "TL": (M + len(TIMELINE_ROWS), spec.timeline_bins),
            "SPF": (C * spec.sp_banks * (spec.sp_ports + 1),), "SPA": (C, 2), "SPS": (C, 4),
            "LT": (C, max(sets, 1), spec.l1_ways), "LU": (C, max(sets, 1), spec.l1_ways),
            "LF": (C, max(sets, 1), spec.l1_ways), "LC": (C,), "L1S": (C, 2), "CORE": (C, 3),
            "HS": (D, 2), "SL": (C * spec.dma_slots, 7), "JB": (C * jcap, K.N_JF),
            "JQ": (C, 2), "HD": (T, spec.max_handles, 2), "BAR": (C + D + 1, 5),
            "NODE": (C + spec.controllers_per_die,), "REFILL": (T,),
            "TT": (2 * tt_leaves,), "RDY": (T,), "RT": (nodes * nodes * rt_w,),
            "POF": (T,), "PT": (n_pipes, 4), "DIE": (C,), "GDIE": (M,), "GNODE": (M,),
        }
        assert tuple(shapes) == K.ARENA_NAMES
        off = K.N_SCALARS
        offsets = {}
        for name, shp in shapes.items():
            offsets[name] = off
            off += int(np.prod(shp))
        self.M = np.zeros(off, np.int64)
        for k, (name, shp) in enumerate(shapes.items()):
            P[K.P_O_TH + k] = offsets[name]
            setattr(self, name, self.M[offsets[name]:offsets[name] + int(np.prod(shp))]
                    .reshape(shp))
        P[K.P_CHUNK] = chunk
        P[K.P_L1_SETS1] = max(sets, 1)
        P[K.P_JCAP] = jcap
        P[K.P_NTHREADS] = T
        P[K.P_ACTHOLD] = max(spec.RRD_S, -(-spec.FAW // 4))
        P[K.P_TT_LEAVES] = tt_leaves
        P[K.P_RT_W] = rt_w
        P[K.P_IL_SHIFT] = spec.interleave_bytes.bit_length() - 1
        P[K.P_SP_IL_SHIFT] = spec.sp_interleave.bit_length() - 1
        for n, what in ((spec.interleave_bytes, "memory interleave"),
                        (spec.sp_interleave, "scratchpad interleave"), (spec.sp_banks, "scratchpad banks")):
            if n & (n - 1):
                raise MachineError(f"{what} must be a power of two, got {n}")
        self.P = P
        self.S = self.M[:K.N_SCALARS]
        self.S[K.S_TL_BIN] = spec.timeline_bin_ps
        self.TH[:, K.T_WAITH] = -1
        self.TH[:, K.T_BAR] = -1
        self.PP[:, K.PP_NEXT] = K.NEVER
        # tournament tree over pipelines: leaves are pipeline ids (-1 pads), every inner
        # node the lower id of its subtree while all times are NEVER
        TT = self.TT
        TT[:] = -1
        TT[tt_leaves:tt_leaves + n_pipes] = np.arange(n_pipes)
        for i in range(tt_leaves - 1, 0, -1):
            a, b = TT[2 * i], TT[2 * i + 1]
            TT[i] = a if a >= 0 else b
        for p in range(C * spec.pipelines_per_core):
            lp = p % spec.pipelines_per_core
            self.PP[p, K.PP_LAST] = (spec.threads_per_mtp if lp < spec.mtp else 1) - 1
        self.PP[C * spec.pipelines_per_core:, K.PP_LAST] = spec.dma_slots - 1
        self.RQFREE[:] = np.arange(rq_cap - 1, -1, -1)
        self.S[K.S_RQ_FREE_N] = rq_cap
        words = spec.calendar_slots // 64
        self.CAL = np.zeros((L, words), np.uint64)
        self.DCAL = np.zeros((M + M * spec.ranks, words), np.uint64)  # data buses, then ACTs
        self.BK[:, 0] = -1
        self.SPA[:, 0] = -1
        self.LT[:] = -1
        if len(spec.core_nodes) != spec.cores_per_die:
            raise MachineError("core_nodes must list one node per core of a die")
        self.NODE[:] = list(spec.core_nodes) * spec.dies + list(spec.controller_nodes)
        self.RT[:] = xy_routes(spec.mesh_x, spec.mesh_y).ravel()
        self.DIE[:] = np.arange(C) // spec.cores_per_die
        self.GDIE[:] = np.arange(M) // spec.controllers_per_die
        self.GNODE[:] = np.array(spec.controller_nodes)[np.arange(M) % spec.controllers_per_die]
        # pipelines: (core, first thread, threads, is STP); threads: their pipeline
        ppc, tpc, mt = spec.pipelines_per_core, spec.threads_per_core, spec.mtp * spec.threads_per_mtp
        for p in range(C * ppc):
            c, lp = divmod(p, ppc)
            if lp < spec.mtp:
                self.PT[p] = (c, c * tpc + lp * spec.threads_per_mtp, spec.threads_per_mtp, 0)
            else:
                self.PT[p] = (c, c * tpc + mt + lp - spec.mtp, 1, 1)
            first, n = self.PT[p, 1], self.PT[p, 2]
            self.POF[first:first + n] = p
        self.B = np.zeros((T, chunk), OP_DTYPE)  # each thread's buffered ops
        self.ops_total = 0

    def _fill(self, th: int) -> None:
        ops = self.source.next_chunk(th, self.chunk)
        n = len(ops)
        TH = self.TH
        TH[th, K.T_POS] = 0
        TH[th, K.T_LEN] = n
        if n == 0:
            TH[th, K.T_EOS] = 1
            return
        if ops.dtype != OP_DTYPE:
            raise MachineError(f"op dtype {ops.dtype} is not the op-stream dtype", th, 0)
        self.B[th, :n] = ops
        self.ops_total += n

    def run(self) -> MachineStats:
        S, TH, spec = self.S, self.TH, self.spec
        self.RDY[:] = K.NEVER  # threads without a stream never issue
        for s in range(self.source.n_streams):
            self._fill(s)
            if TH[s, K.T_LEN] == 0:
                TH[s, K.T_FIN] = 1  # an empty stream takes no part in anything
            else:
                TH[s, K.T_HAS] = 1
                self.RDY[s] = 0
        # barrier participants are the threads with a non-empty stream
        self.BAR[:, 3] = 0
        C, D = spec.cores, spec.dies
        for s in range(self.source.n_streams):
            if TH[s, K.T_HAS]:
                c = s // spec.threads_per_core
                self.BAR[c, 3] += 1
                self.BAR[C + c // spec.cores_per_die, 3] += 1
                self.BAR[C + D, 3] += 1
        # every core pipeline with a thread starts at time 0
        ppc = spec.pipelines_per_core
        for p in range(C * ppc):
            c, lp = divmod(p, ppc)
            if lp < spec.mtp:
                ths = range(c * spec.threads_per_core + lp * spec.threads_per_mtp,
                            c * spec.threads_per_core + (lp + 1) * spec.threads_per_mtp)
            else:
                ths = [c * spec.threads_per_core + spec.mtp * spec.threads_per_mtp + lp - spec.mtp]
            if any(TH[t, K.T_HAS] for t in ths):
                K._pp_set(self.P, self.M, p, 0)
        while True:
            rc = K.run_machine(self.P, self.M, self.CAL, self.DCAL, self.B)
            if rc == K.RC_DONE:
                break
            if rc == K.RC_REFILL:
                for k in range(S[K.S_NREFILL]):
                    self._fill(int(self.REFILL[k]))
                continue
            th, opi = int(S[K.S_ERR_TH]), int(S[K.S_ERR_OP])
            raise MachineError(ERROR_TEXT[-rc], th, max(opi, 0))
        return self._stats()

    def _stats(self) -> MachineStats:
        TH = self.TH
        done = np.where(TH[:, K.T_HAS] == 1, TH[:, K.T_DONE], -1)
        return MachineStats(
            end_ps=int(self.S[K.S_END]), thread_done_ps=done.astype(np.int64),
            thread_ops=TH[:, K.T_OPS].copy(), core_issue_slots=self.CORE[:, 0].copy(),
            stall_ps=self.STALL.copy(),
            dram_bytes_read=self.DS[:, 0].copy(), dram_bytes_written=self.DS[:, 1].copy(),
            dram_requests=self.DS[:, 2].copy(), dram_accesses=self.DS[:, 3].copy(),
            dram_row_hits=self.DS[:, 4].copy(), dram_atomics=self.DS[:, 5].copy(),
            pim_ops=self.DS[:, K.DS_PIM_OPS].copy(), pim_bytes=self.DS[:, K.DS_PIM_BYTES].copy(),
            sp_bytes_read=self.SPS[:, 0].copy(), sp_bytes_written=self.SPS[:, 1].copy(),
            sp_requests=self.SPS[:, 2].copy(), sp_atomics=self.SPS[:, 3].copy(),
            host_bytes_read=self.HS[:, 0].copy(), host_bytes_written=self.HS[:, 1].copy(),
            link_packets=self.LS[:, 0].copy(), link_bytes=self.LS[:, 1].copy(),
            link_busy_slots=self.LS[:, 2].copy(),
            l1_hits=self.L1S[:, 0].copy(), l1_misses=self.L1S[:, 1].copy(),
            dma_jobs=self.CORE[:, 1].copy(), dma_bytes=self.CORE[:, 2].copy(),
            load_count=self.TST[:, 0].copy(), load_latency_ps=self.TST[:, 1].copy(),
            timeline_bin_ps=int(self.S[K.S_TL_BIN]), timeline=self.TL.copy(),
        )


def run_machine(spec: MachineSpec, source: OpSource, engine: str = "fast",
                chunk: int = DEFAULT_CHUNK) -> MachineStats:
    """Simulate every stream of ``source`` on ``spec``; MachineError on a bad stream."""
    if engine == "reference":
        from sim.reference.machine import run_reference

        return run_reference(spec, source, chunk=chunk)
    if engine != "fast":
        raise MachineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    return _FastRun(spec, source, chunk).run()
