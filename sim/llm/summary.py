"""What a transfer-level run of an LLM task graph amounts to: a plain, JSON-ready dict.

``summarize(graph, result, platform, steps=..., tokens=...)`` reports, with the run's
length T = ``result.end_time`` (ps):

* ``time_ps``, ``time_s``; ``time_per_step_s`` = T / steps; ``tokens_per_s`` = tokens / T
  (decode: batch x steps new tokens; prefill: the prompt tokens processed).
* ``memories``: per memory of the graph, bytes ``read`` (transfers out of it), ``written``
  (transfers into it) and ``bandwidth_bytes_per_s`` = (read + written) / T, the achieved
  average over the whole run.
* ``flops`` (total) and ``units``: per compute unit, its FLOPs, ``flops_per_s`` = FLOPs / T
  and ``utilisation`` = that over the unit's peak in the platform.
* ``resources``: per engine resource, ``busy`` = the fraction of T with at least one task
  on it (TransferResult.busy / T); ``bottleneck`` names the busiest one.
* ``labels``: per task label (what the task is for: "qkv_proj", "attention", ...):
    - ``share``: the fraction of T during which at least one task of the label is active,
      a task being active from ``ready`` (it joins its resource) to ``end`` (its service
      and its latency done). Kernels of different labels overlap in time (a layer's
      weights stream while the previous kernel's output is written, steps touch), so
      these shares may add up to more than 1; ``shares_total`` is their sum.
    - ``exclusive``: the fraction of T during which this label is the only one active.
      These add up to at most 1; ``overlap`` = the fraction of T with two or more labels
      active, ``idle`` = the fraction with none (1 = sum of exclusive + overlap + idle).
    - ``tasks``: how many tasks carry the label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from sim.transfer.model import TransferResult
from sim.transfer.platform import Platform
from workloads.llm.taskgraph import COMPUTE, TRANSFER, TaskGraph

PS_PER_S = 10**12


def _label_segments(label: np.ndarray, start: np.ndarray, end: np.ndarray,
                    horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of each label's [start, end) intervals as disjoint segments.

    Returns (segment label, segment start, segment end), grouped by label. One stable sort
    by start (tasks come in topological order, so starts are nearly sorted already), then
    one pass that keeps, per label, the segment being grown.
    """
    if len(label) == 0:
        e = np.zeros(0, np.int64)
        return e, e, e
    order = np.argsort(start, kind="stable")
    n_labels = int(label.max()) + 1
    seg_l, seg_s, seg_e = _segments_pass(order, label.astype(np.int64), start, end, n_labels)
    by_label = np.argsort(seg_l, kind="stable")
    return seg_l[by_label], seg_s[by_label], seg_e[by_label]


@njit(cache=True)
def _segments_pass(order, label, start, end, n_labels):  # pragma: no cover - numba
    n = len(order)
    cur_s = np.full(n_labels, -1, np.int64)
    cur_e = np.zeros(n_labels, np.int64)
    seg_l = np.empty(n + n_labels, np.int64)
    seg_s = np.empty(n + n_labels, np.int64)
    seg_e = np.empty(n + n_labels, np.int64)
    k = 0
    for j in range(n):
        i = order[j]
        lab = label[i]
        s, e = start[i], end[i]
        if cur_s[lab] >= 0 and s <= cur_e[lab]:
            if e > cur_e[lab]:
                cur_e[lab] = e
            continue
        if cur_s[lab] >= 0:
            seg_l[k], seg_s[k], seg_e[k] = lab, cur_s[lab], cur_e[lab]
            k += 1
        cur_s[lab], cur_e[lab] = s, e
    for lab in range(n_labels):
        if cur_s[lab] >= 0:
            seg_l[k], seg_s[k], seg_e[k] = lab, cur_s[lab], cur_e[lab]
            k += 1
    return seg_l[:k], seg_s[:k], seg_e[:k]


def _exclusive_time(seg_label: np.ndarray, seg_start: np.ndarray, seg_end: np.ndarray,
                    n_labels: int, horizon: int) -> tuple[np.ndarray, int, int]:
    """Per label the time it is the only label active; time with 2+ labels; time with none.

    Segments of one label are disjoint, so the number of labels active is the running sum
    of +1 at each segment start and -1 at each end, and while exactly one label is active
    the running sum of +label / -label is that label.
    """
    times = np.concatenate([seg_start, seg_end, [0, horizon]])
    delta = np.concatenate([np.ones(len(seg_start), np.int64),
                            -np.ones(len(seg_end), np.int64), [0, 0]])
    ids = np.concatenate([seg_label, -seg_label, [0, 0]])
    order = np.argsort(times, kind="stable")
    times, delta, ids = times[order], delta[order], ids[order]
    active, who = np.cumsum(delta), np.cumsum(ids)
    span = np.diff(times)  # the state after event i holds until event i + 1
    active, who = active[:-1], who[:-1]
    one = active == 1
    who, span_one = who[one], span[one]
    exclusive = np.array([span_one[who == i].sum() for i in range(n_labels)], np.int64)
    return exclusive, int(span[active >= 2].sum()), int(span[active == 0].sum())


def label_shares(graph: TaskGraph, result: TransferResult) -> dict[str, Any]:
    """The ``labels``, ``shares_total``, ``overlap`` and ``idle`` entries (module doc)."""
    horizon = int(result.end_time)
    label = graph.tasks["label"]
    n_labels = len(graph.labels)
    seg_label, seg_start, seg_end = _label_segments(label, np.asarray(result.ready, np.int64),
                                                    np.asarray(result.end, np.int64), horizon)
    length = seg_end - seg_start
    union = [int(length[seg_label == i].sum()) for i in range(n_labels)]  # exact integers
    exclusive, overlap, idle = _exclusive_time(seg_label, seg_start, seg_end, n_labels, horizon)
    count = np.bincount(label, minlength=n_labels)
    frac = (lambda ps: float(ps) / horizon) if horizon > 0 else (lambda ps: 0.0)
    labels = {name: {"share": frac(union[i]), "exclusive": frac(exclusive[i]),
                     "tasks": int(count[i])}
              for i, name in enumerate(graph.labels) if count[i] > 0}
    return {"labels": labels, "shares_total": sum(v["share"] for v in labels.values()),
            "overlap": frac(overlap), "idle": frac(idle)}


def summarize(graph: TaskGraph, result: TransferResult, platform: Platform, *,
              steps: int = 1, tokens: int = 0) -> dict[str, Any]:
    """The run's outputs (see the module docstring) as a dict of plain numbers and names."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    t_ps = int(result.end_time)
    t_s = t_ps / PS_PER_S
    per_s = (lambda x: x / t_s) if t_ps > 0 else (lambda x: 0.0)

    t = graph.tasks
    moves = t["kind"] == TRANSFER
    src, dst, nbytes = t["src"][moves], t["dst"][moves], t["nbytes"][moves]
    memories = {}
    for i, name in enumerate(graph.memories):
        read, written = int(nbytes[src == i].sum()), int(nbytes[dst == i].sum())
        memories[name] = {"read": read, "written": written,
                          "bandwidth_bytes_per_s": per_s(read + written)}

    compute = t["kind"] == COMPUTE
    unit, unit_flops = t["unit"][compute], t["flops"][compute]
    flops_by_unit = [int(unit_flops[unit == i].sum()) for i in range(len(graph.units))]
    total_flops = sum(flops_by_unit)
    units = {}
    for i, name in enumerate(graph.units):
        flops = int(flops_by_unit[i])
        peak = platform.units[name].flops_per_s if name in platform.units else 0
        units[name] = {"flops": flops, "flops_per_s": per_s(flops),
                       "utilisation": per_s(flops) / peak if peak else 0.0}

    busy = np.asarray(result.busy, np.int64)
    resources = {name: {"busy": float(busy[i]) / t_ps if t_ps else 0.0}
                 for i, name in enumerate(platform.resources)}
    bottleneck = max(resources, key=lambda r: resources[r]["busy"]) if resources else None

    return {
        "tasks": graph.n,
        "steps": steps,
        "time_ps": t_ps,
        "time_s": t_s,
        "time_per_step_s": t_s / steps,
        "tokens": tokens,
        "tokens_per_s": per_s(tokens),
        "flops": total_flops,
        "flops_per_s": per_s(total_flops),
        "memories": memories,
        "units": units,
        "resources": resources,
        "bottleneck": bottleneck,
        **label_shares(graph, result),
    }
