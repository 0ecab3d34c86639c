"""FFN weights streamed from flash per token, as in "LLM in a flash" (Alizadeh et al.,
ACL 2024, arXiv 2312.11514): naive loading, windowing and row-column bundling.

Activation model (seeded, ours): each FFN neuron of a layer is active for a token with
probability ``1 - sparsity``, and activity persists: a neuron active for one token is
active for the next with probability ``persistence`` (a two-state Markov chain per neuron
whose stationary active fraction is ``1 - sparsity``; persistence = 1 - sparsity makes
tokens independent). The paper keeps the neurons active in the last ``window`` tokens in
DRAM; a token then loads only its active neurons outside that window.

Per token and layer, bytes read from flash (``load_plan``):
  * naive: every FFN weight of the layer, in one run per matrix (the paper's baseline
    loads the layer's FFN whole);
  * windowing: each newly needed neuron's up-projection row and down-projection column,
    two runs of hidden x bytes_per_element each;
  * bundling: the same neurons, row and column stored together: one run of twice that.
The fraction of neurons loaded is the mean over ``tokens`` simulated tokens after a
warm-up of ``window`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("naive", "windowing", "bundling")


@dataclass(frozen=True)
class FlashLoading:
    mode: str
    sparsity: float  # fraction of FFN neurons inactive for a token
    persistence: float  # P(active at t+1 | active at t)
    window: int  # tokens whose active neurons stay in DRAM


@dataclass(frozen=True)
class LoadPlan:
    nbytes: int  # bytes read from flash per token and layer
    run: int  # contiguous bytes per read
    active_fraction: float  # neurons the FFN computes with


def new_neuron_fraction(neurons: int, loading: FlashLoading, *, tokens: int = 64,
                        seed: int = 0) -> float:
    """Mean fraction of neurons a token must load (active now, not in the window)."""
    a = 1.0 - loading.sparsity
    # P(inactive -> active) that keeps the stationary fraction at a
    p_on = a * (1.0 - loading.persistence) / max(1e-12, 1.0 - a)
    rng = np.random.default_rng(seed)
    active = rng.random(neurons) < a
    history: list[np.ndarray] = []
    loaded = []
    for t in range(loading.window + tokens):
        if t:
            u = rng.random(neurons)
            active = np.where(active, u < loading.persistence, u < p_on)
        cached = np.zeros(neurons, bool)
        for h in history[-loading.window:] if loading.window else []:
            cached |= h
        if t >= loading.window:
            loaded.append(np.count_nonzero(active & ~cached) / neurons)
        history.append(active)
    return float(np.mean(loaded))


def load_plan(hidden: int, ffn: int, bytes_per_element: int, matrices: int,
              loading: FlashLoading, *, seed: int = 0) -> LoadPlan:
    """Flash bytes per token and layer and their run size (module docstring)."""
    row = hidden * bytes_per_element
    active = 1.0 - loading.sparsity
    if loading.mode == "naive":
        return LoadPlan(matrices * ffn * row, ffn * row, 1.0)
    frac = new_neuron_fraction(ffn, loading, seed=seed)
    neurons = max(1, round(frac * ffn))
    per_neuron = matrices * row
    run = per_neuron if loading.mode == "bundling" else row
    return LoadPlan(neurons * per_neuron, run, active)
