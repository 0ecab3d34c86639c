"""Binding task graphs to a platform: resources, demands and latencies by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import UserError
from sim.memory.calibration import CalibrationTable, load_calibration
from sim.transfer.bind import bind
from sim.transfer.platform import (
    CalibratedBandwidth,
    ComputeUnit,
    FlatBandwidth,
    MemoryPort,
    Platform,
    platform_for_xpu,
)
from sim.xpu import XpuSpec
from workloads.llm.taskgraph import TaskGraphBuilder

GB = 10**9

# one "stack": 64 B chunks at 10 GB/s read, 8 GB/s write, 9 GB/s mixed; 1 MiB at
# 100 / 80 / 90 GB/s
TABLE = CalibrationTable(
    "toy", "hash", 128 * GB, 32, chunks=(64, 1 << 20), read_fractions=(0.0, 0.5, 1.0),
    bytes_per_s=np.array([[8 * GB, 9 * GB, 10 * GB], [80 * GB, 90 * GB, 100 * GB]], np.int64),
    read_latency_ps=np.full((2, 3), -1, np.int64))

XPU = XpuSpec(name="toy_xpu", sms=4, clock_hz=1_000_000_000, sram_bytes_per_sm=1 << 16,
              sram_bytes_per_clock_per_sm=64, flops_per_s=3 * 10**12, hbm_preset="hbm3",
              hbm_stacks=2, hbm_capacity_bytes=1 << 34, hbm_bytes_per_s=200 * GB,
              hbm_latency_ps=500_000)


def _platform() -> Platform:
    return platform_for_xpu(XPU, table=TABLE)  # hbm: 2 x TABLE; sram: 4 x 64 B x 1 GHz = 256 GB/s


def test_platform_for_xpu_tables():
    p = _platform()
    assert p.resources == ("hbm", "sram", "tensor")
    assert p.memories["hbm"].bandwidth.bytes_per_s(1 << 20, 1.0) == 200 * GB
    assert p.memories["sram"].bandwidth.bytes_per_s(64, 0.0) == 256 * GB
    assert p.memories["hbm"].latency_ps == 500_000
    assert p.units["tensor"].flops_per_s == 3 * 10**12


def test_demands_against_hand_computation():
    b = TaskGraphBuilder()
    load = b.transfer("hbm", "sram", 3_000_000, chunk=1 << 20)  # 200 GB/s read vs 256 write
    gather = b.transfer("hbm", "sram", 1000, chunk=64, deps=[load])  # 20 GB/s read
    # one run of 7 B (chunk >= nbytes: the run is nbytes, not chunk): below the table's
    # smallest chunk, so 64 B's write bandwidth, 2 x 8 GB/s < 256
    store = b.transfer("sram", "hbm", 7, chunk=1 << 20, deps=[gather], dst_addr=1 << 30)
    mm = b.compute("tensor", 10**9 + 1, deps=[load, gather])
    copy = b.transfer("hbm", "hbm", 4 << 20, chunk=1 << 20, deps=[mm])  # 2 x 4 MiB at 180 GB/s
    prob = bind(b.build(), _platform())
    hbm, tensor = prob.resource_names.index("hbm"), prob.resource_names.index("tensor")
    # 3e6 B at 2e11 B/s = 15 us; 1000 B at 2e10 B/s = 50 ns
    assert prob.demand[load] == 15_000_000
    assert prob.demand[gather] == 50_000
    # 7 B at 1.6e10 B/s = 437.5 ps -> 438 (rounded up)
    assert prob.demand[store] == 438
    # (1e9 + 1) FLOPs at 3e12 FLOP/s = 333,333,333.67 ps -> 333,333,334
    assert prob.demand[mm] == 333_333_334
    # 2 x 4 MiB = 8,388,608 B at 1.8e11 B/s = 46,603,377.8 ps -> 46,603,378
    assert prob.demand[copy] == 46_603_378
    assert prob.res.tolist() == [hbm, hbm, hbm, tensor, hbm]
    assert prob.latency.tolist() == [500_000, 500_000, 500_000, 0, 500_000]
    assert prob.dep_ptr.tolist() == [0, 0, 1, 2, 4, 5]
    assert prob.dep_idx.tolist() == [0, 1, 0, 1, 3]


def test_demand_is_exact_beyond_int64_products():
    b = TaskGraphBuilder()
    b.transfer("hbm", "sram", 140 * GB, chunk=1 << 20)  # 1.4e23 = bytes x 1e12 overflows int64
    prob = bind(b.build(), _platform())
    assert prob.demand[0] == 700_000_000_000  # 140e9 / 200e9 s = 0.7 s


def test_bottleneck_is_the_slower_side_and_a_tie_goes_to_the_source():
    def platform(src_bw: int, dst_bw: int) -> Platform:
        return Platform("two", memories={
            "a": MemoryPort("link_a", FlatBandwidth(src_bw), 11),
            "b": MemoryPort("link_b", FlatBandwidth(dst_bw), 22)})

    b = TaskGraphBuilder()
    b.transfer("a", "b", 1000)
    g = b.build()
    for src_bw, dst_bw, res, demand, lat in [(10 * GB, 20 * GB, "link_a", 100_000, 11),
                                             (20 * GB, 10 * GB, "link_b", 100_000, 22),
                                             (10 * GB, 10 * GB, "link_a", 100_000, 11)]:
        prob = bind(g, platform(src_bw, dst_bw))
        assert prob.resource_names[prob.res[0]] == res
        assert prob.demand[0] == demand and prob.latency[0] == lat


def test_source_reads_and_destination_writes_use_their_read_fractions():
    # the same table on both sides: at 64 B the source reads at 10 GB/s, the destination
    # writes at 8 GB/s, so the destination is the bottleneck
    p = Platform("two_tables", memories={
        "x": MemoryPort("x", CalibratedBandwidth(TABLE, 1), 1),
        "y": MemoryPort("y", CalibratedBandwidth(TABLE, 1), 2)})
    b = TaskGraphBuilder()
    b.transfer("x", "y", 8000, chunk=64)
    prob = bind(b.build(), p)
    assert prob.resource_names[prob.res[0]] == "y"
    assert prob.demand[0] == 1_000_000  # 8000 B at 8e9 B/s = 1 us


def test_shared_resource_and_repeated_graphs():
    p = Platform("shared", memories={"kv": MemoryPort("hbm", FlatBandwidth(GB)),
                                     "w": MemoryPort("hbm", FlatBandwidth(2 * GB)),
                                     "s": MemoryPort("sram", FlatBandwidth(100 * GB))},
                 units={"t": ComputeUnit("tensor", 10**12)})
    assert p.resources == ("hbm", "sram", "tensor")
    b = TaskGraphBuilder()
    x = b.transfer("kv", "s", 1000)
    b.transfer("w", "s", 1000, deps=[x])
    prob = bind(b.build().repeat(3), p)
    assert prob.res.tolist() == [0] * 6
    assert prob.demand.tolist() == [1_000_000, 500_000] * 3


def test_unknown_memory_and_unit_are_user_errors():
    b = TaskGraphBuilder()
    b.transfer("host", "hbm", 64)
    with pytest.raises(UserError, match=r"memory 'host'.*'toy_xpu'.*it has: hbm, sram"):
        bind(b.build(), _platform())
    b = TaskGraphBuilder()
    b.compute("tensr", 10)
    with pytest.raises(UserError, match=r"unit 'tensr' \(did you mean 'tensor'\?\).*it has: tensor"):
        bind(b.build(), _platform())


def test_platform_from_the_stored_calibration():
    table = load_calibration("hbm3")
    p = platform_for_xpu(XPU)
    assert p.memories["hbm"].bandwidth.bytes_per_s(1 << 20, 1.0) == \
        2 * table.bandwidth(1 << 20, 1.0)


def test_consecutive_tiles_of_a_place_form_one_stream():
    # four 64 B tiles of place 0 walk [0, 256) in order (with a strided gather and a tile of
    # place 1 in between that must not join); a stream of 256 B reads at the table's
    # log-interpolated 256 B bandwidth: log2 256 = 8 is 2/14 of the way from 64 B to 1 MiB,
    # 10 + 90 x 2/14 = 22.857142857 GB/s per stack, x 2 stacks
    b = TaskGraphBuilder()
    tiles = []
    for k in range(4):
        tiles.append(b.transfer("hbm", "sram", 64, src_addr=64 * k, place=0))
        b.transfer("hbm", "sram", 640, chunk=64, stride=128, src_addr=64 * (k + 1), place=0)
        b.transfer("hbm", "sram", 64, src_addr=64 * (k + 1), place=1)
    lone = b.transfer("hbm", "sram", 64, src_addr=4096, place=0)
    prob = bind(b.build(), _platform())
    bw = 2 * 22_857_142_857
    assert prob.demand[tiles].tolist() == [-(-64 * 10**12 // bw)] * 4
    assert prob.demand[lone] == 3_200  # alone: 64 B at 2 x 10 GB/s = 3.2 ns
    assert prob.demand[1] == 32_000  # strided runs of 64 B: 640 B at 2 x 10 GB/s = 32 ns


def test_streams_link_to_the_latest_earlier_end():
    from sim.transfer.bind import stream_bytes
    # 0:[0,10) 1:[10,30) 2:[30,35) form one stream; 3:[10,12) continues 0 too (a tree);
    # 4:[100,101) is alone; 5 in another group starts at 10 but links to nothing
    addr = np.array([0, 10, 30, 10, 100, 10])
    nbytes = np.array([10, 20, 5, 2, 1, 7])
    group = np.array([0, 0, 0, 0, 0, 1])
    assert stream_bytes(addr, nbytes, group).tolist() == [37, 37, 37, 37, 1, 7]


def test_compute_instances_split_places_over_sms():
    p = platform_for_xpu(XPU, table=TABLE, per_sm_compute=True)
    assert p.resources == ("hbm", "sram", "tensor", "tensor[0]", "tensor[1]", "tensor[2]",
                           "tensor[3]")
    b = TaskGraphBuilder()
    b.compute("tensor", 3 * 10**9, place=5)  # SM 5 % 4 = 1 at 3e12 / 4 FLOP/s: 4 ms
    b.compute("tensor", 3 * 10**9)  # place -1: the whole unit, 1 ms
    prob = bind(b.build(), p)
    assert [prob.resource_names[r] for r in prob.res] == ["tensor[1]", "tensor"]
    assert prob.demand.tolist() == [4 * 10**9, 10**9]
    # a lone thread block runs at one SM's rate: 4 ms, not the device's 1 ms
    from sim.transfer.engine import run_transfer
    assert run_transfer(prob).end.tolist() == [4 * 10**9, 10**9]
