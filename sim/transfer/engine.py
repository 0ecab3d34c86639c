"""Run a TransferProblem on the numba kernel ("fast") or the SimPy reference ("reference").

Both follow sim/transfer/model.py and give identical results; this module checks the
problem (ValueError on a malformed one: a programming error, see model.py "Errors"),
converts its arrays to the kernel's dtypes and dispatches.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.transfer import HORIZON, RC_OK, run_arrays
from sim.transfer.model import TransferProblem, TransferResult

ENGINES = ("fast", "reference")


def _typed(p: TransferProblem) -> TransferProblem:
    """``p`` with contiguous arrays of the dtypes the kernel is compiled for."""
    return TransferProblem(
        res=np.ascontiguousarray(p.res, np.int32),
        demand=np.ascontiguousarray(p.demand, np.int64),
        latency=np.ascontiguousarray(p.latency, np.int64),
        dep_ptr=np.ascontiguousarray(p.dep_ptr, np.int64),
        dep_idx=np.ascontiguousarray(p.dep_idx, np.int32),
        resource_names=tuple(p.resource_names))


def validate(p: TransferProblem) -> None:
    """Raise ValueError if ``p`` breaks the format of sim/transfer/model.py."""
    n = p.n
    for name in ("res", "demand", "latency", "dep_ptr", "dep_idx"):
        a = np.asarray(getattr(p, name))
        if a.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got {a.dtype}")
    if len(p.demand) != n or len(p.latency) != n:
        raise ValueError(f"res, demand and latency need one entry per task ({n}), got "
                         f"{len(p.res)}, {len(p.demand)}, {len(p.latency)}")
    demand, latency = np.asarray(p.demand), np.asarray(p.latency)
    if n and (demand.min() < 0 or latency.min() < 0):
        raise ValueError("demands and latencies must be >= 0")
    if n and (demand.max() > HORIZON or latency.max() > HORIZON):
        raise ValueError(f"a demand or latency exceeds the horizon of {HORIZON} ps")
    res = np.asarray(p.res)
    if n and (res.min() < 0 or res.max() >= p.n_resources):
        raise ValueError(f"a resource index is outside [0, {p.n_resources})")
    ptr = np.ascontiguousarray(p.dep_ptr, np.int64)
    idx = np.ascontiguousarray(p.dep_idx, np.int64 if np.asarray(p.dep_idx).dtype.itemsize > 4
                               else np.int32)
    if len(ptr) != n + 1 or ptr[0] != 0 or ptr[-1] != len(idx):
        raise ValueError("dep_ptr must rise from 0 to len(dep_idx) over n + 1 entries")
    problem = _check_deps(ptr, idx)
    if problem == 1:
        raise ValueError("dep_ptr must rise from 0 to len(dep_idx) over n + 1 entries")
    if problem == 2:
        raise ValueError("a task depends on itself or on a later task")


@njit(cache=True)
def _check_deps(ptr, idx):  # pragma: no cover - numba
    """0 if the CSR is well formed; 1: dep_ptr falls somewhere; 2: a dependency on a task
    that is not earlier (one pass instead of numpy temporaries over millions of tasks)."""
    for i in range(len(ptr) - 1):
        if ptr[i + 1] < ptr[i]:
            return 1
        for k in range(ptr[i], ptr[i + 1]):
            if idx[k] < 0 or idx[k] >= i:
                return 2
    return 0


def run_transfer(p: TransferProblem, engine: str = "fast") -> TransferResult:
    """Simulate ``p`` (model.py); ValueError on a malformed problem or a time past HORIZON."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    validate(p)
    p = _typed(p)
    if engine == "reference":
        from sim.reference.transfer import run_reference

        return run_reference(p)
    rc, end_time, ready, leave, end, busy, served = run_arrays(
        p.res, p.demand, p.latency, p.dep_ptr, p.dep_idx, p.n_resources)
    if rc != RC_OK:
        raise ValueError(f"a time exceeds the horizon of {HORIZON} ps")
    return TransferResult(ready=ready, leave=leave, end=end, busy=busy, served=served,
                          end_time=end_time)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel on a tiny problem."""
    run_transfer(TransferProblem(
        res=np.array([0, 1, 0], np.int32), demand=np.array([3, 5, 0], np.int64),
        latency=np.array([1, 0, 2], np.int64), dep_ptr=np.array([0, 0, 1, 2], np.int64),
        dep_idx=np.array([0, 1], np.int32), resource_names=("a", "b")))
