"""The numba kernel and the SimPy reference agree exactly on random small traces."""

import numpy as np
import pytest

from sim.memory.dram import simulate
from tests.dram_random import PRESETS, random_config, random_trace

CHUNKS = 12
CASES_PER_CHUNK = 20  # 240 random (configuration, trace) pairs in all


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_kernel_matches_reference(chunk: int) -> None:
    rng = np.random.default_rng(1000 + chunk)
    for case in range(CASES_PER_CHUNK):
        preset = PRESETS[(chunk * CASES_PER_CHUNK + case) % len(PRESETS)]
        cfg = random_config(rng, preset, small_queues=case % 2 == 0)
        addr, is_write, arrival = random_trace(rng, cfg, int(rng.integers(1, 300)))
        k = int(rng.integers(1, 4))
        fast = simulate(cfg, addr, is_write, arrival, requests_per_clock=k, with_log=True)
        ref = simulate(cfg, addr, is_write, arrival, requests_per_clock=k,
                       engine="reference", with_log=True)
        where = f"chunk {chunk} case {case} ({preset}, {cfg.controller})"
        assert fast.raw.end_clk == ref.raw.end_clk, where
        assert np.array_equal(fast.raw.enter, ref.raw.enter), where
        assert np.array_equal(fast.raw.col, ref.raw.col), where  # per-access completion
        assert np.array_equal(fast.raw.kind, ref.raw.kind), where
        assert np.array_equal(fast.raw.breakdown, ref.raw.breakdown), where
        assert np.array_equal(fast.raw.log, ref.raw.log), where
        assert fast.summary == ref.summary, where


def test_cases_cover_every_structure_and_policy() -> None:
    """The random draw really exercises each structure, page policy and refresh mode."""
    seen = set()
    for chunk in range(CHUNKS):
        rng = np.random.default_rng(1000 + chunk)
        for case in range(CASES_PER_CHUNK):
            preset = PRESETS[(chunk * CASES_PER_CHUNK + case) % len(PRESETS)]
            cfg = random_config(rng, preset, small_queues=case % 2 == 0)
            random_trace(rng, cfg, int(rng.integers(1, 300)))
            rng.integers(1, 4)
            c = cfg.controller
            seen.add((c.structure, c.page_policy, c.refresh))
    assert len(seen) == 2 * 2 * 3
