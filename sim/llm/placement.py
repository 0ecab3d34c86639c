"""A workload's ``placement:``: which tier holds the weights and the KV cache, and which
unit runs attention, the FFN or experts, and the projections.

    placement:
      weights: hbm          # a memory: hbm or a tier of the xPU preset (hw_configs/xpu)
      kv: hbm               # the KV cache's memory, or KV heads per memory ({hbm: 2,
                            # host: 6}: a head-wise split, HeadInfer; attention on the xPU)
      attention: xpu        # xpu, a PIM unit, a tier with compute (its KV must be there), or auto
      ffn: xpu              # xpu, a PIM unit, or auto (a mixture of experts: all experts)
      projections: xpu      # QKV, output projection and LM head: xpu, a PIM unit, or auto

``auto`` picks, per kernel, the unit with the least roofline time against the platform
(sim/transfer/platform.py): max(FLOPs / the unit's FLOP/s, bytes / the bandwidth of the
path from the data's memory to the unit), i.e. the kernel's operational intensity
against each unit's balance point. Candidates: the xPU and every PIM unit (whose data is
in HBM); for attention, also a tier with compute that holds the KV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.config import yamlfile as y
from sim.config.yamlfile import Node
from sim.transfer.platform import Platform
from sim.xpu import XpuSpec
from workloads.llm.placement import HBM, XPU, AttentionPiece, LayerPlacement, place_names

KEYS = ("weights", "kv", "attention", "ffn", "projections")
AUTO = "auto"
MIB = 1 << 20


def memories_of(xpu: XpuSpec) -> list[str]:
    return [HBM] + [t.name for t in xpu.tiers]


def places_of(xpu: XpuSpec) -> list[str]:
    return [XPU] + [u.name for u in xpu.pim] + [t.name for t in xpu.tiers if t.has_compute]


def parse_placement(node: Node | None, xpu: XpuSpec) -> dict[str, str]:
    """The placement as plain names, checked against the device (ConfigError)."""
    p = {"weights": HBM, "kv": HBM, "attention": XPU, "ffn": XPU, "projections": XPU}
    if node is None:
        return p
    if not node.is_mapping:
        raise node.error(f"expected a mapping with some of: {', '.join(KEYS)}")
    y.check_keys(node, KEYS)
    mems, places = memories_of(xpu), places_of(xpu)
    pims = [u.name for u in xpu.pim]
    for key, v in node.value.items():
        if key == "kv" and v.is_mapping:
            split = {}
            for mem, heads in v.value.items():
                if mem not in mems:
                    raise heads.error(f"'{mem}' is not a memory of {xpu.name}"
                                      f"{y.did_you_mean(mem, mems)}; it has: {', '.join(mems)}")
                split[mem] = y.as_int(heads)
            p["kv_split"] = split
            p["kv"] = max(split, key=split.get)
            continue
        name = y.as_str(v).strip()
        if key in ("weights", "kv"):
            choices = mems
        elif key == "attention":
            choices = [*places, AUTO]
        else:  # ffn and projections read weights: the xPU or a PIM unit in the HBM
            choices = [XPU, *pims, AUTO]
        if name not in choices:
            raise v.error(f"'{name}' is not a {'memory' if key in ('weights', 'kv') else 'unit'}"
                          f" of {xpu.name}{y.did_you_mean(name, choices)}; it has: "
                          f"{', '.join(choices)}")
        p[key] = name
    att, kv = p["attention"], p["kv"]
    if p.get("kv_split") and att not in (XPU, AUTO):
        raise node.value["attention"].error("a head-wise KV split runs its attention on the "
                                            "xPU (attention: xpu)")
    if att in pims and kv != HBM:
        raise node.value["attention"].error(f"PIM unit '{att}' computes on the HBM; the KV "
                                            f"cache is in '{kv}' (placement.kv)")
    if xpu.tier(att) is not None and kv != att:
        raise node.value["attention"].error(f"'{att}' computes beside its own memory; the KV "
                                            f"cache must be there too (placement.kv: {att})")
    if p["ffn"] in pims or p["projections"] in pims:
        key = "ffn" if p["ffn"] in pims else "projections"
        if p["weights"] != HBM:
            raise node.value[key].error(f"PIM unit '{p[key]}' computes on the HBM; the weights "
                                        f"are in '{p['weights']}' (placement.weights)")
    return p


def _path_bytes_per_s(platform: Platform, memory: str, place: str) -> int:
    """Bandwidth from ``memory`` to the place's buffer: its route, else the slower port."""
    buf = place_names(place).buffer
    route = platform.routes.get((memory, buf))
    if route is not None:
        return route.bandwidth.bytes_per_s(MIB, 1.0)
    return min(platform.memories[memory].bandwidth.bytes_per_s(MIB, 1.0),
               platform.memories[buf].bandwidth.bytes_per_s(MIB, 0.0))


def roofline_ps(platform: Platform, place: str, memory: str, flops: int, nbytes: int) -> float:
    """A kernel's time on a place by its roofline (module docstring)."""
    unit = platform.units[place_names(place).unit]
    return max(flops / unit.flops_per_s, nbytes / _path_bytes_per_s(platform, memory, place))


def choose(platform: Platform, candidates: list[str], memory: str, flops: int,
           nbytes: int) -> str:
    """The candidate with the least roofline time (ties: the first)."""
    return min(candidates, key=lambda c: roofline_ps(platform, c, memory, flops, nbytes))


def resolve_layer(p: Mapping[str, str], platform: Platform, xpu: XpuSpec,
                  kernels: Mapping[str, tuple[int, int]]) -> LayerPlacement:
    """The layer placement of a parsed ``p``, ``auto`` decided from ``kernels``: kind
    ("attention", "ffn", "projections") -> (FLOPs, bytes) of one layer's kernel."""
    pims = [u.name for u in xpu.pim]
    chosen: dict[str, str] = {}
    for kind in ("attention", "ffn", "projections"):
        if p[kind] != AUTO:
            chosen[kind] = p[kind]
            continue
        memory = p["kv"] if kind == "attention" else p["weights"]
        candidates = [XPU] + (pims if memory == HBM else [])
        if kind == "attention" and xpu.tier(memory) is not None and \
                xpu.tier(memory).has_compute:
            candidates.append(memory)
        chosen[kind] = choose(platform, candidates, memory, *kernels[kind])
    if p.get("kv_split"):
        pieces = tuple(AttentionPiece(n, mem, XPU) for mem, n in p["kv_split"].items() if n)
    else:
        pieces = (AttentionPiece(0, p["kv"], chosen["attention"]),)
    return LayerPlacement(weights=p["weights"], projections=chosen["projections"],
                          ffn=((chosen["ffn"], 0),), attention=pieces)


def capacity_of(xpu: XpuSpec, memory: str) -> int:
    return xpu.hbm_capacity_bytes if memory == HBM else xpu.tier(memory).capacity_bytes


def summary_of(layer: LayerPlacement) -> dict[str, Any]:
    kv = "+".join(f"{p.kv_memory}:{p.kv_heads}" for p in layer.attention) \
        if len(layer.attention) > 1 else layer.attention[0].kv_memory
    return {"weights": layer.weights, "kv": kv,
            "attention": layer.attention[0].place, "ffn": layer.ffn[0][0],
            "projections": layer.projections}
