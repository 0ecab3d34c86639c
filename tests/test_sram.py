"""Scratchpad SRAM + atomic unit: differential (numba vs SimPy), physics and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import UserError
from sim.memory.sram import (
    ATOMIC_ADD,
    ATOMIC_CAS,
    ATOMIC_MIN,
    READ,
    SRAM_REQUEST_DTYPE,
    STAT_KEYS,
    WRITE,
    make_requests,
    simulate_sram,
)
from sim.memory.sram_config import AtomicUnitConfig, SramConfig

CLK = 1000


def make_cfg(
    banks=4,
    interleave=16,
    latency=2,
    bpc=8,
    ports=1,
    atomic_latency=3,
    atomic_per_clock=1,
    size_bytes=1 << 14,
    clock_ps=CLK,
) -> SramConfig:
    return SramConfig(
        name="test",
        size_bytes=size_bytes,
        banks=banks,
        bank_interleave_bytes=interleave,
        clock_ps=clock_ps,
        latency=latency,
        bytes_per_clock_per_port=bpc,
        ports_per_bank=ports,
        atomic=AtomicUnitConfig(latency=atomic_latency, ops_per_clock=atomic_per_clock),
    )


def both(cfg, req):
    fast = simulate_sram(cfg, req, engine="fast")
    ref = simulate_sram(cfg, req, engine="reference")
    assert_same(fast, ref)
    return fast


def assert_same(fast, ref, context=""):
    assert fast.completion_ps.dtype == np.int64
    np.testing.assert_array_equal(fast.completion_ps, ref.completion_ps, err_msg=context)
    assert set(fast.stats) == set(ref.stats) == set(STAT_KEYS)
    for key in STAT_KEYS:
        a, b = fast.stats[key], ref.stats[key]
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f"{key} {context}")
        else:
            assert a == b, f"{key}: fast {a} != reference {b} {context}"


# -- differential -------------------------------------------------------------------------------


def random_case(rng: np.random.Generator):
    banks = int(2 ** rng.integers(0, 5))  # 1..16
    interleave = (
        int(2 ** rng.integers(0, 7)) if rng.random() < 0.3 else int(2 ** rng.integers(3, 7))
    )
    if rng.random() < 0.1:
        interleave = int(rng.integers(1, 40))  # non-power-of-two interleave
        banks = int(rng.integers(1, 17))
    cfg = make_cfg(
        banks=banks,
        interleave=interleave,
        latency=int(rng.integers(0, 5)),
        bpc=int(2 ** rng.integers(0, 6)),
        ports=int(rng.integers(1, 3)),
        atomic_latency=int(rng.integers(0, 7)),
        atomic_per_clock=int(rng.integers(1, 3)),
        size_bytes=1024,
        clock_ps=int(rng.choice([1, 250, 1000, 1333])),
    )
    n = int(rng.integers(1, 60))
    gaps_clk = rng.integers(0, 4, n) * (rng.random(n) < 0.5)
    jitter = rng.integers(0, cfg.clock_ps, n) * (rng.random(n) < 0.3)
    arrival = np.cumsum(gaps_clk * cfg.clock_ps + jitter)
    op = rng.choice(
        [READ, WRITE, ATOMIC_ADD, ATOMIC_CAS, ATOMIC_MIN], n, p=rng.dirichlet(np.ones(5))
    )
    size = rng.integers(1, 65, n)
    addr = rng.integers(0, 1024 - 64, n)
    hot = rng.integers(0, 1024 // 8, 3) * 8
    atomic = op >= ATOMIC_ADD
    asize = rng.choice([1, 2, 4, 8], n)
    size = np.where(atomic, asize, size)
    word = np.where(
        rng.random(n) < 0.7, hot[rng.integers(0, 3, n)], rng.integers(0, 1024 // 8, n) * 8
    )
    aligned_off = (rng.integers(0, 8, n) // asize) * asize
    addr = np.where(atomic, word + aligned_off, addr)
    # an atomic may not cross an interleave boundary: shrink it to its unit where it would
    unit_end = (addr // interleave + 1) * interleave
    size = np.where(atomic, np.minimum(size, unit_end - addr), size)
    return cfg, make_requests(arrival, addr, size, op)


@pytest.mark.parametrize("chunk", range(4))
def test_differential_random_streams(chunk):
    rng = np.random.default_rng(1234 + chunk)
    for case in range(60):
        cfg, req = random_case(rng)
        fast = simulate_sram(cfg, req, engine="fast")
        ref = simulate_sram(cfg, req, engine="reference")
        assert_same(fast, ref, context=f"chunk {chunk} case {case} cfg {cfg}")


def test_differential_hot_bank_and_word_contention():
    rng = np.random.default_rng(7)
    cfg = make_cfg(banks=2, ports=2, atomic_per_clock=2, atomic_latency=5)
    n = 400
    op = rng.choice([READ, WRITE, ATOMIC_ADD, ATOMIC_MIN], n)
    addr = np.where(op >= ATOMIC_ADD, rng.integers(0, 2, n) * 8, rng.integers(0, 8, n) * 16)
    size = np.where(op >= ATOMIC_ADD, 8, rng.integers(1, 65, n))
    arrival = np.sort(rng.integers(0, 50, n)) * CLK
    res = both(cfg, make_requests(arrival, addr, size, op))
    assert res.stats["bank_conflict_stall_clocks"] > 0
    assert res.stats["atomic_stall_clocks"] > 0


# -- physics ------------------------------------------------------------------------------------


def test_single_read_latency_is_occupancy_plus_latency():
    cfg = make_cfg(latency=3, bpc=8)
    for size, occ in [(1, 1), (8, 1), (9, 2), (16, 2)]:
        res = both(cfg, make_requests([5 * CLK], [0], [size], [READ]))
        assert res.completion_ps[0] == (5 + occ + 3) * CLK
        assert res.stats["bank_conflict_stall_clocks"] == 0
        assert res.stats["bank_busy_clocks"][0] == occ


def test_arrival_rounds_up_to_clock_edge():
    cfg = make_cfg(latency=3, bpc=8)
    res = both(cfg, make_requests([1, CLK, CLK + 1], [0, 16, 32], [8, 8, 8], [READ] * 3))
    np.testing.assert_array_equal(res.completion_ps, [5 * CLK, 5 * CLK, 6 * CLK])


def test_simultaneous_reads_to_one_bank_serialise_by_occupancy():
    cfg = make_cfg(banks=4, interleave=16, latency=2, bpc=4)
    n = 6
    addr = np.arange(n) * 16 * 4  # all map to bank 0
    res = both(cfg, make_requests(np.zeros(n), addr, np.full(n, 16), np.full(n, READ)))
    occ = 4
    np.testing.assert_array_equal(res.completion_ps, (np.arange(n) * occ + occ + 2) * CLK)
    assert res.stats["bank_accesses"].tolist() == [n, 0, 0, 0]
    assert res.stats["bank_conflict_stall_clocks"] == occ * n * (n - 1) // 2


def test_two_ports_serve_two_at_a_time():
    cfg = make_cfg(banks=1, latency=0, bpc=8, ports=2)
    res = both(cfg, make_requests(np.zeros(5), np.zeros(5), np.full(5, 16), np.full(5, READ)))
    np.testing.assert_array_equal(res.completion_ps, np.array([2, 2, 4, 4, 6]) * CLK)


def test_reads_to_distinct_banks_complete_together():
    cfg = make_cfg(banks=8, interleave=32, latency=2, bpc=8)
    addr = np.arange(8) * 32
    res = both(cfg, make_requests(np.zeros(8), addr, np.full(8, 32), np.full(8, READ)))
    assert np.all(res.completion_ps == (4 + 2) * CLK)
    assert res.stats["bank_accesses"].tolist() == [1] * 8
    assert res.stats["bank_conflict_stall_clocks"] == 0


def test_access_split_at_interleave_boundary():
    cfg = make_cfg(banks=4, interleave=16, latency=1, bpc=4)
    # bytes 8..39: pieces 8..15 (bank 0, 2 clk), 16..31 (bank 1, 4 clk), 32..39 (bank 2, 2 clk)
    res = both(cfg, make_requests([0], [8], [32], [WRITE]))
    assert res.completion_ps[0] == (4 + 1) * CLK
    assert res.stats["bank_accesses"].tolist() == [1, 1, 1, 0]
    assert res.stats["bank_busy_clocks"].tolist() == [2, 4, 2, 0]
    assert res.stats["bytes_written"] == 32 and res.stats["bytes_read"] == 0


def test_atomic_throughput_never_exceeds_ops_per_clock():
    for per_clock in (1, 2, 3):
        cfg = make_cfg(
            banks=16, interleave=8, ports=2, atomic_latency=4, atomic_per_clock=per_clock
        )
        n = 48
        addr = np.arange(n) * 8  # distinct words, spread over all banks
        res = both(cfg, make_requests(np.zeros(n), addr, np.full(n, 8), np.full(n, ATOMIC_ADD)))
        start = res.completion_ps // CLK - 1 - 4
        counts = np.bincount(start)
        assert counts.max() == per_clock
        assert start.max() == (n + per_clock - 1) // per_clock - 1
        assert res.stats["atomic_count"] == n


def test_same_word_atomics_serialise_by_atomic_latency():
    cfg = make_cfg(banks=4, atomic_latency=5, atomic_per_clock=4, bpc=8)
    n = 5
    res = both(
        cfg, make_requests(np.zeros(n), np.full(n, 24), np.full(n, 8), np.full(n, ATOMIC_CAS))
    )
    per = 1 + 5  # occupancy + atomic latency: the next starts at the previous one's result
    np.testing.assert_array_equal(res.completion_ps, (np.arange(1, n + 1) * per) * CLK)
    # atomic k > 0: the bank is ready one clock after atomic k-1 started; the word 5 clocks later
    assert res.stats["atomic_stall_clocks"] == (n - 1) * 5
    assert res.stats["bank_conflict_stall_clocks"] == sum(per * (k - 1) + 1 for k in range(1, n))
    # different words of the same bank only serialise by bank occupancy
    res = both(cfg, make_requests(np.zeros(2), [0, 8], [8, 8], [ATOMIC_ADD, ATOMIC_ADD]))
    np.testing.assert_array_equal(res.completion_ps, [6 * CLK, 7 * CLK])


def test_read_behind_stalled_atomic_waits_in_order():
    cfg = make_cfg(banks=1, ports=2, latency=1, atomic_latency=5)
    req = make_requests([0, 0, 0], [0, 0, 32], [8, 8, 8], [ATOMIC_MIN, ATOMIC_MIN, READ])
    res = both(cfg, req)
    # 2nd atomic waits for the 1st's result (clock 6) and the read, behind it, starts then too
    np.testing.assert_array_equal(res.completion_ps, [6 * CLK, 12 * CLK, 8 * CLK])


def test_empty_stream():
    res = both(make_cfg(), np.empty(0, dtype=SRAM_REQUEST_DTYPE))
    assert res.completion_ps.shape == (0,)
    assert res.stats["end_time_ps"] == 0


# -- input errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    "arrival, addr, size, op, match",
    [
        ([0, 0], [0, 16380], [8, 8], [READ, READ], r"request 1: .*outside the scratchpad"),
        ([0, 0], [0, -8], [8, 8], [READ, READ], r"request 1: .*outside"),
        (
            [0, 0, 0],
            [0, 0, 0],
            [8, 0, 8],
            [READ, READ, READ],
            r"request 1: size 0 must be positive",
        ),
        ([0, 0], [0, 0], [8, -3], [READ, WRITE], r"request 1: size -3"),
        ([0, 0], [0, 0], [8, 8], [READ, 9], r"request 1: unknown op 9"),
        ([0, 0], [0, 4], [8, 8], [READ, ATOMIC_ADD], r"request 1: atomic .* one aligned 8-byte"),
        ([5, 3], [0, 0], [8, 8], [READ, READ], r"request 1: arrival_ps 3 is earlier"),
        ([-1], [0], [8], [READ], r"request 0: arrival_ps -1 is negative"),
    ],
)
def test_bad_requests_raise_user_error(engine, arrival, addr, size, op, match):
    with pytest.raises(UserError, match=match):
        simulate_sram(make_cfg(), make_requests(arrival, addr, size, op), engine=engine)


def test_first_offending_request_is_named():
    req = make_requests([0, 0, 0], [0, 1 << 20, 0], [8, 8, 0], [READ, READ, READ])
    with pytest.raises(UserError, match=r"^SRAM request 1: "):
        simulate_sram(make_cfg(), req)


def test_atomic_across_small_interleave_rejected():
    cfg = make_cfg(interleave=4)
    with pytest.raises(UserError, match="interleave"):
        simulate_sram(cfg, make_requests([0], [0], [8], [ATOMIC_ADD]))


def test_bad_config_and_engine_and_dtype():
    with pytest.raises(UserError, match="ports_per_bank"):
        simulate_sram(make_cfg(ports=0), make_requests([0], [0], [8], [READ]))
    with pytest.raises(UserError, match="engine"):
        simulate_sram(make_cfg(), make_requests([0], [0], [8], [READ]), engine="turbo")
    with pytest.raises(UserError, match="structured array"):
        simulate_sram(make_cfg(), np.zeros(3))
