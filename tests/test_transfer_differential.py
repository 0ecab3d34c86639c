"""The numba transfer kernel against the SimPy reference: identical results, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from sim.transfer.engine import run_transfer
from sim.transfer.model import TransferProblem

CASES = 220
SHAPES = ("random", "chain", "wide", "layered", "windowed")


def _values(rng: np.random.Generator, n: int, scale: str) -> np.ndarray:
    """Demands or latencies: many equal small values (ties), zeros, or huge ones."""
    if scale == "tiny":  # few distinct values: many events at equal times
        return rng.choice([0, 1, 2, 3, 6], n).astype(np.int64)
    if scale == "odd":  # equal times with remainders that do not divide evenly
        return rng.choice([0, 1, 5, 7, 11], n).astype(np.int64)
    if scale == "small":
        return rng.integers(0, 50, n, dtype=np.int64)
    if scale == "huge":  # up to 1e13 ps (model-scale transfers)
        return rng.integers(0, 10**13, n, dtype=np.int64)
    mixed = rng.integers(0, 10**6, n, dtype=np.int64)
    mixed[rng.random(n) < 0.2] = 0
    big = rng.random(n) < 0.1
    mixed[big] = rng.integers(10**11, 10**13, int(big.sum()), dtype=np.int64)
    return mixed


def _deps(rng: np.random.Generator, n: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    lists: list[list[int]] = []
    for i in range(n):
        if shape == "wide" or i == 0:
            own: list[int] = []
        elif shape == "chain":
            own = [i - 1]
        elif shape == "layered":  # layers of width w, each task on 1-3 of the previous layer
            w = 1 + int(rng.integers(0, 8)) if i == 1 else 4
            layer = i // w
            prev = list(range(max(0, (layer - 1) * w), layer * w))
            own = list(rng.choice(prev, min(len(prev), int(rng.integers(1, 4))),
                                  replace=False)) if prev else []
        elif shape == "windowed":  # deep: only near predecessors
            lo = max(0, i - 3)
            own = list(rng.integers(lo, i, int(rng.integers(0, 3))))  # may repeat
        else:
            k = int(rng.integers(0, min(i, 4) + 1))
            own = list(rng.integers(0, i, k))  # duplicates allowed
        lists.append(sorted(int(d) for d in own))
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.array([d for x in lists for d in x], np.int32)
    return ptr, idx


def random_problem(rng: np.random.Generator) -> TransferProblem:
    n = int(rng.choice([0, 1, 2, 5, 12, 30, 60, 120]))
    n_res = int(rng.integers(1, 6))
    shape = str(rng.choice(SHAPES))
    demand = _values(rng, n, str(rng.choice(["tiny", "odd", "odd", "small", "huge", "mixed"])))
    latency = _values(rng, n, str(rng.choice(["tiny", "odd", "small", "mixed"])))
    if rng.random() < 0.3:
        latency[:] = 0
    res = rng.integers(0, n_res, n).astype(np.int32)
    ptr, idx = _deps(rng, n, shape)
    return TransferProblem(res, demand, latency, ptr, idx,
                           tuple(f"r{k}" for k in range(n_res)))


def _same(a, b) -> list[str]:
    bad = [k for k in ("ready", "leave", "end", "busy", "served")
           if not np.array_equal(getattr(a, k), getattr(b, k))]
    return bad + (["end_time"] if a.end_time != b.end_time else [])


@pytest.mark.parametrize("seed", range(CASES))
def test_kernel_matches_reference(seed):
    p = random_problem(np.random.default_rng(7000 + seed))
    ref = run_transfer(p, "reference")
    fast = run_transfer(p, "fast")
    assert _same(fast, ref) == []
    assert fast.end_time == (int(ref.end.max()) if p.n else 0)


def test_both_refuse_a_time_past_the_horizon():
    # two tasks of demand 2**61 sharing one resource leave at 2**62 > HORIZON
    p = TransferProblem(np.zeros(2, np.int32), np.full(2, 1 << 61, np.int64),
                        np.zeros(2, np.int64), np.zeros(3, np.int64),
                        np.zeros(0, np.int32), ("r",))
    for engine in ("fast", "reference"):
        with pytest.raises(ValueError, match="horizon"):
            run_transfer(p, engine)


def test_both_refuse_an_end_past_the_horizon():
    h = (1 << 62) - 1
    p = TransferProblem(np.zeros(1, np.int32), np.array([h], np.int64),
                        np.array([1], np.int64), np.zeros(2, np.int64),
                        np.zeros(0, np.int32), ("r",))
    for engine in ("fast", "reference"):
        with pytest.raises(ValueError, match="horizon"):
            run_transfer(p, engine)
