"""Decode attention and KV layouts: checked against closed forms and vLLM's measured band.

Expected values here are derived by hand from the algorithm (see each test), never taken
from a run of the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import UserError
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.context_lengths import (
    context_lengths,
    contexts_from_csv,
    fixed_contexts,
    lognormal_contexts,
    uniform_contexts,
)
from workloads.llm.decode_attention import (
    decode_attention,
    decode_attention_metrics,
)
from workloads.llm.kv_layout import (
    check_kv_fits,
    geometry_of,
    kv_batch,
    make_layout,
    max_batch,
)
from workloads.llm.model_spec import ModelSpec
from workloads.llm.taskgraph import TRANSFER

# vLLM (Kwon et al., SOSP 2023, Fig. 2): 20.4%-38.2% of KV memory held token states in
# systems that reserve each request's maximum length.
VLLM_BAND = (0.204, 0.382)

# a Llama-2-7B-shaped model: 32 layers, 32 heads (MHA), head_dim 128, FP16
LLAMA7 = ModelSpec(name="llama7-like", layers=32, hidden=4096, heads=32, kv_heads=32,
                   head_dim=128, ffn=11008, ffn_matrices=3, experts=1, top_k=1, vocab=32000,
                   max_context=4096, bytes_per_element=2)


def shape(batch: int, heads: int, kv_heads: int, d: int = 128, bpe: int = 2) -> AttentionShape:
    return AttentionShape(batch=batch, heads=heads, seq_q=1, seq_kv=0, head_dim=d,
                          kv_heads=kv_heads, bytes_per_element=bpe)


# --- intensity ----------------------------------------------------------------------
# Per request, query head and context token (head dim d): q.k is d MACs, p.v is d MACs,
# 2 FLOPs per MAC -> 4d, plus 5 softmax FLOPs per score; d divisions per query head.
# Per KV head and token the cache supplies K and V: 2 d P bytes (P bytes per element).
# MHA (one query head per KV head), long context: intensity -> (4d + 5) / (2 d P), which is
# 2/P up to the softmax term 5/(4d); a GQA group of g query heads shares each KV read, so
# FLOPs grow g-fold per byte.


def hand_intensity(B: int, Hq: int, Hkv: int, d: int, P: int, n: int) -> float:
    flops = B * Hq * (n * (4 * d + 5) + d)
    kv = B * Hkv * 2 * n * d * P  # K and V read
    append = B * Hkv * 2 * d * P
    qo = 2 * B * Hq * d * P
    return flops / (kv + append + qo)


@pytest.mark.parametrize("bpe", [2, 4])
def test_mha_intensity_is_two_over_bytes_per_element(bpe):
    B, H, d, n = 4, 32, 128, 8192
    layout = make_layout({"kind": "contiguous"}, max_len=n)
    m = decode_attention_metrics(shape(B, H, H, d, bpe), fixed_contexts(B, n), layout=layout)
    assert m.intensity == pytest.approx(hand_intensity(B, H, H, d, bpe, n), rel=1e-12)
    # 2/P within the softmax share 5/(4d) ~ 1% and the q/o/append bytes
    assert m.intensity == pytest.approx(2 / bpe, rel=0.015)


@pytest.mark.parametrize("kv_heads", [8, 4, 1])
def test_gqa_and_mqa_intensity_scale_with_group_size(kv_heads):
    B, H, d, n = 4, 32, 128, 8192
    group = H // kv_heads
    layout = make_layout({"kind": "paged", "block_tokens": 16}, max_len=n)
    m = decode_attention_metrics(shape(B, H, kv_heads, d), fixed_contexts(B, n), layout=layout)
    # block-table reads (4 B per 16 tokens per KV head, vs 2*16*d*P KV bytes) are 0.05%
    assert m.intensity == pytest.approx(hand_intensity(B, H, kv_heads, d, 2, n), rel=1e-3)
    assert m.intensity == pytest.approx(group * 2 / 2, rel=0.02)


def test_flops_and_bytes_counted_exactly():
    # 3 requests, 8 query heads, 2 KV heads, d = 16, FP16, contexts 5, 20, 100
    c = np.array([5, 20, 100])
    layout = make_layout({"kind": "contiguous"}, max_len=128)
    m = decode_attention_metrics(shape(3, 8, 2, 16), c, layout=layout)
    assert m.flops == 8 * sum(n * (4 * 16 + 5) + 16 for n in c)
    assert m.q_bytes == m.out_bytes == 3 * 8 * 16 * 2
    assert m.kv_read_bytes == 2 * 2 * 16 * 2 * 125  # K and V, 2 KV heads, 125 tokens
    assert m.kv_append_bytes == 3 * 2 * 2 * 16 * 2
    assert m.block_table_bytes == 0
    paged = decode_attention_metrics(shape(3, 8, 2, 16), c,
                                     layout=make_layout({"kind": "paged", "block_tokens": 16}))
    # blocks: ceil(5/16) + ceil(20/16) + ceil(100/16) = 1 + 2 + 7, per KV head, 4 B each
    assert paged.block_table_bytes == 10 * 2 * 4


# --- KV utilisation -----------------------------------------------------------------


@pytest.mark.parametrize("dist", ["uniform-quarter", "lognormal-quarter", "lognormal-third"])
def test_contiguous_reservation_lands_in_vllm_band(dist):
    max_len = 2048
    if dist == "uniform-quarter":
        c = uniform_contexts(512, 1, max_len // 2 - 1, seed=1)  # mean 512 = max/4
    elif dist == "lognormal-quarter":
        c = lognormal_contexts(512, max_len / 4, high=max_len, sigma=1.0, seed=2)
    else:
        c = lognormal_contexts(512, max_len / 3, high=max_len, sigma=0.8, seed=3)
    layout = make_layout({"kind": "contiguous"}, max_len=max_len)
    u = layout.usage(kv_batch(c), geometry_of(LLAMA7))
    # by hand: every request reserves max_len tokens, so utilisation = mean / max_len
    assert u.utilisation == pytest.approx(c.mean() / max_len, rel=1e-12)
    assert VLLM_BAND[0] <= u.utilisation <= VLLM_BAND[1]


def test_paging_wastes_under_one_block_per_sequence():
    block = 16
    geom = geometry_of(LLAMA7)
    c = uniform_contexts(300, 1, 4096, seed=4)
    u = make_layout({"kind": "paged", "block_tokens": block}).usage(kv_batch(c), geom)
    # one block of one layer's K (or V) pool holds block x kv_heads x head_dim x 2 B
    block_bytes = block * 32 * 128 * 2
    own = c * geom.token_bytes
    waste = u.per_request_allocated - own
    assert np.all(waste >= 0)
    assert np.all(waste < 2 * LLAMA7.layers * block_bytes)  # per layer, per K and V
    assert np.array_equal(u.per_request_allocated, -(-c // block) * block * geom.token_bytes)
    assert u.utilisation > 0.99  # mean 2048 tokens, < 16 wasted


def test_virtual_wastes_under_one_page_per_buffer():
    page = 64 << 10
    geom = geometry_of(LLAMA7)
    c = uniform_contexts(200, 1, 4096, seed=5)
    layout = make_layout({"kind": "virtual", "page_bytes": "64 KiB"}, max_len=4096)
    u = layout.usage(kv_batch(c), geom)
    per_buffer = c * 32 * 128 * 2  # one request's tokens in one layer's K buffer
    assert np.array_equal(u.per_request_allocated,
                          2 * 32 * (-(-per_buffer // page)) * page)
    waste = u.per_request_allocated - c * geom.token_bytes
    assert np.all((waste >= 0) & (waste < 2 * LLAMA7.layers * page))


def test_paged_blocks_are_scattered_and_disjoint():
    s = shape(5, 4, 2, 16)
    c = np.array([3, 40, 17, 64, 1])
    layout = make_layout({"kind": "paged", "block_tokens": 8})
    b, geom = kv_batch(c), geometry_of(s)
    amap = layout.address_map(b, geom, seed=7)
    runs = amap.runs
    ends = runs["addr"] + runs["nbytes"]
    order = np.argsort(runs["addr"])
    assert np.all(runs["addr"][order][1:] >= ends[order][:-1])  # no overlap
    assert runs["addr"].min() >= 0 and ends.max() <= amap.extent
    # K blocks of head 0 in logical order are not in address order (scattered)...
    k0 = runs[(runs["kv"] == 0) & (runs["head"] == 0)]
    assert not np.all(np.diff(k0["addr"]) > 0)
    # ... and a different seed places them differently; the same seed, identically
    again = layout.address_map(b, geom, seed=7).runs
    other = layout.address_map(b, geom, seed=8).runs
    assert np.array_equal(again, runs) and not np.array_equal(other["addr"], runs["addr"])
    # one block-table entry per block, the same entry for K and V
    assert len(np.unique(runs["table_addr"])) == int(np.sum(-(-c // 8)))


# --- shared prefix, quantised KV, eviction ---------------------------------------------


@pytest.mark.parametrize("kind", ["contiguous", "paged", "virtual"])
def test_shared_prefix_read_once_per_batch(kind):
    B, Hq, Hkv, d, P, prefix, block = 6, 8, 2, 64, 2, 32, 16
    c = np.array([40, 100, 57, 33, 200, 64])
    layout = make_layout({"kind": kind, "block_tokens": block} if kind == "paged"
                         else {"kind": kind}, max_len=256)
    s = shape(B, Hq, Hkv, d, P)
    without = decode_attention_metrics(s, c, layout=layout)
    shared = decode_attention_metrics(s, c, layout=layout, shared_prefix=prefix)
    prefix_kv = 2 * Hkv * prefix * d * P  # K and V of the prefix, all KV heads
    saved = (B - 1) * prefix_kv
    if kind == "paged":  # the prefix is block-aligned: its table entries are read once too
        saved += (B - 1) * Hkv * (prefix // block) * 4
    assert shared.hbm_bytes_read == without.hbm_bytes_read - saved
    assert shared.flops == without.flops  # every query still attends to the prefix
    assert shared.kv_token_bytes == without.kv_token_bytes - (B - 1) * prefix_kv  # stored once
    for gran in ("kernel", "tile"):
        g = decode_attention(s, c, layout=layout, shared_prefix=prefix, granularity=gran)
        assert g.bytes_read("hbm") == without.hbm_bytes_read - saved


def test_kv_bits_and_retained_scale_kv_bytes():
    s = shape(4, 8, 8, 128)
    c = np.array([100, 256, 1000, 2048])
    layout = make_layout({"kind": "contiguous"}, max_len=2048)
    full = decode_attention_metrics(s, c, layout=layout)
    int8 = decode_attention_metrics(s, c, layout=layout, kv_bits=8)
    int4 = decode_attention_metrics(s, c, layout=layout, kv_bits=4)
    half = decode_attention_metrics(s, c, layout=layout, retained=0.5)
    assert 2 * int8.kv_read_bytes == full.kv_read_bytes
    assert 2 * int8.kv_token_bytes == full.kv_token_bytes
    assert 4 * int4.kv_read_bytes == full.kv_read_bytes
    assert 2 * half.kv_read_bytes == full.kv_read_bytes  # even contexts: exact halves
    assert 2 * half.kv_token_bytes == full.kv_token_bytes
    odd = decode_attention_metrics(s, np.array([7, 9, 11, 13]), layout=layout, retained=0.5)
    # ceil(n / 2) tokens kept: 4 + 5 + 6 + 7 = 22 of 40, K and V, 8 heads, 256 B each
    assert odd.kv_read_bytes == 22 * 2 * 8 * 256
    # 6 bits of a 128-element head: 96 B, not 96.0 rounded per element
    assert decode_attention_metrics(s, c, layout=layout, kv_bits=6).kv_read_bytes == \
        full.kv_read_bytes * 96 // 256
    tenth = decode_attention_metrics(s, np.array([10, 20, 30, 40]), layout=layout,
                                     retained=0.7)
    assert tenth.kv_read_bytes == (7 + 14 + 21 + 28) * 2 * 8 * 256  # no float ceil creep


# --- the two granularities ------------------------------------------------------------


def _label_bytes(g):
    out = {}
    for t in g.tasks:
        key = g.labels[t["label"]]
        out[key] = out.get(key, 0) + int(t["nbytes"] if t["kind"] == TRANSFER else t["flops"])
    return out


@pytest.mark.parametrize("kind", ["contiguous", "paged", "virtual"])
@pytest.mark.parametrize("variant", [{}, {"shared_prefix": 8}, {"kv_bits": 4},
                                     {"retained": 0.5}])
def test_tile_and_kernel_give_identical_totals(kind, variant):
    s = shape(5, 8, 2, 32)
    c = np.array([9, 70, 33, 128, 150])
    params = {"kind": kind, "block_tokens": 16} if kind == "paged" else \
        {"kind": kind, "page_bytes": 4096} if kind == "virtual" else {"kind": kind}
    layout = make_layout(params, max_len=160)
    m = decode_attention_metrics(s, c, layout=layout, **variant)
    kern = decode_attention(s, c, layout=layout, granularity="kernel", **variant)
    tile = decode_attention(s, c, layout=layout, granularity="tile", places=3, **variant)
    for g in (kern, tile):
        assert g.bytes_read("hbm") == m.hbm_bytes_read
        assert g.bytes_written("hbm") == m.hbm_bytes_written
        assert g.total_flops() == m.flops
        assert set(g.memories) == {"hbm", "sram"} and g.units == ("tensor",)
    assert _label_bytes(kern) == _label_bytes(tile)
    assert set(tile.tasks["place"]) == {0, 1, 2}
    assert kern.n < 60 < tile.n


def test_tile_graph_is_deterministic_and_addressed():
    s = shape(3, 4, 2, 16)
    c = np.array([20, 45, 8])
    layout = make_layout({"kind": "paged", "block_tokens": 8})
    a = decode_attention(s, c, layout=layout, granularity="tile", seed=3)
    b = decode_attention(s, c, layout=layout, granularity="tile", seed=3)
    assert np.array_equal(a.tasks, b.tasks) and np.array_equal(a.dep_idx, b.dep_idx)
    reads = a.tasks[(a.tasks["label"] == a.labels.index("attn.kv_read"))]
    # every block read is one block of one KV head (or the filled part of the last one)
    assert np.all(reads["nbytes"] <= 8 * 16 * 2)
    assert len(np.unique(reads["src_addr"])) == len(reads)


# --- fitting in HBM -----------------------------------------------------------------


def test_max_batch_by_hand():
    # LLaMA-7B shape: 2 (K,V) x 32 layers x 32 heads x 128 x 2 B = 512 KiB per token
    token = 2 * 32 * 32 * 128 * 2
    assert geometry_of(LLAMA7).token_bytes == token
    free = 10 << 30
    contiguous = make_layout({"kind": "contiguous"}, max_len=4096)
    assert max_batch(LLAMA7, free, contiguous, np.array([1000])) == free // (4096 * token)
    paged = make_layout({"kind": "paged", "block_tokens": 16})
    assert max_batch(LLAMA7, free, paged, np.array([1000])) == free // (1008 * token)
    # alternating 16 and 48 tokens: pairs of 64 tokens, then one more 16
    mixed = max_batch(LLAMA7, 65 * 16 * token // 16 * 16, paged, np.array([16, 48]))
    assert mixed == 2 * (65 * 16 // 64) + 1


def test_batch_that_does_not_fit_names_needed_and_free():
    layout = make_layout({"kind": "contiguous"}, max_len=4096)
    need = 64 * 4096 * 2 * 32 * 32 * 128 * 2
    with pytest.raises(UserError) as e:
        check_kv_fits(LLAMA7, 20 << 30, layout, fixed_contexts(64, 500))
    msg = str(e.value)
    assert "KV cache needs 128.00 GiB" in msg and f"({need} B)" in msg
    assert "64 requests" in msg and "20.00 GiB" in msg and "free after weights" in msg
    assert "\n" not in msg
    with pytest.raises(UserError, match="weights alone exceed HBM"):
        check_kv_fits(LLAMA7, -5, layout, fixed_contexts(1, 10))
    u = check_kv_fits(LLAMA7, 80 << 30, make_layout({"kind": "paged"}), fixed_contexts(64, 500))
    assert u.allocated_bytes == 64 * 512 * 2 * 32 * 32 * 128 * 2


# --- context lengths --------------------------------------------------------------------


def test_context_distributions_are_seeded_and_bounded():
    a = uniform_contexts(1000, 10, 20, seed=9)
    assert np.array_equal(a, uniform_contexts(1000, 10, 20, seed=9))
    assert a.dtype == np.int64 and a.min() == 10 and a.max() == 20
    ln = lognormal_contexts(20000, 700.0, high=4096, sigma=1.2, seed=1)
    assert ln.min() >= 1 and ln.max() <= 4096
    assert ln.mean() == pytest.approx(700, rel=0.03)
    assert np.array_equal(ln, lognormal_contexts(20000, 700.0, high=4096, sigma=1.2, seed=1))
    spec = context_lengths({"kind": "lognormal", "mean": 300, "max": 1024, "seed": 4},
                           batch=8, max_len=1024)
    assert np.array_equal(spec, lognormal_contexts(8, 300.0, high=1024, seed=4))
    assert np.array_equal(context_lengths(77, batch=3), [77, 77, 77])


def test_csv_lengths(tmp_path):
    f = tmp_path / "lens.csv"
    f.write_text("context_len\n12\n\n# a comment\n300\n7\n")
    assert np.array_equal(contexts_from_csv(f), [12, 300, 7])
    assert np.array_equal(context_lengths({"kind": "csv", "path": "lens.csv"}, batch=2,
                                          base_dir=tmp_path), [12, 300])
    bad = tmp_path / "bad.csv"
    bad.write_text("12\n300\nlots\n")
    with pytest.raises(UserError, match=rf"^{bad}:3: .*'lots'"):
        contexts_from_csv(bad)
    two = tmp_path / "two.csv"
    two.write_text("len\n5,6\n")
    with pytest.raises(UserError, match=rf"^{two}:2: expected one column"):
        contexts_from_csv(two)
    neg = tmp_path / "neg.csv"
    neg.write_text("5\n-3\n")
    with pytest.raises(UserError, match=rf"^{neg}:2: .*at least 1"):
        contexts_from_csv(neg)


# --- bad input ------------------------------------------------------------------------


def test_context_beyond_max_names_request_and_lengths(tmp_path):
    layout = make_layout({"kind": "paged"}, max_len=4096)
    with pytest.raises(UserError, match=r"request 2 has a context of 5000 tokens, beyond "
                                        r"the model's maximum of 4096"):
        decode_attention(shape(3, 8, 8), np.array([10, 20, 5000]), layout=layout)
    f = tmp_path / "long.csv"
    f.write_text("100\n9000\n")
    with pytest.raises(UserError, match="request 1 has a context of 9000 tokens.* 4096"):
        context_lengths({"kind": "csv", "path": str(f)}, max_len=4096)


@pytest.mark.parametrize("bad, match", [
    (dict(s=shape(2, 12, 5)), r"heads \(12\) must be a multiple of kv_heads \(5\)"),
    (dict(s=shape(2, 8, 8, d=0)), "head_dim must be a positive"),
    (dict(s=shape(2, 0, 0)), "heads must be a positive"),
    (dict(s=shape(3, 8, 8)), "batch 3 but 2 context lengths"),
    (dict(c=np.array([4, 0])), "request 1 has a context of 0 tokens"),
    (dict(c=np.array([4, -2])), "request 1 has a context of -2 tokens"),
    (dict(kv_bits=0), "kv_bits"), (dict(kv_bits=17), "kv_bits"),
    (dict(retained=0.0), "retained"), (dict(retained=1.5), "retained"),
    (dict(shared_prefix=-1), "shared_prefix"),
    (dict(shared_prefix=4), "shorter than every context"),
    (dict(granularity="warp"), "granularity"), (dict(places=0), "places"),
])
def test_bad_decode_inputs(bad, match):
    s = bad.pop("s", shape(2, 8, 8))
    c = bad.pop("c", np.array([4, 9]))
    with pytest.raises(UserError, match=match):
        decode_attention(s, c, layout=make_layout({"kind": "paged"}), **bad)


@pytest.mark.parametrize("params, match", [
    ({"kind": "ring"}, r"kv_layout\.kind: expected one of contiguous, paged, virtual"),
    ({"kind": "paged", "block_tokens": 0}, r"kv_layout\.block_tokens: must be positive"),
    ({"kind": "paged", "block_tokens": -16}, r"block_tokens: must be positive"),
    ({"kind": "paged", "block_tokens": 1.5}, r"block_tokens: expected a whole number"),
    ({"kind": "virtual", "page_bytes": 0}, r"page_bytes: must be positive"),
    ({"kind": "virtual", "page_bytes": "lots"}, r"kv_layout\.page_bytes"),
    ({"kind": "contiguous", "max_len": 0}, r"max_len: must be positive"),
    ({"kind": "contiguous", "max_len": 9000}, r"max_len: 9000 tokens is beyond"),
    ({"kind": "paged", "page_bytes": 4096}, r"page_bytes: not a parameter of the paged"),
])
def test_bad_layout_params(params, match):
    with pytest.raises(UserError, match=match):
        make_layout(params, max_len=4096)


def test_contiguous_needs_a_maximum():
    with pytest.raises(UserError, match="contiguous layout reserves max_len"):
        make_layout({"kind": "contiguous"})
    assert math.isclose(make_layout({"kind": "virtual", "page_bytes": "2 MiB"}).page_bytes,
                        2 << 20)
