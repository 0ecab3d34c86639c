"""A transformer's shape: what the model YAML files (workloads/models/*.yaml) resolve to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One decoder-only transformer, as counted by the task-graph generators.

    All sizes are integers; ``bytes_per_element`` is the storage width of weights and
    activations (2 for FP16/BF16). ``experts`` is 1 for a dense FFN.
    """

    name: str
    layers: int
    hidden: int  # d_model
    heads: int  # query heads
    kv_heads: int  # key/value heads (== heads: MHA; 1: MQA; otherwise GQA)
    head_dim: int
    ffn: int  # FFN intermediate size (per expert for MoE)
    ffn_matrices: int  # 3 for gated FFNs (SwiGLU: gate, up, down), 2 for plain (up, down)
    experts: int  # FFN experts per layer (1: dense)
    top_k: int  # experts per token (1 for dense)
    vocab: int
    max_context: int  # the longest context the model supports (tokens)
    bytes_per_element: int
    tied_embeddings: bool = False  # the LM head shares the token embedding (OPT)
    source: str = ""
    path: str = ""

    @property
    def group_size(self) -> int:
        """Query heads per KV head (1 for MHA)."""
        return self.heads // self.kv_heads

    @property
    def attention_type(self) -> str:
        if self.kv_heads == self.heads:
            return "MHA"
        return "MQA" if self.kv_heads == 1 else "GQA"

    def kv_bytes_per_token(self, kv_bits: int | None = None) -> int:
        """K and V of one token over all layers (kv_bits: a quantised cache's width)."""
        bits = kv_bits if kv_bits is not None else 8 * self.bytes_per_element
        return 2 * self.layers * self.kv_heads * self.head_dim * bits // 8

    def attention_weights(self) -> int:
        """Elements of Wq, Wk, Wv and Wo in one layer."""
        q = self.hidden * self.heads * self.head_dim
        kv = 2 * self.hidden * self.kv_heads * self.head_dim
        return q + kv + self.heads * self.head_dim * self.hidden

    def ffn_weights(self) -> int:
        """Elements of one layer's FFN (all experts, plus the router for MoE)."""
        router = self.hidden * self.experts if self.experts > 1 else 0
        return self.experts * self.ffn_matrices * self.hidden * self.ffn + router

    def parameters(self) -> int:
        """Weights of the layers plus embeddings and LM head (norms left out)."""
        embeddings = (1 if self.tied_embeddings else 2) * self.vocab * self.hidden
        return self.layers * (self.attention_weights() + self.ffn_weights()) + embeddings
