"""Benchmark of the machine engine: simulated ops per wall-clock second, fast path vs reference.

The default PIUMA die (hw_configs/piuma.yaml: 8 cores x 66 threads) runs the synthetic
workload "random 8 B DRAM loads mixed with compute": every thread issues ops drawn half
LOAD (uniformly random 8-byte addresses, L1 bypassed) and half COMPUTE (4 cycles). The
fast path and the SimPy reference run the same streams (the reference a shorter prefix,
it is slow); both are timed end to end, stream generation included, after a warm-up run
that loads or compiles the kernel. Nothing here asserts a speed.
"""

from __future__ import annotations

import time
from typing import Any

from sim.config.machine import load_machine_config
from sim.engine import run_machine
from workloads.synthetic import SyntheticWorkload

DEFAULT_PRESET = "piuma"
DEFAULT_OPS_PER_THREAD = 4000
DEFAULT_REFERENCE_OPS_PER_THREAD = 40


def _workload(spec, ops_per_thread: int, seed: int) -> SyntheticWorkload:
    return SyntheticWorkload(threads=spec.threads, ops_per_thread=ops_per_thread,
                             pattern="random", footprint=min(1 << 34, _capacity(spec)),
                             access_bytes=8, load=1.0, compute=1.0, compute_cycles=4, seed=seed)


def _capacity(spec) -> int:
    from sim.engine import channel_capacity

    return channel_capacity(spec) * spec.controllers


def _timed(spec, ops_per_thread: int, engine: str, seed: int) -> tuple[int, float, Any]:
    w = _workload(spec, ops_per_thread, seed)
    t0 = time.perf_counter()
    stats = run_machine(spec, w.source(), engine=engine)
    dt = time.perf_counter() - t0
    return int(stats.thread_ops.sum()), dt, stats


def bench_machine(ops_per_thread: int = DEFAULT_OPS_PER_THREAD,
                  reference_ops_per_thread: int = DEFAULT_REFERENCE_OPS_PER_THREAD,
                  preset: str = DEFAULT_PRESET, seed: int = 0) -> dict[str, Any]:
    spec = load_machine_config(preset)
    t0 = time.perf_counter()
    _timed(spec, 2, "fast", seed)  # kernel compile or cache load
    warm = time.perf_counter() - t0
    n_fast, dt_fast, st = _timed(spec, ops_per_thread, "fast", seed)
    out: dict[str, Any] = {
        "preset": spec.name, "threads": spec.threads, "cores": spec.cores,
        "warmup_s": warm, "fast_ops": n_fast, "fast_wall_s": dt_fast,
        "fast_ops_per_s": n_fast / dt_fast, "simulated_ns": st.end_ps / 1e3,
        "dram_gb_per_s": float(st.dram_bytes_read.sum() / st.end_ps * 1e3) if st.end_ps else 0.0,
    }
    if reference_ops_per_thread > 0:
        n_ref, dt_ref, _ = _timed(spec, reference_ops_per_thread, "reference", seed)
        out.update(reference_ops=n_ref, reference_wall_s=dt_ref,
                   reference_ops_per_s=n_ref / dt_ref,
                   speedup=(n_fast / dt_fast) / (n_ref / dt_ref))
    return out


def format_bench_machine(r: dict[str, Any]) -> str:
    lines = [f"membound bench machine: {r['preset']} ({r['cores']} cores, {r['threads']} threads),"
             " random 8 B loads mixed 1:1 with 4-cycle compute",
             f"  warm-up (JIT compile or cache load): {r['warmup_s']:.3f} s",
             f"  fast path: {r['fast_ops']:>12,} ops in {r['fast_wall_s']:8.3f} s = "
             f"{r['fast_ops_per_s']:>12,.0f} ops/s  (simulated {r['simulated_ns']:,.0f} ns, "
             f"DRAM {r['dram_gb_per_s']:.1f} GB/s)"]
    if "reference_ops" in r:
        lines.append(f"  reference: {r['reference_ops']:>12,} ops in {r['reference_wall_s']:8.3f} s"
                     f" = {r['reference_ops_per_s']:>12,.0f} ops/s")
        lines.append(f"  speedup:   {r['speedup']:,.1f}x")
    return "\n".join(lines)
