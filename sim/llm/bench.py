"""Benchmark of the transfer-level engine on a model-scale task graph (`membound bench llm`).

The default case is the one issue 11 names: 1,000 decode steps of llama-3-70b at batch 64
on an h100 (1,024-token contexts growing by one per step, paged KV, FP8 weights so that the
model fits the device, as in experiments/llm_decode.yaml). Timed separately: building the
task graph, binding it to the device's resources, the numba kernel, and the summary; the
whole run is their sum (after a warm-up that compiles or loads the kernel). The SimPy
reference runs a prefix of the same problem (a prefix of a topologically ordered graph is
a valid problem), and the fast path's results on that prefix must equal it. Nothing here
asserts a speed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

DEFAULT_STEPS = 1000
DEFAULT_BATCH = 64
DEFAULT_REFERENCE_TASKS = 20_000


def bench_llm(steps: int = DEFAULT_STEPS, batch: int = DEFAULT_BATCH,
              reference_tasks: int = DEFAULT_REFERENCE_TASKS, model_name: str = "llama-3-70b",
              device: str = "h100", context: int = 1024) -> dict[str, Any]:
    import dataclasses

    from sim.config.xpu import load_xpu
    from sim.llm.summary import summarize
    from sim.transfer.bind import bind
    from sim.transfer.engine import run_transfer, warm_up
    from sim.transfer.platform import platform_for_xpu
    from workloads.llm.kv_layout import make_layout
    from workloads.llm.model_graph import decode_steps_graph
    from workloads.llm.models import load_model

    t = time.perf_counter()
    warm_up()  # the engine's kernel, then the binder's and the summary's numba passes
    tiny = decode_steps_graph(load_model(model_name), np.full(1, 16, np.int64), 1,
                              layout=make_layout("paged", max_len=64))
    tiny_platform = platform_for_xpu(load_xpu(device))
    summarize(tiny, run_transfer(bind(tiny, tiny_platform)), tiny_platform)
    warm = time.perf_counter() - t

    model = dataclasses.replace(load_model(model_name), bytes_per_element=1)  # FP8
    xpu = load_xpu(device)
    xpu = dataclasses.replace(xpu, flops_per_s=xpu.flops_for(1))
    contexts = np.full(batch, context, np.int64)
    t0 = time.perf_counter()
    graph = decode_steps_graph(model, contexts, steps,
                               layout=make_layout("paged", max_len=model.max_context))
    t1 = time.perf_counter()
    platform = platform_for_xpu(xpu)
    problem = bind(graph, platform)
    t2 = time.perf_counter()
    result = run_transfer(problem)
    t3 = time.perf_counter()
    s = summarize(graph, result, platform, steps=steps, tokens=batch * steps)
    t4 = time.perf_counter()

    out: dict[str, Any] = {
        "model": model_name, "device": device, "steps": steps, "batch": batch,
        "context": context, "tasks": problem.n, "warm_up_s": warm,
        "build_s": t1 - t0, "bind_s": t2 - t1, "kernel_s": t3 - t2, "summary_s": t4 - t3,
        "wall_s": t4 - t0, "fast_tasks_per_s": problem.n / (t3 - t2),
        "simulated_ms_per_step": s["time_per_step_s"] * 1e3,
        "tokens_per_s": s["tokens_per_s"],
    }
    if reference_tasks > 0:
        sub = problem.prefix(reference_tasks)
        t = time.perf_counter()
        ref = run_transfer(sub, engine="reference")
        ref_s = time.perf_counter() - t
        fast = run_transfer(sub)
        agree = all(np.array_equal(getattr(ref, f), getattr(fast, f))
                    for f in ("ready", "leave", "end", "busy", "served")) \
            and ref.end_time == fast.end_time
        out.update({"reference_tasks": sub.n, "reference_s": ref_s,
                    "reference_tasks_per_s": sub.n / ref_s,
                    "speedup": out["fast_tasks_per_s"] / (sub.n / ref_s),
                    "reference_agrees": agree})
    return out


def format_bench_llm(r: dict[str, Any]) -> str:
    lines = [
        f"membound bench llm: {r['steps']:,} decode steps of {r['model']} (FP8) at batch "
        f"{r['batch']}, context {r['context']:,}, on {r['device']}: {r['tasks']:,} tasks",
        f"  warm-up (JIT compile or cache load): {r['warm_up_s']:.3f} s",
        f"  build graph {r['build_s']:.3f} s, bind {r['bind_s']:.3f} s, kernel "
        f"{r['kernel_s']:.3f} s, summary {r['summary_s']:.3f} s",
        f"  whole run: {r['wall_s']:.3f} s",
        f"  fast path: {r['fast_tasks_per_s']:>14,.0f} tasks/s",
    ]
    if "reference_tasks_per_s" in r:
        lines += [
            f"  reference: {r['reference_tasks_per_s']:>14,.0f} tasks/s "
            f"({r['reference_tasks']:,} tasks in {r['reference_s']:.3f} s)",
            f"  speedup:   {r['speedup']:.1f}x   reference agrees with fast path on its "
            f"{r['reference_tasks']:,} tasks: {'yes' if r['reference_agrees'] else 'NO'}",
        ]
    lines.append(f"  simulated: {r['simulated_ms_per_step']:.3f} ms per step, "
                 f"{r['tokens_per_s']:,.0f} tokens/s")
    return "\n".join(lines)
