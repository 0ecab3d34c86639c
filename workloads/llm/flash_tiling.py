"""FlashAttention's block sizes from the SRAM size (Dao et al. 2022, arXiv:2205.14135).

Algorithm 1 line 1: with M the on-chip SRAM size in elements, Bc = ceil(M / 4d) and
Br = min(ceil(M / 4d), d), so that K_j, V_j (2 Bc d elements) and Q_i, O_i (2 Br d) fill
it. Blocks never exceed the sequence: Bc <= seq_kv and Br <= seq_q; the last block of each
dimension is shorter when the length is not a multiple. An SRAM below 4 d elements holds
no block at all and is a user error.

Causal masking (``visible_blocks``): the reference implementation skips blocks that the
causal mask hides entirely (Algorithm 1 as printed does not); we model the skipping.
Query row r sees key columns c <= r (self-attention, seq_q == seq_kv), so block (i, j)
is computed iff its first column j*Bc is <= its last row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.head_graph import check_prefill_shape


@dataclass(frozen=True)
class FlashTiling:
    sram_elements: int  # M
    block_rows: int  # Br (clamped to seq_q)
    block_cols: int  # Bc (clamped to seq_kv)
    seq_q: int
    seq_kv: int

    @property
    def row_blocks(self) -> int:  # Tr
        return -(-self.seq_q // self.block_rows)

    @property
    def col_blocks(self) -> int:  # Tc
        return -(-self.seq_kv // self.block_cols)

    def row_sizes(self) -> np.ndarray:
        """Rows of each Q block i (the last one may be shorter)."""
        starts = np.arange(self.row_blocks, dtype=np.int64) * self.block_rows
        return np.minimum(self.block_rows, self.seq_q - starts)

    def col_sizes(self) -> np.ndarray:
        starts = np.arange(self.col_blocks, dtype=np.int64) * self.block_cols
        return np.minimum(self.block_cols, self.seq_kv - starts)

    def visible_blocks(self, causal: bool) -> tuple[np.ndarray, np.ndarray]:
        """(j, i) of the blocks computed, in Algorithm 1's order (j outer, i inner)."""
        j, i = np.meshgrid(np.arange(self.col_blocks), np.arange(self.row_blocks),
                           indexing="ij")
        j, i = j.ravel(), i.ravel()
        if causal:
            last_row = np.minimum((i + 1) * self.block_rows, self.seq_q) - 1
            keep = j * self.block_cols <= last_row
            j, i = j[keep], i[keep]
        return j.astype(np.int64), i.astype(np.int64)


def flash_tiling(shape: AttentionShape, sram_bytes: int) -> FlashTiling:
    """Block sizes of Algorithm 1 for ``shape`` with ``sram_bytes`` of SRAM per SM."""
    check_prefill_shape(shape)
    if isinstance(sram_bytes, bool) or not isinstance(sram_bytes, (int, np.integer)) \
            or sram_bytes <= 0:
        raise UserError(f"FlashAttention sram_bytes must be a positive integer, "
                        f"got {sram_bytes!r}")
    e, d = shape.bytes_per_element, shape.head_dim
    m = int(sram_bytes) // e
    if m < 4 * d:
        raise UserError(
            f"FlashAttention tile does not fit the SRAM: blocks of K, V, Q and O at "
            f"head_dim {d} need at least 4*d = {4 * d} elements ({4 * d * e} B), "
            f"available {sram_bytes} B ({m} elements of {e} B)")
    bc = -(-m // (4 * d))
    br = min(bc, d)
    return FlashTiling(m, min(br, shape.seq_q), min(bc, shape.seq_kv), shape.seq_q,
                       shape.seq_kv)
