"""What each memory of a device holds for an LLM point, checked against its capacity.

Weights: each layer's weights in its placement's memory; the rest (embeddings, LM head,
final norm) in the first layer's. KV cache: each layer's heads in their memory (a
head-wise split divides them); with retrieval, the whole cache in the offload tier and
the window of recent tokens also in HBM. Prefetch stages two layers in HBM: their
weights (when held outside HBM) and the KV of pieces read from outside HBM.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.errors import UserError
from sim.llm.placement import capacity_of, layer_configs
from sim.xpu import XpuSpec
from workloads.llm.kv_layout import check_kv_fits, geometry_of, kv_batch, max_batch
from workloads.llm.layer_graph import layer_weight_bytes
from workloads.llm.model_spec import ModelSpec
from workloads.llm.placement import HBM

STAGED_LAYERS = 2  # prefetch double-buffers: the layer computing and the one arriving


def weight_bytes(model: ModelSpec) -> int:
    """Bytes of the model's weights."""
    return model.parameters() * model.bytes_per_element


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def weights_by_memory(model: ModelSpec, cfgs: list[Mapping[str, Any]]) -> dict[str, int]:
    per_layer = layer_weight_bytes(model)
    out = {cfgs[0]["weights"]: weight_bytes(model) - model.layers * per_layer}
    for c in cfgs:
        out[c["weights"]] = out.get(c["weights"], 0) + per_layer
    if any(c.get("prefetch") and c["weights"] != HBM for c in cfgs):
        out[HBM] = out.get(HBM, 0) + STAGED_LAYERS * per_layer
    return out


def kv_parts(model: ModelSpec, cfgs: list[Mapping[str, Any]], contexts: np.ndarray,
             retrieval: Mapping[str, Any] | None) -> dict[str, dict[tuple, int]]:
    """memory -> {(KV heads, contexts as a tuple): layers' worth of that KV}."""
    full = tuple(int(c) for c in contexts)
    out: dict[str, dict[tuple, int]] = {}

    def add(mem: str, heads: int, ctx: tuple, layers: int = 1) -> None:
        if heads:
            d = out.setdefault(mem, {})
            d[(heads, ctx)] = d.get((heads, ctx), 0) + layers

    staged = False
    for c in cfgs:
        if retrieval:
            add(retrieval["from"], model.kv_heads, full)
            add(HBM, model.kv_heads, tuple(int(x) for x in
                                           np.minimum(contexts, retrieval["window"])))
        elif c.get("kv_split"):
            for mem, heads in c["kv_split"].items():
                add(mem, heads, full)
                staged |= bool(c.get("prefetch")) and mem != HBM
        else:
            add(c["kv"], model.kv_heads, full)
            staged |= bool(c.get("prefetch")) and c["kv"] != HBM and c["attention"] == "xpu"
    if staged:
        add(HBM, model.kv_heads, full, STAGED_LAYERS)
    return out


def kv_fit(model: ModelSpec, xpu: XpuSpec, layout: Any, contexts: np.ndarray,
           p: Mapping[str, Any]) -> dict[str, Any]:
    """KV utilisation, allocated and token bytes, and the largest batch of such requests
    beside the weights; UserError saying what is needed and available when the weights
    or this batch's KV do not fit a memory."""
    place = p.get("placement") or {"weights": HBM, "kv": HBM, "attention": "xpu"}
    cfgs = layer_configs(place, model.layers)
    kw = dict(kv_bits=p.get("kv_bits"), retained=p.get("retained", 1.0),
              shared_prefix=p.get("shared_prefix", 0))
    weights = weights_by_memory(model, cfgs)
    for mem, w in weights.items():
        if w > capacity_of(xpu, mem):
            raise UserError(f"{model.name}'s weights need {_gib(w)} in '{mem}', more than "
                            f"the {_gib(capacity_of(xpu, mem))} of {xpu.name}'s '{mem}'")
    parts = kv_parts(model, cfgs, contexts, place.get("retrieval"))
    fits = []
    for mem, kinds in parts.items():
        free = capacity_of(xpu, mem) - weights.get(mem, 0)
        if free <= 0:
            raise UserError(f"{model.name}'s weights fill {xpu.name}'s '{mem}' "
                            f"({_gib(capacity_of(xpu, mem))}): no room for the KV cache")
        if len(kinds) == 1:  # the usual case: the standard message and batch limit
            (heads, ctx), layers = next(iter(kinds.items()))
            part = dataclasses.replace(model, kv_heads=heads)
            try:
                check_kv_fits(part, free, layout, np.array(ctx), layers=layers, **kw)
            except UserError as e:
                raise UserError(f"'{mem}': {e}" if len(parts) > 1 else str(e)) from None
            fits.append(max_batch(part, free, layout, np.array(ctx), layers=layers, **kw))
            continue
        need = 0
        for (heads, ctx), layers in kinds.items():
            geom = geometry_of(dataclasses.replace(model, kv_heads=heads), layers=layers,
                               kv_bits=kw["kv_bits"])
            need += layout.usage(kv_batch(np.array(ctx), retained=kw["retained"],
                                          shared_prefix=kw["shared_prefix"]),
                                 geom).allocated_bytes
        if need > free:
            raise UserError(f"'{mem}' needs {_gib(need)} for the KV cache of "
                            f"{len(contexts)} requests, {_gib(free)} free after weights")
        fits.append(len(contexts) * free // max(need, 1))
    usage = check_kv_fits(model, 1 << 62, layout, contexts, **kw)
    return {"kv_utilisation": usage.utilisation,
            "kv_allocated_gb": usage.allocated_bytes / 1e9,
            "kv_token_gb": usage.token_bytes / 1e9,
            "max_batch": int(min(fits)) if fits else 0}
