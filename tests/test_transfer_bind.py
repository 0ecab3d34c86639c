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
    store = b.transfer("sram", "hbm", 7, chunk=1 << 20, deps=[gather])  # 160 GB/s write < 256
    mm = b.compute("tensor", 10**9 + 1, deps=[load, gather])
    copy = b.transfer("hbm", "hbm", 4096, chunk=1 << 20, deps=[mm])  # 2 x 4096 B at 180 GB/s
    prob = bind(b.build(), _platform())
    hbm, tensor = prob.resource_names.index("hbm"), prob.resource_names.index("tensor")
    # 3e6 B at 2e11 B/s = 15 us; 1000 B at 2e10 B/s = 50 ns
    assert prob.demand[load] == 15_000_000
    assert prob.demand[gather] == 50_000
    # 7 B at 1.6e11 B/s = 43.75 ps -> 44 (rounded up)
    assert prob.demand[store] == 44
    # (1e9 + 1) FLOPs at 3e12 FLOP/s = 333,333,333.67 ps -> 333,333,334
    assert prob.demand[mm] == 333_333_334
    # 8192 B at 1.8e11 B/s = 45,511.1 ps -> 45,512
    assert prob.demand[copy] == 45_512
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
