"""Pieces every dataflow uses: parameters, the kernel parameter array, layouts, outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.errors import UserError
from workloads.spgemm import emit
from workloads.spgemm.layout import DramLayout
from workloads.spgemm.partition import PARTITIONS
from workloads.spgemm.problem import Problem
from workloads.spgemm.target import SpgemmTarget

# Software costs in core cycles (assumed, not from a publication): one multiply-add of a
# product, one hash of a column index, one step of a merge or compare, one element per level
# of a comparison sort.
DEFAULT_COSTS = {"mul_add": 1, "hash": 2, "compare": 1, "sort": 1}

DEFAULTS: dict[str, Any] = {
    "dataflow": None,        # inner | outer | rowwise | smash
    "version": None,         # smash: 1 (atomic hashing), 2 (tokens), 3 (fragmented)
    "a": None,               # shipped name, path, generator dict or matrix
    "b": None,               # default: B = A
    "partition": "rows",     # rows | nnz | dynamic
    "grain": 4,              # units per dynamic grab
    "chunk_ops": 4096,       # ops per generated chunk (the buffer a generator fills)
    "costs": None,           # overrides of DEFAULT_COSTS
    "posted_atomics": True,  # SMASH v1's value fetch-add is posted (its result is unused)
    "load_factor": 0.5,      # SMASH: hash slots per row = partial products / load_factor
    "sp_table_bytes": None,  # SMASH: scratchpad bytes for the table (default: all of it)
    "fragments": 4,          # SMASH v3: cores a core's table is spread over
    "outer_tile": 16,        # outer: A(:,k) elements held in registers per pass over B(k,:)
}
# bytes of the DRAM arrays: row/column pointers, column indices, values, tokens
PTR_B, IDX_B, VAL_B, TOK_B = 8, 4, 8, 8


def parse_params(params: dict) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise UserError(f"SpGEMM parameters must be a mapping, got {type(params).__name__}")
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise UserError(f"unknown SpGEMM parameter(s) {', '.join(map(repr, unknown))}; valid: "
                        f"{', '.join(DEFAULTS)}")
    p = dict(DEFAULTS)
    p.update(params)
    if p["partition"] not in PARTITIONS:
        raise UserError(f"unknown partition {p['partition']!r}; valid: {', '.join(PARTITIONS)}")
    for key, lo in (("grain", 1), ("chunk_ops", 64), ("fragments", 1), ("outer_tile", 1)):
        v = p[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise UserError(f"SpGEMM parameter {key} must be an integer >= {lo}, got {v!r}")
    lf = p["load_factor"]
    if not isinstance(lf, (int, float)) or not 0.05 <= lf <= 1.0:
        raise UserError(f"SpGEMM parameter load_factor must be in [0.05, 1], got {lf!r}")
    costs = dict(DEFAULT_COSTS)
    extra = p["costs"] or {}
    if not isinstance(extra, dict) or set(extra) - set(DEFAULT_COSTS):
        raise UserError(f"SpGEMM costs must be a mapping with keys among "
                        f"{', '.join(DEFAULT_COSTS)}, got {extra!r}")
    costs.update(extra)
    for k, v in costs.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise UserError(f"SpGEMM cost {k} must be a non-negative integer, got {v!r}")
    p["costs"] = costs
    return p


def make_prm(target: SpgemmTarget, p: dict[str, Any], **kw: int) -> np.ndarray:
    prm = np.zeros(emit.N_PRM, np.int64)
    prm[emit.P_LINE] = target.line_bytes
    prm[emit.P_TPC] = target.threads_per_core
    prm[emit.P_CORES] = target.cores
    prm[emit.P_MULADD] = p["costs"]["mul_add"]
    prm[emit.P_HASH] = p["costs"]["hash"]
    prm[emit.P_CMP] = p["costs"]["compare"]
    prm[emit.P_SORT] = p["costs"]["sort"]
    prm[emit.P_POSTED] = int(bool(p["posted_atomics"]))
    prm[emit.P_SPIL] = target.sp_interleave
    prm[emit.P_SPBANKS] = target.sp_banks
    prm[emit.P_TILE] = p["outer_tile"]
    prm[emit.P_CAP] = p["chunk_ops"]
    for k, v in kw.items():
        prm[getattr(emit, "P_" + k)] = v
    return prm


def add_matrix(lay: DramLayout, side: str, n_ptr: int, nnz: int, tokens: bool = False) -> None:
    """Pointer, index and value arrays (or one token array) of a CSR/CSC matrix."""
    lay.add(f"{side}_ptr", n_ptr, PTR_B)
    if tokens:
        lay.add(f"{side}_tok", nnz, TOK_B)
    else:
        lay.add(f"{side}_idx", nnz, IDX_B)
        lay.add(f"{side}_val", nnz, VAL_B)


def distinct_input_bytes(prob: Problem, tokens: bool = False) -> int:
    per = TOK_B if tokens else IDX_B + VAL_B
    return (int(prob.a.nnz) + int(prob.b.nnz)) * per


def outputs(prob: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Functional C (column indices, values at the symbolic row offsets) and rows-done flags."""
    return (np.zeros(prob.nnz_c, np.int32), np.zeros(prob.nnz_c, np.float64),
            np.zeros(prob.m, np.int64))


def counters_region(lay: DramLayout, n: int) -> None:
    """n grab counters, one per line (so they sit on different lines and controllers)."""
    lay.add("counters", max(n, 1) * 64, 1)
