"""Benchmark of a whole SpGEMM point: read, generate, simulate, verify, on one core.

The default is the issue's scale target: SMASH v1 computing A·A for email-Enron (367,662
nonzeros, 51.5 million multiplications) on the PIUMA die (hw_configs/piuma.yaml). The
phases, each timed on its own, run in this process one after the other:

    read      the Matrix Market file parsed into canonical CSR (workloads/spgemm/matrices.py)
    setup     the symbolic phase (C's row pointers), the DRAM layout, the partition and the
              per-thread generators (workloads/spgemm/<dataflow>.py)
    simulate  the engine pulls every stream in chunks (run_machine): op generation and
              simulation interleave, so they are timed together
    verify    the metrics and the check of C against scipy's A @ B

``wall_s`` is their sum: end to end, after a warm-up that loads (or compiles) the numba
kernels on a tiny matrix, timed apart as ``warmup_s``. ``peak_rss_mb`` is the process's
peak resident memory (ru_maxrss) at the end, warm-up included. Ops are never materialised
all at once: the generators write one chunk per stream at a time (workloads/spgemm/source.py).
Nothing here asserts a speed.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

DEFAULT_MATRIX = "email-Enron"
DEFAULT_PRESET = "piuma"
DEFAULT_DATAFLOW = "smash"
DEFAULT_VERSION = 1
WARMUP_MATRIX = {"generator": "rmat", "scale": 6, "edge_factor": 4, "seed": 1}


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss: KiB on Linux, B on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def _params(dataflow: str, version: int | None, partition: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"dataflow": dataflow}
    if version is not None:
        p["version"] = version
    if partition is not None:
        p["partition"] = partition
    return p


# ops buffered per thread: SpGEMM generators rebuild shared state when they switch
# streams, so fewer, larger refills pay (2048 measured 8 % faster than 512 on wiki-Vote)
SPGEMM_CHUNK = 2048


def bench_spgemm(matrix: Any = DEFAULT_MATRIX, version: int | None = DEFAULT_VERSION,
                 dataflow: str = DEFAULT_DATAFLOW, preset: str = DEFAULT_PRESET,
                 partition: str | None = None, b: Any = None,
                 warmup: bool = True) -> dict[str, Any]:
    """Run one SpGEMM point end to end and return the timings and the headline metrics."""
    from sim.config.machine import load_machine_config
    from sim.engine import run_machine
    from sim.machine.summary import summarize
    from sim.point import _spgemm_target
    from workloads.spgemm import make_spgemm
    from workloads.spgemm.matrices import resolve

    if dataflow != "smash":
        version = None
    spec = load_machine_config(preset)
    target = _spgemm_target(spec)
    params = _params(dataflow, version, partition)

    warm = 0.0
    if warmup:  # load or compile every kernel this point uses, on a tiny matrix
        t0 = time.perf_counter()
        src, metrics = make_spgemm({**params, "a": WARMUP_MATRIX}, target)
        run_machine(spec, src, chunk=SPGEMM_CHUNK)
        metrics()
        warm = time.perf_counter() - t0

    t0 = time.perf_counter()
    a, a_label = resolve(matrix, "A")
    b_mat, b_label = resolve(b, "B") if b is not None else (a, a_label)
    t1 = time.perf_counter()
    run_params = {**params, "a": a} if b is None else {**params, "a": a, "b": b_mat}
    src, metrics = make_spgemm(run_params, target)
    t2 = time.perf_counter()
    stats = run_machine(spec, src, chunk=SPGEMM_CHUNK)
    t3 = time.perf_counter()
    m = metrics()
    t4 = time.perf_counter()

    s = summarize(spec, stats)
    ops = int(stats.thread_ops.sum())
    wall = t4 - t0
    dram = s["tiers"]["dram"]
    return {
        "matrix": a_label, "matrix_b": b_label, "preset": spec.name, "dataflow": dataflow,
        "version": version, "partition": m["partition"],
        "cores": spec.cores, "threads": spec.threads,
        "wall_s": wall, "peak_rss_mb": peak_rss_mb(), "ops": ops,
        "ops_per_s": ops / wall if wall > 0 else 0.0,
        "warmup_s": warm, "read_s": t1 - t0, "setup_s": t2 - t1,
        "generate_simulate_s": t3 - t2, "verify_s": t4 - t3,
        "simulate_ops_per_s": ops / (t3 - t2) if t3 > t2 else 0.0,
        "nnz_a": m["nnz_a"], "nnz_c": m["nnz_c_structural"],
        "multiplications": m["multiplications"], "flops": m["flops"],
        "sim_time_ns": s["sim_time_ns"],
        "dram_bytes_read": dram["bytes_read"], "dram_bytes_written": dram["bytes_written"],
        "dram_gb_per_s": dram["bandwidth_gb_per_s"], "dram_peak_gb_per_s": dram["peak_gb_per_s"],
        "sim_flops_per_s": m["flops"] / (s["sim_time_ns"] * 1e-9) if s["sim_time_ns"] else 0.0,
        "redundant_fetch_factor": m["redundant_fetch_factor"],
        "load_imbalance": m["load_imbalance"], "atomics": m["atomics"],
        "hash_probes": m["hash_probes"], "hash_collisions": m["hash_collisions"],
        "stalls": s["stalls"],
        "check_ok": bool(m["check"]["ok"]), "check": m["check"],
    }


def format_bench_spgemm(r: dict[str, Any]) -> str:
    what = r["dataflow"] + (f" v{r['version']}" if r["version"] is not None else "")
    prod = f"{r['matrix']}·{r['matrix_b']}" if r["matrix_b"] != r["matrix"] else \
        f"{r['matrix']}·{r['matrix']}"
    stalls = sorted(((v, k) for k, v in r["stalls"].items() if v >= 0.005), reverse=True)
    lines = [
        f"membound bench spgemm: {what} on {prod} ({r['nnz_a']:,} nonzeros, "
        f"{r['multiplications']:,} multiplications, nnz(C) {r['nnz_c']:,}), "
        f"{r['preset']} ({r['cores']} cores, {r['threads']} threads), partition "
        f"{r['partition']}",
        f"  end to end: {r['wall_s']:.2f} s wall, peak RSS {r['peak_rss_mb']:,.0f} MB, "
        f"{r['ops']:,} ops = {r['ops_per_s']:,.0f} ops/s",
        f"    read {r['read_s']:.2f} s, setup (symbolic, layout, partition) {r['setup_s']:.2f} s,"
        f" generate + simulate {r['generate_simulate_s']:.2f} s "
        f"({r['simulate_ops_per_s']:,.0f} ops/s), verify {r['verify_s']:.2f} s",
        f"    (not counted: warm-up, kernel load or compile, {r['warmup_s']:.2f} s)",
        f"  simulated: {r['sim_time_ns'] / 1e6:,.3f} ms, {r['sim_flops_per_s'] / 1e9:.3f} "
        f"GFLOP/s; DRAM {r['dram_bytes_read']:,} B read, {r['dram_bytes_written']:,} B "
        f"written, {r['dram_gb_per_s']:.2f} of {r['dram_peak_gb_per_s']:.1f} GB/s",
        f"  redundant-fetch factor {r['redundant_fetch_factor']:.2f}, load imbalance "
        f"(max/mean ops per thread) {r['load_imbalance']:.2f}, atomics {r['atomics']:,}, "
        f"hash probes {r['hash_probes']:,} ({r['hash_collisions']:,} collisions)",
        "  thread time: " + ", ".join(f"{k} {100 * v:.1f}%" for v, k in stalls),
        f"  check against scipy: {'ok' if r['check_ok'] else 'FAILED'} "
        f"(max relative error {r['check'].get('max_rel_err', float('nan')):.2e})",
    ]
    return "\n".join(lines)
