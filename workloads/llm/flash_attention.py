"""FlashAttention (Dao et al. 2022, arXiv:2205.14135) as a task graph.

Forward: Algorithm 1 as printed (with Algorithm 2's mask and dropout, which add no HBM
traffic), not FlashAttention-2's loop order: Theorem 2's IO count is for this order, and
the paper's Fig. 2 traffic (4.4 GB) matches it (docs/attention.md). Per (batch, head):

    write O = 0, l = 0, m = -inf to HBM                  (line 2; one store per Q block)
    for each K/V block j:                                 (outer loop, line 5)
        load K_j, V_j                                     (line 6)
        for each Q block i:                               (inner loop, line 7)
            load Q_i, O_i, l_i, m_i                       (line 8)
            S = tau Q_i K_j^T, mask, online softmax, dropout, O update   (lines 9-12)
            store O_i, l_i, m_i                           (lines 12-13)

Backward: Algorithm 4 (recompute S and P from Q, K and the saved l, m; nothing of size
N^2 is stored; the dropout mask is regenerated from the saved generator state):

    write dQ = 0 to HBM                                   (line 5)
    for each K/V block j:
        load K_j, V_j; dK~_j = dV~_j = 0 on chip          (lines 7-8)
        for each Q block i:
            load Q_i, O_i, dO_i, dQ_i, l_i, m_i           (line 10)
            recompute S, P; dV~_j += P^T dO_i; dP = dO_i V_j^T; D_i = rowsum(dO_i O_i);
            dS = P (dP - D_i); dK~_j += tau dS^T Q_i        (lines 11-20, 22)
            store dQ_i += tau dS K_j                      (line 21)
        store dK_j, dV_j                                  (line 24)

At tile granularity each line above is a task (one per block load or store, one compute
per block); a pair's tasks follow the algorithm's order through SRAM buffers (a block
load waits until the previous block's buffer is free, an O_i or dQ_i load waits for its
last store to HBM). Pairs are independent and run on place = pair mod ``places``.
Causal masking skips blocks that are entirely masked (flash_tiling.py). The random
generator state (a few bytes) is not counted. FLOP conventions: attention_costs.py.
"""

from __future__ import annotations

import numpy as np

from sim.errors import UserError
from workloads.llm import attention_costs as cost
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.flash_tiling import FlashTiling, flash_tiling
from workloads.llm.head_graph import (
    HbmLayout,
    HeadTemplate,
    TemplateBuilder,
    assemble_kernels,
    check_granularity,
)
from workloads.llm.taskgraph import TaskGraph

FWD_LABELS = ("fwd", "fwd.init", "fwd.load_kv", "fwd.load_q", "fwd.load_o", "fwd.load_stats",
              "fwd.block", "fwd.store_o", "fwd.store_stats")
BWD_LABELS = ("bwd", "bwd.init", "bwd.load_kv", "bwd.load_q", "bwd.load_o", "bwd.load_do",
              "bwd.load_dq", "bwd.load_stats", "bwd.block", "bwd.store_dq", "bwd.store_dkv")


def flash_attention(shape: AttentionShape, *, sram_bytes: int, backward: bool = False,
                    dropout: bool = True, granularity: str = "tile", places: int = 1,
                    label: str = "attn") -> TaskGraph:
    """FlashAttention forward (and backward) over every (batch, head) pair of ``shape``.

    ``sram_bytes``: the SRAM of one SM that a thread block tiles (M = sram_bytes //
    bytes_per_element elements). ``dropout``: Algorithm 2's dropout (FLOPs only; the mask
    is regenerated, never stored). See head_graph.py for ``granularity`` and ``places``.
    """
    tiling = flash_tiling(shape, sram_bytes)
    check_granularity(granularity, places)
    if not isinstance(label, str) or not label:
        raise UserError(f"attention label must be a non-empty string, got {label!r}")
    pairs = shape.batch * shape.heads
    names = [f"{label}.{x}" for x in FWD_LABELS + (BWD_LABELS if backward else ())]
    layout = HbmLayout(pairs)
    def lab(name: str) -> int:
        return names.index(f"{label}.{name}")

    kernels = [_forward(shape, tiling, layout, dropout, lab)]
    if backward:
        kernels.append(_backward(shape, tiling, layout, dropout, lab))
    return assemble_kernels(kernels, pairs=pairs, granularity=granularity, places=places,
                            labels=names, sync_label=f"{label}.sync")


def _blocks(tiling: FlashTiling, causal: bool):
    """Visible pairs (j, i), their rows r and columns c, first pair and count per j, and
    for each pair the index of the pair with the same i and j - 1 (-1 if j == 0)."""
    pj, pi = tiling.visible_blocks(causal)
    r = tiling.row_sizes()[pi]
    c = tiling.col_sizes()[pj]
    first = np.searchsorted(pj, np.arange(tiling.col_blocks))
    count = np.bincount(pj, minlength=tiling.col_blocks)
    if np.any(count == 0):  # cannot happen for self-attention: the last row sees every j
        raise ValueError("a K/V block with no visible Q block")
    table = np.full((tiling.col_blocks, tiling.row_blocks), -1, np.int64)
    table[pj, pi] = np.arange(len(pj))
    prev_same_i = np.where(pj > 0, table[np.maximum(pj - 1, 0), pi], -1)
    if np.any((pj > 0) & (prev_same_i < 0)):
        raise ValueError("causal visibility is not closed under smaller j")
    return pj, pi, r, c, first, count, prev_same_i


def _forward(shape: AttentionShape, tiling: FlashTiling, layout: HbmLayout, dropout: bool,
             lab) -> HeadTemplate:
    d, e, s = shape.head_dim, shape.bytes_per_element, cost.STATS_BYTES
    n = shape.seq_q
    br, bc, tr = tiling.block_rows, tiling.block_cols, tiling.row_blocks
    pj, pi, r, c, first, count, prev_i = _blocks(tiling, shape.causal)
    npair = len(pj)
    init = 3 * tr
    pos = init + 2 * (pj + 1) + 8 * np.arange(npair)  # first task of each pair
    kload = init + 2 * np.arange(tiling.col_blocks) + 8 * first
    b = TemplateBuilder(init + 2 * tiling.col_blocks + 8 * npair, lab("fwd"))

    q = layout.tensor("q", n * d * e)
    k = layout.tensor("k", shape.seq_kv * d * e)
    v = layout.tensor("v", shape.seq_kv * d * e)
    o = layout.tensor("o", n * d * e)
    lv = layout.tensor("l", n * s)
    mv = layout.tensor("m", n * s)
    sk, sv = 0, bc * d * e  # SRAM buffers: K_j, V_j, Q_i, O_i, l_i, m_i
    sq = 2 * bc * d * e
    so = sq + br * d * e
    sl = so + br * d * e
    sm = sl + br * s

    rows = tiling.row_sizes()
    ib = np.arange(tr)
    for slot, (t, width, sram) in enumerate(((o, d * e, so), (lv, s, sl), (mv, s, sm))):
        b.transfer(3 * ib + slot, load=False, nbytes=rows * width,
                   hbm_addr=t[0] + ib * br * width, hbm_step=t[1], sram_addr=sram,
                   label=lab("fwd.init"))

    jb = np.arange(tiling.col_blocks)
    cols = tiling.col_sizes()
    for off, t, sram in ((0, k, sk), (1, v, sv)):
        b.transfer(kload + off, load=True, nbytes=cols * d * e,
                   hbm_addr=t[0] + jb * bc * d * e, hbm_step=t[1], sram_addr=sram,
                   label=lab("fwd.load_kv"))
        b.dep(kload[1:] + off, pos[first[1:] - 1] + 4)  # K/V buffer free after block j-1

    loads = ((0, q, d * e, sq, "fwd.load_q"), (1, o, d * e, so, "fwd.load_o"),
             (2, lv, s, sl, "fwd.load_stats"), (3, mv, s, sm, "fwd.load_stats"))
    for off, t, width, sram, name in loads:
        b.transfer(pos + off, load=True, nbytes=r * width, hbm_addr=t[0] + pi * br * width,
                   hbm_step=t[1], sram_addr=sram, label=lab(name))
        for st in (5, 6, 7):  # Q/O/l/m buffers free once the previous block is stored
            b.dep(pos[1:] + off, pos[:-1] + st)
    for off, slot in ((1, 0), (2, 1), (3, 2)):  # read O_i, l_i, m_i after their last write
        b.dep(pos + off, np.where(prev_i >= 0, pos[prev_i] + 4 + off, 3 * pi + slot))

    flops = (4 * r * c * d + (cost.SCALE_FLOPS + cost.MASK_FLOPS + cost.ONLINE_SOFTMAX_FLOPS
                              + (cost.DROPOUT_FLOPS if dropout else 0)) * r * c
             + cost.FLASH_ROW_STATS_FLOPS * r + cost.FLASH_OUTPUT_UPDATE_FLOPS * r * d)
    b.compute(pos + 4, flops, lab("fwd.block"))
    for off in range(4):
        b.dep(pos + 4, pos + off)
    b.dep(pos + 4, kload[pj])
    b.dep(pos + 4, kload[pj] + 1)

    stores = ((5, o, d * e, so, "fwd.store_o"), (6, lv, s, sl, "fwd.store_stats"),
              (7, mv, s, sm, "fwd.store_stats"))
    for off, t, width, sram, name in stores:
        b.transfer(pos + off, load=False, nbytes=r * width, hbm_addr=t[0] + pi * br * width,
                   hbm_step=t[1], sram_addr=sram, label=lab(name))
        b.dep(pos + off, pos + 4)
    return b.build()


def _backward(shape: AttentionShape, tiling: FlashTiling, layout: HbmLayout, dropout: bool,
              lab) -> HeadTemplate:
    d, e, s = shape.head_dim, shape.bytes_per_element, cost.STATS_BYTES
    n, nk = shape.seq_q, shape.seq_kv
    br, bc, tr, tc = tiling.block_rows, tiling.block_cols, tiling.row_blocks, tiling.col_blocks
    pj, pi, r, c, first, count, prev_i = _blocks(tiling, shape.causal)
    npair = len(pj)
    jb = np.arange(tc)
    pos = tr + 4 * pj + 2 + 8 * np.arange(npair)
    kload = tr + 4 * jb + 8 * first
    kstore = tr + 4 * jb + 2 + 8 * (first + count)
    b = TemplateBuilder(tr + 4 * tc + 8 * npair, lab("bwd"))

    q, k, v, o = (layout.tensor(x, (n if x in "qo" else nk) * d * e) for x in "qkvo")
    lv, mv = layout.tensor("l", n * s), layout.tensor("m", n * s)
    do, dq = layout.tensor("do", n * d * e), layout.tensor("dq", n * d * e)
    dk, dv = layout.tensor("dk", nk * d * e), layout.tensor("dv", nk * d * e)
    kv_bytes, row_bytes = bc * d * e, br * d * e
    sk, sv, sdk, sdv = 0, kv_bytes, 2 * kv_bytes, 3 * kv_bytes  # SRAM buffers
    sq, so, sdo, sdq = (4 * kv_bytes + x * row_bytes for x in range(4))
    sl = 4 * kv_bytes + 4 * row_bytes
    sm = sl + br * s

    rows, cols = tiling.row_sizes(), tiling.col_sizes()
    ib = np.arange(tr)
    b.transfer(ib, load=False, nbytes=rows * d * e, hbm_addr=dq[0] + ib * row_bytes,
               hbm_step=dq[1], sram_addr=sdq, label=lab("bwd.init"))
    last = pos[first + count - 1] + 6  # compute of each j's last block
    for off, t, sram in ((0, k, sk), (1, v, sv)):
        b.transfer(kload + off, load=True, nbytes=cols * d * e,
                   hbm_addr=t[0] + jb * kv_bytes, hbm_step=t[1], sram_addr=sram,
                   label=lab("bwd.load_kv"))
        b.dep(kload[1:] + off, last[:-1])
    loads = ((0, q, d * e, sq, "bwd.load_q"), (1, o, d * e, so, "bwd.load_o"),
             (2, do, d * e, sdo, "bwd.load_do"), (3, dq, d * e, sdq, "bwd.load_dq"),
             (4, lv, s, sl, "bwd.load_stats"), (5, mv, s, sm, "bwd.load_stats"))
    for off, t, width, sram, name in loads:
        b.transfer(pos + off, load=True, nbytes=r * width, hbm_addr=t[0] + pi * br * width,
                   hbm_step=t[1], sram_addr=sram, label=lab(name))
        b.dep(pos[1:] + off, pos[:-1] + 7)  # row buffers free once the previous dQ_i is stored
    b.dep(pos + 3, np.where(prev_i >= 0, pos[prev_i] + 7, pi))  # dQ_i after its last write

    flops = (10 * r * c * d
             + (cost.SCALE_FLOPS + cost.MASK_FLOPS + cost.RECOMPUTED_SOFTMAX_FLOPS
                + cost.FLASH_SOFTMAX_BWD_FLOPS + (2 * cost.DROPOUT_FLOPS if dropout else 0))
             * r * c
             + (cost.FLASH_ROWSUM_D_FLOPS + cost.SCALE_FLOPS) * r * d + cost.SCALE_FLOPS * c * d)
    b.compute(pos + 6, flops, lab("bwd.block"))
    for off in range(6):
        b.dep(pos + 6, pos + off)
    b.dep(pos + 6, kload[pj])
    b.dep(pos + 6, kload[pj] + 1)
    starts = first[1:]  # dK~_j, dV~_j buffers free once dK_{j-1}, dV_{j-1} are stored
    b.dep(pos[starts] + 6, kstore[:-1])
    b.dep(pos[starts] + 6, kstore[:-1] + 1)

    b.transfer(pos + 7, load=False, nbytes=r * d * e, hbm_addr=dq[0] + pi * row_bytes,
               hbm_step=dq[1], sram_addr=sdq, label=lab("bwd.store_dq"))
    b.dep(pos + 7, pos + 6)
    for off, t, sram in ((0, dk, sdk), (1, dv, sdv)):
        b.transfer(kstore + off, load=False, nbytes=cols * d * e,
                   hbm_addr=t[0] + jb * kv_bytes, hbm_step=t[1], sram_addr=sram,
                   label=lab("bwd.store_dkv"))
        b.dep(kstore + off, last)
    return b.build()
