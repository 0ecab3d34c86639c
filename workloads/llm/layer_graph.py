"""One decoder layer as a task graph: projections, attention, FFN or mixture of experts.

A layer is a sequence of kernels, each starting when the previous one has ended (a GPU
runs a layer's kernels in stream order):

    qkv_proj    x (tokens x hidden) @ [Wq Wk Wv] -> q, k, v (tokens x (heads + 2 kv_heads)
                x head_dim). Prefill writes all three to HBM (k and v are the new tokens'
                KV-cache entries; FlashAttention reads q, k, v from HBM). Decode writes q
                only: decode_attention.py takes k and v from SRAM and writes them into the
                cache itself (its "kv_append"), so they are not counted twice.
    attention   the given attention graph (decode: over the KV cache; prefill: causal
                FlashAttention), reading q and the cache, writing o.
    o_proj      o (tokens x heads x head_dim) @ Wo -> tokens x hidden.
    ffn         dense: up (gate and up fused for a gated FFN; the activation and the gate
                product in the epilogue) -> tokens x ffn, then down -> tokens x hidden.
    moe.router  x @ Wr -> tokens x experts logits (the top-k pick is in the epilogue).
    moe.experts grouped GEMMs over the routed (token, expert) pairs: up (gathers the
                routed rows, tokens x top_k x hidden) -> tokens x top_k x ffn, then down
                -> tokens x hidden (the weighted combine of a token's top_k outputs is
                fused into the down GEMM's epilogue). Only experts that received at least
                one token have their weights read.

Each projection is one GEMM kernel: the input activations are read from HBM into SRAM
(label of the kernel), the weights stream from HBM in ``weight_chunks`` pipelined chunks
(chunk i+1's transfer follows chunk i's, and chunk i's FLOPs on the tensor unit need chunk
i and the FLOPs of chunk i-1), and the output is written back to HBM after the last chunk.

Counting (exact for what is modelled): a GEMM of m x k by k x n does 2 m k n FLOPs and moves
each operand once: m k + k n elements read, m n written, at ``bytes_per_element``. That is
the minimum traffic; a real tiling at prefill sizes re-reads some operand tiles, which is
not counted. Left out: the RMSNorms, residual adds, rotary embedding, the FFN activation
(all elementwise and fused into the neighbouring kernels: their FLOPs are not counted and
their weights, hidden elements per norm, are not read), the embedding lookup (one row per
token) and dropout (inference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workloads.llm.model_spec import ModelSpec
from workloads.llm.placement import (
    HBM,
    XPU_NAMES,
    LayerPlacement,
    PlaceNames,
    place_names,
)
from workloads.llm.taskgraph import TaskGraph, TaskGraphBuilder

WEIGHT_CHUNKS = 4  # pipelined weight chunks per GEMM: overlap of streaming and FLOPs


def split_evenly(total: np.ndarray | int, parts: int) -> np.ndarray:
    """``total`` split into ``parts`` integers that differ by at most one, larger first.

    Works elementwise on an array of totals: the result has a trailing axis of ``parts``.
    """
    total = np.asarray(total, np.int64)
    base, rem = np.divmod(total, parts)
    return base[..., None] + (np.arange(parts) < rem[..., None])


@dataclass
class GemmTasks:
    """Ids of one GEMM kernel's tasks."""

    act_read: int
    weight_reads: list[int]
    computes: list[int]
    out_write: int


def add_gemm(b: TaskGraphBuilder, *, label: str, deps: list[int], act_bytes: int,
             act_run: int, weight_bytes: int, weight_run: int, flops: int, out_bytes: int,
             chunks: int = WEIGHT_CHUNKS, weights_from: str = HBM,
             place: PlaceNames = XPU_NAMES, weight_deps: list[int] | None = None) -> GemmTasks:
    """One GEMM kernel (see the module docstring); ``*_run``: contiguous bytes per run.

    ``weights_from``: the memory the weights stream from; ``place``: where the kernel runs
    (its buffer and unit, workloads/llm/placement.py); ``weight_deps``: what the first
    weight read waits for besides ``deps`` (a prefetch of the weights into HBM).
    """
    chunks = max(1, min(chunks, weight_bytes))
    w_parts = split_evenly(weight_bytes, chunks)
    f_parts = split_evenly(flops, chunks)
    act = b.transfer(HBM, place.buffer, act_bytes, chunk=min(act_run, act_bytes), deps=deps,
                     label=label)
    weights: list[int] = []
    computes: list[int] = []
    for i in range(chunks):
        w_deps = deps + (weight_deps or []) if i == 0 else [weights[-1]]
        nbytes = int(w_parts[i])
        weights.append(b.transfer(weights_from, place.buffer, nbytes,
                                  chunk=min(weight_run, nbytes), deps=w_deps, label=label))
        c_deps = [act, weights[-1]] if i == 0 else [weights[-1], computes[-1]]
        computes.append(b.compute(place.unit, int(f_parts[i]), deps=c_deps, label=label))
    out = b.transfer(place.buffer, HBM, out_bytes, deps=[computes[-1]], label=label)
    return GemmTasks(act, weights, computes, out)


@dataclass
class ExpertGroup:
    """The experts [lo, hi) one place serves, and the ids of their weight reads."""

    lo: int
    hi: int
    up_reads: list[int]
    down_reads: list[int]


@dataclass
class LayerTasks:
    """Where one layer's tasks sit in the builder (what decode_steps_graph adjusts)."""

    attention_start: int  # first task id of the attention graph
    attention_count: int
    expert_groups: list[ExpertGroup] = field(default_factory=list)
    sinks: list[int] = field(default_factory=list)
    prefetches: list[int] = field(default_factory=list)  # copies of weights and KV into HBM


def expert_weight_bytes(model: ModelSpec) -> tuple[int, int]:
    """Bytes of one expert's up (gate and up for a gated FFN) and down matrices."""
    per_matrix = model.hidden * model.ffn * model.bytes_per_element
    return (model.ffn_matrices - 1) * per_matrix, per_matrix


def layer_weight_bytes(model: ModelSpec) -> int:
    """Bytes of one decoder layer's weights (projections, router, FFN or all experts)."""
    e, h, d = model.bytes_per_element, model.hidden, model.head_dim
    attn = h * (model.heads + 2 * model.kv_heads) * d * e + model.heads * d * h * e
    up, down = expert_weight_bytes(model)
    router = h * model.experts * e if model.experts > 1 else 0
    return attn + router + model.experts * (up + down)


def expert_ranges(experts: int, shares: list[int]) -> list[tuple[int, int]]:
    """Consecutive expert ranges of the given sizes (a share of 0: all experts)."""
    if len(shares) == 1 and shares[0] == 0:
        return [(0, experts)]
    bounds = np.concatenate([[0], np.cumsum(shares)])
    if bounds[-1] != experts:
        raise ValueError(f"expert shares {shares} do not add up to {experts} experts")
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def add_layer(b: TaskGraphBuilder, model: ModelSpec, *, tokens: int, attention: TaskGraph,
              deps: list[int], expert_tokens: np.ndarray | None = None,
              qkv_writes_kv: bool = True, weight_chunks: int = WEIGHT_CHUNKS,
              placement: LayerPlacement | None = None,
              prefetch_deps: list[int] | None = None) -> LayerTasks:
    """Append one decoder layer processing ``tokens`` tokens after the tasks ``deps``.

    ``attention``: the layer's attention graph for these tokens. ``expert_tokens``: for a
    mixture of experts, how many tokens each expert received (moe_routing); ignored for a
    dense FFN. ``qkv_writes_kv``: whether the QKV projection writes k and v to HBM (False
    when the attention graph appends them to the cache itself, as decode's does).
    ``placement``: where the weights are and where the kernels run (placement.py; default:
    all in HBM on the xPU). With ``placement.prefetch``, weights outside HBM are copied
    into HBM by one task (labelled ``weights_prefetch``) that starts after
    ``prefetch_deps`` (the start of the previous layer and its copies: two layers are
    staged at a time), and so are prefetched pieces of the attention's KV (the sources of
    ``attention`` labelled ``kv_prefetch``).
    """
    lp = placement or LayerPlacement()
    e = model.bytes_per_element
    h, d = model.hidden, model.head_dim
    qkv_width = (model.heads + 2 * model.kv_heads) * d
    row = h * e  # one token's hidden vector: the contiguous run of activation reads
    written = qkv_width if qkv_writes_kv else model.heads * d
    proj = place_names(lp.projections)
    wk = dict(chunks=weight_chunks, weights_from=lp.weights)
    prefetches: list[int] = []
    if lp.prefetch and lp.weights != HBM:
        # one copy of the layer's weights in runs of its smallest matrix (Wo)
        prefetches.append(b.transfer(lp.weights, HBM, layer_weight_bytes(model),
                                     chunk=model.heads * d * h * e, deps=prefetch_deps or [],
                                     label="weights_prefetch"))
        wk = dict(chunks=weight_chunks, weights_from=HBM, weight_deps=prefetches[:1])
    qkv = add_gemm(b, label="qkv_proj", deps=deps, act_bytes=tokens * row, act_run=row,
                   weight_bytes=h * qkv_width * e, weight_run=h * qkv_width * e,
                   flops=2 * tokens * h * qkv_width, out_bytes=tokens * written * e,
                   place=proj, **wk)
    start = len(b)
    early = np.flatnonzero(np.array([lb == "kv_prefetch" for lb in attention.labels])
                           [attention.tasks["label"]])
    early = np.intersect1d(early, attention.sources())
    attn_sinks = b.add_graph(attention, deps=[qkv.out_write],
                             outside={int(i): prefetch_deps or [] for i in early})
    prefetches += [start + int(i) for i in early]
    o_width = model.heads * d
    o = add_gemm(b, label="o_proj", deps=[int(s) for s in attn_sinks],
                 act_bytes=tokens * o_width * e, act_run=o_width * e,
                 weight_bytes=o_width * h * e, weight_run=o_width * h * e,
                 flops=2 * tokens * o_width * h, out_bytes=tokens * row, place=proj, **wk)
    layer = LayerTasks(start, attention.n, prefetches=prefetches)
    up_bytes, down_bytes = expert_weight_bytes(model)
    if model.experts == 1:
        layer.sinks = _dense_ffn(b, model, lp, tokens=tokens, deps=[o.out_write], wk=wk)
        return layer
    if expert_tokens is None or len(expert_tokens) != model.experts:
        raise ValueError(f"a mixture of experts needs {model.experts} expert_tokens")
    router = add_gemm(b, label="moe.router", deps=[o.out_write], act_bytes=tokens * row,
                      act_run=row, weight_bytes=h * model.experts * e,
                      weight_run=h * model.experts * e,
                      flops=2 * tokens * h * model.experts,
                      out_bytes=tokens * model.experts * e, place=proj,
                      **{**wk, "chunks": 1})
    ranges = expert_ranges(model.experts, [share for _, share in lp.ffn])
    for (where, _), (lo, hi) in zip(lp.ffn, ranges, strict=True):
        group = np.asarray(expert_tokens[lo:hi])
        routed = int(np.sum(group))
        active = int(np.count_nonzero(group))
        at = place_names(where)
        # a place whose experts got no token this step still runs (empty) kernels, so the
        # graph's structure is the same in every step (decode_steps_graph tiles it)
        up = add_gemm(b, label="moe.experts", deps=[router.out_write],
                      act_bytes=max(1, routed * row), act_run=row,
                      weight_bytes=max(1, active * up_bytes), weight_run=up_bytes,
                      flops=2 * routed * h * model.ffn * (model.ffn_matrices - 1),
                      out_bytes=max(1, routed * model.ffn * e), place=at, **wk)
        down = add_gemm(b, label="moe.experts", deps=[up.out_write],
                        act_bytes=max(1, routed * model.ffn * e), act_run=model.ffn * e,
                        weight_bytes=max(1, active * down_bytes), weight_run=down_bytes,
                        flops=2 * routed * model.ffn * h, out_bytes=tokens * row,
                        place=at, **wk)
        layer.expert_groups.append(ExpertGroup(lo, hi, up.weight_reads, down.weight_reads))
        layer.sinks.append(down.out_write)
    return layer


def _dense_ffn(b: TaskGraphBuilder, model: ModelSpec, lp: LayerPlacement, *, tokens: int,
               deps: list[int], wk: dict) -> list[int]:
    """A dense FFN's up and down GEMMs on each of its places (co-processing: a place with
    share s of total t computes s/t of the intermediate neurons and writes a partial
    output; summing the partials is fused into the next kernel's read and not counted).
    Returns the output writes."""
    e, h = model.bytes_per_element, model.hidden
    row = h * e
    up_bytes, down_bytes = expert_weight_bytes(model)
    total = sum(share for _, share in lp.ffn)
    if len(lp.ffn) > 1 and (lp.ffn_stream is not None or min(s for _, s in lp.ffn) < 1):
        raise ValueError("a dense FFN split across places needs positive shares and no "
                         "flash streaming")
    fk = wk
    stream_share = 1.0
    if lp.ffn_stream is not None:
        # LLM in a flash: this token's missing neurons come from flash into HBM, then
        # the FFN computes with its active neurons only
        memory, plan = lp.ffn_stream
        load = b.transfer(memory, HBM, plan.nbytes, chunk=min(plan.run, plan.nbytes),
                          deps=deps, label="ffn.flash_load")
        stream_share = plan.active_fraction
        fk = {**wk, "weights_from": HBM, "weight_deps": [load]}
    sinks = []
    for where, part in lp.ffn:
        split = part / total if len(lp.ffn) > 1 else 1.0
        share = stream_share * split
        at = place_names(where)
        f_up = max(1, round(up_bytes * share))
        f_down = max(1, round(down_bytes * share))
        mid = max(1, round(tokens * model.ffn * e * split))  # this place's neurons
        up = add_gemm(b, label="ffn", deps=deps, act_bytes=tokens * row,
                      act_run=row, weight_bytes=f_up, weight_run=f_up,
                      flops=round(2 * tokens * h * model.ffn * (model.ffn_matrices - 1) * share),
                      out_bytes=mid, place=at, **fk)
        down = add_gemm(b, label="ffn", deps=[up.out_write], act_bytes=mid,
                        act_run=max(1, round(model.ffn * e * split)),
                        weight_bytes=f_down, weight_run=f_down,
                        flops=round(2 * tokens * model.ffn * h * share), out_bytes=tokens * row,
                        place=at, **fk)
        sinks.append(down.out_write)
    return sinks


def add_lm_head(b: TaskGraphBuilder, model: ModelSpec, *, tokens: int, deps: list[int],
                weight_chunks: int = WEIGHT_CHUNKS, weights_from: str = HBM,
                place: PlaceNames = XPU_NAMES) -> GemmTasks:
    """Logits of ``tokens`` tokens: x @ W_vocab (the final norm fused into the read)."""
    e = model.bytes_per_element
    w = model.hidden * model.vocab * e
    return add_gemm(b, label="lm_head", deps=deps, act_bytes=tokens * model.hidden * e,
                    act_run=model.hidden * e, weight_bytes=w, weight_run=w,
                    flops=2 * tokens * model.hidden * model.vocab,
                    out_bytes=tokens * model.vocab * e, chunks=weight_chunks,
                    weights_from=weights_from, place=place)


def layer_graph(model: ModelSpec, *, tokens: int, attention: TaskGraph,
                expert_tokens: np.ndarray | None = None, qkv_writes_kv: bool = True,
                weight_chunks: int = WEIGHT_CHUNKS) -> TaskGraph:
    """One decoder layer on its own (see add_layer for the arguments)."""
    b = TaskGraphBuilder()
    add_layer(b, model, tokens=tokens, attention=attention, deps=[],
              expert_tokens=expert_tokens, qkv_writes_kv=qkv_writes_kv,
              weight_chunks=weight_chunks)
    return b.build()
