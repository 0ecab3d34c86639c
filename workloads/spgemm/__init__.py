"""SpGEMM C = A·B on a PIUMA-style machine: inputs, dataflows, op streams and metrics.

Entry point::

    from workloads.spgemm import SpgemmTarget, make_spgemm
    source, metrics = make_spgemm({"dataflow": "smash", "version": 1, "a": "email-Enron"},
                                  SpgemmTarget(cores=8, threads_per_core=16, sp_bytes=4 << 20))
    ...  # the engine pulls source.next_chunk(stream, max_ops) until every stream ends
    metrics()  # dict: op and byte counts, ratios, and "check" (C against scipy's A @ B)

``source`` is an ``OpSource`` (workloads/ops.py) with one stream per hardware thread
(``target.cores * target.threads_per_core``); ``metrics`` may be called at any time: it first
generates whatever the engine did not pull. ``source.drain()`` generates every stream without
a simulator.

Parameters (``common.DEFAULTS``; unknown keys are refused)
    dataflow        ``DATAFLOWS``: inner, outer, rowwise, smash (each one module here)
    version         smash only: 1 atomic hashing, 2 tokens, 3 fragmented table (default 1)
    a, b            a shipped matrix name (``matrices.shipped()``), a .mtx/.mtx.gz path, a
                    generator dict (``{"generator": "rmat", "scale": 12, "seed": 1}``) or a
                    scipy/numpy matrix; b defaults to a (C = A·A)
    partition       rows | nnz | dynamic (partition.py), grain: units per dynamic grab
    chunk_ops       ops per generated chunk
    costs           software cycle costs {mul_add, hash, compare, sort} (common.py)
    posted_atomics, load_factor, sp_table_bytes, fragments: SMASH (smash.py)
    outer_tile      outer product register tile (outer.py)

Metrics (source.py): ops (by type, per thread max/mean, load_imbalance), DRAM bytes requested
(loads, stores, atomics), scratchpad bytes and atomics (local/remote, bank spread),
input_bytes_fetched / input_bytes_distinct = redundant_fetch_factor (element arrays of A and
B only, pointers excluded), multiplications, flops (multiplications + additions),
partial_products_stored, hash_probes and hash_collisions, compute_cycles, grabs, the DRAM
layout and footprint, and ``check``: {ok, pattern_equal, max_rel_err, rows_written_once, ...}.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sim.errors import UserError
from workloads.spgemm.common import parse_params
from workloads.spgemm.matrices import check_shapes, resolve
from workloads.spgemm.problem import Problem
from workloads.spgemm.source import SpgemmSource
from workloads.spgemm.target import SpgemmTarget

__all__ = ["DATAFLOWS", "SMASH_VERSIONS", "SpgemmSource", "SpgemmTarget", "make_spgemm",
           "make_problem"]

DATAFLOWS = ("inner", "outer", "rowwise", "smash")
SMASH_VERSIONS = (1, 2, 3)


def make_problem(p: dict[str, Any]) -> Problem:
    """A and B resolved from parameters (``a``, ``b``), shapes checked."""
    if p.get("a") is None:
        raise UserError("SpGEMM needs matrix 'a' (a shipped name, a path or a generator)")
    a, a_label = resolve(p["a"], "A")
    if p.get("b") is None:
        b, b_label, same = a, a_label, True
    else:
        b, b_label = resolve(p["b"], "B")
        same = False
    check_shapes(a, b, a_label, b_label)
    return Problem(a, b, a_label, b_label, same)


def make_spgemm(params: dict[str, Any], target: SpgemmTarget
                ) -> tuple[SpgemmSource, Callable[[], dict[str, Any]]]:
    """(op source, metrics callable) for one SpGEMM point (see the module docstring)."""
    if not isinstance(target, SpgemmTarget):
        raise UserError(f"SpGEMM target must be a SpgemmTarget, got {type(target).__name__}")
    p = parse_params(params)
    flow = p["dataflow"]
    if flow not in DATAFLOWS:
        raise UserError(f"unknown SpGEMM dataflow {flow!r}; valid: {', '.join(DATAFLOWS)}")
    if flow == "smash":
        if p["version"] is None:
            p["version"] = 1
        if p["version"] not in SMASH_VERSIONS:
            raise UserError(f"unknown SMASH version {p['version']!r}; valid: "
                            f"{', '.join(map(str, SMASH_VERSIONS))}")
    elif p["version"] is not None:
        raise UserError(f"'version' applies to the smash dataflow only (dataflow {flow!r}); "
                        f"valid dataflows: {', '.join(DATAFLOWS)}")
    prob = make_problem(p)
    module = importlib.import_module(f"workloads.spgemm.{flow}")
    src = module.build(prob, target, p)
    src.info.update({"matrix_a": prob.a_label, "matrix_b": prob.b_label,
                     "threads": target.threads, "cores": target.cores,
                     "threads_per_core": target.threads_per_core})
    return src, src.metrics
