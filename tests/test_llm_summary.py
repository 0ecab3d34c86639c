"""sim/llm/summary.py on hand-built graphs whose schedule is worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.llm.summary import label_shares, summarize
from sim.transfer.bind import bind
from sim.transfer.engine import run_transfer
from sim.transfer.model import TransferResult
from sim.transfer.platform import ComputeUnit, FlatBandwidth, MemoryPort, Platform
from workloads.llm.taskgraph import TaskGraphBuilder

# 1 byte/ps of HBM, 1 FLOP/ps of tensor (100 ps latency), SRAM fast enough never to limit
TOY = Platform(
    name="toy",
    memories={"hbm": MemoryPort("hbm", FlatBandwidth(10**12), 0),
              "sram": MemoryPort("sram", FlatBandwidth(10**15), 0)},
    units={"tensor": ComputeUnit("tensor", 10**12, 100)},
)


def toy_graph():
    """A: 1000 B HBM->SRAM ("a"); B: 500 FLOPs ("b"); C: 200 B SRAM->HBM after B ("a").

    By hand: A and B start at 0. B leaves at 500, ends at 600 (latency). From 600 A (600 B
    served, 400 left) and C (200 B) share HBM at half rate each: C leaves at 1000 (A has
    200 more, 200 left), A alone leaves at 1200. The run is 1200 ps.
    """
    b = TaskGraphBuilder()
    b.transfer("hbm", "sram", 1000, label="a")
    x = b.compute("tensor", 500, label="b")
    b.transfer("sram", "hbm", 200, deps=[x], label="a")
    return b.build()


def test_toy_schedule_is_the_hand_computed_one():
    g = toy_graph()
    r = run_transfer(bind(g, TOY))
    assert r.end_time == 1200
    assert r.end.tolist() == [1200, 600, 1000]


def test_summary_of_the_toy_run():
    g = toy_graph()
    r = run_transfer(bind(g, TOY))
    s = summarize(g, r, TOY, steps=2, tokens=6)
    t = 1200e-12
    assert s["time_ps"] == 1200
    assert s["time_per_step_s"] == pytest.approx(t / 2)
    assert s["tokens_per_s"] == pytest.approx(6 / t)
    assert s["memories"]["hbm"] == {"read": 1000, "written": 200,
                                    "bandwidth_bytes_per_s": pytest.approx(1200 / t)}
    assert s["memories"]["sram"]["read"] == 200 and s["memories"]["sram"]["written"] == 1000
    assert s["flops"] == 500
    assert s["units"]["tensor"]["flops_per_s"] == pytest.approx(500 / t)
    assert s["units"]["tensor"]["utilisation"] == pytest.approx(500 / 1200)
    # HBM has a task from 0 to 1200; the tensor unit serves B from 0 to 500 (latency is
    # not occupancy)
    assert s["resources"]["hbm"]["busy"] == pytest.approx(1.0)
    assert s["resources"]["tensor"]["busy"] == pytest.approx(500 / 1200)
    assert s["bottleneck"] == "hbm"
    # "a" is active over [0, 1200), "b" over [0, 600): both from 0 to 600, "a" alone after
    la, lb = s["labels"]["a"], s["labels"]["b"]
    assert (la["share"], lb["share"]) == (pytest.approx(1.0), pytest.approx(0.5))
    assert (la["exclusive"], lb["exclusive"]) == (pytest.approx(0.5), 0.0)
    assert (la["tasks"], lb["tasks"]) == (2, 1)
    assert s["shares_total"] == pytest.approx(1.5)
    assert s["overlap"] == pytest.approx(0.5) and s["idle"] == 0.0
    json.dumps(s)  # plain numbers and names only


def test_shares_merge_overlapping_intervals_and_count_idle_time():
    """Label shares from given intervals (no engine): unions, exclusives, gaps."""
    b = TaskGraphBuilder()
    for label in ("x", "x", "y", "x"):
        b.compute("tensor", 1, label=label)
    g = b.build()
    # x: [0, 10), [5, 20), [40, 50) -> union 20 + 10; y: [15, 30) -> 15; run 0..60
    ready = np.array([0, 5, 15, 40])
    end = np.array([10, 20, 30, 50])
    r = TransferResult(ready=ready, leave=end, end=end, busy=np.zeros(1, np.int64),
                       served=np.zeros(1, np.int64), end_time=60)
    s = label_shares(g, r)
    assert s["labels"]["x"]["share"] == pytest.approx(30 / 60)
    assert s["labels"]["y"]["share"] == pytest.approx(15 / 60)
    # x alone: [0, 15) and [40, 50); y alone: [20, 30); both: [15, 20); none: [30, 40), [50, 60)
    assert s["labels"]["x"]["exclusive"] == pytest.approx(25 / 60)
    assert s["labels"]["y"]["exclusive"] == pytest.approx(10 / 60)
    assert s["overlap"] == pytest.approx(5 / 60)
    assert s["idle"] == pytest.approx(20 / 60)


def test_memory_bound_decode_step_takes_its_hbm_bytes_over_the_calibrated_bandwidth():
    """Issue 11 section 4: within 10% for a memory-bound decode step (llama-3-70b, batch 8,
    1024-token contexts, H100: about 0.1 FLOP per weight byte per request, far below the
    device's FLOP/s over bytes/s)."""
    from sim.config.xpu import load_xpu
    from sim.transfer.platform import platform_for_xpu
    from workloads.llm.kv_layout import make_layout
    from workloads.llm.model_graph import decode_step_graph
    from workloads.llm.models import load_model

    xpu = load_xpu("h100")
    platform = platform_for_xpu(xpu)
    model = load_model("llama-3-70b")
    batch = 8
    g = decode_step_graph(model, np.full(batch, 1024),
                          layout=make_layout("contiguous", max_len=model.max_context))
    r = run_transfer(bind(g, platform))
    s = summarize(g, r, platform, tokens=batch)
    hbm = s["memories"]["hbm"]
    # the calibrated bandwidth of long sequential reads (the weights' access shape)
    bw = platform.memories["hbm"].bandwidth.bytes_per_s(1 << 30, 1.0)
    assert s["time_s"] == pytest.approx((hbm["read"] + hbm["written"]) / bw, rel=0.10)
    assert s["bottleneck"] == "hbm"
    assert s["tokens_per_s"] == pytest.approx(batch / s["time_s"])
    assert s["units"]["tensor"]["utilisation"] < 0.1
