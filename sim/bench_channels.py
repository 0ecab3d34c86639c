"""`membound bench memory --channels`: one multi-channel DRAM replay on one core and on all.

Uniformly random 64 B reads on every pseudo-channel of a preset (hbm3 by default) are
replayed twice through the same pipeline as sim.memory.dram.simulate (address decoding,
replay, summary): serially (run_fast) and with the channels spread over processes
(sim.memory.dram_parallel.run_parallel); the two results must be identical.

Two arrival patterns, because they behave differently:
* open-loop (the headline): Poisson arrivals at `rate` requests per memory clock, below
  what the memory serves, so the front end never holds a request back and one parallel
  pass is the serial run;
* saturated: every request at clock 0, as in `bench memory`. The front end then blocks at
  nearly every admission, the channels are coupled through it, and the exact parallel
  scheme would need about one pass per blocking event: run_parallel detects this before
  any pass and replays serially, so both figures are the serial speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim.bench import random_reads
from sim.errors import UserError

DEFAULT_PRESET = "hbm3"
DEFAULT_REQUESTS = 5_000_000
# Requests per memory clock offered in the open-loop case. hbm3 serves about 1.1 random
# 64 B reads per clock when saturated (115 GB/s); 1.0 offers 102 GB/s.
DEFAULT_RATE = 1.0
REQUEST_BYTES = 64


def poisson_arrivals(n: int, rate: float, seed: int = 1) -> np.ndarray:
    """Arrival clocks of a Poisson stream of `rate` requests per clock."""
    rng = np.random.default_rng(seed)
    return np.floor(np.cumsum(rng.exponential(1.0 / rate, n))).astype(np.int64)


def _replay(cfg, addr: np.ndarray, is_write: np.ndarray, arrival: np.ndarray,
            workers: int) -> tuple[object, object, dict]:
    """simulate()'s pipeline, serial (workers == 1) or parallel; (result, stats, wall
    seconds of decode, replay, summary and total)."""
    from sim.memory.dram import DramResult, make_accesses, run_fast, summarize
    from sim.memory.dram_parallel import run_parallel

    k = cfg.controller.requests_per_clock
    t0 = time.perf_counter()
    acc = make_accesses(cfg, addr, is_write, arrival, REQUEST_BYTES)
    t1 = time.perf_counter()
    if workers == 1:
        raw, stats = run_fast(cfg, acc, k), None
    else:
        raw, stats = run_parallel(cfg, acc, k, workers=workers)
    t2 = time.perf_counter()
    res = DramResult(cfg, acc, raw, len(addr), REQUEST_BYTES, is_write)
    res.summary = summarize(res)
    t3 = time.perf_counter()
    return res, stats, {"decode": t1 - t0, "replay": t2 - t1, "summary": t3 - t2, "total": t3 - t0}


def identical(a, b) -> bool:
    """Every per-access result, the end clock, the breakdown and the summary agree."""
    ra, rb = a.raw, b.raw
    return bool(ra.end_clk == rb.end_clk and np.array_equal(ra.enter, rb.enter)
                and np.array_equal(ra.col, rb.col) and np.array_equal(ra.kind, rb.kind)
                and np.array_equal(ra.breakdown, rb.breakdown) and a.summary == b.summary)


def _measure(cfg, addr, is_write, arrival, workers: int, repeats: int, say) -> dict:
    """Best of `repeats` serial and parallel replays, interleaved."""
    serial: list[dict] = []
    parallel: list[dict] = []
    same = True
    stats = None
    for _ in range(repeats):
        ser, _, ts = _replay(cfg, addr, is_write, arrival, 1)
        par, stats, tp = _replay(cfg, addr, is_write, arrival, workers)
        serial.append(ts)
        parallel.append(tp)
        same = same and identical(ser, par)
        say(f"  serial {ts['total']:.3f} s (replay {ts['replay']:.3f} s), parallel {tp['total']:.3f} s "
            f"(replay {tp['replay']:.3f} s: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.seconds.items())
            + ")")
    n = len(addr)
    best_s = min(serial, key=lambda x: x["total"])
    best_p = min(parallel, key=lambda x: x["total"])
    replay_s = min(x["replay"] for x in serial)
    replay_p = min(x["replay"] for x in parallel)
    return {
        "serial_wall_s": best_s["total"],
        "parallel_wall_s": best_p["total"],
        "serial_requests_per_s": n / best_s["total"],
        "parallel_requests_per_s": n / best_p["total"],
        "parallel_speedup": best_s["total"] / best_p["total"],
        # the replay alone (run_fast vs run_parallel), without decoding and summary
        "serial_replay_s": replay_s,
        "parallel_replay_s": replay_p,
        "replay_speedup": replay_s / replay_p,
        "serial_phases_s": best_s,
        "parallel_phases_s": best_p,
        "serial_total_s_all": [x["total"] for x in serial],
        "parallel_total_s_all": [x["total"] for x in parallel],
        "parallel_passes": stats.passes,
        "parallel_converged": stats.converged,
        "parallel_serial_because": stats.why or None,
        "identical": same,
        "sim_bandwidth_gb_per_s": ser.summary["bandwidth_gb_per_s"],
    }


def bench_channels(requests: int = DEFAULT_REQUESTS, preset: str = DEFAULT_PRESET,
                   rate: float = DEFAULT_RATE, workers: int | None = None, repeats: int = 1,
                   seed: int = 0, log: Callable[[str], None] | None = None) -> dict:
    """Time serial and channel-parallel replays of random reads; return the measurements.

    Headline keys (open-loop arrivals): serial_requests_per_s (1 core),
    parallel_requests_per_s, parallel_cores, parallel_speedup, identical; the saturated
    case's figures are under "saturated"."""
    from sim.config.memory import load_memory_config
    from sim.memory.dram_parallel import default_workers

    if requests < 1 or rate <= 0 or repeats < 1:
        raise UserError("--requests and --repeats must be at least 1 and the rate positive")
    say = log or (lambda _msg: None)
    cfg = load_memory_config(preset)
    if cfg.channels < 2:
        raise UserError(f"{cfg.name} has one channel: nothing to run in parallel")
    w = workers or default_workers()
    addr, is_write, zeros = random_reads(cfg.capacity_bytes, requests, seed)
    # compile / load the kernels before timing anything
    m = min(requests, 256)
    _replay(cfg, addr[:m], is_write[:m], poisson_arrivals(m, rate), w)
    say(f"open loop: {requests:,} random 64 B reads on {cfg.name}, Poisson at {rate} per clock, "
        f"1 core vs {w} ...")
    out: dict = {"preset": cfg.name, "request_bytes": REQUEST_BYTES, "seed": seed,
                 "requests": requests, "channels": cfg.channels,
                 "scheduled_channels": cfg.scheduled_channels, "parallel_cores": w,
                 "parallelism": "processes (fork), one share of the channels each",
                 "arrival": f"Poisson, {rate} requests per clock "
                            f"({rate * REQUEST_BYTES / cfg.tck_ps * 1000:.1f} GB/s offered)",
                 "rate_requests_per_clock": rate, "repeats": repeats}
    out.update(_measure(cfg, addr, is_write, poisson_arrivals(requests, rate), w, repeats, say))
    say("saturated: the same reads all at clock 0 ...")
    out["saturated"] = _measure(cfg, addr, is_write, zeros, w, repeats, say)
    return out


def format_bench_channels(r: dict) -> str:
    """The measurements as a few terminal lines."""
    s = r["saturated"]

    def line(label: str, m: dict) -> list[str]:
        why = f" (ran serially: {m['parallel_serial_because']})" if m["parallel_serial_because"] else ""
        return [f"  {label}",
                f"    1 core:   {m['serial_requests_per_s']:>12,.0f} requests/s "
                f"({m['serial_wall_s']:.3f} s)",
                f"    {r['parallel_cores']} cores:  {m['parallel_requests_per_s']:>12,.0f} requests/s "
                f"({m['parallel_wall_s']:.3f} s) = {m['parallel_speedup']:.2f}x, "
                f"{m['parallel_passes']} pass(es){why}; identical: {'yes' if m['identical'] else 'NO'}",
                f"    replay alone (no decoding, no summary): {m['serial_replay_s']:.3f} s -> "
                f"{m['parallel_replay_s']:.3f} s = {m['replay_speedup']:.2f}x"]

    lines = [f"membound bench memory --channels: {r['requests']:,} random {r['request_bytes']} B reads "
             f"on {r['preset']} ({r['scheduled_channels']} pseudo-channels, {r['channels']} controllers)"]
    lines += line(f"open loop ({r['arrival']}):", r)
    lines += line("saturated (all at clock 0):", s)
    return "\n".join(lines)
