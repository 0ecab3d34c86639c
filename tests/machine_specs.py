"""Small hand-built machine shapes for machine tests (not presets: those are YAML)."""

from __future__ import annotations

import dataclasses

from sim.machine.model import MachineSpec

BASE = MachineSpec(
    name="tiny", cycle_ps=1000, dies=1, cores_per_die=2, mtp=1, threads_per_mtp=4, stp=1,
    stp_speedup=2, max_posted=2,
    l1_size=1024, l1_ways=2, l1_line=64, l1_latency=2,
    sp_size=4096, sp_banks=4, sp_interleave=8, sp_clock_ps=1000, sp_latency=2,
    sp_bytes_per_clock=8, sp_ports=1, sp_atomic_latency=4, sp_atomic_per_clock=1,
    mesh_x=2, mesh_y=2, hop_latency=1, link_bytes=16, header_bytes=8,
    core_nodes=(0, 1), controller_nodes=(2, 3), gateway_node=0,
    die_link_latency=20, die_link_bytes=32, host_node=3, host_link_latency=50,
    host_link_bytes=16, host_latency=100, calendar_slots=1 << 16,
    controllers_per_die=2, interleave_bytes=64, access_bytes=8, tck_ps=625,
    controller_latency=2, ranks=1, bank_groups=2, banks_per_group=2,
    dram_fields=(("co", 4), ("bg", 1), ("ba", 1), ("ro", 10)),
    CL=22, CWL=16, RCD=22, RP=22, RAS=52, RTP=12, WR=24, CCD_L=8, RRD_S=4, FAW=34,
    BURST=4, atomic_interval=2, atomic_latency=4,
    dma_slots=2, dma_chunk_bytes=64, max_handles=8,
    barrier_latency=(2, 10, 40), timeline_bin_ps=10_000, timeline_bins=64,
)


def spec(**overrides) -> MachineSpec:
    return dataclasses.replace(BASE, **overrides)
