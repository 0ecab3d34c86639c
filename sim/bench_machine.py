"""Benchmark of the machine engine: simulated ops per wall-clock second, fast path vs reference.

The default PIUMA die (hw_configs/piuma.yaml: 8 cores x 66 threads) runs the synthetic
workload "random 8 B DRAM loads mixed with compute": every thread issues ops drawn half
LOAD (uniformly random 8-byte addresses, L1 bypassed) and half COMPUTE (4 cycles). The
streams are generated first (timed on their own) and held in memory; then the fast path
and the SimPy reference simulate them (the reference a shorter prefix of every stream, it
is slow), each timed from the call to the statistics, after a warm-up run that loads or
compiles the kernel. Ops per second count simulated ops per wall second of simulation;
the end-to-end figure adds the generation time. Nothing here asserts a speed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sim.config.machine import load_machine_config
from sim.engine import run_machine
from workloads.ops import OP_DTYPE, ArrayStreams
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


def _streams(spec, ops_per_thread: int, seed: int) -> ArrayStreams:
    src = _workload(spec, ops_per_thread, seed).source()
    out = []
    for s in range(src.n_streams):
        parts = []
        while len(part := src.next_chunk(s, 1 << 16)):
            parts.append(part.copy())  # a chunk is valid until the next pull
        out.append(np.concatenate(parts) if parts else np.zeros(0, OP_DTYPE))
    return ArrayStreams(out)


def _timed(spec, streams: ArrayStreams, engine: str) -> tuple[int, float, Any]:
    t0 = time.perf_counter()
    stats = run_machine(spec, streams, engine=engine)
    dt = time.perf_counter() - t0
    return int(stats.thread_ops.sum()), dt, stats


def bench_machine(ops_per_thread: int = DEFAULT_OPS_PER_THREAD,
                  reference_ops_per_thread: int = DEFAULT_REFERENCE_OPS_PER_THREAD,
                  preset: str = DEFAULT_PRESET, seed: int = 0) -> dict[str, Any]:
    spec = load_machine_config(preset)
    t0 = time.perf_counter()
    _timed(spec, _streams(spec, 2, seed), "fast")  # kernel compile or cache load
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    streams = _streams(spec, ops_per_thread, seed)
    gen = time.perf_counter() - t0
    n_fast, dt_fast, st = _timed(spec, streams, "fast")
    out: dict[str, Any] = {
        "preset": spec.name, "threads": spec.threads, "cores": spec.cores,
        "warmup_s": warm, "generate_s": gen, "fast_ops": n_fast, "fast_wall_s": dt_fast,
        "fast_ops_per_s": n_fast / dt_fast, "end_to_end_ops_per_s": n_fast / (dt_fast + gen),
        "simulated_ns": st.end_ps / 1e3,
        "dram_gb_per_s": float(st.dram_bytes_read.sum() / st.end_ps * 1e3) if st.end_ps else 0.0,
    }
    if reference_ops_per_thread > 0:
        ref_streams = ArrayStreams([x[:reference_ops_per_thread] for x in streams.streams])
        n_ref, dt_ref, _ = _timed(spec, ref_streams, "reference")
        out.update(reference_ops=n_ref, reference_wall_s=dt_ref,
                   reference_ops_per_s=n_ref / dt_ref,
                   speedup=(n_fast / dt_fast) / (n_ref / dt_ref))
    return out


def format_bench_machine(r: dict[str, Any]) -> str:
    lines = [f"membound bench machine: {r['preset']} ({r['cores']} cores, {r['threads']} threads),"
             " random 8 B loads mixed 1:1 with 4-cycle compute",
             f"  warm-up (JIT compile or cache load): {r['warmup_s']:.3f} s; generating "
             f"{r['fast_ops']:,} ops: {r['generate_s']:.3f} s",
             f"  fast path: {r['fast_ops']:>12,} ops in {r['fast_wall_s']:8.3f} s = "
             f"{r['fast_ops_per_s']:>12,.0f} ops/s  (simulated {r['simulated_ns']:,.0f} ns, "
             f"DRAM {r['dram_gb_per_s']:.1f} GB/s)"]
    if "reference_ops" in r:
        lines.append(f"  reference: {r['reference_ops']:>12,} ops in {r['reference_wall_s']:8.3f} s"
                     f" = {r['reference_ops_per_s']:>12,.0f} ops/s")
        lines.append(f"  speedup:   {r['speedup']:,.1f}x")
    lines.append(f"  end to end (generation + fast path): {r['end_to_end_ops_per_s']:,.0f} ops/s")
    return "\n".join(lines)
