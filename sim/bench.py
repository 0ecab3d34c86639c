"""Benchmarks of the simulator itself: simulated requests per wall-clock second.

`bench_memory` replays uniformly random 64 B reads on one DRAM preset through the numba fast
path and through the SimPy reference, after timing the one-time JIT compile (or cache load)
on a tiny warm-up run; then the same number of requests as a 2:1 read/write mix (the random
addresses, every third request a write) and as sequential reads (consecutive 64 B lines)
through the fast path. Wall times come from time.perf_counter. Nothing here asserts a speed:
benchmarks measure, tests prove behaviour.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable

import numpy as np

from sim.errors import UserError

DEFAULT_PRESET = "ddr4_3200"
DEFAULT_REQUESTS = 5_000_000
DEFAULT_REFERENCE_REQUESTS = 50_000
WARMUP_REQUESTS = 256
REQUEST_BYTES = 64


def random_reads(capacity_bytes: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` uniformly random 64 B-aligned reads over `capacity_bytes`, all arriving at clock 0."""
    rng = np.random.default_rng(seed)
    lines = capacity_bytes // REQUEST_BYTES
    addr = rng.integers(0, lines, n, dtype=np.uint64) * np.uint64(REQUEST_BYTES)
    return addr, np.zeros(n, np.bool_), np.zeros(n, np.int64)


def mixed_requests(capacity_bytes: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The random addresses of `random_reads`, every third request (index 2, 5, ...) a write:
    a 2:1 read/write mix, all arriving at clock 0."""
    addr, _, arrival = random_reads(capacity_bytes, n, seed)
    return addr, np.arange(n) % 3 == 2, arrival


def sequential_reads(capacity_bytes: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` reads of consecutive 64 B lines from address 0 (wrapping at the capacity), all
    arriving at clock 0."""
    lines = np.uint64(capacity_bytes // REQUEST_BYTES)
    addr = (np.arange(n, dtype=np.uint64) % lines) * np.uint64(REQUEST_BYTES)
    return addr, np.zeros(n, np.bool_), np.zeros(n, np.int64)


def _numba_cache_hits() -> int | None:
    """Total numba cache hits of the DRAM kernel so far, or None if not observable."""
    try:
        from sim.kernels import dram as kernel

        return int(sum(sum(loop.stats.cache_hits.values()) for loop in kernel.LOOPS))
    except Exception:  # a different kernel layout; the timing comparison still tells
        return None


def _reference_available() -> bool:
    try:
        importlib.import_module("sim.reference.dram")
    except ModuleNotFoundError as exc:
        if exc.name == "sim.reference.dram":
            return False
        raise
    return True


def bench_memory(
    requests: int = DEFAULT_REQUESTS,
    reference_requests: int = DEFAULT_REFERENCE_REQUESTS,
    preset: str = DEFAULT_PRESET,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Time the fast path and the reference engine on random reads; return the measurements.

    Keys: fast_requests_per_s (random reads), mix_requests_per_s (2:1 read/write mix),
    seq_requests_per_s (sequential reads), reference_requests_per_s, speedup, jit_compile_s and details
    (request counts, wall times, startup_s, numba cache hit, whether the reference agreed
    with the fast path on the same requests). Reference entries are None when the reference
    engine is not installed.
    """
    if requests < 1 or reference_requests < 0:
        raise UserError("--requests must be at least 1 and --reference-requests at least 0")
    say = log or (lambda _msg: None)

    t0 = time.perf_counter()
    was_imported = "sim.memory.dram" in sys.modules
    from sim.config.memory import load_memory_config
    from sim.memory.dram import simulate

    startup_s = time.perf_counter() - t0
    cfg = load_memory_config(preset)
    addr, is_write, arrival = random_reads(cfg.capacity_bytes, max(requests, reference_requests), seed)

    # One-time JIT compile (or numba cache load): the first tiny run pays it, a second does not.
    w = min(WARMUP_REQUESTS, len(addr))
    hits_before = _numba_cache_hits()
    t0 = time.perf_counter()
    simulate(cfg, addr[:w], is_write[:w], arrival[:w], engine="fast")
    first_tiny_s = time.perf_counter() - t0
    hits_after = _numba_cache_hits()
    t0 = time.perf_counter()
    simulate(cfg, addr[:w], is_write[:w], arrival[:w], engine="fast")
    second_tiny_s = time.perf_counter() - t0
    jit_compile_s = max(first_tiny_s - second_tiny_s, 0.0)
    if hits_before is not None and hits_after is not None:
        cache_hit: bool | None = hits_after > hits_before
    else:
        cache_hit = None
    say(f"JIT compile: {jit_compile_s:.3f} s "
        f"({'numba cache hit' if cache_hit else 'compiled' if cache_hit is False else 'cache unknown'})")

    say(f"fast: replaying {requests:,} random 64 B reads on {cfg.name} ...")
    t0 = time.perf_counter()
    fast = simulate(cfg, addr[:requests], is_write[:requests], arrival[:requests], engine="fast")
    fast_wall_s = time.perf_counter() - t0
    fast_rps = requests / fast_wall_s

    out: dict = {
        "preset": cfg.name,
        "request_bytes": REQUEST_BYTES,
        "seed": seed,
        "fast_requests": requests,
        "fast_wall_s": fast_wall_s,
        "fast_requests_per_s": fast_rps,
        "fast_sim_bandwidth_gb_per_s": fast.summary["bandwidth_gb_per_s"],
        "mix_wall_s": None,
        "mix_requests_per_s": None,
        "mix_sim_bandwidth_gb_per_s": None,
        "seq_wall_s": None,
        "seq_requests_per_s": None,
        "seq_sim_bandwidth_gb_per_s": None,
        "reference_requests": reference_requests,
        "reference_wall_s": None,
        "reference_requests_per_s": None,
        "reference_matches_fast": None,
        "speedup": None,
        "jit_compile_s": jit_compile_s,
        "jit_first_run_s": first_tiny_s,
        "jit_warm_run_s": second_tiny_s,
        "numba_cache_hit": cache_hit,
        "startup_s": startup_s if not was_imported else 0.0,
    }
    del fast  # its arrays are not needed any more: keep the next runs' memory fresh
    for key, label, (a, w, arr) in (
        ("mix", "2:1 read/write mix", mixed_requests(cfg.capacity_bytes, requests, seed)),
        ("seq", "sequential 64 B reads", sequential_reads(cfg.capacity_bytes, requests)),
    ):
        say(f"fast: replaying {requests:,} requests, {label}, on {cfg.name} ...")
        t0 = time.perf_counter()
        res = simulate(cfg, a, w, arr, engine="fast")
        wall = time.perf_counter() - t0
        out[f"{key}_wall_s"] = wall
        out[f"{key}_requests_per_s"] = requests / wall
        out[f"{key}_sim_bandwidth_gb_per_s"] = res.summary["bandwidth_gb_per_s"]
        del res
    if reference_requests == 0:
        return out
    if not _reference_available():
        out["reference_error"] = "reference engine sim.reference.dram is not installed"
        say("reference: not available (sim.reference.dram is not installed)")
        return out

    m = reference_requests
    say(f"reference: replaying {m:,} random 64 B reads on {cfg.name} ...")
    t0 = time.perf_counter()
    ref = simulate(cfg, addr[:m], is_write[:m], arrival[:m], engine="reference")
    ref_wall_s = time.perf_counter() - t0
    ref_rps = m / ref_wall_s
    check = simulate(cfg, addr[:m], is_write[:m], arrival[:m], engine="fast")
    out.update({
        "reference_wall_s": ref_wall_s,
        "reference_requests_per_s": ref_rps,
        "reference_matches_fast": bool(
            check.raw.end_clk == ref.raw.end_clk
            and np.array_equal(check.raw.col, ref.raw.col)
            and check.summary == ref.summary
        ),
        "speedup": fast_rps / ref_rps,
    })
    return out


def format_bench(result: dict) -> str:
    """The measurements as a few terminal lines."""
    r = result
    lines = [f"membound bench memory: {r['request_bytes']} B requests on {r['preset']} "
             f"(fast path: random reads, 2:1 read/write mix, sequential reads)"]
    cache = {True: "numba cache hit", False: "compiled, cache miss", None: "cache state unknown"}
    lines.append(f"  JIT compile / cache load: {r['jit_compile_s']:.3f} s ({cache[r['numba_cache_hit']]}; "
                 f"first tiny run {r['jit_first_run_s']:.3f} s, second {r['jit_warm_run_s']:.3f} s)")
    lines.append(f"  fast path:  {r['fast_requests']:>10,} requests in {r['fast_wall_s']:8.3f} s = "
                 f"{r['fast_requests_per_s']:>12,.0f} requests/s")
    for key, label in (("mix", "2:1 mix:   "), ("seq", "sequential:")):
        if r.get(f"{key}_requests_per_s") is not None:
            lines.append(f"  {label} {r['fast_requests']:>10,} requests in {r[f'{key}_wall_s']:8.3f} s = "
                         f"{r[f'{key}_requests_per_s']:>12,.0f} requests/s")
    if r["reference_requests_per_s"] is not None:
        lines.append(f"  reference:  {r['reference_requests']:>10,} requests in {r['reference_wall_s']:8.3f} s = "
                     f"{r['reference_requests_per_s']:>12,.0f} requests/s")
        lines.append(f"  speedup: {r['speedup']:,.1f}x   reference agrees with fast path on its "
                     f"{r['reference_requests']:,} requests: {'yes' if r['reference_matches_fast'] else 'NO'}")
    elif r.get("reference_error"):
        lines.append(f"  reference:  not measured ({r['reference_error']})")
    return "\n".join(lines)
