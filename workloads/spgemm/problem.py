"""The multiplication being generated: A, B, their structure counts and the symbolic phase.

``Problem`` holds A and B as canonical CSR (scipy, float64 values, int32 indices, int64
pointers) plus what every dataflow needs from the structure:

* ``flops_row[i]`` = sum over k in A(i,:) of nnz(B(k,:)), the multiplications of output row
  i (``flops`` = their sum, MANIFEST's "flops(A·A)");
* the symbolic phase: ``c_ptr`` (row pointers of C's structural pattern: every (i, j) with
  some k where A(i,k) and B(k,j) are stored) and, on request, its column indices.

The symbolic phase runs on the host and is not simulated: every dataflow writes C at the row
offsets it gives (so outputs are compact CSR), and the inner-product dataflow iterates over the
coordinates it gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np
import scipy.sparse as sp


@nb.njit(cache=True)
def _flops_per_row(a_ptr, a_idx, b_ptr):
    m = a_ptr.shape[0] - 1
    out = np.zeros(m, np.int64)
    for i in range(m):
        s = 0
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            s += b_ptr[k + 1] - b_ptr[k]
        out[i] = s
    return out


@nb.njit(cache=True)
def _symbolic_counts(a_ptr, a_idx, b_ptr, b_idx, n_cols):
    m = a_ptr.shape[0] - 1
    mark = np.full(n_cols, -1, np.int64)
    cnt = np.zeros(m + 1, np.int64)
    for i in range(m):
        c = 0
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            for q in range(b_ptr[k], b_ptr[k + 1]):
                j = b_idx[q]
                if mark[j] != i:
                    mark[j] = i
                    c += 1
        cnt[i + 1] = cnt[i] + c
    return cnt


@nb.njit(cache=True)
def _symbolic_pattern(a_ptr, a_idx, b_ptr, b_idx, n_cols, c_ptr):
    m = a_ptr.shape[0] - 1
    mark = np.full(n_cols, -1, np.int64)
    out = np.empty(c_ptr[m], np.int32)
    for i in range(m):
        w = c_ptr[i]
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            for q in range(b_ptr[k], b_ptr[k + 1]):
                j = b_idx[q]
                if mark[j] != i:
                    mark[j] = i
                    out[w] = j
                    w += 1
        out[c_ptr[i]:w].sort()
    return out


@dataclass
class Problem:
    a: sp.csr_array
    b: sp.csr_array
    a_label: str = "A"
    b_label: str = "B"
    same: bool = False  # B is A
    flops_row: np.ndarray = field(init=False)
    c_ptr: np.ndarray = field(init=False)
    _c_idx: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.flops_row = _flops_per_row(self.a.indptr, self.a.indices, self.b.indptr)
        self.c_ptr = _symbolic_counts(self.a.indptr, self.a.indices, self.b.indptr,
                                      self.b.indices, self.n_cols)

    @property
    def m(self) -> int:
        return self.a.shape[0]

    @property
    def inner(self) -> int:
        return self.a.shape[1]

    @property
    def n_cols(self) -> int:
        return self.b.shape[1]

    @property
    def flops(self) -> int:
        return int(self.flops_row.sum())

    @property
    def nnz_c(self) -> int:
        return int(self.c_ptr[-1])

    def c_indices(self) -> np.ndarray:
        """The symbolic pattern's column indices (sorted within rows), computed once."""
        if self._c_idx is None:
            self._c_idx = _symbolic_pattern(self.a.indptr, self.a.indices, self.b.indptr,
                                            self.b.indices, self.n_cols, self.c_ptr)
        return self._c_idx


def csc_of(m: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) of m in CSC order (columns as fibers, rows sorted)."""
    t = sp.csr_array(m.T)  # CSR of the transpose = CSC of m
    t.sort_indices()
    return (t.indptr.astype(np.int64), t.indices.astype(np.int32), t.data.astype(np.float64))
