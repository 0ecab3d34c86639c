"""Channels replayed in parallel give exactly the serial run (sim.memory.dram_parallel)."""

import dataclasses

import numpy as np
import pytest

from sim.config.memory import load_memory_config
from sim.memory import dram_parallel as P
from sim.memory.dram import DramResult, make_accesses, run_fast, simulate, summarize
from tests.dram_random import PRESETS, random_config, random_trace

MULTI = [p for p in PRESETS if load_memory_config(p).channels > 1]
CHUNKS = 4
CASES_PER_CHUNK = 15


def _result(cfg, acc, raw, addr, is_write) -> DramResult:
    res = DramResult(cfg, acc, raw, len(addr), 64, np.asarray(is_write, np.bool_))
    res.summary = summarize(res)
    return res


def _assert_identical(a: DramResult, b: DramResult, where: str) -> None:
    assert a.raw.end_clk == b.raw.end_clk, where
    assert np.array_equal(a.raw.enter, b.raw.enter), where
    assert np.array_equal(a.raw.col, b.raw.col), where
    assert np.array_equal(a.raw.kind, b.raw.kind), where
    assert np.array_equal(a.raw.breakdown, b.raw.breakdown), where
    assert np.array_equal(a.raw.log, b.raw.log), where
    assert a.summary == b.summary, where


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fixed_point_is_the_serial_run(chunk: int) -> None:
    """Random configurations (every multi-channel preset, both structures, page and refresh
    policies, tiny queues that fill) and traces (random / sequential / hot, read-write mixes,
    bursts and gaps): the passes are iterated to their fixed point, never cut short by the
    saturation screen, and every field, the command log and the summary equal the serial
    replay's."""
    rng = np.random.default_rng(7000 + chunk)
    passes = []
    for case in range(CASES_PER_CHUNK):
        preset = MULTI[(chunk * CASES_PER_CHUNK + case) % len(MULTI)]
        cfg = random_config(rng, preset, small_queues=case % 2 == 0)
        addr, is_write, arrival = random_trace(rng, cfg, int(rng.integers(1, 200)))
        k = int(rng.integers(1, 4))
        acc = make_accesses(cfg, addr, is_write, arrival, 64, True)
        serial = _result(cfg, acc, run_fast(cfg, acc, k, True), addr, is_write)
        raw, stats = P.run_parallel(cfg, acc, k, True, workers=2, max_passes=10**6, screen=False)
        where = f"chunk {chunk} case {case} ({preset}, {cfg.controller}, k={k})"
        assert stats.converged, where
        _assert_identical(serial, _result(cfg, acc, raw, addr, is_write), where)
        passes.append(stats.passes)
    # both regimes were exercised: traffic that never waits (one pass) and traffic whose
    # queues filled (the front end held requests back: several passes)
    assert min(passes) == 1 and max(passes) > 3, passes


def _paced(cfg, n: int, gap: int, seed: int = 3):
    """Random reads and writes, one every `gap` clocks: far below what any preset serves."""
    rng = np.random.default_rng(seed)
    addr = rng.integers(0, cfg.capacity_bytes // 64, n).astype(np.uint64) * np.uint64(64)
    return addr, rng.random(n) < 0.3, np.arange(n, dtype=np.int64) * gap + 500


def test_forked_workers_and_idle_channels(monkeypatch) -> None:
    """Workers are forked processes (the threshold lowered so a small run forks); traffic on
    only some channels, starting after several refresh intervals: the idle channels'
    refreshes and the tail of every channel's log up to the run's last column command
    come out as in the serial log. Traffic this light never waits, so one pass decides."""
    monkeypatch.setattr(P, "FORK_MIN_ACCESSES", 0)
    cfg = load_memory_config("hbm2")
    cfg = dataclasses.replace(cfg, timing=dataclasses.replace(cfg.timing, REFI=400))
    addr, is_write, arrival = _paced(cfg, 1200, 7)
    keep = make_accesses(cfg, addr, is_write, arrival, 64).controller[::2] < 3  # channels 0-2
    addr, is_write, arrival = addr[keep], is_write[keep], arrival[keep]
    for workers in (2, 3):
        serial = simulate(cfg, addr, is_write, arrival, with_log=True)
        acc = make_accesses(cfg, addr, is_write, arrival, 64)
        assert len(np.unique(acc.controller)) < cfg.channels  # some channels idle
        raw, stats = P.run_parallel(cfg, acc, cfg.controller.requests_per_clock, True, workers)
        assert stats.passes == 1 and stats.converged and stats.workers == workers
        _assert_identical(serial, _result(cfg, acc, raw, addr, is_write), f"{workers} workers")
        idle = np.setdiff1d(np.arange(cfg.channels), np.unique(acc.controller))
        logged = serial.raw.log[:, 2] // cfg.pseudo_channels
        assert np.isin(idle, logged).all()  # the idle channels did refresh


def test_simulate_hook_and_saturation_screen() -> None:
    """simulate(workers=2) equals simulate(); a trace with every request at clock 0 must
    fill a queue (K = 32 per clock into 16 read queues of 32 is 2 per clock per queue,
    more than the one transaction a queue can lose per clock), so it goes serial at once;
    the same requests one every 40 clocks cannot, and take one pass."""
    cfg = load_memory_config("hbm3")
    addr, _, arrival = _paced(cfg, 3000, 40)
    is_write = np.zeros(len(addr), np.bool_)
    zeros = np.zeros(len(addr), np.int64)
    for arr in (zeros, arrival):
        a = simulate(cfg, addr, is_write, arr)
        b = simulate(cfg, addr, is_write, arr, workers=2)
        _assert_identical(a, b, "hook")
    k = cfg.controller.requests_per_clock
    _, stats = P.run_parallel(cfg, make_accesses(cfg, addr, is_write, zeros, 64), k, workers=2)
    assert (stats.passes, stats.converged) == (0, False) and "saturated" in stats.why
    _, stats = P.run_parallel(cfg, make_accesses(cfg, addr, is_write, arrival, 64), k, workers=2)
    assert (stats.passes, stats.converged) == (1, True)


def test_lower_bound_and_offers_by_hand() -> None:
    arrival = np.array([0, 0, 0, 0, 5, 5, 9], np.int64)
    low = np.empty(7, np.int64)
    P._offers(low, arrival, 2, 0, low)  # K = 2 per clock
    assert low.tolist() == [0, 0, 1, 1, 5, 5, 9]
    sched = np.array([3, 3, 4, 8, 8, 8, 8], np.int64)  # a schedule some pass produced
    out = np.empty(7, np.int64)
    P._offers(sched, arrival, 2, 0, out)
    # access a is offered at max(arrival, sched[a-1]), one clock later when the two accesses
    # before it already share sched[a-1]
    assert out.tolist() == [0, 3, 4, 4, 8, 9, 9]


def test_must_block_by_hand() -> None:
    ch = np.zeros(3, np.int64)
    reads = np.zeros(3, np.bool_)
    # read queue of 2: three reads in one clock overfill it; one per clock never does
    assert P._must_block(np.array([4, 4, 4]), ch, reads, 1, 2, 8)
    assert not P._must_block(np.array([4, 5, 6]), ch, reads, 1, 2, 8)
    # two channels share nothing: three reads in a clock split 2 + 1 fit
    assert not P._must_block(np.array([4, 4, 4]), np.array([0, 1, 0]), reads, 2, 2, 8)


def test_bench_memory_channels_cli(tmp_path) -> None:
    """`membound bench memory --channels` runs hbm3 by default and writes the two figures
    and the identity check; the saturated case is reported as replayed serially."""
    import json

    from click.testing import CliRunner

    from sim.cli import main

    out = tmp_path / "bench.json"
    r = CliRunner().invoke(main, ["bench", "memory", "--channels", "--requests", "3000",
                                  "--json", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["preset"] == "hbm3" and data["requests"] == 3000
    assert data["parallel_cores"] >= 1 and data["parallel_requests_per_s"] > 0
    assert data["identical"] and data["saturated"]["identical"]
    assert data["saturated"]["parallel_passes"] == 0
    if data["parallel_cores"] >= 2:
        assert data["parallel_passes"] == 1  # one request per clock never fills a queue
        assert "saturated" in data["saturated"]["parallel_serial_because"]


def test_replay_with_workers_prints_and_stores_what_one_worker_does(tmp_path) -> None:
    """`membound replay --workers 2` on a multi-channel preset: the same JSON, to the bit."""
    import json

    from click.testing import CliRunner

    from sim.cli import main
    from workloads.traces import write_trace

    rng = np.random.default_rng(5)
    n = 3000
    trace = np.zeros(n, [("addr", np.uint64), ("is_write", np.bool_), ("arrival", np.int64)])
    trace["addr"] = rng.integers(0, 1 << 24, n).astype(np.uint64) * np.uint64(64)
    trace["is_write"] = rng.random(n) < 0.3
    trace["arrival"] = np.cumsum(rng.integers(0, 3, n))  # below saturation: runs in parallel
    path = tmp_path / "t.trace"
    write_trace(trace, path, "native")
    outs = {}
    for w in (1, 2):
        outs[w] = tmp_path / f"w{w}.json"
        r = CliRunner().invoke(main, ["replay", "-m", "hbm3", "-t", str(path), "--workers",
                                      str(w), "--json", str(outs[w])])
        assert r.exit_code == 0, r.output
    assert json.loads(outs[1].read_text()) == json.loads(outs[2].read_text())
