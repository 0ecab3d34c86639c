"""The functional check: C computed by a dataflow against scipy's A @ B.

Rules: C's rows must each have been written exactly once; after dropping entries that are
exactly 0.0 (scipy's product drops numerical zeros; the dataflows write the structural
pattern), the sparsity pattern must be identical and every value within ``REL_TOL`` relative.
The relative error of an entry is |c - ref| / (|A|·|B|)(i, j): the sum of the magnitudes of its
products, which bounds |ref| and stays meaningful where terms cancel.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from workloads.spgemm.problem import Problem

REL_TOL = 1e-9


@nb.njit(cache=True)
def _abs_dot(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, rows, cols):
    out = np.zeros(rows.shape[0])
    for t in range(rows.shape[0]):
        i, j = rows[t], cols[t]
        s = 0.0
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            lo, hi = b_ptr[k], b_ptr[k + 1]
            while lo < hi:  # binary search j in B(k,:)
                mid = (lo + hi) // 2
                if b_idx[mid] < j:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < b_ptr[k + 1] and b_idx[lo] == j:
                s += abs(a_val[p] * b_val[lo])
        out[t] = s
    return out


def verify(prob: Problem, c_idx: np.ndarray, c_val: np.ndarray, c_done: np.ndarray,
           bad: int) -> dict:
    """The check result (``ok`` and its parts) as a dict for the metrics."""
    res: dict = {"rel_tol": REL_TOL, "rows_written_once": bool(np.all(c_done == 1)),
                 "internal_errors": int(bad)}
    ours = sp.csr_array((c_val.copy(), c_idx.copy(), prob.c_ptr.copy()),
                        shape=(prob.m, prob.n_cols))
    ours.eliminate_zeros()  # on copies: the run's arrays stay as written
    ref = sp.csr_array(prob.a @ prob.b)
    ref.sum_duplicates()
    ref.sort_indices()
    ref.eliminate_zeros()
    res["nnz"] = int(ours.nnz)
    res["nnz_scipy"] = int(ref.nnz)
    same = (ours.nnz == ref.nnz and np.array_equal(ours.indptr, ref.indptr)
            and np.array_equal(ours.indices, ref.indices))
    res["pattern_equal"] = bool(same)
    if same:
        diff = np.abs(ours.data - ref.data)
        sel = np.flatnonzero(diff > 0)
        if len(sel):
            rows = np.repeat(np.arange(prob.m), np.diff(ref.indptr))[sel]
            scale = _abs_dot(prob.a.indptr, prob.a.indices, prob.a.data, prob.b.indptr,
                             prob.b.indices, prob.b.data, rows.astype(np.int64),
                             ref.indices[sel].astype(np.int64))
            res["max_rel_err"] = float(np.max(diff[sel] / np.maximum(scale, 1e-300)))
        else:
            res["max_rel_err"] = 0.0
    else:
        res["max_rel_err"] = float("inf")
        bad_rows = np.flatnonzero(np.diff(ours.indptr) != np.diff(ref.indptr))
        res["first_bad_row"] = int(bad_rows[0]) if len(bad_rows) else -1
    res["ok"] = bool(res["rows_written_once"] and same and res["max_rel_err"] <= REL_TOL
                     and bad == 0)
    return res
