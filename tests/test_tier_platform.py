"""Tiers and PIM units on the transfer level: the platform's rows, routes and what they imply.

Expected values come from the platform's own configured bandwidths and FLOP/s (peaks from
the presets), never from a previous run: a memory-bound kernel moved to a unit with k
times the bandwidth must run about k times faster, and so on.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.xpu import load_xpu
from sim.transfer.bind import bind
from sim.transfer.engine import run_transfer
from sim.transfer.platform import platform_for_xpu
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.decode_attention import decode_attention
from workloads.llm.kv_layout import make_layout
from workloads.llm.layer_graph import add_gemm
from workloads.llm.placement import XPU, place_names, relocate
from workloads.llm.taskgraph import TaskGraphBuilder

MIB = 1 << 20


@pytest.fixture(scope="module")
def duplex():
    return platform_for_xpu(load_xpu("h100_duplex"))


@pytest.fixture(scope="module")
def tiers():
    return platform_for_xpu(load_xpu("h100_tiers"))


def _attention(kv_heads: int, heads: int = 64, batch: int = 32, context: int = 4096):
    shape = AttentionShape(batch=batch, heads=heads, seq_q=1, seq_kv=context, head_dim=128,
                           kv_heads=kv_heads, bytes_per_element=2)
    return decode_attention(shape, np.full(batch, context), layout=make_layout(
        "contiguous", max_len=context))


def _time(graph, platform) -> int:
    return int(run_transfer(bind(graph, platform)).end_time)


def _bw(platform, memory: str, route=None) -> int:
    port = platform.routes[route] if route else platform.memories[memory]
    return port.bandwidth.bytes_per_s(MIB, 1.0)


def test_gqa_decode_on_logic_pim_beats_the_xpu_by_the_bandwidth_ratio(duplex):
    g = _attention(kv_heads=8)  # llama-3-70b-like GQA: 8 query heads per KV head
    xpu = _time(g, duplex)
    pim = _time(relocate(g, "logic_pim"), duplex)
    ratio = _bw(duplex, "", ("hbm", "logic_pim.buf")) / _bw(duplex, "hbm")
    assert xpu / pim == pytest.approx(ratio, rel=0.25)


def test_mha_decode_prefers_bank_pim_over_logic_pim(duplex):
    g = _attention(kv_heads=64)  # MHA: about 1 FLOP per byte
    logic = _time(relocate(g, "logic_pim"), duplex)
    bank = _time(relocate(g, "bank_pim"), duplex)
    assert bank < logic
    # bank PIM: 4x Logic-PIM's bandwidth at 1 FLOP/B; MHA's intensity is just under 1.3
    # FLOP/B, so bank PIM is compute bound near its FLOP/s and wins by 2-4x
    assert 1.5 < logic / bank < 4.5


def _gemm(place: str, tokens: int) -> object:
    b = TaskGraphBuilder()
    h, f = 8192, 28672
    add_gemm(b, label="ffn", deps=[], act_bytes=tokens * h * 2, act_run=h * 2,
             weight_bytes=h * f * 2, weight_run=h * f * 2, flops=2 * tokens * h * f,
             out_bytes=tokens * f * 2, place=place_names(place))
    return b.build()


def test_compute_bound_prefill_gemm_runs_fastest_on_the_xpu(duplex):
    tokens = 8192  # a prefill: 8192 FLOP per weight element read
    times = {p: _time(_gemm(p, tokens), duplex) for p in (XPU, "logic_pim", "bank_pim")}
    assert min(times, key=times.get) == XPU
    flops = 2 * tokens * 8192 * 28672
    assert times[XPU] == pytest.approx(flops / duplex.units["tensor"].flops_per_s * 1e12,
                                       rel=0.15)


def test_decode_gemv_runs_fastest_on_pim(duplex):
    times = {p: _time(_gemm(p, 1), duplex) for p in (XPU, "logic_pim", "bank_pim")}
    assert min(times, key=times.get) != XPU


def test_ssd_kv_is_link_bound_and_in_storage_attention_flash_bound(tiers):
    g = _attention(kv_heads=8, batch=4, context=8192)
    on_ssd = _time(relocate(g, XPU, "ssd"), tiers)
    in_csd = _time(relocate(g, "csd", "csd"), tiers)
    kv = sum(int(t["nbytes"]) for t in relocate(g, XPU, "ssd").tasks
             if t["kind"] == 0 and t["src"] == relocate(g, XPU, "ssd").memories.index("ssd"))
    link_bw = tiers.memories["ssd"].bandwidth.bytes_per_s(MIB, 1.0)
    internal_bw = tiers.routes[("csd", "csd.buf")].bandwidth.bytes_per_s(MIB, 1.0)
    assert on_ssd == pytest.approx(kv / link_bw * 1e12, rel=0.10)
    assert on_ssd / in_csd == pytest.approx(internal_bw / link_bw, rel=0.10)


def test_host_kv_over_pcie_small_blocks_are_slower_than_large(tiers):
    small = make_layout({"kind": "paged", "block_tokens": 1}, max_len=8192)
    large = make_layout({"kind": "paged", "block_tokens": 256}, max_len=8192)
    shape = AttentionShape(batch=4, heads=64, seq_q=1, seq_kv=4096, head_dim=128,
                           kv_heads=8, bytes_per_element=2)
    ctx = np.full(4, 4096)
    t_small = _time(relocate(decode_attention(shape, ctx, layout=small), XPU, "host"), tiers)
    t_large = _time(relocate(decode_attention(shape, ctx, layout=large), XPU, "host"), tiers)
    assert t_small > 3 * t_large


def test_no_resource_serves_more_than_its_time(duplex, tiers):
    for platform, g in ((duplex, relocate(_attention(8), "logic_pim")),
                        (tiers, relocate(_attention(8, batch=4, context=2048), "csd", "csd"))):
        problem = bind(g, platform)
        r = run_transfer(problem)
        # processor sharing: the demand a resource served fits in the time it was busy
        assert np.all(r.served <= r.busy)
        assert np.all(r.busy <= r.end_time)


def test_transfers_conserve_bytes_between_tiers(tiers):
    g = relocate(_attention(8, batch=4, context=2048), "csd", "csd")
    read = sum(g.bytes_read(m) for m in g.memories)
    written = sum(g.bytes_written(m) for m in g.memories)
    assert read == written == int(g.tasks["nbytes"][g.tasks["kind"] == 0].sum())
