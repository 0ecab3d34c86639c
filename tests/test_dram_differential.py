"""The numba kernel and the SimPy reference agree exactly on random small traces."""

import dataclasses

import numpy as np
import pytest

from sim.kernels.dram import bank_queue_loop
from sim.memory.dram import kernel_params, simulate
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


@pytest.mark.parametrize("chunk", range(4))
def test_bank_queue_loop_matches_reference(chunk: int) -> None:
    """The presets' structure (bank_queues, per-bank command queues, open page) runs a
    specialised loop in the kernel: many more random cases of it than the draw above gives."""
    rng = np.random.default_rng(2000 + chunk)
    for case in range(CASES_PER_CHUNK):
        preset = PRESETS[(chunk * CASES_PER_CHUNK + case) % len(PRESETS)]
        cfg = random_config(rng, preset, small_queues=case % 3 != 0)
        cfg = dataclasses.replace(cfg, controller=dataclasses.replace(
            cfg.controller, structure="bank_queues", page_policy="open", command_queues="per_bank"))
        addr, is_write, arrival = random_trace(rng, cfg, int(rng.integers(1, 400)))
        k = int(rng.integers(1, 4))
        where = f"chunk {chunk} case {case} ({preset}, {cfg.controller})"
        assert bank_queue_loop(kernel_params(cfg, k, 0)), where
        fast = simulate(cfg, addr, is_write, arrival, requests_per_clock=k, with_log=True)
        ref = simulate(cfg, addr, is_write, arrival, requests_per_clock=k,
                       engine="reference", with_log=True)
        assert fast.raw.end_clk == ref.raw.end_clk, where
        assert np.array_equal(fast.raw.enter, ref.raw.enter), where
        assert np.array_equal(fast.raw.col, ref.raw.col), where
        assert np.array_equal(fast.raw.kind, ref.raw.kind), where
        assert np.array_equal(fast.raw.breakdown, ref.raw.breakdown), where
        assert np.array_equal(fast.raw.log, ref.raw.log), where
        assert fast.summary == ref.summary, where
