"""The shape of one attention computation, shared by every attention generator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttentionShape:
    """Q is (batch, heads, seq_q, head_dim); K and V are (batch, kv_heads, seq_kv, head_dim).

    ``kv_heads`` divides ``heads`` (MHA: equal; GQA: fewer; MQA: 1). ``causal`` masks the
    upper triangle (prefill); decode has seq_q = 1 and no mask.
    """

    batch: int
    heads: int
    seq_q: int
    seq_kv: int
    head_dim: int
    kv_heads: int = 0  # 0: same as heads
    bytes_per_element: int = 2
    causal: bool = False

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def group_size(self) -> int:
        return self.heads // self.n_kv_heads
