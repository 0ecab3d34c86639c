"""Transfer-level engine: numba kernel vs SimPy reference, in tasks per second.

Usage: python benchmarks/bench_transfer.py [--layers N] [--reference-tasks M] [--repeat R]

The main workload is a decode-step-like graph: ``--layers`` repetitions of a layer of
~1,000 tasks on 3 resources (HBM, compute, interconnect): 249 pipelines of
weight load -> matmul -> partial-sum send -> accumulate, some loads waiting on an earlier
pipeline's matmul (fan-in), and one barrier task per layer that waits for every pipeline
and that the next layer's loads wait for. Also a 1M-task chain and 1M independent tasks.
The reference runs on the first ``--reference-tasks`` tasks of the layered graph.
Targets (issue 11): kernel >= 1,000,000 tasks/s and >= 50x the reference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sim.transfer.engine import run_transfer, warm_up
from sim.transfer.model import TransferProblem

HBM, COMPUTE, LINK = 0, 1, 2
NAMES = ("hbm", "compute", "link")


def _csr(deps: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(deps) + 1, np.int64)
    ptr[1:] = np.cumsum([len(d) for d in deps])
    return ptr, np.array([x for d in deps for x in d], np.int32)


def layered(layers: int, pipelines: int = 249, seed: int = 0) -> TransferProblem:
    """``layers`` copies of one layer (4 * pipelines + 1 tasks), chained by a barrier."""
    rng = np.random.default_rng(seed)
    per = 4 * pipelines + 1
    res = np.empty(per, np.int32)
    demand = np.empty(per, np.int64)
    latency = np.zeros(per, np.int64)
    deps: list[list[int]] = []
    for p in range(pipelines):
        b = 4 * p
        res[b:b + 4] = (HBM, COMPUTE, LINK, COMPUTE)
        demand[b:b + 4] = (rng.integers(200_000, 2_000_000), rng.integers(50_000, 900_000),
                           rng.integers(10_000, 100_000), rng.integers(1_000, 20_000))
        latency[b:b + 4] = (500_000, 0, 1_000_000, 0)  # HBM and link request latencies
        load = [-1]  # the previous layer's barrier (the first layer drops it below)
        if p >= 8 and rng.random() < 0.25:  # fan-in: wait for an earlier matmul as well
            load = load + [4 * int(rng.integers(0, p)) + 1]
        deps += [load, [b], [b + 1], [b + 2]]
    res[-1], demand[-1] = COMPUTE, 0
    deps.append([4 * p + 3 for p in range(pipelines)])
    # dependencies relative to the layer's first task; the barrier of the previous layer
    # is at -1. Tile the layer with offsets; the first layer's loads drop that dependency.
    ptr1, idx1 = _csr(deps)
    counts = np.diff(ptr1)
    ptr = np.zeros(layers * per + 1, np.int64)
    all_counts = np.tile(counts, layers)
    all_counts[:per][[4 * p for p in range(pipelines)]] -= 1
    np.cumsum(all_counts, out=ptr[1:])
    idx = (idx1[None, :] + (np.arange(layers, dtype=np.int64) * per)[:, None]).ravel()
    keep = np.ones(len(idx), bool)
    keep[:len(idx1)] = idx1 >= 0
    idx = idx[keep].astype(np.int32)
    return TransferProblem(np.tile(res, layers), np.tile(demand, layers),
                           np.tile(latency, layers), ptr, idx, NAMES)


def chain(n: int) -> TransferProblem:
    rng = np.random.default_rng(1)
    ptr = np.concatenate([[0], np.arange(n, dtype=np.int64)])
    return TransferProblem(rng.integers(0, 3, n).astype(np.int32),
                           rng.integers(1, 10**6, n), rng.integers(0, 10**4, n), ptr,
                           np.arange(n - 1, dtype=np.int32), NAMES)


def wide(n: int) -> TransferProblem:
    rng = np.random.default_rng(2)
    return TransferProblem(rng.integers(0, 3, n).astype(np.int32),
                           rng.integers(1, 10**6, n), rng.integers(0, 10**4, n),
                           np.zeros(n + 1, np.int64), np.zeros(0, np.int32), NAMES)


def timed(p: TransferProblem, engine: str, repeat: int) -> float:
    """Best wall time of ``repeat`` runs (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_transfer(p, engine)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=1000)
    ap.add_argument("--reference-tasks", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warm_up()
    big = layered(args.layers)
    rows = []
    for name, p in (("layered", big), ("chain", chain(big.n)), ("wide", wide(big.n))):
        s = timed(p, "fast", args.repeat)
        rows.append((name, p.n, s))
        print(f"kernel    {name:8s} {p.n:>9,d} tasks {s:8.3f} s {p.n / s:>12,.0f} tasks/s")
    small = big.prefix(args.reference_tasks)
    s_ref = timed(small, "reference", 1)
    s_fast = timed(small, "fast", args.repeat)
    print(f"reference layered {small.n:>9,d} tasks {s_ref:8.3f} s "
          f"{small.n / s_ref:>12,.0f} tasks/s")
    print(f"kernel    layered {small.n:>9,d} tasks {s_fast:8.3f} s "
          f"{small.n / s_fast:>12,.0f} tasks/s")
    rate_big = rows[0][1] / rows[0][2]
    print(f"ratio kernel (layered, {rows[0][1]:,d} tasks) / reference: "
          f"{rate_big / (small.n / s_ref):,.0f}x; same {small.n:,d} tasks: {s_ref / s_fast:,.0f}x")


if __name__ == "__main__":
    main()
