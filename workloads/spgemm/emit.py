"""Numba helpers shared by the dataflow kernels: writing ops into a chunk and counting them.

A kernel is a numba generator per stream: it writes ops into a chunk buffer shared by all
streams (an ``OP_DTYPE`` array of ``cap`` ops) and yields the count once it exceeds the limit
in ``ctl[0]``, which the source sets before each resume to ``min(max_ops, cap) - RESERVE``.
Between two room checks a kernel emits at most ``RESERVE`` ops, so a yield never exceeds the
engine's ``max_ops`` (unless max_ops < RESERVE) nor the buffer.

``prm`` (int64 parameters) and ``lay`` (DRAM base addresses) are indexed by the ``P_*`` and
``L_*`` constants below; ``cnt`` is the stream's row of the counter table, indexed by ``K_*``
(bank histogram from ``K_BANK0``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from workloads.ops import ATOMIC, BARRIER, COMPUTE, DRAM, LOAD, SP_LOCAL
from workloads.ops import FLAG_POSTED as FLAG_POSTED  # re-exported for the kernels

RESERVE = 16

# ---- prm: int64 parameters
(P_LINE, P_TPC, P_CORES, P_MULADD, P_HASH, P_CMP, P_SORT, P_POSTED, P_ENTRY, P_TOKEN,
 P_FRAG, P_AREA, P_SPIL, P_SPBANKS, P_SPA_STRIDE, P_LIST_STRIDE, P_TILE, P_CAP) = range(18)
N_PRM = 18

# ---- lay: DRAM base addresses (-1 = not laid out). "A"/"B" are the fiber structures the
# dataflow walks (CSC for outer's A and inner's B); TOK arrays hold (column, value) tokens.
(L_A_PTR, L_A_IDX, L_A_VAL, L_A_TOK, L_B_PTR, L_B_IDX, L_B_VAL, L_B_TOK, L_C_PTR, L_C_IDX,
 L_C_VAL, L_C_TOK, L_P_PTR, L_P_IDX, L_P_VAL, L_SPA, L_LIST, L_CTR) = range(18)
N_LAY = 18
LAY_NAMES = ("a_ptr", "a_idx", "a_val", "a_tok", "b_ptr", "b_idx", "b_val", "b_tok", "c_ptr",
             "c_idx", "c_val", "c_tok", "p_ptr", "p_idx", "p_val", "spa", "list", "counters")

# ---- cnt: per-stream counters
(K_OPS, K_LOADS, K_STORES, K_ATOMICS, K_COMPUTES, K_BARRIERS, K_CYCLES,
 K_DRAM_LD, K_DRAM_ST, K_DRAM_AT, K_SPL_B, K_SPR_B, K_SPL_AT, K_SPR_AT,
 K_IN_A, K_IN_B, K_MULTS, K_PP_STORED, K_PROBES, K_COLL, K_GRABS, K_ROWS, K_BAD) = range(23)
K_BANK0 = 23
COUNTER_NAMES = ("ops", "loads", "stores", "atomics", "computes", "barriers", "compute_cycles",
                 "dram_load_bytes", "dram_store_bytes", "dram_atomics", "sp_local_bytes",
                 "sp_remote_bytes", "sp_local_atomics", "sp_remote_atomics", "in_a_bytes",
                 "in_b_bytes", "multiplications", "partial_products_stored", "hash_probes",
                 "hash_collisions", "grabs", "units", "bad")

# input classes for the redundant-fetch count
CLS_NONE, CLS_A, CLS_B = 0, 1, 2


@nb.njit(cache=True, inline="always")
def put(buf, n, op, space, sub, core, size, addr, handle):
    r = buf[n]
    r["op"] = op
    r["space"] = space
    r["sub"] = sub
    r["core"] = core
    r["size"] = size
    r["addr"] = addr
    r["addr2"] = 0
    r["count"] = 0
    r["stride"] = 0
    r["stride2"] = 0
    r["handle"] = handle
    return n + 1


@nb.njit(cache=True, inline="always")
def mem(buf, n, cnt, op, space, core, size, addr, cls):
    """A LOAD or STORE of ``size`` bytes; counts ops, bytes per space and input bytes."""
    cnt[K_OPS] += 1
    if op == LOAD:
        cnt[K_LOADS] += 1
    else:
        cnt[K_STORES] += 1
    if space == DRAM:
        if op == LOAD:
            cnt[K_DRAM_LD] += size
        else:
            cnt[K_DRAM_ST] += size
    elif space == SP_LOCAL:
        cnt[K_SPL_B] += size
    else:
        cnt[K_SPR_B] += size
    if cls == CLS_A:
        cnt[K_IN_A] += size
    elif cls == CLS_B:
        cnt[K_IN_B] += size
    return put(buf, n, op, space, 0, core, size, addr, 0)


@nb.njit(cache=True, inline="always")
def span(buf, n, cnt, op, space, core, lo, hi, line, cls):
    """Loads or stores covering bytes [lo, hi), one op per line-sized piece (keep it short)."""
    a = lo
    while a < hi:
        e = min(hi, (a // line + 1) * line)
        n = mem(buf, n, cnt, op, space, core, e - a, a, cls)
        a = e
    return n


@nb.njit(cache=True, inline="always")
def seg_end(base, eb, q, end, line):
    """End (exclusive element index) of the line piece of an array starting at element q."""
    return min(end, q + (line - (base + q * eb) % line) // eb)


@nb.njit(cache=True, inline="always")
def atomic(buf, n, cnt, prm, space, core, sub, addr):
    """An 8-byte ATOMIC; scratchpad atomics also count in the per-bank histogram."""
    cnt[K_OPS] += 1
    cnt[K_ATOMICS] += 1
    if space == DRAM:
        cnt[K_DRAM_AT] += 1
    else:
        bank = (addr // prm[P_SPIL]) % prm[P_SPBANKS]
        cnt[K_BANK0 + bank] += 1
        if space == SP_LOCAL:
            cnt[K_SPL_AT] += 1
            cnt[K_SPL_B] += 8
        else:
            cnt[K_SPR_AT] += 1
            cnt[K_SPR_B] += 8
    return put(buf, n, ATOMIC, space, sub, core, 8, addr, 0)


@nb.njit(cache=True, inline="always")
def compute(buf, n, cnt, cycles):
    if cycles <= 0:
        return n
    cnt[K_OPS] += 1
    cnt[K_COMPUTES] += 1
    cnt[K_CYCLES] += cycles
    return put(buf, n, COMPUTE, 0, 0, 0, cycles, 0, 0)


@nb.njit(cache=True)
def barrier(buf, n, cnt, scope, bid):
    cnt[K_OPS] += 1
    cnt[K_BARRIERS] += 1
    return put(buf, n, BARRIER, 0, scope, 0, 0, 0, bid)


@nb.njit(cache=True)
def ilog2(x):
    """ceil(log2(x)) for x >= 1 (0 for x <= 1)."""
    r = 0
    v = 1
    while v < x:
        v <<= 1
        r += 1
    return r


def make_counters(n_streams: int, sp_banks: int) -> np.ndarray:
    return np.zeros((n_streams, K_BANK0 + sp_banks), np.int64)

