"""Decoder layers and whole models as task graphs: bytes and FLOPs against closed forms.

Model shapes are written out here from the model cards (not loaded from the YAML files),
so the counts are checked against numbers that do not pass through the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import UserError
from workloads.llm.kv_layout import make_layout
from workloads.llm.layer_graph import add_layer
from workloads.llm.model_graph import decode_step_graph, decode_steps_graph, prefill_graph
from workloads.llm.model_spec import ModelSpec
from workloads.llm.moe_routing import route_tokens, tokens_per_expert
from workloads.llm.taskgraph import TaskGraphBuilder, concat

# meta-llama/Meta-Llama-3-70B config.json
LLAMA3_70B = ModelSpec(name="llama-3-70b", layers=80, hidden=8192, heads=64, kv_heads=8,
                       head_dim=128, ffn=28672, ffn_matrices=3, experts=1, top_k=1,
                       vocab=128256, max_context=8192, bytes_per_element=2)
# mistralai/Mixtral-8x7B-v0.1 config.json
MIXTRAL = ModelSpec(name="mixtral-8x7b", layers=32, hidden=4096, heads=32, kv_heads=8,
                    head_dim=128, ffn=14336, ffn_matrices=3, experts=8, top_k=2, vocab=32000,
                    max_context=32768, bytes_per_element=2)
# small shapes for the step-by-step comparisons (fast to build many times)
TINY_DENSE = ModelSpec(name="tiny", layers=3, hidden=256, heads=8, kv_heads=2, head_dim=32,
                       ffn=512, ffn_matrices=2, experts=1, top_k=1, vocab=1000,
                       max_context=4096, bytes_per_element=2)
TINY_MOE = ModelSpec(name="tiny-moe", layers=2, hidden=256, heads=8, kv_heads=8, head_dim=32,
                     ffn=384, ffn_matrices=3, experts=16, top_k=2, vocab=1000,
                     max_context=4096, bytes_per_element=2)

# one layer's weights by hand: Wq and Wo 8192 x 8192, Wk and Wv 8192 x 1024, three
# 8192 x 28672 FFN matrices
LLAMA3_70B_LAYER_WEIGHTS = 2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672
NON_ATTENTION = ("qkv_proj", "o_proj", "ffn", "moe.router", "moe.experts")


def label_sum(g, labels, field="nbytes", src=None, dst=None):
    t = g.tasks
    ids = [g.labels.index(x) for x in labels if x in g.labels]
    m = np.isin(t["label"], ids)
    if src is not None:
        m &= (t["kind"] == 0) & (t["src"] == g.memories.index(src))
    if dst is not None:
        m &= (t["kind"] == 0) & (t["dst"] == g.memories.index(dst))
    return int(t[field][m].sum())


def contiguous(model):
    return make_layout("contiguous", max_len=model.max_context)


def test_llama_layer_weights_match_the_model_card_shape():
    assert LLAMA3_70B_LAYER_WEIGHTS == LLAMA3_70B.attention_weights() + LLAMA3_70B.ffn_weights()
    # with embeddings and LM head: the 70.6 B parameters the model card lists
    assert LLAMA3_70B.parameters() == pytest.approx(70.55e9, rel=1e-3)


def test_decode_step_reads_every_weight_once_plus_activations():
    m, B = LLAMA3_70B, 4
    g = decode_step_graph(m, np.array([100, 500, 1000, 3000]), layout=contiguous(m))
    # activations read per layer: x into QKV, attention output into Wo, x into the FFN up
    # GEMM, the FFN intermediate into the down GEMM
    acts = B * 2 * (8192 + 64 * 128 + 8192 + 28672)
    assert label_sum(g, NON_ATTENTION, src="hbm") == 80 * (2 * LLAMA3_70B_LAYER_WEIGHTS + acts)
    # written per layer: q (k and v go into the cache inside attention), Wo's output, the
    # FFN intermediate, the FFN output
    assert label_sum(g, NON_ATTENTION, dst="hbm") == 80 * B * 2 * (64 * 128 + 8192 + 28672 + 8192)
    assert label_sum(g, ["lm_head"], src="hbm") == 2 * (8192 * 128256 + B * 8192)


def test_decode_flops_are_twice_the_active_parameters_plus_attention():
    m = LLAMA3_70B
    ctx = np.array([100, 500, 1000, 3000])
    g = decode_step_graph(m, ctx, layout=contiguous(m))
    active = 80 * LLAMA3_70B_LAYER_WEIGHTS + 8192 * 128256  # layers and LM head
    gemm = g.total_flops() - label_sum(g, ["attention"], "flops")
    assert gemm == 2 * len(ctx) * active
    # attention per layer: q.k and p.v, 2 FLOPs per MAC, per query head and attended token
    attention = 80 * 4 * 64 * 128 * int(ctx.sum())
    assert g.total_flops() == pytest.approx(2 * len(ctx) * active + attention, rel=0.01)


def test_mixtral_decode_flops_follow_its_13b_active_parameters():
    """Jiang et al. 2024 (arXiv:2401.04088), Sec. 1: 13B active parameters per token."""
    m, B = MIXTRAL, 8
    g = decode_step_graph(m, np.full(B, 256), layout=contiguous(m), seed=3)
    per_token = (g.total_flops() - label_sum(g, ["attention"], "flops")) / (2 * B)
    assert per_token == pytest.approx(13e9, rel=0.03)
    expert = 32 * (2 * B) * 3 * 4096 * 14336  # every routed (token, expert) pair, all layers
    assert label_sum(g, ["moe.experts"], "flops") == 2 * expert


def test_moe_layer_reads_only_the_experts_that_received_tokens():
    m = MIXTRAL
    b = TaskGraphBuilder()
    attn = b.transfer("hbm", "sram", 64, label="attention")  # a stand-in attention graph
    a = TaskGraphBuilder()
    a.transfer("hbm", "sram", 64, label="attention")
    load = np.array([3, 0, 0, 2, 0, 0, 3, 0])  # 4 tokens x top-2 = 8 routed pairs, 3 experts
    add_layer(b, m, tokens=4, attention=a.build(), deps=[attn], expert_tokens=load)
    g = b.build()
    e = 2
    router = 4096 * 8
    experts = 3 * 3 * 4096 * 14336
    acts = 4 * (4096 + 32 * 128 + 4096) + 8 * (4096 + 14336)  # qkv, o, router; experts
    expected = (m.attention_weights() + router + experts + acts) * e
    assert label_sum(g, NON_ATTENTION, src="hbm") == expected
    assert label_sum(g, ["moe.experts"], "flops") == 2 * 8 * 3 * 4096 * 14336
    assert label_sum(g, ["moe.router"], "flops") == 2 * 4 * 4096 * 8


def test_prefill_counts_weights_once_and_gemm_flops_exactly():
    m, B, L = LLAMA3_70B, 2, 256
    g = prefill_graph(m, B, L, sram_bytes=228 * 1024)
    T = B * L
    gemm = g.total_flops() - label_sum(g, ["attention"], "flops")
    # every layer on every prompt token; the LM head on each prompt's last token
    assert gemm == 2 * T * 80 * LLAMA3_70B_LAYER_WEIGHTS + 2 * B * 8192 * 128256
    acts = T * 2 * (8192 + 64 * 128 + 8192 + 28672)
    assert label_sum(g, NON_ATTENTION, src="hbm") == 80 * (2 * LLAMA3_70B_LAYER_WEIGHTS + acts)
    # prefill writes q, k and v (the cache) from the QKV projection
    assert label_sum(g, ["qkv_proj"], dst="hbm") == 80 * T * 2 * (64 + 16) * 128
    # causal attention: at least the lower triangle's q.k and p.v, at most the full square
    attn = label_sum(g, ["attention"], "flops")
    triangle = 80 * 4 * B * 64 * 128 * L * (L + 1) // 2
    assert triangle <= attn <= 1.1 * 80 * 4 * B * 64 * 128 * L * L


def test_layers_follow_one_another():
    m = TINY_DENSE
    g = decode_step_graph(m, np.array([5, 9]), layout=contiguous(m))
    # one source kernel (the first QKV projection's activation and first weight reads) and
    # one sink (the logits): nothing runs outside the chain of kernels
    assert g.sources().tolist() == [0, 1]
    assert g.sinks().tolist() == [g.n - 1]
    assert g.labels[g.tasks["label"][-1]] == "lm_head"


@pytest.mark.parametrize("model,layout,kw", [
    (TINY_DENSE, {"kind": "paged", "block_tokens": 16}, {"retained": 0.7}),
    (TINY_DENSE, {"kind": "contiguous"}, {"kv_bits": 4, "shared_prefix": 2}),
    (TINY_MOE, {"kind": "virtual", "page_bytes": 4096}, {"expert_skew": 1.2}),
])
def test_tiled_steps_equal_steps_built_one_by_one(model, layout, kw):
    lay = make_layout(layout, max_len=model.max_context)
    ctx = np.array([14, 15, 16, 31, 40, 3])  # block and page boundaries crossed on the way
    steps = 5
    tiled = decode_steps_graph(model, ctx, steps, layout=lay, seed=7, **kw)
    one_by_one = concat([decode_step_graph(model, ctx + k, layout=lay, seed=7, step=k, **kw)
                         for k in range(steps)])
    assert (tiled.memories, tiled.units, tiled.labels) == \
        (one_by_one.memories, one_by_one.units, one_by_one.labels)
    assert np.array_equal(tiled.tasks, one_by_one.tasks)
    assert np.array_equal(tiled.dep_ptr, one_by_one.dep_ptr)
    assert np.array_equal(tiled.dep_idx, one_by_one.dep_idx)
    # and the steps really differ: attention bytes grow with the contexts; a mixture of
    # experts (12 picks over 16 experts) activates a different number of experts
    per_step = tiled.tasks.reshape(steps, -1)
    attention = per_step["label"] == tiled.labels.index("attention")
    kv = np.where(attention, per_step["nbytes"], 0).sum(axis=1)
    assert np.all(np.diff(kv) > 0)
    if model.experts > 1:
        experts = per_step["label"] == tiled.labels.index("moe.experts")
        assert len(np.unique(np.where(experts, per_step["nbytes"], 0).sum(axis=1))) > 1


def test_routing_is_deterministic_and_conserves_tokens():
    a = route_tokens(500, 8, 2, skew=0.8, seed=(4, 2), layers=3)
    assert np.array_equal(a, route_tokens(500, 8, 2, skew=0.8, seed=(4, 2), layers=3))
    assert not np.array_equal(a, route_tokens(500, 8, 2, skew=0.8, seed=(4, 3), layers=3))
    assert a.shape == (3, 500, 2)
    assert np.all(a[..., 0] != a[..., 1])  # a token's experts are distinct
    counts = tokens_per_expert(a, 8)
    assert counts.sum(axis=1).tolist() == [1000] * 3
    for layer in range(3):
        ids, n = np.unique(a[layer], return_counts=True)
        expected = np.zeros(8, np.int64)
        expected[ids] = n
        assert np.array_equal(counts[layer], expected)


def test_uniform_router_spreads_tokens_evenly():
    counts = tokens_per_expert(route_tokens(40_000, 8, 2, skew=0.0, seed=1), 8)
    assert np.allclose(counts / counts.sum(), 1 / 8, rtol=0.05)


def test_skewed_router_follows_zipf_popularity():
    # top_k = 1: each token picks one expert with probability proportional to rank**-skew
    counts = tokens_per_expert(route_tokens(40_000, 8, 1, skew=1.0, seed=2), 8)
    zipf = 1 / np.arange(1, 9)
    assert np.allclose(np.sort(counts)[::-1] / counts.sum(), zipf / zipf.sum(), rtol=0.1)


def test_bad_contexts_are_user_errors():
    lay = contiguous(TINY_DENSE)
    with pytest.raises(UserError, match="maximum context"):
        decode_steps_graph(TINY_DENSE, np.array([4000]), 200, layout=lay)
    with pytest.raises(UserError, match=">= 1"):
        decode_step_graph(TINY_DENSE, np.array([0, 5]), layout=lay)
    with pytest.raises(UserError, match="maximum context"):
        prefill_graph(TINY_DENSE, 1, 5000, sram_bytes=1 << 20)
