"""The SMASH stream kernel (numba): row-wise products merged by atomics into scratchpad hashing.

See smash.py for the design. A stream hashes each of its rows once, functionally, when it
starts the row (``plan_row``: no yield inside, so one scratch table serves every stream),
and then emits the row's ops from that plan, which it keeps only while it works on the row.
Hash table of a row: ``R`` virtual slots (``reg_R[i]``), split into ``F`` fragments of
``R / F`` slots; fragment f of a core's table lives on core (core + f) % cores, in that
core's scratchpad area f, at slot offset ``reg_off[i]``. Linear probing from
h(j) = ((j * 2654435761) mod 2**32) * R >> 32 over the virtual slots.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from workloads.ops import ATOMIC_ADD, ATOMIC_CAS, DRAM, LOAD, SCOPE_CORE, SP_LOCAL, SP_REMOTE, STORE
from workloads.spgemm.emit import (
    CLS_A,
    CLS_B,
    CLS_NONE,
    FLAG_POSTED,
    K_BAD,
    K_COLL,
    K_GRABS,
    K_MULTS,
    K_PP_STORED,
    K_PROBES,
    K_ROWS,
    L_A_IDX,
    L_A_PTR,
    L_A_TOK,
    L_A_VAL,
    L_B_IDX,
    L_B_PTR,
    L_B_TOK,
    L_B_VAL,
    L_C_IDX,
    L_C_TOK,
    L_C_VAL,
    P_AREA,
    P_CMP,
    P_CORES,
    P_ENTRY,
    P_FRAG,
    P_HASH,
    P_LINE,
    P_MULADD,
    P_POSTED,
    P_SORT,
    P_TOKEN,
    P_TPC,
    atomic,
    barrier,
    compute,
    ilog2,
    mem,
    seg_end,
    span,
)
from workloads.spgemm.partition import BAR_CORE

EMPTY = -1


@nb.njit(cache=True, inline="always")
def home(j, r_slots):
    return (((j * 2654435761) & 0xFFFFFFFF) * r_slots) >> 32


@nb.njit(cache=True)
def probe(keys, r_slots, j):
    """(slot, probes, found) of column j in a table of r_slots slots (read only)."""
    v = home(j, r_slots)
    c = 1
    while True:
        kk = keys[v]
        if kk == j:
            return v, c, True
        if kk == EMPTY:
            return v, c, False
        v += 1
        if v == r_slots:
            v = 0
        c += 1


@nb.njit(cache=True)
def plan_row(i, r_slots, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, c_ptr, c_idx, c_val,
             keys, vals, plan):
    """Hash row i's products into ``keys``/``vals`` in product order and write C's row.

    ``plan[t]`` records where product t landed: its slot, or ``-1 - slot`` where the key was
    already there. Runs without yielding, so the one scratch table serves every stream; the
    stream then emits its ops from its own plan. Returns False if the table disagrees with
    the symbolic row length (an internal error).
    """
    keys[:r_slots] = EMPTY
    t = 0
    for p in range(a_ptr[i], a_ptr[i + 1]):
        av = a_val[p]
        for q in range(b_ptr[a_idx[p]], b_ptr[a_idx[p] + 1]):
            j = b_idx[q]
            v, _, found = probe(keys, r_slots, j)
            if found:
                vals[v] += av * b_val[q]
                plan[t] = -1 - v
            else:
                keys[v] = j
                vals[v] = av * b_val[q]
                plan[t] = v
            t += 1
    c0, c1 = c_ptr[i], c_ptr[i + 1]
    if r_slots == 0:
        return c1 == c0
    used = np.flatnonzero(keys[:r_slots] != EMPTY)
    if used.shape[0] != c1 - c0:
        return False
    order = np.argsort(keys[used])
    for k in range(used.shape[0]):
        c_idx[c0 + k] = keys[used[order[k]]]
        c_val[c0 + k] = vals[used[order[k]]]
    return True


@nb.njit(cache=True, inline="always")
def place(prm, core, off, r_slots, v):
    """(space, core, scratchpad address) of virtual slot v of a row's table."""
    frag = prm[P_FRAG]
    per = r_slots // frag
    f = v // per
    pc = (core + f) % prm[P_CORES]
    addr = f * prm[P_AREA] + (off + v - f * per) * prm[P_ENTRY]
    if pc == core:
        return SP_LOCAL, 0, addr
    return SP_REMOTE, pc, addr


@nb.njit(cache=True, inline="always")
def load_elem(buf, n, cnt, lay, tok, l_tok, l_idx, l_val, q, q0, q1, line, cls):
    """Line-piece loads of element q of a fiber [q0, q1); returns (n, value-piece length)."""
    if tok:
        if q == q0 or (lay[l_tok] + q * 8) % line == 0:
            e = seg_end(lay[l_tok], 8, q, q1, line)
            return mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 8, lay[l_tok] + q * 8, cls), e - q
        return n, 0
    if q == q0 or (lay[l_idx] + q * 4) % line == 0:
        e = seg_end(lay[l_idx], 4, q, q1, line)
        n = mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 4, lay[l_idx] + q * 4, cls)
    if q == q0 or (lay[l_val] + q * 8) % line == 0:
        e = seg_end(lay[l_val], 8, q, q1, line)
        return mem(buf, n, cnt, LOAD, DRAM, 0, (e - q) * 8, lay[l_val] + q * 8, cls), e - q
    return n, 0


@nb.njit(cache=True)
def smash_stream(s, buf, ctl, cnt, prm, lay, sg_ptr, sg_kind, sg_lo, sg_hi, sg_ctr, sg_arg,
                 a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, c_ptr, c_idx, c_val, c_done,
                 flops_row, reg_r, reg_off, keys, vals):
    line = prm[P_LINE]
    core = s // prm[P_TPC]
    tok = prm[P_TOKEN] != 0
    eb = prm[P_ENTRY]
    frag = prm[P_FRAG]
    add_sub = ATOMIC_ADD | FLAG_POSTED if prm[P_POSTED] != 0 else ATOMIC_ADD
    n = 0
    for g in range(sg_ptr[s], sg_ptr[s + 1]):
        if n > ctl[0]:
            yield n
            n = 0
        if sg_kind[g] == BAR_CORE:
            n = barrier(buf, n, cnt, SCOPE_CORE, sg_arg[g])
            continue
        if sg_ctr[g] >= 0:
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
            r_slots = reg_r[i]
            off = reg_off[i]
            # functional result first (the ops below do not depend on it); the plan lives
            # while the stream works on the row: one int32 per product
            plan = np.empty(flops_row[i], np.int32)
            if not plan_row(i, r_slots, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, c_ptr, c_idx,
                            c_val, keys, vals, plan):
                cnt[K_BAD] += 1
            c_done[i] += 1
            t = 0
            # ---- hashing phase of row i
            for p in range(a0, a1):
                if n > ctl[0]:
                    yield n
                    n = 0
                n, _ = load_elem(buf, n, cnt, lay, tok, L_A_TOK, L_A_IDX, L_A_VAL, p, a0, a1,
                                 line, CLS_A)
                k = a_idx[p]
                n = span(buf, n, cnt, LOAD, DRAM, 0, lay[L_B_PTR] + k * 8,
                         lay[L_B_PTR] + k * 8 + 16, line, CLS_NONE)
                b0, b1 = b_ptr[k], b_ptr[k + 1]
                for q in range(b0, b1):
                    if n > ctl[0]:
                        yield n
                        n = 0
                    n, grp = load_elem(buf, n, cnt, lay, tok, L_B_TOK, L_B_IDX, L_B_VAL, q, b0,
                                       b1, line, CLS_B)
                    n = compute(buf, n, cnt, grp * (prm[P_MULADD] + prm[P_HASH]))
                    w = home(b_idx[q], r_slots)
                    v = plan[t]
                    found = v < 0
                    if found:
                        v = -1 - v
                    t += 1
                    c = v - w + 1 if v >= w else v + r_slots - w + 1
                    cnt[K_MULTS] += 1
                    cnt[K_PP_STORED] += 1
                    cnt[K_PROBES] += c
                    cnt[K_COLL] += c - 1
                    # ops: one CAS per probed slot (claim the key or find it) ...
                    for _ in range(c):
                        if n > ctl[0]:
                            yield n
                            n = 0
                        sp, pc, addr = place(prm, core, off, r_slots, w)
                        n = atomic(buf, n, cnt, prm, sp, pc, ATOMIC_CAS, addr)
                        w += 1
                        if w == r_slots:
                            w = 0
                    # ... then v1: fetch-add of the value; tokens: a second CAS on a hit
                    sp, pc, addr = place(prm, core, off, r_slots, v)
                    if not tok:
                        n = atomic(buf, n, cnt, prm, sp, pc, add_sub, addr + 8)
                    elif found:
                        n = atomic(buf, n, cnt, prm, sp, pc, ATOMIC_CAS, addr)
            if r_slots == 0:
                continue
            # ---- write-back: read and clear the row's slots, compact and sort, store C
            per = r_slots // frag
            for f in range(frag):
                sp, pc, a_lo = place(prm, core, off, r_slots, f * per)
                a_hi = a_lo + per * eb
                a = a_lo
                while a < a_hi:
                    if n > ctl[0]:
                        yield n
                        n = 0
                    e = min(a_hi, (a // line + 1) * line)
                    n = mem(buf, n, cnt, LOAD, sp, pc, e - a, a, CLS_NONE)
                    n = mem(buf, n, cnt, STORE, sp, pc, e - a, a, CLS_NONE)
                    a = e
            c0, c1 = c_ptr[i], c_ptr[i + 1]
            m = c1 - c0
            n = compute(buf, n, cnt, r_slots * prm[P_CMP] + m * ilog2(m) * prm[P_SORT])
            for arr in range(2):
                if tok:
                    if arr == 1:
                        break
                    base, w_b = lay[L_C_TOK], 8
                elif arr == 0:
                    base, w_b = lay[L_C_IDX], 4
                else:
                    base, w_b = lay[L_C_VAL], 8
                t = c0
                while t < c1:
                    if n > ctl[0]:
                        yield n
                        n = 0
                    e = seg_end(base, w_b, t, c1, line)
                    n = mem(buf, n, cnt, STORE, DRAM, 0, (e - t) * w_b, base + t * w_b, CLS_NONE)
                    t = e
    if n > 0:
        yield n
