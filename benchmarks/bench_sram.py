"""Scratchpad SRAM: numba kernel vs SimPy reference throughput on random requests.

Usage: python benchmarks/bench_sram.py [n_requests] [--no-reference]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sim.config.sram import load_sram_config
from sim.memory.sram import ATOMIC_ADD, ATOMIC_CAS, READ, WRITE, make_requests, simulate_sram
from sim.memory.sram_config import SramConfig


def random_stream(n: int, cfg: SramConfig, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    op = rng.choice([READ, WRITE, ATOMIC_ADD, ATOMIC_CAS], n, p=[0.55, 0.3, 0.1, 0.05])
    atomic = op >= ATOMIC_ADD
    size = np.where(atomic, 8, rng.choice([4, 8, 16, 32, 64], n))
    addr = rng.integers(0, cfg.size_bytes // 64, n) * 64 + np.where(
        atomic, 0, rng.integers(0, 8, n) * 8
    )
    addr = np.minimum(addr, cfg.size_bytes - size)
    hot = rng.random(n) < 0.5
    addr = np.where(atomic & hot, rng.integers(0, 16, n) * 8, addr)  # a few hot words
    arrival = np.cumsum(rng.integers(0, 2, n)) * cfg.clock_ps // 2
    return make_requests(arrival, addr, size, op)


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv and argv[0].isdigit() else 200_000
    cfg = load_sram_config("piuma_scratchpad")
    req = random_stream(n, cfg)
    simulate_sram(cfg, req[:100])  # JIT compile / cache load
    t0 = time.perf_counter()
    fast = simulate_sram(cfg, req, engine="fast")
    t_fast = time.perf_counter() - t0
    print(f"fast:      {n} requests in {t_fast:.3f} s = {n / t_fast:,.0f} requests/s")
    if "--no-reference" in argv:
        return
    t0 = time.perf_counter()
    ref = simulate_sram(cfg, req, engine="reference")
    t_ref = time.perf_counter() - t0
    print(f"reference: {n} requests in {t_ref:.3f} s = {n / t_ref:,.0f} requests/s")
    same = np.array_equal(fast.completion_ps, ref.completion_ps) and all(
        np.array_equal(fast.stats[k], ref.stats[k]) for k in fast.stats
    )
    print(
        f"identical results: {same}; speedup {t_ref / t_fast:,.0f}x; "
        f"end {fast.stats['end_time_ps']} ps"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
