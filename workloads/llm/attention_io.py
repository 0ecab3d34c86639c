"""Closed-form HBM bytes and FLOPs of standard attention and FlashAttention.

Written from the algorithms (the FlashAttention paper, arXiv:2205.14135: Theorem 2 and
Algorithms 1 and 4; the PyTorch eager kernel sequence of standard_attention.py), not from
the generators, so tests can hold the generated task graphs against them. The FLOP
convention is restated here as literal numbers (see attention_costs.py for the words).

Notation, per (batch, head) pair: n = seq_q, m = seq_kv, d = head_dim, e = bytes per
element, s = 4 bytes per softmax statistic, G = batch * heads pairs, c = 1 if causal,
delta = 1 with dropout. FlashAttention: M = SRAM elements, Bc = ceil(M / 4d),
Br = min(Bc, d) (each clamped to its sequence), Tr = ceil(n / Br), Tc = ceil(m / Bc).

Standard attention, Theta(N d + N^2) (every N^2 matrix makes HBM round trips):
    forward  read  e d (n + 2m) + e n m (2 + c + delta)
             write e d n + e n m (2 + c + delta) + delta n m
    backward read  e d (3n + 2m) + e n m (5 + c + delta) + delta n m
             write e d (n + 2m) + e n m (2 + c + delta)

FlashAttention, Algorithm 1 / 4 as printed, Theta(N^2 d^2 / M): with R the number of
query rows summed over the blocks computed (R = Tc n without a causal mask):
    forward  read  2 e m d + R (2 e d + 2 s)           (K, V once; Q_i, O_i, l_i, m_i per block)
             write e n d + 2 n s + R (e d + 2 s)       (initial O, l, m; O_i, l_i, m_i per block)
    backward read  2 e m d + R (4 e d + 2 s)           (K, V once; Q, O, dO, dQ, l, m per block)
             write e n d + R e d + 2 e m d             (initial dQ; dQ_i per block; dK, dV)
Since Tc ~ 4 d m / M, the R terms are ~ 4 n m d (3 e d + 4 s) / M forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.llm.attention_shape import AttentionShape

STATS_BYTES = 4
MASK_BYTES = 1


@dataclass(frozen=True)
class Cost:
    """HBM bytes read and written and FLOPs (matrix products and the rest) of a pass."""

    read: int
    write: int
    matmul_flops: int
    other_flops: int

    @property
    def bytes(self) -> int:
        return self.read + self.write

    @property
    def flops(self) -> int:
        return self.matmul_flops + self.other_flops

    def __add__(self, o: Cost) -> Cost:
        return Cost(self.read + o.read, self.write + o.write,
                    self.matmul_flops + o.matmul_flops, self.other_flops + o.other_flops)

    def times(self, k: int) -> Cost:
        return Cost(self.read * k, self.write * k, self.matmul_flops * k, self.other_flops * k)


def standard_cost(shape: AttentionShape, *, backward: bool = False,
                  dropout: bool = True) -> Cost:
    """Standard attention over all pairs (forward, plus backward if asked)."""
    n, m, d, e = shape.seq_q, shape.seq_kv, shape.head_dim, shape.bytes_per_element
    c, dl = int(shape.causal), int(dropout)
    fwd = Cost(read=e * d * (n + 2 * m) + e * n * m * (2 + c + dl),
               write=e * d * n + e * n * m * (2 + c + dl) + dl * n * m * MASK_BYTES,
               matmul_flops=4 * n * m * d,
               # scale 1, softmax 5, dropout 1 per element of S
               other_flops=n * m * (1 + 5 + dl))
    total = fwd
    if backward:
        total += Cost(read=e * d * (3 * n + 2 * m) + e * n * m * (5 + c + dl)
                      + dl * n * m * MASK_BYTES,
                      write=e * d * (n + 2 * m) + e * n * m * (2 + c + dl),
                      matmul_flops=8 * n * m * d,
                      # dropout 1, softmax backward 4 per element; dQ, dK scaled by tau
                      other_flops=n * m * (dl + 4) + n * d + m * d)
    return total.times(shape.batch * shape.heads)


@dataclass(frozen=True)
class FlashBlocks:
    br: int
    bc: int
    tr: int
    tc: int
    rows_computed: int  # R: query rows summed over computed blocks
    cols_computed: int  # key columns summed over computed blocks
    elements_computed: int  # score elements summed over computed blocks


def flash_blocks(shape: AttentionShape, sram_bytes: int) -> FlashBlocks:
    """The paper's block-size rule and the sums the IO and FLOP formulas need."""
    n, m, d = shape.seq_q, shape.seq_kv, shape.head_dim
    big_m = sram_bytes // shape.bytes_per_element
    bc = min(-(-big_m // (4 * d)), m)
    br = min(-(-big_m // (4 * d)), d, n)
    tr, tc = -(-n // br), -(-m // bc)
    if not shape.causal:
        return FlashBlocks(br, bc, tr, tc, tc * n, tr * m, n * m)
    rows = cols = elems = 0
    for i in range(tr):  # row block i sees the column blocks up to its last row
        r = min(br, n - i * br)
        last_row = i * br + r - 1
        seen_cols = min((last_row // bc + 1) * bc, m)
        rows += r * (last_row // bc + 1)
        cols += seen_cols
        elems += r * seen_cols
    return FlashBlocks(br, bc, tr, tc, rows, cols, elems)


def flash_cost(shape: AttentionShape, sram_bytes: int, *, backward: bool = False,
               dropout: bool = True) -> Cost:
    """FlashAttention (Algorithm 1, and Algorithm 4 if backward) over all pairs."""
    n, m, d, e = shape.seq_q, shape.seq_kv, shape.head_dim, shape.bytes_per_element
    s, dl = STATS_BYTES, int(dropout)
    b = flash_blocks(shape, sram_bytes)
    rr, cc, el = b.rows_computed, b.cols_computed, b.elements_computed
    fwd = Cost(read=2 * e * m * d + rr * (2 * e * d + 2 * s),
               write=e * n * d + 2 * n * s + rr * (e * d + 2 * s),
               matmul_flops=4 * el * d,
               # per score element: scale 1, online softmax 4, dropout 1; per row of a
               # block: statistics 8; per output element of a block: update 4
               other_flops=el * (1 + 4 + dl) + 8 * rr + 4 * rr * d)
    total = fwd
    if backward:
        total += Cost(read=2 * e * m * d + rr * (4 * e * d + 2 * s),
                      write=e * n * d + rr * e * d + 2 * e * m * d,
                      matmul_flops=10 * el * d,
                      # per score element: scale 1, recomputed softmax 3, dropout on P and
                      # on dP 2, dS 2; per dQ_i row element: D_i 2 + scale 1; per dK_j
                      # element: scale 1
                      other_flops=el * (1 + 3 + 2 * dl + 2) + 3 * rr * d + cc * d)
    return total.times(shape.batch * shape.heads)
