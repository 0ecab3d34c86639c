"""Task graphs on the request-level machine: expansion rules (sim/llm_machine/expand.py),
the xPU device (device.py) and bytes conservation (run.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.machine import load_machine_config
from sim.config.xpu import load_xpu
from sim.llm_machine.device import machine_for_xpu, mesh_layout, small_xpu
from sim.llm_machine.expand import BankHash, ExpandError, bank_hash_for, expand_graph
from sim.llm_machine.run import run_graph_on_machine
from sim.memory.calibration import load_calibration
from workloads.llm.taskgraph import TaskGraphBuilder
from workloads.ops import BARRIER, COMPUTE, DMA, DRAM, SCOPE_MACHINE, SP_LOCAL, WAIT


@pytest.fixture(scope="module")
def dev():
    return machine_for_xpu(small_xpu(load_xpu("a100"), sms=4, stacks=1))


def builder() -> TaskGraphBuilder:
    return TaskGraphBuilder(["hbm", "sram"], ["tensor"])


def test_device_is_the_xpu(dev):
    spec, xpu = dev.spec, dev.xpu
    assert spec.cores == 4 and xpu.sms == 4
    assert spec.controllers == 16  # one HBM2e stack: 8 channels x 2 pseudo-channels (JESD235)
    # A100: 312 TFLOP/s over 108 SMs at 1.41 GHz = 2048.9 FLOP per SM per clock (whitepaper)
    assert dev.flops_per_cycle == 2048
    assert abs(1e12 / spec.cycle_ps - 1.41e9) < 1e6
    assert dev.sram_bytes == 164 * 1024 <= spec.sp_size
    # one stack's data-bus peak: 1024 pins x 2.43 Gb/s / 8 = 311 GB/s
    assert abs(spec.dram_peak_bytes_per_s() - 311.04e9) < 0.01 * 311e9


def test_transfer_then_compute_is_dma_wait_compute(dev):
    b = builder()
    ld = b.transfer("hbm", "sram", 4096, place=0, src_addr=8192)
    b.compute("tensor", 10_000, deps=[ld], place=0)
    ex = expand_graph(b.build(), dev.spec, dev.flops_per_cycle)
    s = ex.streams[0]
    assert list(s["op"]) == [DMA, WAIT, COMPUTE]
    assert (s["space"][0], s["sub"][0]) == (DRAM, SP_LOCAL)
    assert (s["addr"][0], s["size"][0], s["count"][0]) == (8192, 4096, 1)
    assert s["handle"][1] == s["handle"][0]
    assert s["size"][2] == -(-10_000 // 2048) == ex.compute_cycles


def test_strided_transfer_uses_count_and_stride(dev):
    b = builder()
    b.transfer("hbm", "sram", 5 * 256 + 64, chunk=256, stride=1024, place=0, src_addr=0)
    s = expand_graph(b.build(), dev.spec, dev.flops_per_cycle).streams[0]
    assert list(s["op"]) == [DMA, DMA]  # five full runs, then the shorter last run
    assert (s["size"][0], s["count"][0], s["stride"][0], s["stride2"][0]) == (256, 5, 1024, 256)
    assert (s["addr"][1], s["size"][1], s["count"][1]) == (5 * 1024, 64, 1)
    assert s["addr2"][1] == s["addr2"][0] + 5 * 256  # the scratchpad side stays contiguous
    assert s["handle"][0] != s["handle"][1]


def test_loads_are_hoisted_before_independent_compute(dev):
    b = builder()
    a = b.transfer("hbm", "sram", 1024, place=0)
    c1 = b.compute("tensor", 4096, deps=[a], place=0)
    b2 = b.transfer("hbm", "sram", 1024, place=0, src_addr=4096)  # independent of c1
    b.compute("tensor", 4096, deps=[b2, c1], place=0)
    s = expand_graph(b.build(), dev.spec, dev.flops_per_cycle).streams[0]
    assert list(s["op"]) == [DMA, DMA, WAIT, COMPUTE, WAIT, COMPUTE]


def test_store_after_compute_follows_it(dev):
    b = builder()
    c = b.compute("tensor", 2048, place=1)
    b.transfer("sram", "hbm", 512, deps=[c], place=1, dst_addr=3 << 16)  # row 0: unhashed
    ex = expand_graph(b.build(), dev.spec, dev.flops_per_cycle)
    s = ex.streams[dev.spec.thread_of(1, 0)]
    assert list(s["op"]) == [COMPUTE, DMA]
    assert (s["space"][1], s["sub"][1], s["addr2"][1]) == (SP_LOCAL, DRAM, 3 << 16)


def test_places_beyond_the_sms_are_further_threads(dev):
    b = builder()
    for p in range(6):
        b.compute("tensor", 2048, place=p)
    ex = expand_graph(b.build(), dev.spec, dev.flops_per_cycle)
    assert ex.thread_of_place[5] == dev.spec.thread_of(1, 1)
    b = builder()
    b.compute("tensor", 2048, place=4 * dev.spec.threads_per_core)
    with pytest.raises(ExpandError, match="place"):
        expand_graph(b.build(), dev.spec, dev.flops_per_cycle)


def test_join_becomes_a_barrier_in_every_stream(dev):
    b = builder()
    x = b.transfer("hbm", "sram", 256, place=0)
    y = b.compute("tensor", 2048, place=1)
    b.compute("tensor", 2048, place=2)
    j = b.compute("tensor", 0, deps=[x, y])
    b.compute("tensor", 2048, deps=[j], place=2)  # any place may follow the join
    ex = expand_graph(b.build(), dev.spec, dev.flops_per_cycle)
    assert ex.barriers == 1
    s0, s1, s2 = (ex.streams[dev.spec.thread_of(c, 0)] for c in range(3))
    assert list(s0["op"]) == [DMA, WAIT, BARRIER]  # its DMA is waited before arriving
    assert list(s1["op"]) == [COMPUTE, BARRIER]
    assert list(s2["op"]) == [COMPUTE, BARRIER, COMPUTE]
    assert s0["sub"][2] == SCOPE_MACHINE
    r = run_graph_on_machine(b.build(), dev)
    assert r["barriers"] == 1 and r["time_ps"] > 0


def test_cross_place_dependency_without_join_is_an_error(dev):
    b = builder()
    x = b.compute("tensor", 2048, place=0)
    b.compute("tensor", 2048, deps=[x], place=1)
    with pytest.raises(ExpandError, match="join"):
        expand_graph(b.build(), dev.spec, dev.flops_per_cycle)


def test_tile_larger_than_sram_is_an_error(dev):
    b = builder()
    b.transfer("hbm", "sram", dev.sram_bytes + 1, place=0)
    with pytest.raises(ExpandError, match="SRAM"):
        run_graph_on_machine(b.build(), dev)


def test_more_transfers_than_handles(dev):
    b = builder()
    n = dev.spec.max_handles + 5
    loads = [b.transfer("hbm", "sram", 256, place=0, src_addr=256 * k) for k in range(n)]
    b.compute("tensor", 2048, deps=loads, place=0)
    r = run_graph_on_machine(b.build(), dev)
    assert r["hbm_bytes_read"] == 256 * n and r["dma_jobs"] == n


def test_bytes_conserved(dev):
    b = builder()
    a = b.transfer("hbm", "sram", 3 * 4096, chunk=1024, stride=4096, place=0, src_addr=0)
    t = b.transfer("hbm", "sram", 4, place=1, src_addr=1 << 20)  # one 4 B table entry
    c = b.compute("tensor", 50_000, deps=[a], place=0)
    b.transfer("sram", "hbm", 2048, deps=[c], place=0, dst_addr=2 << 20)
    b.compute("tensor", 100, deps=[t], place=1)
    g = b.build()
    r = run_graph_on_machine(g, dev)
    assert r["hbm_bytes_read"] == r["graph_hbm_bytes_read"] == 3 * 4096 + 4
    assert r["hbm_bytes_written"] == r["graph_hbm_bytes_written"] == 2048
    # the 4 B entry costs one whole 32 B access (HBM2 pseudo-channel: 64 bits x BL4)
    assert r["hbm_access_bytes"] == 3 * 4096 + 2048 + 32
    assert r["compute_cycles"] == -(-50_000 // 2048) + 1


def test_unloaded_latency_matches_the_xpu_preset(dev):
    """The machine preset places its unmodelled HBM delay so that one 256 B load costs
    about the load latency hw_configs/xpu/a100.yaml gives (its stated assumption)."""
    b = builder()
    b.transfer("hbm", "sram", 256, place=0)
    r = run_graph_on_machine(b.build(), dev)
    assert abs(r["time_ps"] - dev.xpu.hbm_latency_ps) < 0.1 * dev.xpu.hbm_latency_ps


def stream_graph(sms: int, tiles: int, tile: int):
    """Each of ``sms`` SMs (one place each) loads ``tiles`` contiguous tiles of its own region."""
    b = builder()
    for p in range(sms):
        for k in range(tiles):
            b.transfer("hbm", "sram", tile, place=p, src_addr=(p * tiles + k) * tile)
    return b.build()


def test_one_sm_is_bounded_by_its_dma_slots_and_four_stay_under_the_stack(dev):
    # Little's law: one SM keeps at most dma_slots chunks in flight, none returning faster
    # than an unloaded chunk to the nearest controller
    fastest = []
    for c in range(dev.spec.controllers):
        b = builder()
        b.transfer("hbm", "sram", 256, place=0, src_addr=c * dev.spec.interleave_bytes)
        fastest.append(run_graph_on_machine(b.build(), dev, bank_hash=False)["time_ps"])
    bound = dev.spec.dma_slots * dev.spec.dma_chunk_bytes / (min(fastest) * 1e-12)
    r = run_graph_on_machine(stream_graph(1, 32, 32768), dev)
    per_s = r["hbm_bytes_read"] / (r["time_ps"] * 1e-12)
    assert 0.5 * bound < per_s <= bound
    r = run_graph_on_machine(stream_graph(4, 16, 32768), dev)
    assert r["hbm_bytes_read"] / (r["time_ps"] * 1e-12) <= dev.spec.dram_peak_bytes_per_s()


def test_mesh_is_near_square_and_mixes_sms_with_controllers(dev):
    m = mesh_layout(108, 80)  # the A100: 108 SMs, 5 HBM2e stacks x 16 pseudo-channels
    assert (m.x, m.y) == (14, 14)  # ceil(sqrt(188)) = 14 columns, ceil(188 / 14) = 14 rows
    nodes = m.core_nodes + m.controller_nodes
    assert len(set(nodes)) == 188 and all(0 <= v < 196 for v in nodes)
    for kind in (m.core_nodes, m.controller_nodes):  # both kinds on every row and column
        assert {v // m.x for v in kind} == set(range(m.y))
        assert {v % m.x for v in kind} == set(range(m.x))
    # the preset's own mesh is the layout machine_for_xpu derives for its 4 SMs, 1 stack
    preset = load_machine_config("xpu_a100_slice")
    slice_ = mesh_layout(4, 16)
    assert (preset.mesh_x, preset.mesh_y) == (dev.spec.mesh_x, dev.spec.mesh_y) == (5, 4)
    assert preset.core_nodes == dev.spec.core_nodes == slice_.core_nodes
    assert preset.controller_nodes == dev.spec.controller_nodes == slice_.controller_nodes


def test_a_larger_device_streams_at_its_calibrated_hbm_bandwidth():
    """32 SMs on 2 stacks (the A100's 22 SMs per stack, rounded up) each stream 512 KiB.

    The bound is the detailed DRAM model's calibration (hw_configs/memory/calibration/
    hbm2e_a100.yaml, read-only runs of the stream's length) times the stacks. The machine's
    controller has no refresh (worth ~9%) but serves each bank in arrival order: with 32
    interleaved streams every 256 B unit opens a row in each of the 4 bank groups it
    touches (2 accesses each: half are row hits), and 4 ACTs at one per max(tRRD_S,
    tFAW / 4) = 5 clocks take 20 clocks per 16 clocks of data, a ceiling of 80% of peak,
    about the calibrated value. Before the mesh was sized from the device (SMs on one
    row, controllers on the next: 32 x 2) it carried 285 GB/s, 58% of the bound.
    """
    xpu = small_xpu(load_xpu("a100"), sms=32, stacks=2)
    big = machine_for_xpu(xpu)
    tiles, tile = 8, 65536
    g = stream_graph(32, tiles, tile)
    r = run_graph_on_machine(g, big)
    per_s = r["hbm_bytes_read"] / (r["time_ps"] * 1e-12)
    calibrated = xpu.hbm_stacks * load_calibration(xpu.hbm_preset).bandwidth(tiles * tile, 1.0)
    assert 0.9 * calibrated <= per_s <= big.spec.dram_peak_bytes_per_s()
    # the mesh is not what limits it: twice the link width changes the bandwidth by < 2%
    wide = machine_for_xpu(xpu, overrides={"network.mesh.link_bandwidth": 2 * 64})
    assert wide.spec.link_bytes == 2 * big.spec.link_bytes
    r2 = run_graph_on_machine(g, wide)
    assert abs(r2["time_ps"] - r["time_ps"]) < 0.02 * r["time_ps"]


def test_deterministic(dev):
    b = builder()
    rng = np.random.default_rng(3)
    for p in range(8):
        prev = []
        for _ in range(5):
            ld = b.transfer("hbm", "sram", int(rng.integers(1, 64)) * 256, place=p,
                            src_addr=int(rng.integers(0, 1 << 20)) * 256, deps=prev)
            prev = [b.compute("tensor", int(rng.integers(1, 1 << 16)), deps=[ld], place=p)]
    g = b.build()
    r1, r2 = run_graph_on_machine(g, dev), run_graph_on_machine(g, dev)
    assert {k: v for k, v in r1.items() if k != "stats"} == \
        {k: v for k, v in r2.items() if k != "stats"}


def test_bank_hash_fields_of_the_a100_slice(dev):
    # 256 B interleave (8 bits) over 16 controllers (4 bits); in a controller, 32 B accesses
    # (5 bits) then bg 2, co 5 (1 KiB page / 32 B), ba 2 (hbm2: 4 banks per group), ro:
    # local bits bg 5-6, co 7-11, ba 12-13, ro 14+; above bit 8 the global bit is 4 higher
    assert bank_hash_for(dev.spec) == BankHash(ba_shift=16, ba_bits=2, ro_shift=18)
    h = BankHash(ba_shift=16, ba_bits=2, ro_shift=18)
    # row r = addr >> 18; the bank bits XOR the 2-bit XOR-fold of r
    assert h(0x12345) == 0x12345  # row 0: unchanged
    assert h(5 << 18) == (5 << 18) ^ ((0b01 ^ 0b01) << 16)  # r = 0b101: fold 01 ^ 01 = 00
    # streams 1, 2, 3 MiB apart (r = 4, 8, 12) land on banks 1, 2, 3: no longer all on one
    assert [(h(k << 20) >> 16) & 3 for k in range(4)] == [0, 1, 2, 3]


def test_hashed_transfers_are_cut_at_bank_blocks(dev):
    b = builder()
    # 32 KiB below and 96 KiB above 1 MiB, runs of 256 B every 1 KiB: rows 3 (fold 3) and
    # 4 (fold 1); blocks [0xF8000, 0x100000), [0x100000, 0x110000), [0x110000, 0x118000)
    b.transfer("hbm", "sram", 128 * 256, chunk=256, stride=1024, place=0, src_addr=0xF8000)
    s = expand_graph(b.build(), dev.spec, dev.flops_per_cycle).streams[0]
    dma = s[s["op"] == DMA]
    assert dma["addr"].tolist() == [0xF8000 ^ (3 << 16), 0x100000 ^ (1 << 16),
                                    0x110000 ^ (1 << 16)]
    assert dma["count"].tolist() == [32, 64, 32]
    assert dma["stride"].tolist() == [1024] * 3
    assert dma["addr2"].tolist() == [dma["addr2"][0] + 256 * k for k in (0, 32, 96)]
    off = expand_graph(b.build(), dev.spec, dev.flops_per_cycle, bank_hash=False).streams[0]
    assert off[off["op"] == DMA]["addr"].tolist() == [0xF8000]


def test_hashed_contiguous_run_conserves_bytes(dev):
    b = builder()
    # 1000 B + 64 KiB + 33,464 B in three 64 KiB blocks; 65,504 + 34,496 B in two
    ld = b.transfer("hbm", "sram", 100_000, place=0, src_addr=(1 << 20) - 1000)
    b.transfer("sram", "hbm", 100_000, deps=[ld], place=0, dst_addr=(5 << 20) + 32)
    g = b.build()
    ex = expand_graph(g, dev.spec, dev.flops_per_cycle)
    dma = np.concatenate(ex.streams)
    dma = dma[dma["op"] == DMA]
    assert dma["size"].tolist() == [1000, 65536, 33464, 65504, 34496]
    assert ex.dram_bytes_read == ex.dram_bytes_written == 100_000
    r = run_graph_on_machine(g, dev)  # raises BytesNotConserved on a mismatch
    assert r["hbm_bytes_read"] == r["hbm_bytes_written"] == 100_000
