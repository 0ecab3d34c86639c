"""LLM experiment points: an xPU preset plus an attention or model workload, run as a task graph.

Three workload kinds (their keys are listed in ``KEYS``; docs/llm.md has examples):

* ``attention``: prefill / training attention of one shape, ``algorithm: standard | flash``,
  ``backward: true`` for training (forward + backward);
* ``decode_attention``: one decode step's attention over all layers of a model, for a
  batch of requests with their own context lengths, under a KV layout (contiguous, paged,
  virtual) with optional shared prefix, quantised KV and eviction;
* ``llm``: whole-model ``decode`` steps or a ``prefill``: projections, attention, FFN or MoE,
  LM head.

``resolve`` checks everything a run would trip over (model, device, shapes, tile against
SRAM, contexts against the model's maximum, KV cache against the HBM left after the
weights) so an experiment fails before any point runs. ``run`` builds the task graph and
runs it on the transfer-level engine (``level: transfer``, the default) or, for the two
attention kinds, request by request on the machine configured as the xPU
(``level: request``, sim/llm_machine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.config import yamlfile as y
from sim.config.units import UnitError, parse_bytes
from sim.config.yamlfile import Node
from sim.errors import UserError
from sim.llm.capacity import kv_fit, weight_bytes
from sim.xpu import XpuSpec
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.model_spec import ModelSpec
from workloads.llm.taskgraph import TaskGraph

LLM_KINDS = ("attention", "decode_attention", "llm")
LEVELS = ("transfer", "request")
COMMON = ("kind", "seed", "level")
KEYS = {
    "attention": (*COMMON, "algorithm", "backward", "batch", "heads", "seq", "seq_kv",
                  "head_dim", "causal", "dropout", "sram", "granularity", "bytes_per_element"),
    "decode_attention": (*COMMON, "model", "precision", "kv_heads", "batch", "context",
                         "layout", "kv_bits", "retained", "shared_prefix", "layers",
                         "granularity"),
    "llm": (*COMMON, "model", "precision", "phase", "batch", "context", "prompt", "steps",
            "layout", "kv_bits", "retained", "shared_prefix", "expert_skew", "placement",
            "switch_from", "flash_loading"),
}
ALGORITHMS = ("standard", "flash")
PHASES = ("decode", "prefill")
# weights, activations and KV stored at this width (bytes per element); fp8 also selects
# the device's 8-bit tensor peak where it has one (sim/xpu.py XpuSpec.flops_for)
PRECISIONS = {"fp16": 2, "bf16": 2, "fp8": 1}
GRANULARITIES = ("tile", "kernel")


@dataclass(frozen=True)
class LlmPoint:
    """A resolved LLM point: the device, the workload's plain parameters and the seed."""

    hardware: str
    xpu: XpuSpec
    kind: str
    workload: dict[str, Any]
    seed: int
    base_dir: str = ""  # where relative files (context CSVs) are looked up

    def key(self) -> dict[str, Any]:
        hw = dataclasses.asdict(self.xpu)
        hw.pop("path", None)
        return {"hardware": hw, "workload": {"kind": self.kind, **self.workload},
                "seed": self.seed}


# --------------------------------------------------------------------------- parsing


def _get(node: Node, key: str, default: Any = None) -> Node | None:
    return node.value.get(key) if key in node else default


def _int(node: Node, key: str, default: int | None = None, minimum: int = 1) -> int:
    n = _get(node, key)
    if n is None:
        if default is None:
            raise y.missing(node, key)
        return default
    return y.as_int(n, minimum=minimum)


def _bool(node: Node, key: str, default: bool) -> bool:
    n = _get(node, key)
    return default if n is None else y.as_bool(n)


def _enum(node: Node, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
    n = _get(node, key)
    if n is None:
        if default is None:
            raise y.missing(node, key, f" (one of {', '.join(choices)})")
        return default
    return y.as_enum(n, choices)


def _fraction(node: Node, key: str, default: float) -> float:
    n = _get(node, key)
    if n is None:
        return default
    v = float(y.as_number(n))
    if not 0 < v <= 1:
        raise n.error(f"expected a fraction in (0, 1], got {v}")
    return v


def _bytes(node: Node, key: str, default: int) -> int:
    n = _get(node, key)
    if n is None:
        return default
    if isinstance(n.value, int) and not isinstance(n.value, bool):
        v = n.value
    else:
        try:
            v = parse_bytes(n.value)
        except UnitError as e:
            raise n.error(str(e)) from None
    if v < 1:
        raise n.error(f"must be positive, got {v}")
    return v


def _kv_bits(node: Node) -> int | None:
    n = _get(node, "kv_bits")
    if n is None:
        return None
    v = y.as_int(n)
    if v not in (2, 4, 8, 16, 32):
        raise n.error(f"expected 2, 4, 8, 16 or 32 bits per KV element, got {v}")
    return v


def _plain(node: Node | None) -> Any:
    return None if node is None else node.plain()


def _user(node: Node, fn: Any, *args: Any, **kw: Any) -> Any:
    """Call a workload function; its UserError is re-raised at ``node`` (file:line, key)."""
    try:
        return fn(*args, **kw)
    except UserError as e:
        if isinstance(e, y.ConfigError):
            raise
        raise node.error(str(e)) from None


def model_ref(node: Node) -> str:
    """The workload's `model` as a name, or a file path made relative to the experiment."""
    m = y.require(node, "model")
    ref = y.as_str(m).strip()
    if y.is_file_ref(ref) and not Path(ref).is_absolute() and not m.path.startswith("<"):
        ref = str(Path(m.path).parent / ref)
    return ref


def _model(node: Node) -> ModelSpec:
    from workloads.llm.models import load_model

    m = y.require(node, "model")
    model = _user(m, load_model, model_ref(node))
    prec = _get(node, "precision")
    if prec is not None:
        model = dataclasses.replace(model, bytes_per_element=PRECISIONS[
            y.as_enum(prec, tuple(PRECISIONS))])
    return model


def model_of(p: Mapping[str, Any]) -> ModelSpec:
    """The model a resolved workload runs: its precision and KV-head override applied."""
    from workloads.llm.models import load_model

    model = load_model(p["model"])
    if p.get("precision"):
        model = dataclasses.replace(model, bytes_per_element=PRECISIONS[p["precision"]])
    if p.get("kv_heads"):
        model = dataclasses.replace(model, kv_heads=p["kv_heads"])
    return model


def _level(node: Node, kind: str) -> str:
    level = _enum(node, "level", LEVELS, "transfer")
    if level == "request" and kind == "llm":
        raise node.value["level"].error("a whole model runs at transfer level only (billions "
                                        "of requests per step); use level: transfer")
    return level


def _attention_params(node: Node, xpu: XpuSpec) -> dict[str, Any]:
    from workloads.llm.flash_tiling import flash_tiling
    from workloads.llm.head_graph import check_prefill_shape

    seq = _int(node, "seq")
    p = {
        "algorithm": _enum(node, "algorithm", ALGORITHMS),
        "backward": _bool(node, "backward", False),
        "batch": _int(node, "batch"), "heads": _int(node, "heads"), "seq": seq,
        "seq_kv": _int(node, "seq_kv", seq), "head_dim": _int(node, "head_dim"),
        "causal": _bool(node, "causal", False), "dropout": _bool(node, "dropout", True),
        "sram": _bytes(node, "sram", xpu.sram_bytes_per_sm),
        "granularity": _enum(node, "granularity", GRANULARITIES, "tile"),
        "bytes_per_element": _int(node, "bytes_per_element", 2),
        "level": _level(node, "attention"),
    }
    shape = attention_shape(p)
    _user(node, check_prefill_shape, shape)
    if p["algorithm"] == "flash":
        _user(_get(node, "sram") or node, flash_tiling, shape, p["sram"])
    return p


def attention_shape(p: Mapping[str, Any]) -> AttentionShape:

    return AttentionShape(batch=p["batch"], heads=p["heads"], seq_q=p["seq"],
                          seq_kv=p["seq_kv"], head_dim=p["head_dim"],
                          bytes_per_element=p["bytes_per_element"], causal=p["causal"])


def _contexts(node: Node, model: Any, batch: int, seed: int, base_dir: str) -> np.ndarray:
    from workloads.llm.context_lengths import context_lengths

    c = y.require(node, "context")
    return _user(c, context_lengths, c.plain(), batch=batch, max_len=model.max_context,
                 seed=seed, base_dir=base_dir or None, where="context")


LAYOUT_PARAMETER = {"paged": "block_tokens", "virtual": "page_bytes", "contiguous": "max_len"}


def layout_params(plain: Any) -> Any:
    """A layout as written: a mapping ({kind: paged, block_tokens: 16}), a kind name, or
    "kind:value" with the kind's one parameter ("paged:16" block tokens, "virtual:64 KiB"
    page size, "contiguous:2048" reserved tokens), which sweeps as one axis. Keys set to
    null are dropped (a zipped sweep may give non-paged points block_tokens: null)."""
    if isinstance(plain, Mapping):
        return {k: v for k, v in plain.items() if v is not None}
    if plain is None:
        return "paged"
    if isinstance(plain, str) and ":" in plain:
        kind, _, value = (x.strip() for x in plain.partition(":"))
        key = LAYOUT_PARAMETER.get(kind)
        if key is None:
            return {"kind": kind}  # make_layout names the valid kinds
        return {"kind": kind, key: int(value) if value.isdigit() else value}
    return plain


def _layout(node: Node, model: Any):
    from workloads.llm.kv_layout import make_layout

    n = _get(node, "layout")
    return _user(n or node, make_layout, layout_params(_plain(n)), max_len=model.max_context,
                 where="layout")


def _check_fits(node: Node, model: ModelSpec, xpu: XpuSpec, layout: Any, contexts: np.ndarray,
                p: Mapping[str, Any]) -> None:
    _user(_get(node, "batch") or node, kv_fit, model, xpu, layout, contexts, p)


def _decode_common(node: Node, model: ModelSpec) -> dict[str, Any]:
    """The keys decode_attention and llm decode share, as plain values."""
    batch = _int(node, "batch")
    prec = _get(node, "precision")
    p: dict[str, Any] = {
        "model": model_ref(node), "batch": batch,
        "precision": None if prec is None else prec.value,
        "context": _plain(y.require(node, "context")),
        "layout": layout_params(_plain(_get(node, "layout"))),
        "kv_bits": _kv_bits(node), "retained": _fraction(node, "retained", 1.0),
        "shared_prefix": _int(node, "shared_prefix", 0, minimum=0),
    }
    return p


def _decode_attention_params(node: Node, xpu: XpuSpec, seed: int,
                             base_dir: str) -> dict[str, Any]:
    model = _model(node)
    p = _decode_common(node, model)
    kv = _get(node, "kv_heads")
    p["kv_heads"] = model.kv_heads if kv is None else y.as_int(kv)
    if model.heads % p["kv_heads"]:
        raise node.value["kv_heads"].error(
            f"{model.name} has {model.heads} query heads, not a multiple of {p['kv_heads']} "
            f"KV heads")
    p["layers"] = _int(node, "layers", model.layers)
    p["granularity"] = _enum(node, "granularity", GRANULARITIES, "kernel")
    p["level"] = _level(node, "decode_attention")
    model = dataclasses.replace(model, kv_heads=p["kv_heads"])
    contexts = _contexts(node, model, p["batch"], seed, base_dir)
    _check_fits(node, model, xpu, _layout(node, model), contexts, p)
    return p


def _llm_params(node: Node, xpu: XpuSpec, seed: int, base_dir: str) -> dict[str, Any]:
    from sim.llm.placement import check_against_model, parse_placement

    model = _model(node)
    _level(node, "llm")
    phase = _enum(node, "phase", PHASES, "decode")
    placement = parse_placement(_get(node, "placement"), xpu)
    check_against_model(_get(node, "placement"), placement, model, phase)
    if phase == "prefill":
        prec = _get(node, "precision")
        p = {"model": model_ref(node), "phase": phase, "batch": _int(node, "batch"),
             "prompt": _int(node, "prompt"), "precision": None if prec is None else prec.value}
        if p["prompt"] > model.max_context:
            raise node.value["prompt"].error(f"a prompt of {p['prompt']} tokens is beyond "
                                             f"{model.name}'s maximum context of "
                                             f"{model.max_context}")
        contexts = np.full(p["batch"], p["prompt"], np.int64)
        p["placement"] = placement
        _check_fits(node, model, xpu, _layout(node, model), contexts, {"placement": placement})
        p["layout"] = layout_params(_plain(_get(node, "layout")))
    else:
        p = {"phase": phase, **_decode_common(node, model),
             "steps": _int(node, "steps", 1), "placement": placement}
        contexts = _contexts(node, model, p["batch"], seed, base_dir)
        last = contexts + (p["steps"] - 1)
        if int(last.max()) > model.max_context:
            raise node.value["steps"].error(
                f"after {p['steps']} steps the longest context reaches {int(last.max())} "
                f"tokens, beyond {model.name}'s maximum of {model.max_context}")
        _check_fits(node, model, xpu, _layout(node, model), last, p)
    p["switch_from"] = _switch_from(node, model, xpu, placement)
    p["flash_loading"] = _flash_loading(node, model, xpu, phase)
    skew = _get(node, "expert_skew")
    p["expert_skew"] = 0.0 if skew is None else float(y.as_number(skew))
    if p["expert_skew"] < 0:
        raise node.value["expert_skew"].error("expected a skew >= 0 (0: uniform routing)")
    return p


def _tier_name(n: Node, xpu: XpuSpec) -> str:
    """A tier of the device named at ``n`` (ConfigError with a suggestion otherwise)."""
    tier = y.as_str(n).strip()
    names = [t.name for t in xpu.tiers]
    if tier not in names:
        raise n.error(f"'{tier}' is not a tier of {xpu.name}{y.did_you_mean(tier, names)}; "
                      f"it has: {', '.join(names) or 'none'}")
    return tier


def _switch_from(node: Node, model: ModelSpec, xpu: XpuSpec,
                 placement: Mapping[str, str]) -> str | None:
    """``switch_from: <tier>``: the model is first loaded into HBM from that tier (a server
    switching between models held in a larger, slower memory, as SambaNova SN40L's DDR)."""
    n = _get(node, "switch_from")
    if n is None:
        return None
    tier = _tier_name(n, xpu)
    if placement["weights"] != "hbm":
        raise n.error("a switch loads the weights into HBM: placement.weights must be hbm")
    cap = xpu.tier(tier).capacity_bytes
    if weight_bytes(model) > cap:
        raise n.error(f"{model.name}'s weights need {weight_bytes(model) / 2**30:.1f} GiB, "
                      f"more than the {cap / 2**30:.1f} GiB of tier '{tier}'")
    return tier


FLASH_LOADING_KEYS = ("mode", "sparsity", "persistence", "window", "from")


def _flash_loading(node: Node, model: ModelSpec, xpu: XpuSpec, phase: str) -> dict | None:
    """``flash_loading:`` (workloads/llm/flash_loading.py) as plain values, checked."""
    from workloads.llm.flash_loading import MODES

    n = _get(node, "flash_loading")
    if n is None:
        return None
    if not n.is_mapping:
        raise n.error(f"expected a mapping with {', '.join(FLASH_LOADING_KEYS)}")
    y.check_keys(n, FLASH_LOADING_KEYS)
    if model.experts > 1 or phase != "decode":
        raise n.error("flash loading streams a dense FFN per decoded token: a dense model, "
                      "phase: decode")
    src = _tier_name(y.require(n, "from"), xpu)
    out = {"mode": y.as_enum(y.require(n, "mode"), MODES), "from": src,
           "sparsity": _fraction(n, "sparsity", 0.9),
           "persistence": _fraction(n, "persistence", 0.5),
           "window": _int(n, "window", 5, minimum=0)}
    if out["sparsity"] >= 1:
        raise n.value["sparsity"].error("a sparsity of 1 leaves no active neuron")
    return out


def switch_graph(model: ModelSpec, tier: str) -> TaskGraph:
    """Loading the model's weights from ``tier`` into HBM, layer by layer (then the rest:
    embeddings and LM head), each copy one large transfer after the previous one."""
    from workloads.llm.layer_graph import layer_weight_bytes
    from workloads.llm.taskgraph import TaskGraphBuilder

    b = TaskGraphBuilder()
    per_layer = layer_weight_bytes(model)
    rest = weight_bytes(model) - model.layers * per_layer
    deps: list[int] = []
    for nbytes in [per_layer] * model.layers + ([rest] if rest > 0 else []):
        deps = [b.transfer(tier, "hbm", nbytes, deps=deps, label="model_switch")]
    return b.build()


def resolve(xpu: XpuSpec, hardware: str, kind: str, node: Node, seed: int) -> LlmPoint:
    """Validate an LLM workload mapping against the device (ConfigError on mistakes)."""
    y.check_keys(node, KEYS[kind])
    base_dir = str(Path(node.path).parent) if node.path and not node.path.startswith("<") \
        else ""
    if kind == "attention":
        params = _attention_params(node, xpu)
    elif kind == "decode_attention":
        params = _decode_attention_params(node, xpu, seed, base_dir)
    else:
        params = _llm_params(node, xpu, seed, base_dir)
    return LlmPoint(hardware, xpu, kind, params, seed, base_dir)


# --------------------------------------------------------------------------- graphs


def build_graph(point: LlmPoint, places: int = 1) -> tuple[TaskGraph, dict[str, Any]]:
    """The point's task graph and the facts its summary needs (steps, tokens, extras)."""
    p = point.workload
    if point.kind == "attention":
        from workloads.llm.flash_attention import flash_attention
        from workloads.llm.standard_attention import standard_attention

        shape = attention_shape(p)
        if p["algorithm"] == "flash":
            g = flash_attention(shape, sram_bytes=p["sram"], backward=p["backward"],
                                dropout=p["dropout"], granularity=p["granularity"],
                                places=places)
        else:
            # row blocks sized to the SRAM the SM really has (the eager kernels' tiles are
            # the implementation's choice; FlashAttention's M is the paper's figure)
            g = standard_attention(shape, backward=p["backward"], dropout=p["dropout"],
                                   granularity=p["granularity"], places=places,
                                   sram_bytes=min(p["sram"], point.xpu.sram_bytes_per_sm))
        return g, {"steps": 1, "tokens": p["batch"] * p["seq"]}
    model = model_of(p)
    if point.kind == "decode_attention":
        return _decode_attention_graph(point, model, places)
    from workloads.llm.model_graph import decode_steps_graph, prefill_graph

    if p.get("switch_from"):
        from workloads.llm.taskgraph import concat

        g, facts = build_graph(_without_switch(point), places)
        sw = switch_graph(model, p["switch_from"])
        return concat([sw, g]), {**facts, "switch_tasks": sw.n}
    if p["phase"] == "prefill":
        placement = _layer_placement(point, model, p["batch"] * p["prompt"], None)
        g = prefill_graph(model, p["batch"], p["prompt"], sram_bytes=point.xpu.sram_bytes_per_sm,
                          seed=point.seed, expert_skew=p["expert_skew"], placement=placement)
        return g, {"steps": 1, "tokens": p["batch"] * p["prompt"],
                   "extras": _placement_extras(placement)}
    contexts, layout = _decode_inputs(point, model)
    placement = _layer_placement(point, model, p["batch"], (contexts, layout))
    g = decode_steps_graph(model, contexts, p["steps"], layout=layout, kv_bits=p["kv_bits"],
                           retained=p["retained"], shared_prefix=p["shared_prefix"],
                           seed=point.seed, expert_skew=p["expert_skew"], placement=placement)
    return g, {"steps": p["steps"], "tokens": p["batch"] * p["steps"],
               "extras": {**kv_fit(model, point.xpu, layout, contexts, p),
                          **_placement_extras(placement)}}


def _without_switch(point: LlmPoint) -> LlmPoint:
    return dataclasses.replace(point, workload={**point.workload, "switch_from": None})


def _layer_placement(point: LlmPoint, model: ModelSpec, tokens: int, decode: Any) -> Any:
    """The resolved placement of every layer (``auto`` decided by the roofline of this
    point's kernels on its platform); None when the workload places nothing."""
    from sim.llm.placement import layer_configs, resolve_layer, retrieval_pieces
    from sim.transfer.platform import platform_for_xpu
    from workloads.llm.decode_attention import decode_attention_metrics
    from workloads.llm.layer_graph import expert_weight_bytes

    p = point.workload.get("placement")
    if not p:
        return None
    e, h, d = model.bytes_per_element, model.hidden, model.head_dim
    proj = h * (model.heads + 2 * model.kv_heads) * d + model.heads * d * h
    up, down = expert_weight_bytes(model)
    per_expert = (up + down) // e
    active = min(model.experts, tokens * model.top_k)
    kernels = {"projections": (2 * tokens * proj, proj * e),
               "ffn": (2 * tokens * model.top_k * per_expert, active * per_expert * e)}
    if decode is not None:
        contexts, layout = decode
        shape = AttentionShape(batch=len(contexts), heads=model.heads, seq_q=1,
                               seq_kv=int(contexts.max()), head_dim=d,
                               kv_heads=model.kv_heads, bytes_per_element=e)
        m = decode_attention_metrics(shape, contexts, layout=layout,
                                     kv_bits=point.workload.get("kv_bits"),
                                     retained=point.workload.get("retained", 1.0),
                                     shared_prefix=point.workload.get("shared_prefix", 0))
        kernels["attention"] = (m.flops, m.hbm_bytes)
    else:
        kernels["attention"] = (1, 1)  # prefill: attention stays on the xPU
    platform = platform_for_xpu(device_for(point))
    resolved: dict[int, Any] = {}
    layers = []
    for cfg in layer_configs(p, model.layers):
        if id(cfg) not in resolved:
            resolved[id(cfg)] = resolve_layer(cfg, platform, point.xpu, kernels)
        layers.append(resolved[id(cfg)])
    fl = point.workload.get("flash_loading")
    if fl:
        from workloads.llm.flash_loading import FlashLoading, load_plan

        plan = load_plan(h, model.ffn, e, model.ffn_matrices, FlashLoading(
            fl["mode"], fl["sparsity"], fl["persistence"], fl["window"]), seed=point.seed)
        layers = [dataclasses.replace(lp, ffn_stream=(fl["from"], plan)) for lp in layers]
    r = p.get("retrieval")
    if r:
        pieces = retrieval_pieces(r, model.kv_heads)
        layers = [dataclasses.replace(lp, attention=pieces) for lp in layers]
    return layers[0] if all(lp is layers[0] for lp in layers) else layers


def _placement_extras(placement: Any) -> dict[str, Any]:
    from sim.llm.placement import summary_of

    if placement is None:
        return {}
    return {f"placed.{k}": v for k, v in summary_of(placement).items()}


def _decode_inputs(point: LlmPoint, model: ModelSpec) -> tuple[np.ndarray, Any]:
    """The batch's context lengths (seeded) and its KV layout."""
    from workloads.llm.context_lengths import context_lengths
    from workloads.llm.kv_layout import make_layout

    p = point.workload
    contexts = context_lengths(p["context"], batch=p["batch"], max_len=model.max_context,
                               seed=point.seed, base_dir=point.base_dir or None)
    return contexts, make_layout(p["layout"], max_len=model.max_context)


def _decode_attention_graph(point: LlmPoint, model: ModelSpec, places: int):
    from workloads.llm.decode_attention import decode_attention

    p = point.workload
    contexts, layout = _decode_inputs(point, model)
    shape = AttentionShape(batch=p["batch"], heads=model.heads, seq_q=1,
                           seq_kv=int(contexts.max()), head_dim=model.head_dim,
                           kv_heads=p["kv_heads"], bytes_per_element=model.bytes_per_element)
    kw = dict(layout=layout, kv_bits=p["kv_bits"], retained=p["retained"],
              shared_prefix=p["shared_prefix"])
    one = decode_attention(shape, contexts, granularity=p["granularity"], places=places,
                           seed=point.seed, **kw)
    extras = {"context_mean": float(contexts.mean()), "context_max": int(contexts.max()),
              **kv_fit(model, point.xpu, layout, contexts, p)}
    return one.repeat(p["layers"]), {"steps": 1, "tokens": p["batch"], "extras": extras}


# --------------------------------------------------------------------------- running


def run(point: LlmPoint, engine: str = "fast") -> dict[str, Any]:
    """Simulate a point; the result dict of sim/sweep.py (tiers, compute, metrics, summary)."""
    level = point.workload.get("level", "transfer")
    if level == "request":
        return _run_request_level(point, engine)
    from sim.llm.summary import summarize
    from sim.transfer.bind import bind
    from sim.transfer.engine import run_transfer
    from sim.transfer.platform import platform_for_xpu

    if point.workload.get("granularity") == "tile":
        # the places the request level would run (so streams link per SM thread as there)
        # and one tensor resource per SM (sim/transfer/platform.py), as the machine has
        graph, facts = build_graph(point, places=request_places(point))
        platform = platform_for_xpu(device_for(point), per_sm_compute=True)
    else:
        graph, facts = build_graph(point)
        platform = platform_for_xpu(device_for(point))
    result = run_transfer(bind(graph, platform), engine=engine)
    if facts.get("switch_tasks"):
        facts = {**facts, "extras": {**facts.get("extras", {}), "switch_ms": float(
            result.end[:facts["switch_tasks"]].max()) / 1e9}}
    s = summarize(graph, result, platform, steps=facts["steps"], tokens=facts["tokens"])
    return _result(point, graph, int(result.end_time), s, facts)


def result_skeleton(point: LlmPoint) -> dict[str, Any] | None:
    """The keys of run(point)'s result, from a run of one step of it (a model's labels and
    extras are known only once its graph is built); None at the request level or at tile
    granularity, whose graphs are too large to build twice."""
    w = point.workload
    if w.get("level", "transfer") == "request" or w.get("granularity") == "tile":
        return None
    return run(dataclasses.replace(point, workload={**w, "steps": 1}) if "steps" in w
               else point)


def device_for(point: LlmPoint) -> XpuSpec:
    """The xPU with the tensor peak of the point's operand width."""
    p = point.workload
    if point.kind == "attention":
        width = p["bytes_per_element"]
    else:
        width = model_of(p).bytes_per_element
    return dataclasses.replace(point.xpu, flops_per_s=point.xpu.flops_for(width))


def request_places(point: LlmPoint) -> int:
    """Thread blocks the xPU runs at once: SMs x blocks per SM. A prefill attention block
    tiles ``sram`` bytes of its SM's SRAM, so only as many as fit run side by side (the
    FlashAttention paper's 192 KB tiles: one per SM); decode tiles are small, so every
    thread of the request level's SM (its preset) holds one."""
    from sim.llm_machine.device import machine_for_xpu

    spec = machine_for_xpu(device_for(point)).spec
    per_sm = spec.threads_per_core
    if point.kind == "attention":
        per_sm = min(per_sm, max(1, point.xpu.sram_bytes_per_sm // point.workload["sram"]))
    return spec.cores * per_sm


def _run_request_level(point: LlmPoint, engine: str) -> dict[str, Any]:
    from sim.llm_machine.device import machine_for_xpu
    from sim.llm_machine.run import run_graph_on_machine

    device = machine_for_xpu(device_for(point))
    graph, facts = build_graph(point, places=request_places(point))
    r = run_graph_on_machine(graph, device, engine=engine)
    s = {"time_ps": r["time_ps"], "request_level": {k: v for k, v in r.items()
                                                    if isinstance(v, int | float)}}
    return _result(point, graph, int(r["time_ps"]), s, facts)


def _result(point: LlmPoint, graph: Any, time_ps: int, summary: dict[str, Any],
            facts: dict[str, Any]) -> dict[str, Any]:
    xpu = point.xpu
    t_s = time_ps * 1e-12
    flops = graph.total_flops()

    def tier(name: str, peak: float) -> dict[str, Any]:
        read, written = graph.bytes_read(name), graph.bytes_written(name)
        bw = (read + written) / t_s if t_s > 0 else 0.0
        return {"bytes_read": read, "bytes_written": written,
                "bandwidth_gb_per_s": bw / 1e9, "peak_gb_per_s": peak / 1e9,
                "utilization": bw / peak if peak else 0.0}

    hbm = tier("hbm", xpu.hbm_bytes_per_s)
    tiers = {"hbm": hbm, "sram": tier("sram", xpu.sram_bytes_per_clock_per_sm * xpu.sms
                                      * xpu.clock_hz)}
    for t in xpu.tiers:
        if t.name in graph.memories:
            tiers[t.name] = tier(t.name, _tier_peak(t))
    steps = facts["steps"]
    metrics: dict[str, Any] = {
        "tasks": graph.n,
        "hbm_gb": (hbm["bytes_read"] + hbm["bytes_written"]) / 1e9,
        "gflops": flops / 1e9,
        "runtime_ms": time_ps / 1e9,
        "time_per_step_ms": time_ps / 1e9 / steps,
        "tokens_per_s": facts["tokens"] / t_s if t_s > 0 else 0.0,
        "tflop_per_s": flops / t_s / 1e12 if t_s > 0 else 0.0,
        "intensity_flop_per_byte": flops / max(1, hbm["bytes_read"] + hbm["bytes_written"]),
    }
    metrics.update(facts.get("extras", {}))
    if point.kind == "llm":  # a model's few labels (qkv_proj, attention, ffn, ...) as columns
        for name, share in (summary.get("labels") or {}).items():
            metrics[f"share.{name}"] = share["share"]
    return {
        "sim_time_ns": time_ps / 1e3,
        "tiers": tiers,
        "compute": {"ops": flops, "peak_ops_per_s": device_for(point).flops_per_s},
        "breakdown": _breakdown(summary),
        "metrics": metrics,
        "summary": summary,
    }


def _tier_peak(t: Any) -> int:
    """A tier's peak as the xPU sees it (platform.TierPaths)."""
    from sim.transfer.platform import tier_paths

    return tier_paths(t).peak_bytes_per_s


def _breakdown(summary: dict[str, Any]) -> dict[str, float]:
    """Each label's time alone, the time two or more overlap, and idle: fractions adding to 1
    (the stacked bars of the `breakdown` plot)."""
    labels = summary.get("labels")
    if not labels:
        return {}
    out = {name: v["exclusive"] for name, v in labels.items()}
    out["(overlapping)"] = summary["overlap"]
    out["(idle)"] = summary["idle"]
    return out
