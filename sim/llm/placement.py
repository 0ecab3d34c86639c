"""A workload's ``placement:``: which tier holds the weights and the KV cache, and which
unit runs attention, the FFN or experts, and the projections.

    placement:
      weights: hbm          # a memory: hbm or a tier of the xPU preset (hw_configs/xpu)
      kv: hbm               # the KV cache's memory, or KV heads per memory ({hbm: 2,
                            # host: 6}: a head-wise split, HeadInfer; attention on the xPU)
      attention: xpu        # xpu, a PIM unit, a tier with compute (its KV must be there),
                            # auto, or KV heads per unit ({xpu: 4, bank_pim: 4}: split)
      ffn: xpu              # xpu, a PIM unit, auto, or shares per unit (co-processing:
                            # experts per unit for a mixture of experts, {xpu: 6,
                            # logic_pim: 2}; parts of the neurons for a dense FFN)
      projections: xpu      # QKV, output projection and LM head: xpu, a PIM unit, or auto
      prefetch: false       # copy weights and KV held outside HBM into HBM one layer ahead
      layers:               # per-layer overrides of the keys above, first and last layer
        - {range: [60, 79], weights: host, kv: host}
      retrieval:            # the KV cache in a tier, attended by window + top-k retrieval
        {from: host, window: 640, top_k: 100, scan: 0.02}   # (parse_retrieval)

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

KEYS = ("weights", "kv", "attention", "ffn", "projections", "prefetch", "layers", "retrieval")
LAYER_KEYS = ("range", "weights", "kv", "attention", "ffn", "projections", "prefetch")
AUTO = "auto"
MIB = 1 << 20


def memories_of(xpu: XpuSpec) -> list[str]:
    return [HBM] + [t.name for t in xpu.tiers]


def places_of(xpu: XpuSpec) -> list[str]:
    return [XPU] + [u.name for u in xpu.pim] + [t.name for t in xpu.tiers if t.has_compute]


def _named(n: Node, name: str, choices: list[str], what: str, xpu: XpuSpec) -> str:
    if name not in choices:
        raise n.error(f"'{name}' is not a {what} of {xpu.name}{y.did_you_mean(name, choices)}"
                      f"; it has: {', '.join(choices)}")
    return name


def _shares(v: Node, choices: list[str], what: str, xpu: XpuSpec) -> dict[str, int]:
    """``{name: count}`` with known names and non-negative counts, not all zero."""
    out = {}
    for name, n in v.value.items():
        out[_named(n, name, choices, what, xpu)] = y.as_int(n, minimum=0)
    if not any(out.values()):
        raise v.error("expected at least one non-zero count")
    return out


def parse_placement(node: Node | None, xpu: XpuSpec) -> dict[str, Any]:
    """The placement as plain names, checked against the device (ConfigError). Per-layer
    overrides are under "layers": [(first, last, placement of those layers)]."""
    base = {"weights": HBM, "kv": HBM, "attention": XPU, "ffn": XPU, "projections": XPU,
            "prefetch": False}
    if node is None:
        return base
    if not node.is_mapping:
        raise node.error(f"expected a mapping with some of: {', '.join(KEYS)}")
    y.check_keys(node, KEYS)
    p = _parse_keys(node, xpu, base)
    p["layers"] = []
    layers = node.value.get("layers")
    if layers is not None:
        if not isinstance(layers.value, list):
            raise layers.error("expected a list of overrides, e.g. - {range: [60, 79], "
                               "weights: host}")
        for item in layers.value:
            if not item.is_mapping:
                raise item.error("expected a mapping with range: [first, last] and keys to "
                                 "override")
            y.check_keys(item, LAYER_KEYS)
            rng = y.require(item, "range")
            if not isinstance(rng.value, list) or len(rng.value) != 2:
                raise rng.error("expected [first, last] layer numbers (from 0)")
            first, last = (y.as_int(v) for v in rng.value)
            if not 0 <= first <= last:
                raise rng.error(f"expected 0 <= first <= last, got [{first}, {last}]")
            own = {k: v for k, v in p.items() if k != "layers"}
            own.pop("kv_split", None)
            own.pop("attention_split", None)
            p["layers"].append((first, last, _parse_keys(item, xpu, own)))
    p["retrieval"] = parse_retrieval(node.get("retrieval"), p, xpu)
    return p


def _parse_keys(node: Node, xpu: XpuSpec, inherited: Mapping[str, Any]) -> dict[str, Any]:
    p = dict(inherited)
    mems, places = memories_of(xpu), places_of(xpu)
    pims = [u.name for u in xpu.pim]
    for key, v in node.value.items():
        if key in ("layers", "range", "retrieval"):
            continue
        if key == "prefetch":
            p["prefetch"] = y.as_bool(v)
        elif key == "kv" and v.is_mapping:
            p["kv_split"] = _shares(v, mems, "memory", xpu)
            p["kv"] = max(p["kv_split"], key=p["kv_split"].get)
        elif key == "attention" and v.is_mapping:
            p["attention_split"] = _shares(v, places, "unit", xpu)
            p["attention"] = max(p["attention_split"], key=p["attention_split"].get)
        elif key == "ffn" and v.is_mapping:
            p["ffn_split"] = _shares(v, [XPU, *pims], "unit", xpu)
            p["ffn"] = max(p["ffn_split"], key=p["ffn_split"].get)
        elif key in ("weights", "kv"):
            p[key] = _named(v, y.as_str(v).strip(), mems, "memory", xpu)
            if key == "kv":
                p.pop("kv_split", None)
        elif key == "attention":
            p[key] = _named(v, y.as_str(v).strip(), [*places, AUTO], "unit", xpu)
            p.pop("attention_split", None)
        else:  # ffn and projections read weights: the xPU or a PIM unit in the HBM
            p[key] = _named(v, y.as_str(v).strip(), [XPU, *pims, AUTO], "unit", xpu)
            p.pop(f"{key}_split", None)
    _check_places(node, xpu, p)
    return p


def _check_places(node: Node, xpu: XpuSpec, p: Mapping[str, Any]) -> None:
    pims = [u.name for u in xpu.pim]
    at = node.value.get("attention") or node
    if p.get("kv_split") and p.get("attention_split"):
        raise at.error("split the KV heads by memory (kv: {...}) or by unit (attention: "
                       "{...}), not both")
    if p.get("kv_split") and p["attention"] not in (XPU, AUTO):
        raise at.error("a head-wise KV split runs its attention on the xPU (attention: xpu)")
    units = list(p.get("attention_split") or [p["attention"]])
    for att in units:
        if att in pims and p["kv"] != HBM:
            raise at.error(f"PIM unit '{att}' computes on the HBM; the KV cache is in "
                           f"'{p['kv']}' (placement.kv)")
        if xpu.tier(att) is not None and p["kv"] != att:
            raise at.error(f"'{att}' computes beside its own memory; the KV cache must be "
                           f"there too (placement.kv: {att})")
    ffn_units = list(p.get("ffn_split") or [p["ffn"]])
    for key, used in (("ffn", ffn_units), ("projections", [p["projections"]])):
        pim = next((u for u in used if u in pims), None)
        if pim and p["weights"] != HBM:
            raise (node.value.get(key) or node).error(
                f"PIM unit '{pim}' computes on the HBM; the weights are in "
                f"'{p['weights']}' (placement.weights)")


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


def resolve_layer(p: Mapping[str, Any], platform: Platform, xpu: XpuSpec,
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
    elif p.get("attention_split"):
        pieces = tuple(AttentionPiece(n, p["kv"], at)
                       for at, n in p["attention_split"].items() if n)
    else:
        pieces = (AttentionPiece(0, p["kv"], chosen["attention"]),)
    ffn = tuple((at, n) for at, n in p["ffn_split"].items() if n) if p.get("ffn_split") \
        else ((chosen["ffn"], 0),)
    return LayerPlacement(weights=p["weights"], projections=chosen["projections"],
                          ffn=ffn, attention=pieces, prefetch=bool(p.get("prefetch")))


def layer_configs(p: Mapping[str, Any], layers: int) -> list[Mapping[str, Any]]:
    """The parsed placement of each of ``layers`` layers (later overrides win)."""
    out: list[Mapping[str, Any]] = [p] * layers
    for first, last, own in p.get("layers", []):
        for i in range(first, min(last, layers - 1) + 1):
            out[i] = own
    return out


def capacity_of(xpu: XpuSpec, memory: str) -> int:
    return xpu.hbm_capacity_bytes if memory == HBM else xpu.tier(memory).capacity_bytes


def summary_of(layers: list[LayerPlacement] | LayerPlacement) -> dict[str, Any]:
    """The placement in a few strings (per-layer differences: "hbm x60 + host x20")."""
    layers = layers if isinstance(layers, list) else [layers]

    def one(layer: LayerPlacement) -> dict[str, str]:
        att = layer.attention
        kv = "+".join(f"{p.kv_memory}:{p.kv_heads}" for p in att) \
            if len({p.kv_memory for p in att}) > 1 else att[0].kv_memory
        units = "+".join(f"{p.place}:{p.kv_heads}" for p in att) \
            if len({p.place for p in att}) > 1 else att[0].place
        ffn = "+".join(f"{at}:{n}" for at, n in layer.ffn) if len(layer.ffn) > 1 \
            else layer.ffn[0][0]
        return {"weights": layer.weights, "kv": kv, "attention": units, "ffn": ffn,
                "projections": layer.projections}

    rows = [one(lp) for lp in layers]
    out: dict[str, Any] = {}
    for key in rows[0]:
        runs: list[list] = []
        for r in rows:
            if runs and runs[-1][0] == r[key]:
                runs[-1][1] += 1
            else:
                runs.append([r[key], 1])
        out[key] = runs[0][0] if len(runs) == 1 else " + ".join(f"{v} x{n}" for v, n in runs)
    if any(lp.prefetch for lp in layers):
        out["prefetch"] = True
    return out


def check_against_model(node: Node | None, p: Mapping[str, Any], model: Any,
                        phase: str) -> None:
    """What parse_placement cannot check without the model: split sizes, layer ranges,
    and prefill's attention (on the xPU, KV in HBM)."""
    if node is None:
        return
    ranges = [item.value["range"] for item in node.value["layers"].value] \
        if "layers" in node else []
    items = [(node, p)] + [(rng, own) for rng, (*_, own) in zip(ranges, p["layers"],
                                                                strict=True)]
    for rng, (first, last, _) in zip(ranges, p.get("layers", []), strict=True):
        if last >= model.layers:
            raise rng.error(f"{model.name} has layers 0 to {model.layers - 1}; got "
                            f"[{first}, {last}]")
    for at, c in items:
        for key, total, what in (("kv_split", model.kv_heads, "KV heads"),
                                 ("attention_split", model.kv_heads, "KV heads")):
            if c.get(key) and sum(c[key].values()) != total:
                raise at.error(f"the {key.split('_')[0]} split holds "
                               f"{sum(c[key].values())} {what}; {model.name} has {total}")
        if c.get("ffn_split") and model.experts > 1 and \
                sum(c["ffn_split"].values()) != model.experts:
            raise at.error(f"the ffn split serves {sum(c['ffn_split'].values())} experts; "
                           f"{model.name} has {model.experts}")
        if phase == "prefill" and (c["attention"] != XPU or c["kv"] != HBM or
                                   c.get("kv_split") or c.get("attention_split")):
            raise at.error("prefill attention runs on the xPU with its KV in HBM "
                           "(placement.attention: xpu, placement.kv: hbm)")
    if phase != "decode" and p.get("retrieval"):
        raise node.value["retrieval"].error("retrieval selects KV tokens per decoded token: "
                                            "phase: decode")


RETRIEVAL_KEYS = ("from", "window", "top_k", "scan", "place")


def parse_retrieval(n: Node | None, p: Mapping[str, Any],
                    xpu: XpuSpec) -> dict[str, Any] | None:
    """``retrieval:``: the KV cache lives in tier ``from``; attention runs over the
    ``window`` most recent tokens in HBM on the xPU and, beside it, over ``top_k`` of the
    older tokens found by scanning ``scan`` of their keys, on ``place`` (default: the
    tier's own compute, else the xPU). ``top_k: all`` with no scan is a block-wise split
    of the cache (recent blocks in HBM, older ones in the tier)."""
    if n is None:
        return None
    if not n.is_mapping:
        raise n.error(f"expected a mapping with {', '.join(RETRIEVAL_KEYS)}")
    y.check_keys(n, RETRIEVAL_KEYS)
    layered = any(own["kv"] != HBM for *_, own in p.get("layers", []))
    if p["kv"] != HBM or p.get("kv_split") or p.get("attention_split") or layered or \
            p["attention"] not in (XPU, AUTO):
        raise n.error("retrieval places the KV cache itself: leave placement.kv and "
                      "placement.attention at their defaults")
    src = y.require(n, "from")
    tier = _named(src, y.as_str(src).strip(), [t.name for t in xpu.tiers], "tier", xpu)
    window = y.as_int(y.require(n, "window"))
    if window < 1:
        raise n.value["window"].error(f"expected at least 1 token, got {window}")
    top = n.value.get("top_k")
    top_k = 0
    if top is not None and top.value != "all":
        top_k = y.as_int(top)
        if top_k < 1:
            raise top.error(f"expected a number of tokens >= 1 or 'all', got {top_k}")
    scan = 0.0
    if "scan" in n.value:
        scan = float(y.as_number(n.value["scan"]))
        if not 0 <= scan <= 1:
            raise n.value["scan"].error(f"expected a fraction of the keys in [0, 1], got "
                                        f"{scan}")
    if top_k == 0 and scan:
        raise n.value["scan"].error("a scan finds top_k tokens: give top_k, or no scan "
                                    "for top_k: all")
    own = tier if xpu.tier(tier).has_compute else XPU
    place = own
    if "place" in n.value:
        place = _named(n.value["place"], y.as_str(n.value["place"]).strip(),
                       sorted({XPU, own}), "unit that reaches the tier", xpu)
    return {"from": tier, "window": window, "top_k": top_k, "scan": scan, "place": place}


def retrieval_pieces(r: Mapping[str, Any], kv_heads: int) -> tuple[AttentionPiece, ...]:
    """The two attention pieces of ``retrieval`` (parse_retrieval)."""
    return (AttentionPiece(kv_heads, HBM, XPU, tokens=r["window"]),
            AttentionPiece(kv_heads, r["from"], r["place"], skip=r["window"],
                           tokens=r["top_k"], gather=r["top_k"] > 0, scan=r["scan"]))
