"""One point: a resolved machine plus a workload, and running it to a result dict.

``resolve_point`` validates everything (hardware preset with overrides, workload keys, a
SpGEMM point's matrix files and shapes from their headers) and is cheap, so an experiment
checks all its points before running any. ``run_resolved`` simulates one point; its result is
plain JSON-ready data (see sim/sweep.py for the keys). ``result_skeleton`` gives a point's
result keys without running it (sim.sweep checks plot metrics with it) and ``sweep_warnings``
what is legal in a sweep but probably not meant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config import yamlfile as y
from sim.config.errors import ConfigError
from sim.config.units import parse_bytes
from sim.config.yamlfile import Node
from sim.llm.point import LLM_KINDS, LlmPoint
from sim.machine.model import MachineSpec
from workloads.ops import OpSource


@dataclass(frozen=True)
class ResolvedPoint:
    hardware: str  # preset name or path it came from
    spec: MachineSpec
    kind: str
    workload: dict[str, Any]  # resolved workload parameters (plain values)
    seed: int

    def key(self) -> dict[str, Any]:
        """The fully resolved configuration (hashed by the results store)."""
        spec = dataclasses.asdict(self.spec)
        spec.pop("path", None)
        return {"hardware": spec, "workload": {"kind": self.kind, **self.workload},
                "seed": self.seed}


# --------------------------------------------------------------------------- workloads
SYNTHETIC_KEYS = ("kind", "pattern", "threads", "ops_per_thread", "total_ops", "footprint", "access",
                  "stride", "mix", "compute_cycles", "space", "cached", "seed")
MIX_KEYS = ("load", "store", "atomic", "compute")


def _ops_per_thread(node: Node, spec: MachineSpec) -> int:
    """ops_per_thread, or total_ops shared evenly (rounded up) by the threads."""
    if ("ops_per_thread" in node) == ("total_ops" in node):
        raise node.error("give exactly one of ops_per_thread and total_ops")
    if "ops_per_thread" in node:
        return y.as_int(node.value["ops_per_thread"])
    threads = y.as_int(node.value["threads"]) if "threads" in node else spec.threads
    return -(-y.as_int(node.value["total_ops"]) // threads)


def _synthetic_params(node: Node, spec: MachineSpec) -> dict[str, Any]:
    from workloads.synthetic import PATTERNS, SPACES

    y.check_keys(node, SYNTHETIC_KEYS)
    out: dict[str, Any] = {
        "pattern": y.as_enum(node.value["pattern"], PATTERNS) if "pattern" in node else "random",
        "threads": y.as_int(node.value["threads"]) if "threads" in node else spec.threads,
        "ops_per_thread": _ops_per_thread(node, spec),
        "footprint": y.as_positive_unit(node.value["footprint"], parse_bytes)
        if "footprint" in node else 64 << 20,
        "access_bytes": y.as_positive_unit(node.value["access"], parse_bytes)
        if "access" in node else 8,
        "stride": y.as_positive_unit(node.value["stride"], parse_bytes) if "stride" in node
        else 64,
        "compute_cycles": y.as_int(node.value["compute_cycles"]) if "compute_cycles" in node else 1,
        "space": y.as_enum(node.value["space"], tuple(SPACES)) if "space" in node else "dram",
        "cached": y.as_bool(node.value["cached"]) if "cached" in node else False,
    }
    if out["threads"] > spec.threads:
        raise node.value["threads"].error(
            f"{out['threads']} threads do not fit the machine ({spec.threads} threads: "
            f"{spec.cores} cores x {spec.threads_per_core})")
    mix = {"load": 1.0, "store": 0.0, "atomic": 0.0, "compute": 0.0}
    if "mix" in node:
        m = node.value["mix"]
        y.check_keys(m, MIX_KEYS)
        for k in MIX_KEYS:
            if k in m:
                v = y.as_number(m.value[k])
                if v < 0:
                    raise m.value[k].error(f"must be >= 0, got {v}")
                mix[k] = float(v)
            else:
                mix[k] = 0.0
        if sum(mix.values()) <= 0:
            raise m.error("at least one op kind needs a positive weight")
    out["mix"] = mix
    if out["footprint"] < out["access_bytes"]:
        where = node.value["footprint"] if "footprint" in node else node.value["access"]
        raise where.error(f"a footprint of {out['footprint']} B holds no access of "
                          f"{out['access_bytes']} B (access)")
    if out["space"] == "scratchpad" and out["footprint"] > spec.sp_size:
        raise node.value["footprint"].error(
            f"{out['footprint']} B does not fit the {spec.sp_size} B scratchpad")
    return out


def _synthetic_source(params: dict[str, Any], spec: MachineSpec, seed: int) -> OpSource:
    from workloads.synthetic import SyntheticWorkload

    p = dict(params)
    mix = p.pop("mix")
    return SyntheticWorkload(seed=seed, **p, **mix).source()


def _spgemm_target(spec: MachineSpec):
    from sim.engine import channel_capacity
    from workloads.spgemm import SpgemmTarget

    return SpgemmTarget(cores=spec.cores, threads_per_core=spec.threads_per_core,
                        sp_bytes=spec.sp_size, sp_banks=spec.sp_banks,
                        line_bytes=min(64, spec.interleave_bytes),
                        sp_interleave=spec.sp_interleave,
                        dram_bytes=channel_capacity(spec) * spec.controllers)


def _spgemm_params(node: Node, spec: MachineSpec) -> dict[str, Any]:
    """Each mistake at its key: parameters (the workload's own checks, one key at a time),
    dataflow and version, and the matrices: files exist, names are shipped, generators and
    their arguments are known, A·B is defined (shapes from file headers; nothing is read)."""
    from sim.errors import UserError
    from workloads.spgemm import DATAFLOWS, SMASH_VERSIONS
    from workloads.spgemm.common import DEFAULTS, parse_params
    from workloads.spgemm.matrices import check_shapes, label_of, matrix_shape

    y.check_keys(node, ("kind", *DEFAULTS))
    for key, val in node.value.items():
        if key not in ("kind", "dataflow", "version", "a", "b"):
            try:
                parse_params({key: val.plain()})
            except UserError as e:
                raise val.error(str(e)) from None
    flow_node = node.get("dataflow")
    if flow_node is None:
        raise y.missing(node, "dataflow", f" (one of {', '.join(DATAFLOWS)})")
    flow = y.as_enum(flow_node, DATAFLOWS)
    version = node.get("version")  # null (a zip group's non-smash entries): not given
    if version is not None and version.value is not None:
        if flow != "smash":
            raise version.error(f"applies to the smash dataflow only, and the dataflow is "
                                f"{flow!r}; remove it (or give null in a zip group)")
        if y.as_int(version) not in SMASH_VERSIONS:
            raise version.error(f"SMASH version must be one of {SMASH_VERSIONS}, got "
                                f"{version.value!r}")
    params = {k: v.plain() for k, v in node.value.items() if k != "kind"}
    shapes: dict[str, tuple[tuple[int, int], Node]] = {}
    for key in ("a", "b"):
        m = node.get(key)
        if m is None or m.value is None:
            if key == "a":
                raise y.missing(node, "a", " (a shipped matrix name, a .mtx path or "
                                "{generator: rmat, scale: 10})")
            continue
        params[key] = _matrix_ref(m)
        try:
            shapes[key] = (matrix_shape(params[key], key.upper()), m)
        except UserError as e:
            raise m.error(str(e)) from None
    if "b" in shapes:
        try:
            check_shapes(shapes["a"][0], shapes["b"][0], label_of(params["a"]),
                         label_of(params["b"]))
        except UserError as e:
            raise shapes["b"][1].error(str(e)) from None
    return params


def _matrix_ref(node: Node) -> Any:
    """A matrix parameter; a relative file path found beside the YAML file made absolute
    (like hardware presets and LLM context files), else left to the current directory."""
    from workloads.spgemm.matrices import shipped

    v = node.plain()
    if not isinstance(v, str) or Path(v).is_absolute() or v in shipped():
        return v
    here = Path(node.path).parent / v
    return str(here) if Path(node.path).is_file() and here.is_file() else v


def _spgemm_source(params: dict[str, Any], spec: MachineSpec, seed: int) -> OpSource:
    from workloads.spgemm import make_spgemm

    source, metrics = make_spgemm(params, _spgemm_target(spec))
    source.metrics = metrics  # read after the run (run_resolved)
    return source


# kind -> (validate Node into params, build the op source)
WORKLOADS: dict[str, tuple[Callable[[Node, MachineSpec], dict], Callable[..., OpSource]]] = {
    "synthetic": (_synthetic_params, _synthetic_source),
    "spgemm": (_spgemm_params, _spgemm_source),
}


# ops the engine buffers per thread, by workload kind (sim/bench_spgemm.py says why)
CHUNKS = {"spgemm": 2048}


def _flat_numbers(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested workload metrics flattened to dotted keys (numbers, strings and booleans)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_numbers(v, key + "."))
        elif isinstance(v, bool | int | float | str):
            out[key] = v
    return out


def resolve_point(hardware: str, overrides: Mapping[str, Node] | None, workload: Node,
                  seed: int = 0) -> ResolvedPoint | LlmPoint:
    """Validate a point; ConfigError (file:line: key: message) on any mistake.

    Machine workloads (synthetic, spgemm) run on a machine preset; LLM workloads
    (sim/llm/point.py) on an xPU preset (hw_configs/xpu).
    """
    from sim.config.machine import load_machine_config

    kind_node = y.require(workload, "kind")
    kind = y.as_str(kind_node)
    if kind not in WORKLOADS and kind not in LLM_KINDS:
        kinds = (*WORKLOADS, *LLM_KINDS)
        raise kind_node.error(f"unknown workload kind {kind!r}{y.did_you_mean(kind, kinds)}"
                              f" (choose from {', '.join(kinds)})")
    if "seed" in workload:
        seed = y.as_int(workload.value["seed"], minimum=0)
    if kind in LLM_KINDS:
        from sim.config.xpu import load_xpu
        from sim.llm.point import resolve

        return resolve(load_xpu(hardware, overrides or {}), hardware, kind, workload, seed)
    spec = load_machine_config(hardware, overrides or {})
    params = WORKLOADS[kind][0](workload, spec)
    return ResolvedPoint(hardware=hardware, spec=spec, kind=kind, workload=params, seed=seed)


def run_resolved(point: ResolvedPoint | LlmPoint, engine: str = "fast") -> dict[str, Any]:
    """Simulate a point; the result dict of sim/sweep.py (plus the full summary)."""
    from sim.engine import DEFAULT_CHUNK, run_machine
    from sim.machine.summary import summarize

    if isinstance(point, LlmPoint):
        from sim.llm.point import run

        return run(point, engine)

    source = WORKLOADS[point.kind][1](point.workload, point.spec, point.seed)
    chunk = CHUNKS.get(point.kind, DEFAULT_CHUNK)
    stats = run_machine(point.spec, source, engine=engine, chunk=chunk)
    s = summarize(point.spec, stats)
    spec = point.spec
    peak_ops = spec.cores * spec.pipelines_per_core / (spec.cycle_ps * 1e-12)
    out = {
        "sim_time_ns": s["sim_time_ns"],
        "tiers": {k: {f: v[f] for f in ("bytes_read", "bytes_written", "bandwidth_gb_per_s",
                                        "peak_gb_per_s", "utilization")}
                  for k, v in s["tiers"].items()},
        "timeline": s["timeline"],
        "stalls": s["stalls"],
        "compute": {"ops": s["ops"], "peak_ops_per_s": peak_ops},
        "metrics": {
            "ops": s["ops"], "threads": s["threads"],
            "mean_load_latency_ns": s["loads"]["mean_latency_ns"],
            "issue_utilization": s["cores"]["mean_issue_utilization"],
            "dram_row_hit_rate": s["tiers"]["dram"]["row_hit_rate"],
            "atomics_per_s": s["atomics"]["per_s"],
        },
        "summary": s,
    }
    workload_metrics = getattr(source, "metrics", None)
    if callable(workload_metrics):
        out["metrics"].update(_flat_numbers(workload_metrics()))
    return out


# what run_resolved returns for a machine point (result_skeleton mirrors it; a test compares)
MACHINE_TIERS = ("dram", "scratchpad", "host")  # summarize()'s tiers
MACHINE_METRICS = ("ops", "threads", "mean_load_latency_ns", "issue_utilization",
                   "dram_row_hit_rate", "atomics_per_s")
_workload_metric_names: dict[str, tuple[str, ...]] = {}


def result_skeleton(point: ResolvedPoint | LlmPoint) -> dict[str, Any] | None:
    """The keys of run_resolved(point)'s result, values zero, without simulating.

    An LLM point's come from one step of it (sim/llm/point.py result_skeleton). A SpGEMM
    point's metric names come from its dataflow generating a 4x4 product (milliseconds,
    cached per setting).
    """
    from sim.machine.model import STALL_NAMES
    from sim.results import TIER_FIELDS

    if isinstance(point, LlmPoint):
        from sim.llm.point import result_skeleton as llm_skeleton

        return llm_skeleton(point)
    metrics = dict.fromkeys(MACHINE_METRICS, 0)
    if point.kind == "spgemm":
        metrics.update(dict.fromkeys(_spgemm_metric_names(point), 0))
    return {
        "sim_time_ns": 0,
        "tiers": {t: dict.fromkeys(TIER_FIELDS, 0) for t in MACHINE_TIERS},
        "stalls": dict.fromkeys((*STALL_NAMES, "busy"), 0.0),
        "compute": {"ops": 0, "peak_ops_per_s": 0},
        "metrics": metrics,
    }


def _spgemm_metric_names(point: ResolvedPoint) -> tuple[str, ...]:
    import json

    from workloads.spgemm import make_spgemm

    params = {k: v for k, v in point.workload.items() if k not in ("a", "b")}
    key = json.dumps(params, sort_keys=True, default=str)
    if key not in _workload_metric_names:
        tiny = {**params, "a": {"generator": "banded", "n": 4, "bandwidth": 1}}
        _source, metrics = make_spgemm(tiny, _spgemm_target(point.spec))
        _workload_metric_names[key] = tuple(_flat_numbers(metrics()))
    return _workload_metric_names[key]


def sweep_warnings(points: list[Any]) -> list[str]:
    """Legal but probably unintended: memory presets swept on one machine that keeps its
    controller count, so presets with other channel counts are not compared as devices."""
    from sim.config.memory import load_memory_config

    by_machine: dict[str, dict[str, set[int]]] = {}
    for p in points:
        if isinstance(p, ResolvedPoint):
            by_machine.setdefault(p.hardware, {}).setdefault(
                p.spec.extra.get("memory_preset_path") or p.spec.memory_preset, set()
            ).add(p.spec.controllers_per_die)
    out = []
    for hardware, presets in by_machine.items():
        counts = set().union(*presets.values())
        if len(presets) < 2 or len(counts) != 1:
            continue
        channels = {}
        for ref in presets:
            dram = load_memory_config(ref)
            channels[dram.name] = dram.scheduled_channels
        if len(set(channels.values())) < 2:
            continue
        listed = ", ".join(f"{n} {c}" for n, c in channels.items())
        out.append(f"the memory presets swept on {hardware} all run on its {counts.pop()} "
                   f"controllers per die (one channel each), whatever their own channel count "
                   f"({listed}); to compare whole devices, zip hardware.memory.controllers_per_die "
                   f"with hardware.memory.preset")
    return out


__all__ = ["ConfigError", "ResolvedPoint", "resolve_point", "run_resolved", "result_skeleton",
           "sweep_warnings", "WORKLOADS"]
