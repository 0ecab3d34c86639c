"""Where a model's data lives and where its kernels run: the placement a task graph follows.

A placement names memories (tiers: "hbm", "host", "ssd", ...) and places (a compute unit
with the memory its operands are staged in: the xPU is ("sram", "tensor"), a PIM unit or
a tier's compute ("<name>.buf", "<name>"), see sim/transfer/platform.py). It holds no
hardware numbers: sim/llm/placement.py resolves a user's ``placement:`` (including
``auto``, by operational intensity) into one of these against a platform.

Per layer:
  * ``weights``: the memory the layer's weights are read from. Without ``prefetch`` the
    kernels stream them from there directly; with it, they are copied into HBM one layer
    ahead (the copy of layer i+1 runs while layer i computes, FlexGen's overlap) and read
    from HBM.
  * ``projections``: the place of the QKV and output projections.
  * ``ffn``: (place, share) pairs, side by side (co-processing): a mixture of experts is
    split by experts (share = the number of experts, in expert order, each place serves);
    a dense FFN by neurons (each place computes share / total of the intermediate neurons
    and writes its partial output).
  * ``attention``: ``AttentionPiece`` s, side by side. A piece is a group of KV heads whose
    cache lives in one memory and whose attention runs on one place (a head-wise split,
    HeadInfer's offload), optionally over a span of each request's tokens only (a
    token-wise split: recent tokens in HBM, older ones elsewhere; or top-k retrieval of
    tokens found by an index scan, RetrievalAttention). With ``prefetch`` a piece on the
    xPU whose KV is in another memory copies it into HBM one layer ahead.
  * ``ffn_stream``: a dense FFN whose missing neurons are loaded from flash per token
    (flash_loading.py).
A model graph takes one placement for all layers or one per layer; the LM head reads its
weights from the first layer's weight memory, on its projections' place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.llm.taskgraph import TRANSFER, TaskGraph

HBM, SRAM, TENSOR = "hbm", "sram", "tensor"
XPU = "xpu"
KV_LABELS = ("kv_read", "kv_append", "block_table")  # decode attention's tasks on the cache


@dataclass(frozen=True)
class PlaceNames:
    """The memory a place stages operands in and its compute unit (graph names only)."""

    buffer: str
    unit: str


XPU_NAMES = PlaceNames(SRAM, TENSOR)


def place_names(place: str) -> PlaceNames:
    """The xPU's names, or "<place>.buf" and "<place>" for a PIM unit or a tier's compute."""
    return XPU_NAMES if place == XPU else PlaceNames(f"{place}.buf", place)


@dataclass(frozen=True)
class AttentionPiece:
    kv_heads: int  # KV heads of this group (query heads: kv_heads x group size)
    kv_memory: str  # where the group's KV cache lives
    place: str  # where its attention runs
    # a span of each request's context (0, 0: all of it): the piece attends to at most
    # ``tokens`` of the tokens that follow the first ``skip`` (at least one token)
    skip: int = 0
    tokens: int = 0
    # top-k retrieval: the tokens are scattered (read one token's vector at a time, with a
    # 4-byte index each), found by scanning this fraction of the keys after ``skip``
    gather: bool = False
    scan: float = 0.0

    def contexts(self, contexts: np.ndarray) -> np.ndarray:
        """Each request's tokens this piece attends to."""
        if not (self.skip or self.tokens):
            return contexts
        c = np.maximum(contexts - self.skip, 1)
        return np.minimum(c, self.tokens) if self.tokens else c

    @property
    def span(self) -> tuple[int, int]:
        return (self.skip, self.tokens)


@dataclass(frozen=True)
class LayerPlacement:
    weights: str = HBM
    projections: str = XPU
    ffn: tuple[tuple[str, int], ...] = ((XPU, 0),)  # share 0: the whole FFN / all experts
    attention: tuple[AttentionPiece, ...] = ()  # () : all KV heads in HBM on the xPU
    # a dense FFN whose weights stream from flash per token (flash_loading.py): the memory
    # and its LoadPlan; None: the FFN weights are in ``weights``
    ffn_stream: tuple[str, object] | None = None
    prefetch: bool = False  # copy weights and KV held outside HBM in one layer ahead


def relocate(g: TaskGraph, place: str, kv_memory: str = HBM,
             cache_labels: tuple[str, ...] = KV_LABELS) -> TaskGraph:
    """An xPU attention graph (hbm, sram, tensor) moved to ``place`` with its KV cache in
    ``kv_memory``: sram becomes the place's buffer, tensor its unit, and the cache tasks'
    (labels ending in ``cache_labels``) HBM side becomes ``kv_memory``."""
    names = place_names(place)
    mems = list(g.memories)
    if SRAM in mems:
        mems[mems.index(SRAM)] = names.buffer
    units = [names.unit if u == TENSOR else u for u in g.units]
    tasks = g.tasks.copy()
    if kv_memory != HBM and HBM in g.memories:
        if kv_memory not in mems:
            mems.append(kv_memory)
        hbm, kv = g.memories.index(HBM), mems.index(kv_memory)
        is_kv = np.array([lb.rsplit(".", 1)[-1] in cache_labels for lb in g.labels])
        cache = (tasks["kind"] == TRANSFER) & is_kv[tasks["label"]]
        for side in ("src", "dst"):
            hit = cache & (tasks[side] == hbm)
            tasks[side][hit] = kv
    return TaskGraph(tasks, g.dep_ptr, g.dep_idx, tuple(mems), tuple(units), g.labels)
