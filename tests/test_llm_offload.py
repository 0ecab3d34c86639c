"""Offload features of LLM placement: prefetch one layer ahead, per-layer placement,
co-processing splits, and top-k KV retrieval from a slower tier."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from sim.config.errors import ConfigError
from sim.llm.point import build_graph, run
from sim.sweep import plan_experiment
from workloads.llm.kv_layout import kv_vector_bytes
from workloads.llm.layer_graph import layer_weight_bytes
from workloads.llm.models import load_model

EXP = """\
    name: t
    hardware: {hw}
    workload:
      kind: llm
      model: {model}
      precision: {precision}
      batch: {batch}
      context: {context}
      placement: {placement}
    """


def _point(tmp_path: Path, *, hw: str = "h100_tiers", model: str = "llama-3-8b",
           batch: int = 4, context: int = 2048, placement: str = "{}",
           precision: str = "fp16"):
    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(EXP.format(hw=hw, model=model, batch=batch,
                                            context=context, placement=placement,
                                            precision=precision)))
    _, points = plan_experiment(p)
    return points[0].resolved


def _label_bytes(g, label: str) -> int:
    lab = g.labels.index(label) if label in g.labels else -1
    return int(g.tasks["nbytes"][(g.tasks["label"] == lab) & (g.tasks["kind"] == 0)].sum())


def _ms(point) -> float:
    return run(point)["metrics"]["runtime_ms"]


LLAMA = load_model("llama-3-8b")
LAYER = layer_weight_bytes(LLAMA)  # fp16 as the model's own width


def test_prefetch_copies_each_layer_once_and_overlaps_the_copy_with_compute(tmp_path):
    stream = _point(tmp_path, placement="{weights: host}")
    staged = _point(tmp_path, placement="{weights: host, prefetch: true}")
    in_hbm = _point(tmp_path)
    g, _ = build_graph(staged)
    # every layer's weights cross once, as one copy each, into HBM
    assert _label_bytes(g, "weights_prefetch") == LLAMA.layers * LAYER
    assert g.bytes_between("host", "hbm") >= LLAMA.layers * LAYER
    # the layers' GEMMs read HBM; only the LM head streams its weights from the host
    assert g.bytes_between("host", "sram") == LLAMA.hidden * LLAMA.vocab * 2
    t_stream, t_staged, t_hbm = _ms(stream), _ms(staged), _ms(in_hbm)
    from sim.transfer.platform import platform_for_xpu

    link = platform_for_xpu(staged.xpu).memories["host"].bandwidth.bytes_per_s(LAYER, 1.0)
    lm_head = LLAMA.hidden * LLAMA.vocab * 2
    t_copy = (LLAMA.layers * LAYER + lm_head) / link * 1e3  # everything the link carries
    # bounded by the link, and the copies hide all but one layer's compute behind them
    assert t_staged >= 0.99 * t_copy
    assert t_staged - t_copy < 0.25 * t_hbm
    assert t_staged <= t_stream * 1.01


def test_prefetched_kv_is_copied_into_hbm_and_appended_to_its_tier(tmp_path):
    direct = _point(tmp_path, placement="{kv: host}")
    staged = _point(tmp_path, placement="{kv: host, prefetch: true}")
    g0, _ = build_graph(direct)
    g, _ = build_graph(staged)
    kv_read = g0.bytes_read("host")
    appended = g0.bytes_written("host")
    # the prefetch moves what the attention read from the host; appends still go there
    assert _label_bytes(g, "kv_prefetch") == kv_read
    assert g.bytes_written("host") == appended
    assert g.bytes_between("host", "sram") == 0
    assert _ms(staged) > 0


def test_per_layer_weights_split_reads_each_memory_for_its_layers(tmp_path):
    half = LLAMA.layers // 2
    p = _point(tmp_path, placement=f"{{layers: [{{range: [{half}, {LLAMA.layers - 1}], "
                                   f"weights: host}}]}}")
    g, facts = build_graph(p)
    assert g.bytes_between("host", "sram") == half * LAYER
    assert facts["extras"]["placed.weights"] == f"hbm x{half} + host x{half}"
    t_half = _ms(p)
    t_hbm = _ms(_point(tmp_path))
    t_host = _ms(_point(tmp_path, placement="{weights: host}"))
    assert t_hbm < t_half < t_host


def test_a_layer_range_beyond_the_model_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"layers 0 to 31.*exp.yaml|exp.yaml.*layers 0 to 31"):
        _point(tmp_path, placement="{layers: [{range: [16, 40], weights: host}]}")


def test_dense_ffn_coprocessing_splits_its_flops_by_share(tmp_path):
    p = _point(tmp_path, hw="h100_duplex", placement="{ffn: {xpu: 3, logic_pim: 1}}")
    g, facts = build_graph(p)
    unit = g.units.index("logic_pim")
    pim_flops = int(g.tasks["flops"][(g.tasks["kind"] == 1) & (g.tasks["unit"] == unit)].sum())
    ffn_flops = 2 * 4 * LLAMA.hidden * LLAMA.ffn * LLAMA.ffn_matrices * LLAMA.layers
    assert pim_flops == pytest.approx(ffn_flops / 4, rel=1e-3)
    assert facts["extras"]["placed.ffn"] == "xpu:3+logic_pim:1"


def test_moe_coprocessing_needs_shares_that_cover_the_experts(tmp_path):
    p = _point(tmp_path, hw="h100_duplex", model="mixtral-8x7b", precision="fp8",
               placement="{ffn: {xpu: 6, logic_pim: 2}}")
    g, _ = build_graph(p)
    assert g.bytes_read("hbm") > 0 and "logic_pim" in g.units
    with pytest.raises(ConfigError, match="serves 7 experts"):
        _point(tmp_path, hw="h100_duplex", model="mixtral-8x7b", precision="fp8",
               placement="{ffn: {xpu: 6, logic_pim: 1}}")


def test_attention_split_across_units_moves_each_share_of_the_kv(tmp_path):
    g0, _ = build_graph(_point(tmp_path, hw="h100_duplex"))
    g, _ = build_graph(_point(tmp_path, hw="h100_duplex",
                              placement="{attention: {xpu: 6, logic_pim: 2}}"))
    to_pim = g.bytes_between("hbm", "logic_pim.buf")
    kv = g0.bytes_between("hbm", "sram") - g.bytes_between("hbm", "sram")
    assert to_pim == kv > 0
    with pytest.raises(ConfigError, match="not both"):
        _point(tmp_path, hw="h100_duplex", placement="{kv: {hbm: 8}, attention: {xpu: 8}}")


RETRIEVAL = "{{retrieval: {{from: host, window: {window}, top_k: {top_k}, scan: {scan}}}}}"


def test_top_k_retrieval_reads_the_window_from_hbm_and_top_k_from_the_tier(tmp_path):
    ctx, window, top_k, scan, batch = 8192, 512, 1024, 0.02, 4
    p = _point(tmp_path, batch=batch, context=ctx,
               placement=RETRIEVAL.format(window=window, top_k=top_k, scan=scan))
    g, _ = build_graph(p)
    vec = kv_vector_bytes(LLAMA.head_dim, 2)
    kvh, layers = LLAMA.kv_heads, LLAMA.layers
    scanned = int(np.ceil(scan * (ctx - window)))
    # the scan reads that many keys per request and KV head on the host's own compute
    assert g.bytes_between("host", "host.buf") == pytest.approx(
        layers * (batch * scanned * kvh * vec + batch * top_k * kvh * (2 * vec + 4)),
        rel=1e-6)
    # only the window's K and V still come from HBM: the rest of the cache left it
    g0, _ = build_graph(_point(tmp_path, batch=batch, context=ctx))
    left = g0.bytes_between("hbm", "sram") - g.bytes_between("hbm", "sram")
    assert left == pytest.approx(layers * batch * (ctx - window) * kvh * 2 * vec, rel=0.01)
    full = _ms(_point(tmp_path, batch=batch, context=ctx, placement="{kv: host}"))
    assert _ms(p) < full / 2  # retrieval reads a fraction of the offloaded cache


def test_block_wise_split_reads_every_token_once(tmp_path):
    ctx, window = 8192, 1024
    g, _ = build_graph(_point(tmp_path, context=ctx,
                              placement=f"{{retrieval: {{from: host, window: {window}, "
                                        f"top_k: all, place: xpu}}}}"))
    g0, _ = build_graph(_point(tmp_path, context=ctx))
    # recent blocks in HBM, older ones on the host: together the whole cache, once
    assert g.bytes_between("hbm", "sram") + g.bytes_between("host", "sram") == \
        pytest.approx(g0.bytes_between("hbm", "sram"), rel=1e-3)


@pytest.mark.parametrize("retrieval, fragment", [
    ("{from: hots, window: 64}", "did you mean 'host'"),
    ("{from: host, window: 64, top_k: all, scan: 0.1}", "give top_k"),
    ("{from: host, window: 0}", "positive"),
])
def test_bad_retrieval_is_one_line_with_file_line_and_key(tmp_path, retrieval, fragment):
    with pytest.raises(ConfigError) as e:
        _point(tmp_path, placement=f"{{retrieval: {retrieval}}}")
    assert fragment in str(e.value) and "exp.yaml:" in str(e.value)
    assert "workload.placement.retrieval" in str(e.value)


def test_retrieval_leaves_the_kv_placement_to_itself(tmp_path):
    with pytest.raises(ConfigError, match="leave placement.kv"):
        _point(tmp_path, placement="{kv: host, retrieval: {from: host, window: 64, "
                                   "top_k: 128}}")
