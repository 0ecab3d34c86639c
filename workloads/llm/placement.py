"""Where a model's data lives and where its kernels run: the placement a task graph follows.

A placement names memories (tiers: "hbm", "host", "ssd", ...) and places (a compute unit
with the memory its operands are staged in: the xPU is ("sram", "tensor"), a PIM unit or
a tier's compute ("<name>.buf", "<name>"), see sim/transfer/platform.py). It holds no
hardware numbers: sim/llm/placement.py resolves a user's ``placement:`` (including
``auto``, by operational intensity) into one of these against a platform.

Per layer:
  * ``weights``: the memory the layer's weights are read from; the kernels stream them
    from there directly (no copy into HBM ahead of use: not modelled yet).
  * ``projections``: the place of the QKV and output projections.
  * ``ffn``: (place, share) pairs: a dense FFN runs on one place; a mixture of experts may
    be split, share = the number of experts (in expert order) each place serves.
  * ``attention``: ``AttentionPiece`` s, each a group of KV heads whose cache lives in one
    memory and whose attention runs on one place; the pieces run side by side (a
    head-wise split, HeadInfer's offload).
  * ``ffn_stream``: a dense FFN whose missing neurons are loaded from flash per token
    (flash_loading.py).
Every layer of a model graph has the same placement; the LM head reads its weights from
the layers' weight memory, on the projections' place.
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


@dataclass(frozen=True)
class LayerPlacement:
    weights: str = HBM
    projections: str = XPU
    ffn: tuple[tuple[str, int], ...] = ((XPU, 0),)  # share 0: the whole FFN / all experts
    attention: tuple[AttentionPiece, ...] = ()  # () : all KV heads in HBM on the xPU
    # a dense FFN whose weights stream from flash per token (flash_loading.py): the memory
    # and its LoadPlan; None: the FFN weights are in ``weights``
    ffn_stream: tuple[str, object] | None = None


def relocate(g: TaskGraph, place: str, kv_memory: str = HBM) -> TaskGraph:
    """An xPU attention graph (hbm, sram, tensor) moved to ``place`` with its KV cache in
    ``kv_memory``: sram becomes the place's buffer, tensor its unit, and the cache tasks'
    (labels ending in KV_LABELS) HBM side becomes ``kv_memory``."""
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
        is_kv = np.array([lb.rsplit(".", 1)[-1] in KV_LABELS for lb in g.labels])
        cache = (tasks["kind"] == TRANSFER) & is_kv[tasks["label"]]
        for side in ("src", "dst"):
            hit = cache & (tasks[side] == hbm)
            tasks[side][hit] = kv
    return TaskGraph(tasks, g.dep_ptr, g.dep_idx, tuple(mems), tuple(units), g.labels)
