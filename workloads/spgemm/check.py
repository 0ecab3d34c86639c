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
def _abs_dot(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, i, j):
    """(|A|·|B|)(i, j): the sum of the magnitudes of the products that make C(i, j)."""
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
    return s


@nb.njit(cache=True)
def _compare(c_ptr, c_idx, c_val, r_ptr, r_idx, r_val, a_ptr, a_idx, a_val, b_ptr, b_idx,
             b_val):
    """One pass over both results, skipping exact zeros on either side.

    Returns (our nonzeros, reference nonzeros, first row whose pattern differs or -1, the
    largest relative error over the entries both have).
    """
    n_ours = 0
    n_ref = 0
    first_bad = -1
    worst = 0.0
    for i in range(c_ptr.shape[0] - 1):
        p, p1 = c_ptr[i], c_ptr[i + 1]
        q, q1 = r_ptr[i], r_ptr[i + 1]
        while True:
            while p < p1 and c_val[p] == 0.0:
                p += 1
            while q < q1 and r_val[q] == 0.0:
                q += 1
            if p == p1 or q == q1:
                break
            n_ours += 1
            n_ref += 1
            if c_idx[p] != r_idx[q]:
                if first_bad < 0:
                    first_bad = i
            else:
                d = abs(c_val[p] - r_val[q])
                if d > 0.0:
                    scale = _abs_dot(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, i, c_idx[p])
                    worst = max(worst, d / max(scale, 1e-300))
            p += 1
            q += 1
        rest_ours = 0
        for t in range(p, p1):
            if c_val[t] != 0.0:
                rest_ours += 1
        rest_ref = 0
        for t in range(q, q1):
            if r_val[t] != 0.0:
                rest_ref += 1
        if (rest_ours or rest_ref) and first_bad < 0:
            first_bad = i
        n_ours += rest_ours
        n_ref += rest_ref
    return n_ours, n_ref, first_bad, worst


def verify(prob: Problem, c_idx: np.ndarray, c_val: np.ndarray, c_done: np.ndarray,
           bad: int) -> dict:
    """The check result (``ok`` and its parts) as a dict for the metrics."""
    res: dict = {"rel_tol": REL_TOL, "rows_written_once": bool(np.all(c_done == 1)),
                 "internal_errors": int(bad)}
    ref = sp.csr_array(prob.a @ prob.b)
    ref.sum_duplicates()  # canonical: sorted column indices, one entry per (i, j)
    a, b = prob.a, prob.b
    n_ours, n_ref, first_bad, worst = _compare(
        prob.c_ptr, c_idx, c_val, ref.indptr, ref.indices, ref.data, a.indptr, a.indices,
        a.data, b.indptr, b.indices, b.data)
    res["nnz"] = int(n_ours)
    res["nnz_scipy"] = int(n_ref)
    same = first_bad < 0
    res["pattern_equal"] = bool(same)
    res["max_rel_err"] = float(worst) if same else float("inf")
    if not same:
        res["first_bad_row"] = int(first_bad)
    res["ok"] = bool(res["rows_written_once"] and same and res["max_rel_err"] <= REL_TOL
                     and bad == 0)
    return res
