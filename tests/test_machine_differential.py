"""The numba machine kernel against the SimPy reference: identical statistics, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import run_machine
from sim.machine.errors import MachineError
from tests.machine_random import random_spec, random_streams
from workloads.ops import ArrayStreams

CASES = 300


def _run(spec, streams, engine, chunk):
    try:
        return run_machine(spec, ArrayStreams(streams), engine=engine, chunk=chunk)
    except MachineError as e:
        return str(e)


@pytest.mark.parametrize("seed", range(CASES))
def test_kernel_matches_reference(seed):
    rng = np.random.default_rng(1000 + seed)
    spec = random_spec(rng)
    streams = random_streams(rng, spec)
    chunk = int(rng.choice([3, 8, 64]))  # small chunks exercise the refill path
    ref = _run(spec, streams, "reference", chunk)
    fast = _run(spec, streams, "fast", chunk)
    if isinstance(ref, str) or isinstance(fast, str):
        assert fast == ref
        return
    assert fast.equal(ref) == [], (spec, fast.equal(ref))
    assert fast.end_ps > 0 or sum(len(s) for s in streams) == 0
