"""Inner product: C(i,j) = A(i,:) · B(:,j) for every (i, j) of C's pattern.

A is in CSR, B in CSC (its columns are the fibers). The output coordinates come from the
symbolic phase (problem.py), which runs on the host and is not simulated: without it the
dataflow would have to try all m x n pairs, almost all of them empty. Its result sits in DRAM
(C's row pointers and column indices), and the threads read it as part of their work.

Per output row i (the partition unit): load C's and A's row pointers; per coordinate j (read
a line piece of C's column indices at a time): B's column pointers, then a merge-intersection
of A(i,:) and B(:,j) that loads index line pieces as the merge reaches them and a value line
piece only when a match falls in it, one COMPUTE per coordinate (a compare per merge step and
a multiply-add per match), and C's values stored a line piece at a time. Every coordinate
reloads A(i,:) (cacheable loads: the L1 may keep it); nothing is written but C, and each
B(:,j) is fetched once per output row that needs it: the redundant fetches that make the inner
product bandwidth-bound (as the abstract of Shivdikar 2021, arXiv:2105.14156, puts it).
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
    K_ROWS,
    L_A_IDX,
    L_A_PTR,
    L_A_VAL,
    L_B_IDX,
    L_B_PTR,
    L_B_VAL,
    L_C_IDX,
    L_C_PTR,
    L_C_VAL,
    P_CMP,
    P_LINE,
    P_MULADD,
    atomic,
    compute,
    mem,
    seg_end,
    span,
)
from workloads.spgemm.layout import DramLayout
from workloads.spgemm.partition import WORK0, SegmentBuilder, assign
from workloads.spgemm.problem import Problem, csc_of
from workloads.spgemm.source import SpgemmSource
from workloads.spgemm.target import SpgemmTarget


@nb.njit(cache=True)
def inner_stream(s, buf, ctl, cnt, prm, lay, sg_ptr, sg_lo, sg_hi, sg_ctr, a_ptr, a_idx, a_val,
                 b_ptr, b_idx, b_val, c_ptr, c_pat, c_idx, c_val, c_done):
    line = prm[P_LINE]
    ai, av, bi, bv = lay[L_A_IDX], lay[L_A_VAL], lay[L_B_IDX], lay[L_B_VAL]
    ci, cv = lay[L_C_IDX], lay[L_C_VAL]
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
            n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_C_PTR] + i * 8, lay[L_C_PTR] + i * 8 + 16,
                     line, CLS_NONE)
            n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_A_PTR] + i * 8, lay[L_A_PTR] + i * 8 + 16,
                     line, CLS_NONE)
            a0, a1 = a_ptr[i], a_ptr[i + 1]
            c0, c1 = c_ptr[i], c_ptr[i + 1]
            for t in range(c0, c1):
                if n > ctl[0]:
                    yield n
                    n = 0
                if t == c0 or (ci + t * 4) % line == 0:
                    e = seg_end(ci, 4, t, c1, line)
                    n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - t) * 4, ci + t * 4, CLS_NONE)
                j = c_pat[t]
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_B_PTR] + j * 8,
                         lay[L_B_PTR] + j * 8 + 16, line, CLS_NONE)
                b0, b1 = b_ptr[j], b_ptr[j + 1]
                pa, pb = a0, b0
                ai_up, bi_up, av_up, bv_up = a0, b0, a0, b0
                acc = 0.0
                steps = 0
                matches = 0
                while pa < a1 and pb < b1:
                    if n > ctl[0]:
                        yield n
                        n = 0
                    if pa >= ai_up:
                        ai_up = seg_end(ai, 4, pa, a1, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (ai_up - pa) * 4, ai + pa * 4, CLS_A)
                    if pb >= bi_up:
                        bi_up = seg_end(bi, 4, pb, b1, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (bi_up - pb) * 4, bi + pb * 4, CLS_B)
                    ka = a_idx[pa]
                    kb = b_idx[pb]
                    steps += 1
                    if ka == kb:
                        if pa >= av_up:
                            av_up = seg_end(av, 8, pa, a1, line)
                            n = mem(buf, n, cnt, LOAD, DRAM, 0, (av_up - pa) * 8, av + pa * 8,
                                    CLS_A)
                        if pb >= bv_up:
                            bv_up = seg_end(bv, 8, pb, b1, line)
                            n = mem(buf, n, cnt, LOAD, DRAM, 0, (bv_up - pb) * 8, bv + pb * 8,
                                    CLS_B)
                        acc += a_val[pa] * b_val[pb]
                        matches += 1
                        pa += 1
                        pb += 1
                    elif ka < kb:
                        pa += 1
                    else:
                        pb += 1
                n = compute(buf, n, cnt, steps * prm[P_CMP] + matches * prm[P_MULADD])
                cnt[K_MULTS] += matches
                if matches == 0:
                    cnt[K_BAD] += 1
                c_idx[t] = j
                c_val[t] = acc
                if t + 1 == c1 or (cv + (t + 1) * 8) % line == 0:
                    f = max(c0, ((cv + t * 8) // line * line - cv) // 8)
                    n = mem(buf, n, cnt, STORE, DRAM, 0, (t + 1 - f) * 8, cv + f * 8, CLS_NONE)
            c_done[i] += 1
    if n > 0:
        yield n


@nb.njit(cache=True)
def _row_costs(a_ptr, b_ptr, c_ptr, c_pat):
    """Estimated ops per output row: per coordinate a few ops plus its fibers' line pieces."""
    m = c_ptr.shape[0] - 1
    out = np.zeros(m)
    for i in range(m):
        na = a_ptr[i + 1] - a_ptr[i]
        s = 2.0
        for t in range(c_ptr[i], c_ptr[i + 1]):
            j = c_pat[t]
            s += 3.0 + (na + b_ptr[j + 1] - b_ptr[j]) / 8.0
        out[i] = s
    return out


def build(prob: Problem, target: SpgemmTarget, p: dict[str, Any]) -> SpgemmSource:
    threads = target.threads
    bc_ptr, bc_idx, bc_val = csc_of(prob.b)
    c_pat = prob.c_indices()
    lay = DramLayout()
    add_matrix(lay, "a", prob.m + 1, prob.a.nnz)
    add_matrix(lay, "b", prob.n_cols + 1, prob.b.nnz)
    lay.add("c_ptr", prob.m + 1, 8)
    lay.add("c_idx", prob.nnz_c, IDX_B)
    lay.add("c_val", prob.nnz_c, VAL_B)
    counters_region(lay, 1)
    lay.check_fits(target.dram_bytes, "inner-product SpGEMM")
    bases = lay.bases()

    sb = SegmentBuilder(threads)
    nnz_c = np.diff(prob.c_ptr).astype(np.float64)
    costs = _row_costs(prob.a.indptr, bc_ptr, prob.c_ptr, c_pat)
    assign(sb, list(range(threads)), WORK0, 0, prob.m, p["partition"], nnz_c + 1.0, costs,
           p["grain"], lay.regions["counters"].base)
    seg = sb.build()
    prm = make_prm(target, p)
    c_idx, c_val, c_done = outputs(prob)
    a = prob.a

    def make(s: int, buf: np.ndarray, ctl: np.ndarray, cnt: np.ndarray):
        return inner_stream(s, buf, ctl, cnt, prm, bases, seg.ptr, seg.lo, seg.hi, seg.ctr,
                            a.indptr, a.indices, a.data, bc_ptr, bc_idx, bc_val, prob.c_ptr,
                            c_pat, c_idx, c_val, c_done)

    info = {"dataflow": "inner", "partition": p["partition"], "layout": lay.describe(),
            "dram_footprint_bytes": lay.end,
            "input_bytes_distinct": distinct_input_bytes(prob)}
    return SpgemmSource(threads, p["chunk_ops"], make,
                        emit.make_counters(threads, target.sp_banks), prob, c_idx, c_val,
                        c_done, info)
