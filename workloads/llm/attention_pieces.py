"""One layer's decode attention split into pieces placed on memories and units.

Each ``AttentionPiece`` (placement.py) is a decode attention (decode_attention.py) over a
group of KV heads and a span of every request's tokens, relocated to its place with its
KV cache in its memory. On top of that a piece may:

* gather scattered tokens (top-k retrieval): the tokens are read one token's vector at a
  time, with a 4-byte index entry each (a paged layout of one-token blocks);
* scan an index first (RetrievalAttention's search over the offloaded keys): ``scan`` of
  the keys after ``skip`` are read from the piece's KV memory into its buffer and scored
  (2 x head_dim FLOPs per key and query head) before the attention may start, since the
  top-k tokens are known only then;
* be prefetched: a piece on the xPU whose cache is outside HBM gets a copy of the KV it
  reads (its K, V and block-table bytes) from that memory into HBM, labelled
  ``kv_prefetch``; the attention reads HBM once the copy is done, and the new token's K
  and V are still appended to the cache's own memory. The copy is a source of the graph
  so that the layer graph can start it one layer ahead (layer_graph.add_layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads.llm.attention_shape import AttentionShape
from workloads.llm.kv_layout import PagedLayout, kv_vector_bytes
from workloads.llm.model_spec import ModelSpec
from workloads.llm.placement import (
    HBM,
    XPU,
    AttentionPiece,
    place_names,
    relocate,
)
from workloads.llm.taskgraph import TRANSFER, TaskGraph, TaskGraphBuilder

PREFETCH, SCAN = "kv_prefetch", "kv_scan"
_READS = ("kv_read", "block_table")  # what a prefetch copies into HBM


def staged(piece: AttentionPiece, prefetch: bool) -> bool:
    """Whether the piece reads a prefetched copy of its KV from HBM."""
    return prefetch and piece.kv_memory != HBM and piece.place == XPU


def piece_graph(model: ModelSpec, contexts: np.ndarray, piece: AttentionPiece, *,
                layout: Any, kv_bits: int | None, retained: float, shared_prefix: int,
                seed: int, label: str, prefetch: bool = False) -> TaskGraph:
    """The piece's attention graph (module docstring); labels ``{label}.<task>``."""
    from workloads.llm.decode_attention import decode_attention

    group = model.heads // model.kv_heads
    ctx = piece.contexts(contexts)
    lay = PagedLayout(1, layout.max_len) if piece.gather else layout
    shape = AttentionShape(batch=len(ctx), heads=piece.kv_heads * group, seq_q=1,
                           seq_kv=int(ctx.max()), head_dim=model.head_dim,
                           kv_heads=piece.kv_heads, bytes_per_element=model.bytes_per_element)
    g = decode_attention(shape, ctx, layout=lay, kv_bits=kv_bits, retained=retained,
                         shared_prefix=shared_prefix if piece.skip == 0 else 0,
                         granularity="kernel", seed=seed, label=label)
    if staged(piece, prefetch):
        g = _with_prefetch(relocate(g, XPU, piece.kv_memory, cache_labels=("kv_append",)),
                           piece.kv_memory, label)
    else:
        g = relocate(g, piece.place, piece.kv_memory)
    if piece.scan:
        g = _with_scan(g, model, contexts, piece, kv_bits, label)
    return g


def _label_is(g: TaskGraph, suffixes: tuple[str, ...]) -> np.ndarray:
    hit = np.array([lb.rsplit(".", 1)[-1] in suffixes for lb in g.labels])
    return hit[g.tasks["label"]]


def _with_prefetch(g: TaskGraph, memory: str, label: str) -> TaskGraph:
    """``g`` after a copy, from ``memory`` into HBM, of what its cache reads take from HBM."""
    reads = _label_is(g, _READS) & (g.tasks["kind"] == TRANSFER) & \
        (g.tasks["src"] == g.memories.index(HBM))
    kv = reads & _label_is(g, ("kv_read",))
    nbytes = int(g.tasks["nbytes"][reads].sum())
    b = TaskGraphBuilder()
    copy = b.transfer(memory, HBM, nbytes, chunk=int(g.tasks["chunk"][kv].min()),
                      label=f"{label}.{PREFETCH}")
    b.add_graph(g, outside={int(i): [copy] for i in np.flatnonzero(reads)})
    return b.build()


def _with_scan(g: TaskGraph, model: ModelSpec, contexts: np.ndarray, piece: AttentionPiece,
               kv_bits: int | None, label: str) -> TaskGraph:
    """``g`` after the index scan that finds its tokens (module docstring)."""
    keys = np.ceil(piece.scan * np.maximum(contexts - piece.skip, 0)).astype(np.int64)
    vec = kv_vector_bytes(model.head_dim, model.bytes_per_element, kv_bits)
    n = int(keys.sum())
    heads = piece.kv_heads * (model.heads // model.kv_heads)
    names = place_names(piece.place)
    b = TaskGraphBuilder()
    read = b.transfer(piece.kv_memory, names.buffer, max(1, n * piece.kv_heads * vec),
                      chunk=vec, label=f"{label}.{SCAN}")
    score = b.compute(names.unit, max(1, 2 * model.head_dim * heads * n), deps=[read],
                      label=f"{label}.{SCAN}")
    b.add_graph(g, deps=[score])
    return b.build()


def kernel_labels(g: TaskGraph, label: str) -> TaskGraph:
    """``g`` with every task labelled ``label``, except prefetches and scans, which keep
    their own kind (``kv_prefetch``, ``kv_scan``): a model's breakdown is per kernel kind."""
    names = (label, PREFETCH, SCAN)
    own = np.array([names.index(lb.rsplit(".", 1)[-1]) if lb.rsplit(".", 1)[-1] in names[1:]
                    else 0 for lb in g.labels], np.int16)
    tasks = g.tasks.copy()
    tasks["label"] = own[tasks["label"]]
    return TaskGraph(tasks, g.dep_ptr, g.dep_idx, g.memories, g.units, names)

