"""The transfer-level engine against closed forms of processor sharing (sim/transfer/model.py).

Every expected value here is worked out by hand or by an independent formula, never by
running the engine; both engines are checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from sim.transfer.engine import run_transfer
from sim.transfer.model import TransferProblem, TransferResult

ENGINES = ("fast", "reference")


def problem(res: Sequence[int], demand: Sequence[int], latency: Sequence[int] | None = None,
            deps: Sequence[Sequence[int]] | None = None, n_res: int | None = None
            ) -> TransferProblem:
    n = len(res)
    deps = deps if deps is not None else [[] for _ in range(n)]
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum([len(d) for d in deps])
    idx = np.array([x for d in deps for x in d], np.int32)
    n_res = n_res if n_res is not None else (max(res) + 1 if n else 1)
    return TransferProblem(np.array(res, np.int32), np.array(demand, np.int64),
                           np.array(latency if latency is not None else [0] * n, np.int64),
                           ptr, idx, tuple(f"r{k}" for k in range(n_res)))


def run(p: TransferProblem, engine: str) -> TransferResult:
    return run_transfer(p, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_task_alone_takes_demand_plus_latency(engine):
    r = run(problem([0], [1234], [56]), engine)
    assert (r.ready[0], r.leave[0], r.end[0], r.end_time) == (0, 1234, 1290, 1290)
    assert (r.busy[0], r.served[0]) == (1234, 1234)


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_to_do(engine):
    r = run(problem([], [], n_res=2), engine)
    assert r.end_time == 0 and list(r.busy) == [0, 0] and list(r.served) == [0, 0]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("k", [1, 2, 3, 7, 100])
def test_k_equal_tasks_joining_together_all_leave_at_k_times_demand(engine, k):
    r = run(problem([0] * k, [999] * k), engine)
    assert np.all(r.leave == k * 999)


@pytest.mark.parametrize("engine", ENGINES)
def test_two_tasks_a_lt_b_leave_at_2a_and_a_plus_b(engine):
    a, b = 300, 1000
    r = run(problem([0, 0], [a, b]), engine)
    assert list(r.leave) == [2 * a, a + b]


@pytest.mark.parametrize("engine", ENGINES)
def test_tasks_joining_together_follow_the_processor_sharing_formula(engine):
    # sorted demands d_1 <= ... <= d_n all present from 0: task k leaves at
    # d_1 + ... + d_{k-1} + (n - k + 1) d_k
    rng = np.random.default_rng(3)
    demand = rng.integers(1, 10**9, 50)
    r = run(problem([0] * 50, demand), engine)
    d = np.sort(demand)
    expect = np.cumsum(d) - d + (50 - np.arange(50)) * d
    assert np.array_equal(np.sort(r.leave), expect)
    assert r.busy[0] == r.served[0] == d.sum() == r.leave.max()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_task_joining_half_way(engine):
    # task 0 (demand D) alone from 0; task 2 (demand D) joins at D/2, when task 1 on
    # another resource ends. Task 0 has D/2 left at D/2, served at rate 1/2: leaves at 3D/2;
    # task 2 then has D/2 left alone: leaves at 2D.
    D = 1000
    r = run(problem([0, 1, 0], [D, D // 2, D], deps=[[], [], [1]]), engine)
    assert list(r.ready) == [0, 0, D // 2]
    assert list(r.leave) == [3 * D // 2, D // 2, 2 * D]
    assert list(r.busy) == [2 * D, D // 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_chain_ends_at_the_sum(engine):
    rng = np.random.default_rng(5)
    demand = rng.integers(0, 10**6, 40)
    latency = rng.integers(0, 10**4, 40)
    res = rng.integers(0, 3, 40)
    deps = [[]] + [[i - 1] for i in range(1, 40)]
    r = run(problem(list(res), demand, latency, deps, n_res=3), engine)
    assert r.end_time == int((demand + latency).sum())
    assert np.array_equal(r.end, np.cumsum(demand + latency))
    assert np.array_equal(r.ready[1:], r.end[:-1])


@pytest.mark.parametrize("engine", ENGINES)
def test_tasks_on_different_resources_do_not_interfere(engine):
    r = run(problem([0, 1, 2], [10, 20, 30], [1, 2, 3]), engine)
    assert list(r.leave) == [10, 20, 30] and list(r.end) == [11, 22, 33]


@pytest.mark.parametrize("engine", ENGINES)
def test_three_sharing_for_a_time_not_divisible_by_three(engine):
    # tasks 0-2 (demand 10) from 0 on r0; task 4 (demand 5) joins at 7 (task 3 on r1).
    # At 7: q = 7, V = 7 // 3 = 2, f = 1; F_4 = 2 + 5 = 7; n 3 -> 4: f = 1 * 4 // 3 = 1.
    # Next leave: 7 + (7 - 2) * 4 - 1 = 26 (task 4). At 26: q = 1 + 19 = 20, V = 7, f = 0;
    # n 4 -> 3; next leave 26 + (10 - 7) * 3 = 35 (tasks 0-2).
    r = run(problem([0, 0, 0, 1, 0], [10, 10, 10, 7, 5], deps=[[], [], [], [], [3]]), engine)
    assert list(r.leave) == [35, 35, 35, 7, 26]
    assert r.busy[0] == 35 == r.served[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_zero_demand_join_drops_the_remainder(engine):
    # tasks 0-2 (demand 100) from 0; task 4 (demand 0) joins at 7. At 7: V = 2, f = 1,
    # F_4 = 2; n 3 -> 4: f = 1 * 4 // 3 = 1; next leave 7 + max(0, 0 * 4 - 1) = 7.
    # LEAVE at 7: q = 1, V = 2, f = 1; task 4 leaves; n 4 -> 3: f = 1 * 3 // 4 = 0.
    # Next leave 7 + (100 - 2) * 3 - 0 = 301 (exact sharing would give 300).
    r = run(problem([0, 0, 0, 1, 0], [100, 100, 100, 7, 0], deps=[[], [], [], [], [3]]),
            engine)
    assert list(r.leave) == [301, 301, 301, 7, 7]
    assert (r.busy[0], r.served[0]) == (301, 300)


def _random_graph(seed: int, n: int = 300, n_res: int = 3, zero_demands: bool = False
                  ) -> TransferProblem:
    rng = np.random.default_rng(seed)
    deps = [sorted(set(rng.integers(0, i, int(rng.integers(0, 3))).tolist())) if i else []
            for i in range(n)]
    lo = 0 if zero_demands else 1
    return problem(list(rng.integers(0, n_res, n)), rng.integers(lo, 10**5, n),
                   rng.integers(0, 10**4, n), deps, n_res=n_res)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(3))
def test_work_conservation(engine, seed):
    # the remainder f never changes at a join (f * (n + 1) // n == f for f < n) and is 0 at
    # a leave time reached by service, so without zero demands nothing is rounded away:
    # busy == served. Zero demands can only drop remainders: busy >= served.
    for zero in (False, True):
        p = _random_graph(seed, zero_demands=zero)
        r = run(p, engine)
        served = np.bincount(p.res, weights=p.demand, minlength=3).astype(np.int64)
        assert np.array_equal(r.served, served)
        if zero:
            assert np.all(r.busy >= r.served)
        else:
            assert np.array_equal(r.busy, r.served)
        for k in range(3):
            on = p.res == k
            assert r.leave[on].max() >= r.busy[k]
        assert np.all(r.leave - r.ready >= p.demand)  # sharing never speeds a task up
        assert np.array_equal(r.end, r.leave + p.latency)


def _presence(ready: np.ndarray, leave: np.ndarray) -> tuple[int, int]:
    """(integral of the number present, time with anyone present) by a sweep over the
    sorted join (+1) and leave (-1) events; a leave sorts before a join at equal times."""
    events = sorted([(int(t), -1) for t in leave] + [(int(t), +1) for t in ready])
    area = occupied = present = 0
    last = 0
    for t, step in events:
        area += present * (t - last)
        occupied += (t - last) if present > 0 else 0
        present += step
        last = t
    return area, occupied


@pytest.mark.parametrize("engine", ENGINES)
def test_littles_law_on_a_wide_graph(engine):
    rng = np.random.default_rng(11)
    n = 400  # a wide graph: 4 layers of 100, each task on up to 3 of the previous layer
    deps = [[] if i < 100 else sorted(set(rng.integers((i // 100 - 1) * 100, i // 100 * 100,
                                                       3).tolist())) for i in range(n)]
    p = problem(list(rng.integers(0, 3, n)), rng.integers(0, 10**6, n),
                rng.integers(0, 10**3, n), deps, n_res=3)
    r = run(p, engine)
    for k in range(3):
        on = p.res == k
        area, occupied = _presence(r.ready[on], r.leave[on])
        assert int((r.leave[on] - r.ready[on]).sum()) == area
        assert r.busy[k] == occupied


@pytest.mark.parametrize("engine", ENGINES)
def test_ready_is_the_latest_end_of_the_dependencies(engine):
    p = _random_graph(21)
    r = run(p, engine)
    for i in range(p.n):
        d = p.dep_idx[p.dep_ptr[i]:p.dep_ptr[i + 1]]
        assert r.ready[i] == (r.end[d].max() if len(d) else 0)
    assert r.end_time == r.end.max()


@pytest.mark.parametrize("bad", [
    dict(demand=[-1]), dict(latency=[-1]), dict(res=[2]), dict(res=[-1]),
    dict(deps=[[0]]), dict(demand=[1, 2]),
])
def test_malformed_problems_raise_value_error(bad):
    args = dict(res=[0], demand=[5], latency=[0], deps=[[]])
    args.update(bad)
    n_res = 2
    p = problem(args["res"], args["demand"], args["latency"], args["deps"], n_res=n_res)
    with pytest.raises(ValueError):
        run_transfer(p)


def test_unknown_engine():
    with pytest.raises(ValueError, match="unknown engine"):
        run_transfer(problem([0], [1]), "nope")
