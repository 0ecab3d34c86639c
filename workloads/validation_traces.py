"""The DRAM validation traces of shared/validation/README.md (all requests 64 B reads).

``seq``  reads of address i * 64, i = 0 .. n-1, all arriving at clock 0.
``rand`` reads of ``random.Random(1).randrange(2**24) * 64`` drawn in order (uniform over 1 GiB).
``idle`` the first n addresses of ``rand``; request i arrives at memory clock i * gap, so with the
         default gap of 500 only one request is in flight at a time.

The reference results in shared/validation/dram_reference.csv were produced with the defaults.
"""

from __future__ import annotations

import random

import numpy as np

from sim.errors import UserError
from workloads.traces import make_trace

__all__ = ["REQUEST_BYTES", "VALIDATION_TRACES", "idle", "rand", "seq", "validation_trace"]

REQUEST_BYTES = 64
RAND_SEED = 1
RAND_LINES = 2**24  # 64 B lines in 1 GiB


def seq(n: int = 200_000) -> np.ndarray:
    """``n`` sequential 64 B reads from address 0, all with arrival 0."""
    return make_trace(np.arange(n, dtype=np.uint64) * np.uint64(REQUEST_BYTES))


def _rand_addresses(n: int) -> np.ndarray:
    draw = random.Random(RAND_SEED).randrange
    return np.array([draw(RAND_LINES) * REQUEST_BYTES for _ in range(n)], dtype=np.uint64)


def rand(n: int = 200_000) -> np.ndarray:
    """``n`` uniformly random 64 B reads over 1 GiB (Python ``random``, seed 1), arrival 0."""
    return make_trace(_rand_addresses(n))


def idle(n: int = 5000, gap: int = 500) -> np.ndarray:
    """The first ``n`` addresses of :func:`rand`, request i arriving at memory clock i * gap."""
    return make_trace(_rand_addresses(n), arrival=np.arange(n, dtype=np.int64) * gap)


VALIDATION_TRACES = {"seq": seq, "rand": rand, "idle": idle}


def validation_trace(name: str) -> np.ndarray:
    """The validation trace called ``name`` ('seq', 'rand' or 'idle') with its defined size."""
    try:
        generate = VALIDATION_TRACES[name]
    except KeyError:
        raise UserError(
            f"unknown validation trace {name!r}: expected one of {', '.join(VALIDATION_TRACES)}"
        ) from None
    return generate()
