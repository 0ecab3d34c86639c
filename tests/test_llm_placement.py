"""Placement of weights, KV and kernels on tiers and PIM units in LLM experiments."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sim.config.errors import ConfigError
from sim.errors import UserError
from sim.llm.point import build_graph
from sim.sweep import plan_experiment

BASE = """\
    name: t
    hardware: {hw}
    workload:
      kind: llm
      model: {model}
      phase: {phase}
      batch: {batch}
      {size}
      placement: {placement}
    """


def _exp(tmp_path: Path, *, hw: str = "h100_duplex", model: str = "llama-3-8b",
         phase: str = "decode", batch: int = 1, placement: str = "{}") -> Path:
    size = "context: 2048" if phase == "decode" else "prompt: 2048"
    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(BASE.format(hw=hw, model=model, phase=phase, batch=batch,
                                             size=size, placement=placement)))
    return p


def _placed(tmp_path: Path, **kw) -> dict:
    _, points = plan_experiment(_exp(tmp_path, **kw))
    _, facts = build_graph(points[0].resolved)
    return {k.split(".", 1)[1]: v for k, v in facts["extras"].items()
            if k.startswith("placed.")}


@pytest.mark.parametrize("placement, fragment", [
    ("{attention: logic_pm}", "did you mean 'logic_pim'"),       # a unit that does not exist
    ("{kv: hostt}", "is not a memory"),                          # a tier that does not exist
    ("{kv: hbm, atention: xpu}", "atention"),                    # a misspelled key
])
def test_bad_placement_is_one_line_with_file_line_and_key(tmp_path, placement, fragment):
    with pytest.raises(ConfigError) as e:
        plan_experiment(_exp(tmp_path, placement=placement))
    msg = str(e.value)
    assert fragment in msg and "exp.yaml:" in msg and "workload.placement" in msg
    assert "\n" not in msg


def test_in_storage_attention_needs_its_kv_in_the_drive(tmp_path):
    with pytest.raises(ConfigError, match="must be there too"):
        plan_experiment(_exp(tmp_path, hw="h100_tiers",
                             placement="{attention: csd, kv: host}"))


def test_a_tier_too_small_says_how_much_is_needed_and_available(tmp_path):
    # llama-3-70b at 16 bits: about 131 GiB of weights against the host tier's 128 GiB
    with pytest.raises(UserError) as e:
        plan_experiment(_exp(tmp_path, hw="h100_tiers", model="llama-3-70b",
                             placement="{weights: host}"))
    msg = str(e.value)
    assert "GiB" in msg and "128.0 GiB" in msg and "host" in msg


def test_auto_puts_memory_bound_decode_on_pim_and_compute_bound_prefill_on_the_xpu(tmp_path):
    auto = "{attention: auto, ffn: auto, projections: auto}"
    decode = _placed(tmp_path, batch=1, placement=auto)
    assert decode["attention"] != "xpu" and decode["ffn"] != "xpu"
    prefill = _placed(tmp_path, phase="prefill", batch=4,
                      placement="{ffn: auto, projections: auto}")
    assert prefill["ffn"] == "xpu" and prefill["projections"] == "xpu"


def test_auto_attention_mha_prefers_bank_pim_gqa_prefers_logic_pim(tmp_path):
    # GQA (8 query heads per KV head): ~8 FLOP/B, Logic-PIM's balance point; MHA: ~1 FLOP/B
    assert _placed(tmp_path, model="llama-3-8b", batch=16,
                   placement="{attention: auto}")["attention"] == "logic_pim"
    assert _placed(tmp_path, model="llama-2-7b", batch=16,
                   placement="{attention: auto}")["attention"] == "bank_pim"


def test_offloaded_kv_reaches_the_xpu_through_the_tier(tmp_path):
    _, points = plan_experiment(_exp(tmp_path, hw="h100_tiers", placement="{kv: host}"))
    g, _ = build_graph(points[0].resolved)
    assert g.bytes_read("host") > 0 and g.bytes_written("host") > 0  # reads and appends
    _, base = plan_experiment(_exp(tmp_path, hw="h100_tiers"))
    g0, _ = build_graph(base[0].resolved)
    # the same bytes move; only where the KV lives differs
    assert g.bytes_read("host") + g.bytes_read("hbm") == g0.bytes_read("hbm")


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["kv_offload.yaml", "papers/duplex_pim.yaml",
                                  "papers/instinfer.yaml", "three_tier.yaml",
                                  "papers/llm_in_a_flash.yaml",
                                  "papers/retrieval_attention.yaml"])
def test_tier_experiments_plan(name):
    """Every point of the shipped tier and PIM experiments resolves before any runs."""
    exp, points = plan_experiment(ROOT / "experiments" / name)
    assert len(points) >= 3


SWITCH = """\
    name: t
    hardware: h100_ddr
    workload:
      kind: llm
      model: llama-3-8b
      precision: fp8
      batch: 1
      context: 128
      switch_from: {tier}
    """


def test_switching_a_model_in_takes_its_weights_over_the_tier_bandwidth(tmp_path):
    from sim.config.xpu import load_xpu
    from sim.llm.point import run, weight_bytes
    from sim.transfer.platform import platform_for_xpu
    from workloads.llm.models import load_model

    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(SWITCH.format(tier="ddr")))
    _, points = plan_experiment(p)
    r = run(points[0].resolved)
    model = load_model("llama-3-8b")
    nbytes = weight_bytes(model) // 2  # fp8: one byte per parameter
    bw = platform_for_xpu(load_xpu("h100_ddr")).memories["ddr"].bandwidth
    expected_ms = nbytes / bw.bytes_per_s(1 << 30, 1.0) * 1e3
    assert r["metrics"]["switch_ms"] == pytest.approx(expected_ms, rel=0.05)
    assert r["metrics"]["runtime_ms"] > r["metrics"]["switch_ms"]


def test_switching_from_a_tier_that_does_not_exist_is_an_error(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(SWITCH.format(tier="dram")))
    with pytest.raises(ConfigError, match="switch_from: 'dram' is not a tier.*it has: ddr"):
        plan_experiment(p)


def test_flash_loading_new_neurons_follow_the_activation_model():
    from workloads.llm.flash_loading import FlashLoading, load_plan, new_neuron_fraction

    # independent tokens (persistence = active fraction): a neuron must be active now and
    # inactive in each of the last w tokens: a (1 - a)^w
    a, w = 0.1, 3
    got = new_neuron_fraction(20000, FlashLoading("windowing", 1 - a, a, w), tokens=200)
    assert got == pytest.approx(a * (1 - a) ** w, rel=0.05)
    # persistent activations need fewer loads; bundling reads the same bytes in runs twice
    # as long; naive reads the whole FFN
    sticky = new_neuron_fraction(20000, FlashLoading("windowing", 1 - a, 0.8, w), tokens=200)
    assert sticky < got
    kw = dict(hidden=64, ffn=4096, bytes_per_element=2, matrices=2)
    win = load_plan(**kw, loading=FlashLoading("windowing", 0.9, 0.5, 5))
    bun = load_plan(**kw, loading=FlashLoading("bundling", 0.9, 0.5, 5))
    naive = load_plan(**kw, loading=FlashLoading("naive", 0.9, 0.5, 5))
    assert win.nbytes == bun.nbytes < naive.nbytes == 2 * 4096 * 64 * 2
    assert bun.run == 2 * win.run == 2 * 64 * 2


def test_flash_loading_needs_a_dense_model_and_a_tier(tmp_path):
    base = """\
        name: t
        hardware: h100_tiers
        workload:
          kind: llm
          model: {model}
          precision: fp8
          batch: 1
          context: 128
          flash_loading: {{mode: bundling, from: {src}}}
        """
    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(base.format(model="mixtral-8x7b", src="ssd")))
    with pytest.raises(ConfigError, match="dense"):
        plan_experiment(p)
    p.write_text(textwrap.dedent(base.format(model="opt-13b", src="sdd")))
    with pytest.raises(ConfigError, match="flash_loading.from"):
        plan_experiment(p)


def test_head_wise_kv_split_moves_each_share_of_the_cache(tmp_path):
    """HeadInfer: 6 of llama-3-8b's 8 KV heads in host memory, 2 in HBM."""
    _, points = plan_experiment(_exp(tmp_path, hw="h100_tiers",
                                     placement="{kv: {hbm: 2, host: 6}}"))
    g, facts = build_graph(points[0].resolved)
    _, base = plan_experiment(_exp(tmp_path, hw="h100_tiers"))
    g0, _ = build_graph(base[0].resolved)
    kv_read = g0.bytes_read("hbm") - g.bytes_read("hbm")
    assert g.bytes_read("host") == kv_read  # what left the HBM is read from the host
    assert facts["extras"]["placed.kv"] == "hbm:2+host:6"
    with pytest.raises(ConfigError, match="holds 7 KV heads"):
        plan_experiment(_exp(tmp_path, hw="h100_tiers", placement="{kv: {hbm: 1, host: 6}}"))
