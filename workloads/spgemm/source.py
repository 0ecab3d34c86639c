"""``SpgemmSource``: the ``OpSource`` of a SpGEMM run, and the metrics it reports after it.

Stream s is produced by a numba generator (one per stream, created on first use) that writes
ops into one chunk buffer shared by all streams and yields how many it wrote, at most the
``max_ops`` asked for (emit.py); ``next_chunk`` returns a view of that buffer, valid until the
next call (the OpSource contract), so no stream holds ops between pulls beyond its generator's
own state. The generators are deterministic and independent of the order the engine pulls them
in: functional state they share (accumulators, hash tables) is rebuilt when another stream used
it in between, or, for SMASH, is only touched between two yields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from workloads.ops import OP_DTYPE, empty
from workloads.spgemm import emit
from workloads.spgemm.check import verify
from workloads.spgemm.problem import Problem

MakeGen = Callable[[int, np.ndarray, np.ndarray, np.ndarray], Iterator[int]]


class SpgemmSource:
    """Chunked op streams of one SpGEMM run (``next_chunk``), then ``metrics()``."""

    def __init__(self, n_streams: int, cap: int, make_gen: MakeGen, counters: np.ndarray,
                 prob: Problem, c_idx: np.ndarray, c_val: np.ndarray, c_done: np.ndarray,
                 info: dict[str, Any]):
        self.n_streams = n_streams
        self.cap = cap
        self._make = make_gen
        self._buf = np.zeros(cap, OP_DTYPE)
        self._ctl = np.array([cap - emit.RESERVE], np.int64)  # the generators' yield limit
        self._gens: list[Iterator[int] | None] = [None] * n_streams
        self._ended = np.zeros(n_streams, bool)
        self._left: list[np.ndarray | None] = [None] * n_streams
        self.counters = counters
        self.prob = prob
        self.c_idx, self.c_val, self.c_done = c_idx, c_val, c_done
        self.info = info
        self._metrics: dict[str, Any] | None = None

    # ------------------------------------------------------------------ OpSource
    def next_chunk(self, s: int, max_ops: int) -> np.ndarray:
        if max_ops < 1:
            raise ValueError(f"max_ops must be >= 1, got {max_ops}")
        left = self._left[s]
        if left is not None:
            chunk, rest = left[:max_ops], left[max_ops:]
            self._left[s] = rest if len(rest) else None
            return chunk
        if self._ended[s]:
            return empty(0)
        self._ctl[0] = max(0, min(max_ops, self.cap) - emit.RESERVE)
        n = self._advance(s)
        if n == 0:
            return empty(0)
        if n > max_ops:  # only when max_ops < emit.RESERVE
            self._left[s] = self._buf[max_ops:n].copy()
        return self._buf[:min(n, max_ops)]

    def _advance(self, s: int) -> int:
        g = self._gens[s]
        if g is None:
            g = self._gens[s] = self._make(s, self._buf, self._ctl, self.counters[s])
        n = next(g, 0)
        if n == 0:
            self._ended[s] = True
            self._gens[s] = None
        return n

    # ------------------------------------------------------------------ after the run
    def drain(self) -> None:
        """Generate (and discard) whatever the engine has not pulled: counters become final."""
        self._ctl[0] = self.cap - emit.RESERVE
        for s in range(self.n_streams):
            self._left[s] = None
            while not self._ended[s]:
                self._advance(s)

    def metrics(self) -> dict[str, Any]:
        """Counts, derived ratios and the check against scipy (drains unpulled streams)."""
        if self._metrics is None:
            self.drain()
            self._metrics = self._compute_metrics()
        return self._metrics

    def _compute_metrics(self) -> dict[str, Any]:
        k = self.counters
        tot = {name: int(k[:, i].sum()) for i, name in enumerate(emit.COUNTER_NAMES)}
        ops = k[:, emit.K_OPS].astype(np.float64)
        p = self.prob
        info = self.info
        banks = k[:, emit.K_BANK0:].sum(axis=0)
        mults = tot["multiplications"]
        distinct = info["input_bytes_distinct"]
        fetched = tot["in_a_bytes"] + tot["in_b_bytes"]
        m: dict[str, Any] = dict(info)
        m.update({
            "shape_a": list(p.a.shape), "shape_b": list(p.b.shape), "nnz_a": int(p.a.nnz),
            "nnz_b": int(p.b.nnz), "nnz_c_structural": p.nnz_c,
            "streams": self.n_streams,
            "ops": tot["ops"],
            "ops_by_type": {n: tot[n] for n in ("loads", "stores", "atomics", "computes",
                                                 "barriers")},
            "ops_per_thread_max": int(ops.max()) if len(ops) else 0,
            "ops_per_thread_mean": float(ops.mean()) if len(ops) else 0.0,
            "load_imbalance": float(ops.max() / ops.mean()) if len(ops) and ops.mean() else 0.0,
            "dram_load_bytes": tot["dram_load_bytes"],
            "dram_store_bytes": tot["dram_store_bytes"],
            "dram_atomics": tot["dram_atomics"],
            "dram_bytes_requested": (tot["dram_load_bytes"] + tot["dram_store_bytes"]
                                     + 8 * tot["dram_atomics"]),
            "sp_local_bytes": tot["sp_local_bytes"], "sp_remote_bytes": tot["sp_remote_bytes"],
            "sp_local_atomics": tot["sp_local_atomics"],
            "sp_remote_atomics": tot["sp_remote_atomics"],
            "sp_bank_atomics_max_over_mean": (float(banks.max() / banks.mean())
                                              if banks.sum() else 0.0),
            "input_bytes_fetched": fetched,
            "input_bytes_fetched_a": tot["in_a_bytes"],
            "input_bytes_fetched_b": tot["in_b_bytes"],
            "redundant_fetch_factor": fetched / distinct if distinct else 0.0,
            "multiplications": mults,
            "flops": 2 * mults - p.nnz_c,
            "partial_products_stored": tot["partial_products_stored"],
            "atomics": tot["atomics"],
            "hash_probes": tot["hash_probes"],
            "hash_collisions": tot["hash_collisions"],
            "compute_cycles": tot["compute_cycles"],
            "grabs": tot["grabs"],
            "units": tot["units"],
        })
        m["check"] = verify(p, self.c_idx, self.c_val, self.c_done, tot["bad"])
        return m
