"""Row-wise product (Gustavson): C(i,:) = sum over k in A(i,:) of A(i,k) * B(k,:).

F. G. Gustavson, "Two fast algorithms for sparse matrices: multiplication and permuted
transposition", ACM TOMS 4(3), 1978; the tagged dense accumulator is the sparse accumulator of
Gilbert, Moler and Schreiber, SIAM J. Matrix Anal. Appl. 13(1), 1992.

Per output row (unit = row of A; A and B in CSR):
    load A's row pointers, then A(i,:) piece by piece (one LOAD per line piece of the index and
    of the value array); for each A(i,k): B's row pointers and B(k,:) piece by piece, one
    COMPUTE per value line piece (its multiply-adds), and per product one update of a dense
    accumulator in DRAM (no scratchpad, no atomics): each thread owns ncols slots of 16 B
    (a row tag and a value), so a product is a LOAD of the slot and a STORE of 16 B (first
    touch: tag + value) or of the 8-B value (accumulate). First touches also append the
    column to the thread's list in DRAM (stored a line at a time).
    Write-back: load the list, sort it (COMPUTE n * ceil(log2 n) * sort), then per output
    entry LOAD its value and STORE C's column and value arrays a line piece at a time, at the
    row offset of the symbolic phase.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from workloads.ops import ATOMIC_ADD, DRAM, LOAD, STORE
from workloads.spgemm import emit
from workloads.spgemm.common import (
    IDX_B,
    VAL_B,
    add_matrix,
    counters_region,
    distinct_input_bytes,
    make_prm,
    outputs,
)
from workloads.spgemm.emit import (
    CLS_A,
    CLS_B,
    CLS_NONE,
    K_BAD,
    K_GRABS,
    K_MULTS,
    K_PP_STORED,
    K_ROWS,
    L_A_IDX,
    L_A_PTR,
    L_A_VAL,
    L_B_IDX,
    L_B_PTR,
    L_B_VAL,
    L_C_IDX,
    L_C_VAL,
    L_LIST,
    L_SPA,
    P_LINE,
    P_LIST_STRIDE,
    P_MULADD,
    P_SORT,
    P_SPA_STRIDE,
    atomic,
    compute,
    ilog2,
    mem,
    seg_end,
    span,
)
from workloads.spgemm.layout import DramLayout
from workloads.spgemm.partition import WORK0, SegmentBuilder, assign
from workloads.spgemm.problem import Problem
from workloads.spgemm.source import SpgemmSource
from workloads.spgemm.target import SpgemmTarget

SLOT_B = 16  # accumulator slot: row tag + value


@nb.njit(cache=True)
def _replay(s, i, upto, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, mark, acc, lst, own):
    """Rebuild the accumulator of row i from its first ``upto`` products; (tag, list len)."""
    own[0] = s
    own[1] += 1
    tag = own[1]
    nl = 0
    c = 0
    for p in range(a_ptr[i], a_ptr[i + 1]):
        k = a_idx[p]
        for q in range(b_ptr[k], b_ptr[k + 1]):
            if c == upto:
                return tag, nl
            j = b_idx[q]
            v = a_val[p] * b_val[q]
            if mark[j] != tag:
                mark[j] = tag
                acc[j] = v
                lst[nl] = j
                nl += 1
            else:
                acc[j] += v
            c += 1
    return tag, nl


@nb.njit(cache=True)
def rowwise_stream(s, buf, ctl, cnt, prm, lay, sg_ptr, sg_lo, sg_hi, sg_ctr, a_ptr, a_idx, a_val,
                   b_ptr, b_idx, b_val, c_ptr, c_idx, c_val, c_done, mark, acc, lst, own):
    line = prm[P_LINE]
    spa = lay[L_SPA] + s * prm[P_SPA_STRIDE]
    lbase = lay[L_LIST] + s * prm[P_LIST_STRIDE]
    n = 0
    for g in range(sg_ptr[s], sg_ptr[s + 1]):
        if sg_ctr[g] >= 0:
            if n > ctl[0]:
                yield n
                n = 0
            n = atomic(buf, n, cnt, prm, DRAM, 0, ATOMIC_ADD, sg_ctr[g])
            cnt[K_GRABS] += 1
        for i in range(sg_lo[g], sg_hi[g]):
            if n > ctl[0]:
                yield n
                n = 0
            cnt[K_ROWS] += 1
            n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_A_PTR] + i * 8, lay[L_A_PTR] + i * 8 + 16,
                     line, CLS_NONE)
            a0, a1 = a_ptr[i], a_ptr[i + 1]
            tag, nl = _replay(s, i, 0, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, mark, acc,
                              lst, own)
            done = 0
            lflush = 0  # list entries [0, lflush) already stored
            for p in range(a0, a1):
                if n > ctl[0]:
                    yield n
                    n = 0
                if p == a0 or (lay[L_A_IDX] + p * 4) % line == 0:
                    e = seg_end(lay[L_A_IDX], 4, p, a1, line)
                    n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - p) * 4, lay[L_A_IDX] + p * 4, CLS_A)
                if p == a0 or (lay[L_A_VAL] + p * 8) % line == 0:
                    e = seg_end(lay[L_A_VAL], 8, p, a1, line)
                    n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - p) * 8, lay[L_A_VAL] + p * 8, CLS_A)
                k = a_idx[p]
                av = a_val[p]
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_B_PTR] + k * 8,
                         lay[L_B_PTR] + k * 8 + 16, line, CLS_NONE)
                b0, b1 = b_ptr[k], b_ptr[k + 1]
                for q in range(b0, b1):
                    if n > ctl[0]:
                        yield n
                        n = 0
                    if own[0] != s:
                        tag, nl = _replay(s, i, done, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val,
                                          mark, acc, lst, own)
                    if q == b0 or (lay[L_B_IDX] + q * 4) % line == 0:
                        e = seg_end(lay[L_B_IDX], 4, q, b1, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 4, lay[L_B_IDX] + q * 4,
                                CLS_B)
                    if q == b0 or (lay[L_B_VAL] + q * 8) % line == 0:
                        e = seg_end(lay[L_B_VAL], 8, q, b1, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 8, lay[L_B_VAL] + q * 8,
                                CLS_B)
                        n = compute(buf, n, cnt, (e - q) * prm[P_MULADD])
                    j = b_idx[q]
                    v = av * b_val[q]
                    slot = spa + j * 16
                    n = mem(buf, n, cnt, LOAD, DRAM, 0, 16, slot, CLS_NONE)
                    if mark[j] != tag:
                        mark[j] = tag
                        acc[j] = v
                        lst[nl] = j
                        nl += 1
                        n = mem(buf, n, cnt, STORE, DRAM, 0, 16, slot, CLS_NONE)
                        if (lbase + nl * 4) % line == 0:
                            n = mem(buf, n, cnt, STORE, DRAM, 0, (nl - lflush) * 4,
                                    lbase + lflush * 4, CLS_NONE)
                            lflush = nl
                    else:
                        acc[j] += v
                        n = mem(buf, n, cnt, STORE, DRAM, 0, 8, slot + 8, CLS_NONE)
                    cnt[K_MULTS] += 1
                    cnt[K_PP_STORED] += 1
                    done += 1
            # ---- row end: the functional result, then the write-back ops
            if own[0] != s:
                tag, nl = _replay(s, i, done, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, mark,
                                  acc, lst, own)
            if nl > lflush:
                n = mem(buf, n, cnt, STORE, DRAM, 0, (nl - lflush) * 4, lbase + lflush * 4,
                        CLS_NONE)
            c0 = c_ptr[i]
            if nl != c_ptr[i + 1] - c0:
                cnt[K_BAD] += 1
            else:
                cols = np.sort(lst[:nl])
                for t in range(nl):
                    c_idx[c0 + t] = cols[t]
                    c_val[c0 + t] = acc[cols[t]]
            c_done[i] += 1
            q = 0
            while q < nl:
                if n > ctl[0]:
                    yield n
                    n = 0
                e = seg_end(lbase, 4, q, nl, line)
                n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 4, lbase + q * 4, CLS_NONE)
                q = e
            n = compute(buf, n, cnt, nl * ilog2(nl) * prm[P_SORT])
            ci = lay[L_C_IDX]
            cv = lay[L_C_VAL]
            for t in range(c0, c0 + nl):
                if n > ctl[0]:
                    yield n
                    n = 0
                n = mem(buf, n, cnt, LOAD, DRAM, 0, 8, spa + c_idx[t] * 16 + 8, CLS_NONE)
                if t + 1 == c0 + nl or (ci + (t + 1) * 4) % line == 0:
                    f = max(c0, ((ci + t * 4) // line * line - ci) // 4)
                    n = mem(buf, n, cnt, STORE, DRAM, 0, (t + 1 - f) * 4, ci + f * 4, CLS_NONE)
                if t + 1 == c0 + nl or (cv + (t + 1) * 8) % line == 0:
                    f = max(c0, ((cv + t * 8) // line * line - cv) // 8)
                    n = mem(buf, n, cnt, STORE, DRAM, 0, (t + 1 - f) * 8, cv + f * 8, CLS_NONE)
    if n > 0:
        yield n


def build(prob: Problem, target: SpgemmTarget, p: dict[str, Any]) -> SpgemmSource:
    threads = target.threads
    line = target.line_bytes
    lay = DramLayout()
    add_matrix(lay, "a", prob.m + 1, prob.a.nnz)
    add_matrix(lay, "b", prob.inner + 1, prob.b.nnz)
    lay.add("c_ptr", prob.m + 1, 8)
    lay.add("c_idx", prob.nnz_c, IDX_B)
    lay.add("c_val", prob.nnz_c, VAL_B)
    spa_stride = -(-prob.n_cols * SLOT_B // line) * line
    max_row = int(np.diff(prob.c_ptr).max()) if prob.m else 0
    list_stride = -(-max(max_row, 1) * 4 // line) * line
    lay.add("spa", threads * spa_stride, 1)
    lay.add("list", threads * list_stride, 1)
    counters_region(lay, 1)
    lay.check_fits(target.dram_bytes, "rowwise SpGEMM")
    bases = lay.bases()

    nnz_a = np.diff(prob.a.indptr)
    sb = SegmentBuilder(threads)
    costs = 3.0 + nnz_a + 3.0 * prob.flops_row
    assign(sb, list(range(threads)), WORK0, 0, prob.m, p["partition"], nnz_a + 1.0, costs,
           p["grain"], lay.regions["counters"].base)
    seg = sb.build()
    prm = make_prm(target, p, SPA_STRIDE=spa_stride, LIST_STRIDE=list_stride)
    c_idx, c_val, c_done = outputs(prob)
    mark = np.full(prob.n_cols, -1, np.int64)
    acc = np.zeros(prob.n_cols)
    lst = np.zeros(max(prob.n_cols, 1), np.int32)
    own = np.array([-1, 0], np.int64)
    a, b = prob.a, prob.b

    def make(s: int, buf: np.ndarray, ctl: np.ndarray, cnt: np.ndarray):
        return rowwise_stream(s, buf, ctl, cnt, prm, bases, seg.ptr, seg.lo, seg.hi, seg.ctr,
                              a.indptr, a.indices, a.data, b.indptr, b.indices, b.data,
                              prob.c_ptr, c_idx, c_val, c_done, mark, acc, lst, own)

    info = {"dataflow": "rowwise", "partition": p["partition"], "layout": lay.describe(),
            "dram_footprint_bytes": lay.end,
            "input_bytes_distinct": distinct_input_bytes(prob)}
    return SpgemmSource(threads, p["chunk_ops"], make,
                        emit.make_counters(threads, target.sp_banks), prob, c_idx, c_val,
                        c_done, info)
