"""Statistics of one machine run: the arrays both implementations fill, and derived figures."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.machine.model import STALL_NAMES, MachineSpec

N_STALL = len(STALL_NAMES)
# Timeline rows after one row per DRAM controller (bytes by access end time): bytes that
# scratchpads serve, host memory moves (payloads both ways) and mesh / die links carry,
# each binned at the event that accounts for them (the serve, the issue, the injection).
TIMELINE_ROWS = ("scratchpad", "host", "mesh", "die")
# stall category indices
(ST_ISSUE, ST_COMPUTE, ST_DRAM, ST_SCRATCHPAD, ST_ATOMIC, ST_NETWORK, ST_CACHE, ST_HOST,
 ST_BARRIER, ST_DMA_WAIT, ST_POSTED) = range(N_STALL)


def n_links(spec: MachineSpec) -> int:
    """Mesh links (4 directions per node), die links (ordered pairs), host links (out, back)."""
    nodes = spec.mesh_x * spec.mesh_y
    return spec.dies * nodes * 4 + spec.dies * spec.dies + spec.dies * 2


def mesh_link(spec: MachineSpec, die: int, node: int, direction: int) -> int:
    """direction: 0 = +x, 1 = -x, 2 = +y, 3 = -y (node = y * mesh_x + x)."""
    return (die * spec.mesh_x * spec.mesh_y + node) * 4 + direction


def die_link(spec: MachineSpec, src_die: int, dst_die: int) -> int:
    return spec.dies * spec.mesh_x * spec.mesh_y * 4 + src_die * spec.dies + dst_die


def host_link(spec: MachineSpec, die: int, back: bool) -> int:
    nodes = spec.mesh_x * spec.mesh_y
    return spec.dies * nodes * 4 + spec.dies * spec.dies + die * 2 + (1 if back else 0)


@dataclass
class MachineStats:
    """Raw counters. Times in ps unless the name says cycles."""

    end_ps: int
    thread_done_ps: np.ndarray  # [threads] time the thread's last op was done (-1: no stream)
    thread_ops: np.ndarray  # [threads] ops issued
    core_issue_slots: np.ndarray  # [cores] pipeline issue slots used (COMPUTE n uses n)
    stall_ps: np.ndarray  # [threads, N_STALL]
    dram_bytes_read: np.ndarray  # [controllers]
    dram_bytes_written: np.ndarray
    dram_requests: np.ndarray
    dram_accesses: np.ndarray
    dram_row_hits: np.ndarray
    dram_atomics: np.ndarray
    pim_ops: np.ndarray  # [controllers] PIM ops the controller ran
    pim_bytes: np.ndarray  # [controllers] bytes the PIM units read inside the channel
    sp_bytes_read: np.ndarray  # [cores]
    sp_bytes_written: np.ndarray
    sp_requests: np.ndarray
    sp_atomics: np.ndarray
    host_bytes_read: np.ndarray  # [dies]
    host_bytes_written: np.ndarray
    link_packets: np.ndarray  # [links]
    link_bytes: np.ndarray
    link_busy_slots: np.ndarray
    l1_hits: np.ndarray  # [cores]
    l1_misses: np.ndarray
    dma_jobs: np.ndarray  # [cores]
    dma_bytes: np.ndarray
    load_count: np.ndarray  # [threads] blocking LOADs done
    load_latency_ps: np.ndarray  # [threads] sum of (done - issue) over those LOADs
    timeline_bin_ps: int  # width of one bin (the configured width doubled until it fits)
    timeline: np.ndarray  # [controllers + 4, timeline_bins] bytes per bin, rows: TIMELINE_ROWS

    def equal(self, other: MachineStats) -> list[str]:
        """Names of the fields that differ (empty when identical)."""
        out = []
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.shape != b.shape or not np.array_equal(a, b):
                    out.append(f.name)
            elif a != b:
                out.append(f.name)
        return out


def empty_stats(spec: MachineSpec) -> MachineStats:
    """All-zero counters shaped for ``spec`` (thread_done_ps starts at -1)."""
    T, C, M, D, L = spec.threads, spec.cores, spec.controllers, spec.dies, n_links(spec)
    z = lambda n: np.zeros(n, np.int64)  # noqa: E731
    return MachineStats(
        end_ps=0, thread_done_ps=np.full(T, -1, np.int64), thread_ops=z(T),
        core_issue_slots=z(C), stall_ps=np.zeros((T, N_STALL), np.int64),
        dram_bytes_read=z(M), dram_bytes_written=z(M), dram_requests=z(M),
        dram_accesses=z(M), dram_row_hits=z(M), dram_atomics=z(M), pim_ops=z(M), pim_bytes=z(M),
        sp_bytes_read=z(C), sp_bytes_written=z(C), sp_requests=z(C), sp_atomics=z(C),
        host_bytes_read=z(D), host_bytes_written=z(D),
        link_packets=z(L), link_bytes=z(L), link_busy_slots=z(L),
        l1_hits=z(C), l1_misses=z(C), dma_jobs=z(C), dma_bytes=z(C),
        load_count=z(T), load_latency_ps=z(T),
        timeline_bin_ps=spec.timeline_bin_ps,
        timeline=np.zeros((M + len(TIMELINE_ROWS), spec.timeline_bins), np.int64),
    )


def timeline_row(spec: MachineSpec, name: str) -> int:
    """Row of a timeline series: "scratchpad", "host", "mesh", "die" (after the controllers)."""
    return spec.controllers + TIMELINE_ROWS.index(name)


def add_to_timeline(stats: MachineStats, row: int, t_ps: int, nbytes: int) -> None:
    """Add bytes at time t; when t is past the last bin, merge bin pairs (width doubles)."""
    tl = stats.timeline
    nb = tl.shape[1]
    while t_ps // stats.timeline_bin_ps >= nb:
        merged = np.zeros_like(tl)
        for i in range(nb):
            merged[:, i // 2] += tl[:, i]
        tl[:] = merged
        stats.timeline_bin_ps *= 2
    tl[row, t_ps // stats.timeline_bin_ps] += nbytes
