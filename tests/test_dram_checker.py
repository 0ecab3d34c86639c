"""The fast path's command log obeys every JEDEC timing rule (independent checker)."""

import numpy as np
import pytest

from sim.config.memory import load_memory_config
from sim.memory.commands import ACT, COMMAND_LOG_DTYPE, PRE, RD, REF, WR
from sim.memory.dram import command_log, simulate
from sim.memory.jedec_checker import check_command_log, summarize
from tests.dram_random import PRESETS, random_config, random_trace


def _log(cfg, n: int, seed: int):
    rng = np.random.default_rng(seed)
    addr, is_write, arrival = random_trace(rng, cfg, n)
    res = simulate(cfg, addr, is_write, arrival, with_log=True)
    return res, command_log(res)


@pytest.mark.parametrize("preset", PRESETS)
def test_long_random_traces_have_no_violations(preset: str) -> None:
    cfg = load_memory_config(preset)
    for seed in range(3):
        res, log = _log(cfg, 20_000, seed)
        assert log.dtype == COMMAND_LOG_DTYPE
        cols = np.isin(log["cmd"], (RD, WR)).sum()
        assert cols == len(res.accesses)  # one column command per access
        violations = check_command_log(log, cfg)
        assert not violations, summarize(violations)


@pytest.mark.parametrize("seed", range(6))
def test_random_controllers_have_no_violations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for preset in PRESETS:
        cfg = random_config(rng, preset, small_queues=bool(seed % 2))
        res, log = _log(cfg, 3000, seed)
        violations = check_command_log(log, cfg)
        assert not violations, (preset, cfg.controller, summarize(violations))
        if cfg.controller.refresh != "none" and res.raw.end_clk > 2 * cfg.timing.REFI:
            assert (log["cmd"] == REF).any()


def test_checker_sees_a_corrupted_log() -> None:
    """The check can fail: pull one ACT a clock earlier in a real log."""
    cfg = load_memory_config("ddr4_3200")
    _, log = _log(cfg, 2000, 0)
    assert not check_command_log(log, cfg)
    acts = np.nonzero(log["cmd"] == ACT)[0]
    i = acts[len(acts) // 2]
    bad = log.copy()
    bad["clk"][i] -= 3
    order = np.argsort(bad["clk"], kind="stable")
    assert check_command_log(bad[order], cfg)


def test_refresh_precharges_then_refreshes() -> None:
    cfg = load_memory_config("dramsim3_ddr4_3200")
    _, log = _log(cfg, 20_000, 1)
    refs = np.nonzero(log["cmd"] == REF)[0]
    assert len(refs) > 0
    assert (log["cmd"] == PRE).any()
