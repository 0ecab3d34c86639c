"""Which experts a mixture-of-experts layer sends its tokens to: a seeded stand-in router.

A trained router's choices depend on the data; for traffic and FLOPs only how many tokens
each expert receives matters. Here every token picks ``top_k`` distinct experts, drawn
without replacement with probabilities proportional to a popularity vector:

    popularity of the expert of rank r (1 = most popular) = r ** -skew

``skew`` = 0 is a uniform router (what the load-balancing loss aims for); larger values
concentrate tokens on a few experts, Zipf-like. Which expert gets which rank is a seeded
permutation. Sampling uses the Gumbel-top-k trick (Kool et al. 2019, "Stochastic Beams and
Where to Find Them", ICML): the k largest of log(p) + Gumbel noise are a draw of k items
without replacement, each draw proportional to p among the items left (here in the
equivalent form: the k smallest of E / p, E exponential).

Deterministic: the same arguments and seed give the same routing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Seed = int | Sequence[int]


def expert_popularity(experts: int, skew: float, rng: np.random.Generator,
                      layers: int = 1) -> np.ndarray:
    """Per layer, probabilities (summing to 1) of each expert; shape (layers, experts).

    Ranks are assigned by a random permutation per layer (the argsort of uniform draws).
    """
    if experts < 1:
        raise ValueError(f"experts must be >= 1, got {experts}")
    if skew < 0:
        raise ValueError(f"skew must be >= 0, got {skew}")
    weight = np.arange(1, experts + 1, dtype=np.float64) ** -float(skew)
    p = weight[np.argsort(rng.random((layers, experts)), axis=1)]
    return p / p.sum(axis=1, keepdims=True)


def route_tokens(tokens: int, experts: int, top_k: int, *, skew: float = 0.0,
                 seed: Seed = 0, layers: int | None = None) -> np.ndarray:
    """Expert ids chosen by each token: shape (tokens, top_k), or (layers, tokens, top_k).

    Each layer has its own popularity permutation and its own draws; a token's top_k
    experts are distinct.
    """
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    if not 1 <= top_k <= experts:
        raise ValueError(f"top_k must be in [1, experts = {experts}], got {top_k}")
    rng = np.random.default_rng(seed)
    n_layers = 1 if layers is None else layers
    p = expert_popularity(experts, skew, rng, n_layers)
    # Gumbel-top-k without logarithms: with E ~ Exp(1), -log E is a standard Gumbel, so
    # the k largest log p - log E are the k smallest E / p
    keys = rng.standard_exponential((n_layers, tokens, experts)) / p[:, None, :]
    chosen = np.argpartition(keys, top_k - 1, axis=-1)[..., :top_k] if top_k < experts \
        else np.broadcast_to(np.arange(experts), keys.shape).copy()
    chosen = np.sort(chosen, axis=-1)  # the order of a token's experts carries no meaning
    return chosen[0] if layers is None else chosen


def tokens_per_expert(chosen: np.ndarray, experts: int) -> np.ndarray:
    """How many tokens each expert receives: shape (experts,) or (layers, experts)."""
    if chosen.ndim == 2:
        return np.bincount(chosen.ravel(), minlength=experts).astype(np.int64)
    flat = chosen.reshape(chosen.shape[0], -1)
    offsets = (np.arange(flat.shape[0]) * experts)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * experts)
    return counts.reshape(flat.shape[0], experts).astype(np.int64)
