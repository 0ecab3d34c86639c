"""Outer product: C = sum over k of A(:,k) x B(k,:), then a merge of the partial products.

A is read in CSC, B in CSR. Two phases separated by a machine barrier:

Multiply (unit = k): load the pointers of A(:,k) and B(k,:); hold ``outer_tile`` elements of
    A(:,k) in registers (one pass of line-piece loads), stream B(k,:) a value line piece at a
    time (index pieces as reached), and for every held A(i,k) COMPUTE the piece's products and
    STORE them (column indices and values, line pieces) into row i's bin of the partial-product
    arrays in DRAM. Bins are laid out by row, like OuterSPACE's per-row lists (Pal et al.,
    HPCA 2018): row i's bin starts at the prefix of the partial-product counts of the rows
    before it, and inside the bin the segment of A(i,k) comes after those of the k' < k in
    A(i,:). Those offsets follow from the structure of A and B (host-side, like the symbolic
    phase), so no atomics are needed to append.
Merge (unit = output row i, after the barrier): load the bin pointers and C's row pointers,
    load the bin (line pieces of indices and values), COMPUTE a multiway merge by column of
    its nnz(A(i,:)) sorted segments (a compare per product per merge level, a multiply-add per
    reduction) and STORE C's row in line pieces.

The functional result of a row is the merge of exactly the bin the multiply phase writes
(products in bin order, stably sorted by column, reduced in k order).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
import scipy.sparse as sp

from workloads.ops import ATOMIC_ADD, DRAM, LOAD, SCOPE_MACHINE, STORE
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
    L_C_PTR,
    L_C_VAL,
    L_P_IDX,
    L_P_PTR,
    L_P_VAL,
    P_CMP,
    P_LINE,
    P_MULADD,
    P_TILE,
    atomic,
    barrier,
    compute,
    ilog2,
    mem,
    seg_end,
    span,
)
from workloads.spgemm.layout import DramLayout
from workloads.spgemm.partition import BAR_MACHINE, WORK0, WORK1, SegmentBuilder, assign
from workloads.spgemm.problem import Problem
from workloads.spgemm.source import SpgemmSource
from workloads.spgemm.target import SpgemmTarget


@nb.njit(cache=True)
def _pieces(buf, n, cnt, op, base, eb, lo, hi, line, cls):
    """Line pieces of elements [lo, hi) of an array (at most two for a short run)."""
    q = lo
    while q < hi:
        e = seg_end(base, eb, q, hi, line)
        n = mem(buf, n, cnt, op, DRAM, 0, (e - q) * eb, base + q * eb, cls)
        q = e
    return n


@nb.njit(cache=True)
def _merge_row(i, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, pj, pv, c_ptr, c_idx, c_val):
    """Row i's bin (products in bin order), sorted stably by column and reduced; ok flag."""
    f = 0
    for p in range(a_ptr[i], a_ptr[i + 1]):
        k = a_idx[p]
        for q in range(b_ptr[k], b_ptr[k + 1]):
            pj[f] = b_idx[q]
            pv[f] = a_val[p] * b_val[q]
            f += 1
    order = np.argsort(pj[:f], kind="mergesort")
    w = c_ptr[i] - 1
    last = -1
    for t in range(f):
        j = pj[order[t]]
        if j != last:
            w += 1
            if w >= c_ptr[i + 1]:
                return False
            c_idx[w] = j
            c_val[w] = pv[order[t]]
            last = j
        else:
            c_val[w] += pv[order[t]]
    return w + 1 == c_ptr[i + 1]


@nb.njit(cache=True)
def outer_stream(s, buf, ctl, cnt, prm, lay, sg_ptr, sg_kind, sg_lo, sg_hi, sg_ctr, sg_arg,
                 ac_ptr, ac_idx, p_seg, b_ptr, a_ptr, a_idx, a_val, b_idx, b_val, bin_ptr,
                 c_ptr, c_idx, c_val, c_done, pj, pv):
    line = prm[P_LINE]
    tile = prm[P_TILE]
    n = 0
    for g in range(sg_ptr[s], sg_ptr[s + 1]):
        if n > ctl[0]:
            yield n
            n = 0
        kind = sg_kind[g]
        if kind == BAR_MACHINE:
            n = barrier(buf, n, cnt, SCOPE_MACHINE, sg_arg[g])
            continue
        if sg_ctr[g] >= 0:
            n = atomic(buf, n, cnt, prm, DRAM, 0, ATOMIC_ADD, sg_ctr[g])
            cnt[K_GRABS] += 1
        for u in range(sg_lo[g], sg_hi[g]):
            if n > ctl[0]:
                yield n
                n = 0
            cnt[K_ROWS] += 1
            if kind == WORK0:  # ---- multiply: k = u
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_A_PTR] + u * 8,
                         lay[L_A_PTR] + u * 8 + 16, line, CLS_NONE)
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_B_PTR] + u * 8,
                         lay[L_B_PTR] + u * 8 + 16, line, CLS_NONE)
                la, ea = ac_ptr[u], ac_ptr[u + 1]
                lb, eb = b_ptr[u], b_ptr[u + 1]
                if la == ea or lb == eb:
                    continue
                for ts in range(la, ea, tile):
                    te = min(ea, ts + tile)
                    q = ts
                    while q < te:
                        if n > ctl[0]:
                            yield n
                            n = 0
                        e = seg_end(lay[L_A_IDX], 4, q, te, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 4, lay[L_A_IDX] + q * 4,
                                CLS_A)
                        n = _pieces(buf, n, cnt, LOAD, lay[L_A_VAL], 8, q, e, line, CLS_A)
                        q = e
                    g0 = lb
                    bi_up = lb
                    while g0 < eb:
                        if n > ctl[0]:
                            yield n
                            n = 0
                        g1 = seg_end(lay[L_B_VAL], 8, g0, eb, line)
                        if g0 >= bi_up:
                            bi_up = seg_end(lay[L_B_IDX], 4, g0, eb, line)
                            n = mem(buf, n, cnt, LOAD, DRAM, 0, (bi_up - g0) * 4,
                                    lay[L_B_IDX] + g0 * 4, CLS_B)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (g1 - g0) * 8, lay[L_B_VAL] + g0 * 8,
                                CLS_B)
                        for p in range(ts, te):
                            if n > ctl[0]:
                                yield n
                                n = 0
                            pos = p_seg[p] + (g0 - lb)
                            n = compute(buf, n, cnt, (g1 - g0) * prm[P_MULADD])
                            n = _pieces(buf, n, cnt, STORE, lay[L_P_IDX], 4, pos, pos + g1 - g0,
                                        line, CLS_NONE)
                            n = _pieces(buf, n, cnt, STORE, lay[L_P_VAL], 8, pos, pos + g1 - g0,
                                        line, CLS_NONE)
                            cnt[K_MULTS] += g1 - g0
                            cnt[K_PP_STORED] += g1 - g0
                        g0 = g1
            else:  # ---- merge: output row i = u
                i = u
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_P_PTR] + i * 8,
                         lay[L_P_PTR] + i * 8 + 16, line, CLS_NONE)
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_C_PTR] + i * 8,
                         lay[L_C_PTR] + i * 8 + 16, line, CLS_NONE)
                if not _merge_row(i, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, pj, pv, c_ptr,
                                  c_idx, c_val):
                    cnt[K_BAD] += 1
                c_done[i] += 1
                f0, f1 = bin_ptr[i], bin_ptr[i + 1]
                for arr in range(2):
                    base = lay[L_P_IDX] if arr == 0 else lay[L_P_VAL]
                    w_b = 4 if arr == 0 else 8
                    q = f0
                    while q < f1:
                        if n > ctl[0]:
                            yield n
                            n = 0
                        e = seg_end(base, w_b, q, f1, line)
                        n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * w_b, base + q * w_b,
                                CLS_NONE)
                        q = e
                runs = a_ptr[i + 1] - a_ptr[i]
                m = c_ptr[i + 1] - c_ptr[i]
                n = compute(buf, n, cnt, (f1 - f0) * max(1, ilog2(runs)) * prm[P_CMP]
                            + (f1 - f0 - m) * prm[P_MULADD])
                for arr in range(2):
                    base = lay[L_C_IDX] if arr == 0 else lay[L_C_VAL]
                    w_b = 4 if arr == 0 else 8
                    q = c_ptr[i]
                    while q < c_ptr[i + 1]:
                        if n > ctl[0]:
                            yield n
                            n = 0
                        e = seg_end(base, w_b, q, c_ptr[i + 1], line)
                        n = mem(buf, n, cnt, STORE, DRAM, 0, (e - q) * w_b, base + q * w_b,
                                CLS_NONE)
                        q = e
    if n > 0:
        yield n


@nb.njit(cache=True)
def _segment_offsets(a_ptr, a_idx, b_ptr, bin_ptr):
    """Per CSR position of A(i,k): where its products start in the partial-product arrays."""
    out = np.empty(a_idx.shape[0], np.int64)
    for i in range(a_ptr.shape[0] - 1):
        off = bin_ptr[i]
        for p in range(a_ptr[i], a_ptr[i + 1]):
            out[p] = off
            k = a_idx[p]
            off += b_ptr[k + 1] - b_ptr[k]
    return out


def build(prob: Problem, target: SpgemmTarget, p: dict[str, Any]) -> SpgemmSource:
    threads = target.threads
    a, b = prob.a, prob.b
    # A in CSC, with each CSC entry's position in CSR order (carried as exact float data)
    pos = sp.csr_array((np.arange(a.nnz, dtype=np.float64), a.indices, a.indptr), a.shape)
    t = sp.csr_array(pos.T)
    t.sort_indices()
    ac_ptr, ac_idx = t.indptr.astype(np.int64), t.indices.astype(np.int32)
    csr_pos = t.data.astype(np.int64)
    bin_ptr = np.concatenate([[0], np.cumsum(prob.flops_row)]).astype(np.int64)
    p_seg = _segment_offsets(a.indptr, a.indices, b.indptr, bin_ptr)[csr_pos]

    lay = DramLayout()
    add_matrix(lay, "a", prob.inner + 1, a.nnz)
    add_matrix(lay, "b", prob.inner + 1, b.nnz)
    lay.add("p_ptr", prob.m + 1, 8)
    lay.add("p_idx", prob.flops, IDX_B)
    lay.add("p_val", prob.flops, VAL_B)
    lay.add("c_ptr", prob.m + 1, 8)
    lay.add("c_idx", prob.nnz_c, IDX_B)
    lay.add("c_val", prob.nnz_c, VAL_B)
    counters_region(lay, 2)
    lay.check_fits(target.dram_bytes, "outer-product SpGEMM")
    bases = lay.bases()
    ctr = lay.regions["counters"].base

    nnz_ac = np.diff(ac_ptr).astype(np.float64)
    nnz_bk = np.diff(b.indptr).astype(np.float64)
    tile = p["outer_tile"]
    mult_cost = 3.0 + nnz_ac / 4 + np.ceil(nnz_ac / tile) * nnz_bk / 4 + nnz_ac * nnz_bk / 2
    merge_cost = 3.0 + prob.flops_row / 4 + np.diff(prob.c_ptr) / 4
    sb = SegmentBuilder(threads)
    everyone = list(range(threads))
    assign(sb, everyone, WORK0, 0, prob.inner, p["partition"], nnz_ac + 1.0, mult_cost,
           p["grain"], ctr)
    for th in everyone:
        sb.barrier(th, BAR_MACHINE, 0)
    assign(sb, everyone, WORK1, 0, prob.m, p["partition"], np.diff(a.indptr) + 1.0,
           merge_cost, p["grain"], ctr + 64)
    seg = sb.build()
    prm = make_prm(target, p)
    c_idx, c_val, c_done = outputs(prob)
    width = int(prob.flops_row.max()) if prob.m else 0
    pj = np.zeros(max(width, 1), np.int32)
    pv = np.zeros(max(width, 1))

    def make(s: int, buf: np.ndarray, ctl: np.ndarray, cnt: np.ndarray):
        return outer_stream(s, buf, ctl, cnt, prm, bases, seg.ptr, seg.kind, seg.lo, seg.hi,
                            seg.ctr, seg.arg, ac_ptr, ac_idx, p_seg, b.indptr, a.indptr,
                            a.indices, a.data, b.indices, b.data, bin_ptr, prob.c_ptr, c_idx,
                            c_val, c_done, pj, pv)

    info = {"dataflow": "outer", "partition": p["partition"], "layout": lay.describe(),
            "dram_footprint_bytes": lay.end,
            "input_bytes_distinct": distinct_input_bytes(prob)}
    return SpgemmSource(threads, p["chunk_ops"], make,
                        emit.make_counters(threads, target.sp_banks), prob, c_idx, c_val,
                        c_done, info)
