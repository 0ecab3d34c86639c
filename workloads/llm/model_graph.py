"""A whole model as a task graph: a prefill, one decode step, or many decode steps.

A step runs the layers in order (each layer's first kernels wait for the previous layer's
last, see layer_graph.py) and then the LM head. Decode: every request of the batch adds one
token; ``contexts[r]`` is the number of tokens request r's new token attends to (its KV
cache, the new token included), and the next step's contexts are one larger. Prefill: a
batch of prompts of one length; the LM head runs on the last token of each prompt only (the
logits that choose the first generated token), as serving engines do.

Mixture-of-experts routing is drawn per layer and per step from ``seed`` (moe_routing.py),
so a many-step graph equals the concatenation of its steps built one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.errors import UserError
from workloads.llm.attention_pieces import kernel_labels, piece_graph
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.layer_graph import (
    WEIGHT_CHUNKS,
    LayerTasks,
    add_layer,
    add_lm_head,
    expert_weight_bytes,
    split_evenly,
)
from workloads.llm.model_spec import ModelSpec
from workloads.llm.moe_routing import route_tokens, tokens_per_expert
from workloads.llm.placement import (
    HBM,
    XPU,
    AttentionPiece,
    LayerPlacement,
    place_names,
)
from workloads.llm.taskgraph import TASK_DTYPE, TaskGraph, TaskGraphBuilder, concat

ATTENTION_LABEL = "attention"


def _check_contexts(model: ModelSpec, contexts: np.ndarray, steps: int = 1) -> np.ndarray:
    contexts = np.asarray(contexts)
    if contexts.ndim != 1 or len(contexts) == 0:
        raise UserError("contexts: expected a non-empty list of context lengths, one per request")
    if not np.issubdtype(contexts.dtype, np.integer):
        raise UserError("contexts: context lengths must be integers")
    contexts = contexts.astype(np.int64)
    if contexts.min() < 1:
        raise UserError(f"contexts: a context length must be >= 1, got {contexts.min()}")
    longest = int(contexts.max()) + steps - 1
    if longest > model.max_context:
        raise UserError(f"contexts: a request reaches {longest} tokens, beyond {model.name}'s "
                        f"maximum context of {model.max_context}")
    return contexts


def expert_loads(model: ModelSpec, tokens: int, *, seed: Any, skew: float) -> np.ndarray | None:
    """Tokens per expert for each layer, shape (layers, experts); None for a dense model."""
    if model.experts == 1:
        return None
    chosen = route_tokens(tokens, model.experts, model.top_k, skew=skew, seed=seed,
                          layers=model.layers)
    return tokens_per_expert(chosen, model.experts)


def decode_attention_graph(model: ModelSpec, contexts: np.ndarray, *, layout: Any,
                           kv_bits: int | None = None, retained: float = 1.0,
                           shared_prefix: int = 0, seed: int = 0, place: str = XPU,
                           kv_memory: str = HBM,
                           pieces: tuple[AttentionPiece, ...] = (),
                           prefetch: bool = False) -> TaskGraph:
    """One layer's decode attention for the batch (workloads/llm/decode_attention.py), run
    on ``place`` with the KV cache in ``kv_memory`` (placement.relocate); or, with
    ``pieces``, one attention per piece (a group of KV heads, a span of tokens, its memory
    and place), side by side (attention_pieces.py). ``prefetch``: pieces on the xPU with
    their KV outside HBM read a copy made one layer ahead."""
    if not pieces:
        pieces = (AttentionPiece(model.kv_heads, kv_memory, place),)
    spans: dict[tuple[int, int], int] = {}
    for p in pieces:
        spans[p.span] = spans.get(p.span, 0) + p.kv_heads
    for span, heads in spans.items():
        if heads != model.kv_heads:
            raise ValueError(f"attention pieces over tokens {span} hold {heads} KV heads, "
                             f"the model has {model.kv_heads}")
    graphs = [piece_graph(model, contexts, piece, layout=layout, kv_bits=kv_bits,
                          retained=retained, shared_prefix=shared_prefix, seed=seed,
                          label=ATTENTION_LABEL, prefetch=prefetch) for piece in pieces]
    g = graphs[0] if len(graphs) == 1 else concat(graphs, chain=False)
    return kernel_labels(g, ATTENTION_LABEL)


def prefill_attention_graph(model: ModelSpec, batch: int, prompt_len: int, *,
                            sram_bytes: int) -> TaskGraph:
    """One layer's causal FlashAttention forward over the prompts.

    flash_attention.py models multi-head attention only, so a GQA or MQA model's prefill
    is counted as if every query head had its own K and V: the FLOPs are exact (they follow
    the query heads), the K/V reads are those of a kernel whose thread blocks each load
    their query head's K and V (the group's sharing would happen in L2, which is not
    modelled), an upper bound on the HBM traffic of a GQA-aware kernel.
    """
    from workloads.llm.flash_attention import flash_attention

    shape = AttentionShape(batch=batch, heads=model.heads, seq_q=prompt_len,
                           seq_kv=prompt_len, head_dim=model.head_dim,
                           kv_heads=model.heads, bytes_per_element=model.bytes_per_element,
                           causal=True)
    return single_label(flash_attention(shape, sram_bytes=sram_bytes, dropout=False,
                                        granularity="kernel", label=ATTENTION_LABEL),
                        ATTENTION_LABEL)


def single_label(g: TaskGraph, label: str) -> TaskGraph:
    """``g`` with every task labelled ``label`` (a model's breakdown is per kernel kind)."""
    tasks = g.tasks.copy()
    tasks["label"] = 0
    return TaskGraph(tasks, g.dep_ptr, g.dep_idx, g.memories, g.units, (label,))


Placement = LayerPlacement | Sequence[LayerPlacement] | None


def layer_placements(model: ModelSpec, placement: Placement) -> list[LayerPlacement]:
    """One placement per layer (a single placement applies to every layer)."""
    if placement is None or isinstance(placement, LayerPlacement):
        return [placement or LayerPlacement()] * model.layers
    if len(placement) != model.layers:
        raise ValueError(f"{len(placement)} layer placements for {model.layers} layers")
    return list(placement)


def build_model_graph(model: ModelSpec, *, tokens: int, logit_tokens: int,
                      attention: TaskGraph | Sequence[TaskGraph], loads: np.ndarray | None,
                      decode: bool, weight_chunks: int = WEIGHT_CHUNKS,
                      placement: Placement = None) -> tuple[TaskGraph, list[LayerTasks]]:
    """All layers (each with its ``attention`` graph and its row of ``loads``) and the LM
    head.

    ``decode``: the attention graph appends the new tokens' K and V to the cache itself.
    ``placement``: every layer's weights memory and kernel places (placement.py), or one
    per layer; the LM head reads its weights from the first layer's weight memory on its
    projections' place. Prefetches of layer i start with layer i-1 (two layers staged).
    """
    lps = layer_placements(model, placement)
    atts = [attention] * model.layers if isinstance(attention, TaskGraph) else list(attention)
    b = TaskGraphBuilder()
    deps: list[int] = []
    early: list[int] = []  # what layer i's prefetches wait for: layer i-1's start and copies
    layers: list[LayerTasks] = []
    for i in range(model.layers):
        layer = add_layer(b, model, tokens=tokens, attention=atts[i], deps=deps,
                          expert_tokens=None if loads is None else loads[i],
                          qkv_writes_kv=not decode, weight_chunks=weight_chunks,
                          placement=lps[i], prefetch_deps=early)
        layers.append(layer)
        early = deps + layer.prefetches
        deps = layer.sinks
    add_lm_head(b, model, tokens=logit_tokens, deps=deps, weight_chunks=weight_chunks,
                weights_from=lps[0].weights, place=place_names(lps[0].projections))
    return b.build(), layers


def _decode_step(model: ModelSpec, contexts: np.ndarray, *, layout: Any, kv_bits: int | None,
                 retained: float, shared_prefix: int, seed: int, step: int, expert_skew: float,
                 weight_chunks: int, placement: Placement = None
                 ) -> tuple[TaskGraph, list[LayerTasks], list[TaskGraph]]:
    batch = len(contexts)
    attention = decode_attentions(model, contexts, placement, layout=layout, kv_bits=kv_bits,
                                  retained=retained, shared_prefix=shared_prefix, seed=seed)
    loads = expert_loads(model, batch, seed=(seed, step), skew=expert_skew)
    g, layers = build_model_graph(model, tokens=batch, logit_tokens=batch, attention=attention,
                                  loads=loads, decode=True, weight_chunks=weight_chunks,
                                  placement=placement)
    return g, layers, attention


def decode_attentions(model: ModelSpec, contexts: np.ndarray, placement: Placement,
                      **kw: Any) -> list[TaskGraph]:
    """Each layer's decode attention graph (one graph per distinct attention site)."""
    built: dict[tuple, TaskGraph] = {}
    out = []
    for lp in layer_placements(model, placement):
        site = _attention_site(lp)
        key = tuple(sorted((k, v) for k, v in site.items()))
        if key not in built:
            built[key] = decode_attention_graph(model, contexts, **site, **kw)
        out.append(built[key])
    return out


def _attention_site(placement: LayerPlacement | None) -> dict[str, Any]:
    """The attention's place and KV memory, or its pieces, and whether it is prefetched."""
    if placement is None or not placement.attention:
        return {"place": XPU, "kv_memory": HBM}
    pf = {"prefetch": True} if placement.prefetch else {}
    if len(placement.attention) > 1 or placement.attention[0].span != (0, 0) or \
            placement.attention[0].scan:
        return {"pieces": placement.attention, **pf}
    piece = placement.attention[0]
    return {"place": piece.place, "kv_memory": piece.kv_memory, **pf}


def decode_step_graph(model: ModelSpec, contexts: np.ndarray, *, layout: Any,
                      kv_bits: int | None = None, retained: float = 1.0,
                      shared_prefix: int = 0, seed: int = 0, step: int = 0,
                      expert_skew: float = 0.0, weight_chunks: int = WEIGHT_CHUNKS,
                      placement: Placement = None) -> TaskGraph:
    """One decode step of the batch: every layer, then the LM head, one new token each.

    ``step`` selects the step's mixture-of-experts routing (draws from ``(seed, step)``);
    ``expert_skew``: the router's skew (0: uniform, see moe_routing.py).
    """
    contexts = _check_contexts(model, contexts)
    g, _, _ = _decode_step(model, contexts, layout=layout, kv_bits=kv_bits, retained=retained,
                           shared_prefix=shared_prefix, seed=seed, step=step,
                           expert_skew=expert_skew, weight_chunks=weight_chunks,
                           placement=placement)
    return g


def prefill_graph(model: ModelSpec, batch: int, prompt_len: int, *, sram_bytes: int,
                  seed: int = 0, expert_skew: float = 0.0,
                  weight_chunks: int = WEIGHT_CHUNKS,
                  placement: Placement = None) -> TaskGraph:
    """The prefill of ``batch`` prompts of ``prompt_len`` tokens: all layers, then logits."""
    if batch < 1 or prompt_len < 1:
        raise UserError(f"prefill: batch and prompt length must be >= 1, got {batch} and "
                        f"{prompt_len}")
    if prompt_len > model.max_context:
        raise UserError(f"prefill: a prompt of {prompt_len} tokens is beyond {model.name}'s "
                        f"maximum context of {model.max_context}")
    tokens = batch * prompt_len
    attention = prefill_attention_graph(model, batch, prompt_len, sram_bytes=sram_bytes)
    loads = expert_loads(model, tokens, seed=seed, skew=expert_skew)
    if placement is not None and any(_attention_site(lp) != _attention_site(None)
                                     for lp in layer_placements(model, placement)):
        raise UserError("placement: prefill attention runs on the xPU with its KV in HBM")
    g, _ = build_model_graph(model, tokens=tokens, logit_tokens=batch, attention=attention,
                             loads=loads, decode=False, weight_chunks=weight_chunks,
                             placement=placement)
    return g


def decode_steps_graph(model: ModelSpec, contexts: np.ndarray, steps: int, *, layout: Any,
                       kv_bits: int | None = None, retained: float = 1.0,
                       shared_prefix: int = 0, seed: int = 0, expert_skew: float = 0.0,
                       weight_chunks: int = WEIGHT_CHUNKS,
                       placement: Placement = None) -> TaskGraph:
    """``steps`` consecutive decode steps; step k has contexts + k and routing (seed, k).

    Equal, task for task, to concat([decode_step_graph(..., contexts + k, step=k) for k in
    range(steps)]), but built by tiling step 0 (TaskGraph.repeat) and rewriting, in each
    copy, the fields that change from step to step: the attention tasks (rebuilt for
    contexts + k by the attention generator, once per step for each distinct attention
    placement) and, for a mixture of experts, the expert weight reads (which experts are
    active).
    """
    if steps < 1:
        raise UserError(f"decode steps: expected at least 1 step, got {steps}")
    contexts = _check_contexts(model, contexts, steps)
    kw = dict(layout=layout, kv_bits=kv_bits, retained=retained, shared_prefix=shared_prefix,
              seed=seed, expert_skew=expert_skew, weight_chunks=weight_chunks,
              placement=placement)
    first, layers, attention = _decode_step(model, contexts, step=0, **kw)
    g = first.repeat(steps)
    if steps == 1:
        return g
    _rewrite_attention(g, first, layers, [attention] + [decode_attentions(
        model, contexts + k, placement, layout=layout, kv_bits=kv_bits, retained=retained,
        shared_prefix=shared_prefix, seed=seed) for k in range(1, steps)])
    if model.experts > 1:
        _rewrite_expert_reads(g, first.n, model, layers, steps, len(contexts), seed=seed,
                              skew=expert_skew, weight_chunks=weight_chunks)
    return g


# the fields a step's attention may change; the rest must stay as in step 0
STEP_FIELDS = ("nbytes", "chunk", "flops")


def _rewrite_attention(g: TaskGraph, first: TaskGraph, layers: list[LayerTasks],
                       per_step: list[list[TaskGraph]]) -> None:
    """Copy k of ``g`` gets, in every layer, the attention graph built for step k
    (``per_step[k][layer]``; layers with the same placement share one graph)."""
    steps = len(per_step)
    copies = g.tasks.reshape(steps, first.n)
    fixed = [f for f in TASK_DTYPE.names if f not in STEP_FIELDS]
    groups: dict[int, list[int]] = {}
    for i, att in enumerate(per_step[0]):
        groups.setdefault(id(att), []).append(i)
    for ids in groups.values():
        graphs = [atts[ids[0]] for atts in per_step]
        attention = graphs[0]
        for att in graphs[1:]:
            if att.n != attention.n or not np.array_equal(att.dep_ptr, attention.dep_ptr) or \
                    not np.array_equal(att.dep_idx, attention.dep_idx) or \
                    (att.memories, att.units, att.labels) != \
                    (attention.memories, attention.units, attention.labels):
                raise ValueError("the attention generator changed the graph's structure "
                                 "between steps; decode_steps_graph cannot tile it")
        rows = np.stack([att.tasks for att in graphs])  # (steps, tasks of one attention)
        if any(not np.array_equal(rows[f], np.broadcast_to(rows[f][0], rows[f].shape))
               for f in fixed):
            raise ValueError("the attention generator changed a field other than "
                             f"{', '.join(STEP_FIELDS)} between steps")
        for i in ids:
            start = layers[i].attention_start
            span = copies[:, start:start + attention.n]
            for f in STEP_FIELDS:
                span[f] = rows[f]


def _rewrite_expert_reads(g: TaskGraph, n: int, model: ModelSpec, layers: list[LayerTasks],
                          steps: int, batch: int, *, seed: int, skew: float,
                          weight_chunks: int) -> None:
    """Copy k's expert weight reads follow the routing drawn for step k."""
    loads = np.stack([expert_loads(model, batch, seed=(seed, k), skew=skew)
                      for k in range(steps)])  # (steps, layers, experts)
    up_bytes, down_bytes = expert_weight_bytes(model)
    runs = np.array([up_bytes] * weight_chunks + [down_bytes] * weight_chunks, np.int64)
    for li, layer in enumerate(layers):
        for group in layer.expert_groups:
            active = np.count_nonzero(loads[:, li, group.lo:group.hi], axis=1)  # (steps,)
            if len(group.up_reads) != weight_chunks or len(group.down_reads) != weight_chunks:
                raise ValueError("expert weight reads are not split into weight_chunks chunks")
            # a group without a token in a step still reads 1 byte (layer_graph.add_layer)
            parts = np.concatenate(
                [split_evenly(np.maximum(1, active * up_bytes), weight_chunks),
                 split_evenly(np.maximum(1, active * down_bytes), weight_chunks)], axis=-1)
            ids = np.array(group.up_reads + group.down_reads, np.int64)
            idx = (np.arange(steps, dtype=np.int64)[:, None] * n + ids[None]).ravel()
            g.tasks["nbytes"][idx] = parts.ravel()
            g.tasks["chunk"][idx] = np.minimum(runs[None, :], parts).ravel()
