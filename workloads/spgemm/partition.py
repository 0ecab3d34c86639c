"""Work partitioning across threads, as per-thread segment lists the kernels walk.

A thread's stream is its list of segments, in order: a work segment (units [lo, hi) of a
phase, optionally preceded by a grab: an ATOMIC fetch-add on a DRAM counter) or a barrier.

Modes (``PARTITIONS``)
    rows     contiguous blocks of equal unit counts.
    nnz      contiguous blocks of equal nonzero weight (the dataflow's weight per unit, e.g.
             the nonzeros of A's row), so long fibers are not piled on one thread.
    dynamic  a work queue: each grab of ``grain`` units is an ATOMIC fetch-add on the phase's
             DRAM counter, and every thread makes one last grab that finds the queue empty.
             Op streams cannot depend on simulated time, so which thread gets which grab is
             decided here by list scheduling: the next grab goes to the thread whose
             estimated work so far (sum of the dataflow's per-unit op estimate) is least
             (ties: lowest thread). This is the assignment a queue yields when run times
             follow the estimate.
For queues separated by barriers (SMASH's windows, one per core), ``assign`` takes the work
each thread got in earlier windows: dynamic ties and the order in which static blocks are
handed out follow it (least loaded first), so the same thread is not always served first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

PARTITIONS = ("rows", "nnz", "dynamic")
WORK0, WORK1, BAR_CORE, BAR_MACHINE = 0, 1, 2, 3
GRAB_COST = 4.0  # estimated ops of one grab, for the list scheduling


@dataclass
class Segments:
    ptr: np.ndarray   # int64[threads + 1]
    kind: np.ndarray  # int64: WORK0, WORK1, BAR_CORE, BAR_MACHINE
    lo: np.ndarray
    hi: np.ndarray
    ctr: np.ndarray   # DRAM address of the grab counter, -1 = no grab
    arg: np.ndarray   # barrier id


class SegmentBuilder:
    def __init__(self, threads: int):
        self.per: list[list[tuple[int, int, int, int, int]]] = [[] for _ in range(threads)]

    def work(self, t: int, kind: int, lo: int, hi: int, ctr: int = -1) -> None:
        if hi > lo or ctr >= 0:
            self.per[t].append((kind, lo, hi, ctr, 0))

    def barrier(self, t: int, kind: int, bid: int) -> None:
        self.per[t].append((kind, 0, 0, -1, bid))

    def build(self) -> Segments:
        lens = np.array([len(p) for p in self.per], np.int64)
        ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        flat = [s for p in self.per for s in p]
        arr = np.array(flat, np.int64).reshape(-1, 5)
        return Segments(ptr, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(),
                        arr[:, 3].copy(), arr[:, 4].copy())


def static_bounds(weights: np.ndarray, parts: int) -> np.ndarray:
    """parts+1 boundaries splitting len(weights) units into contiguous equal-weight blocks."""
    cum = np.concatenate([[0.0], np.cumsum(weights, dtype=np.float64)])
    targets = cum[-1] * np.arange(parts + 1) / parts
    b = np.searchsorted(cum, targets, side="left")
    b[0], b[-1] = 0, len(weights)
    return np.maximum.accumulate(b)


def dynamic_grabs(costs: np.ndarray, workers: int, grain: int,
                  prior: np.ndarray | None = None) -> list[list[tuple[int, int]]]:
    """Grabs of ``grain`` units by list scheduling (see the module docstring).

    ``prior`` (estimated work each worker did before this queue) only breaks ties, so
    barrier-separated queues (SMASH windows) do not all favour the same thread."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(workers)]
    pri = np.zeros(workers) if prior is None else prior
    heap = [(0.0, float(pri[w]), w) for w in range(workers)]
    heapq.heapify(heap)
    cum = np.concatenate([[0.0], np.cumsum(costs, dtype=np.float64)])
    n = len(costs)
    for lo in range(0, n, grain):
        hi = min(n, lo + grain)
        t, tp, w = heapq.heappop(heap)
        out[w].append((lo, hi))
        c = cum[hi] - cum[lo] + GRAB_COST
        heapq.heappush(heap, (t + c, tp + c, w))
    return out


def assign(sb: SegmentBuilder, threads: list[int], kind: int, lo: int, hi: int, mode: str,
           weights: np.ndarray, costs: np.ndarray, grain: int, ctr: int,
           load: np.ndarray | None = None) -> None:
    """Add segments giving units [lo, hi) to ``threads`` under ``mode``.

    weights/costs are indexed by unit - lo (length hi - lo). ``load`` (per position in
    ``threads``), when given, is the estimated work already assigned; it is updated, and
    static blocks go to the least-loaded threads first (ties: list order)."""
    w = len(threads)
    if mode == "dynamic":
        grabs = dynamic_grabs(costs, w, grain, load)
        cum = np.concatenate([[0.0], np.cumsum(costs, dtype=np.float64)])
        for r, (t, gl) in enumerate(zip(threads, grabs, strict=True)):
            for g_lo, g_hi in gl:
                sb.work(t, kind, lo + g_lo, lo + g_hi, ctr)
                if load is not None:
                    load[r] += cum[g_hi] - cum[g_lo] + GRAB_COST
            sb.work(t, kind, hi, hi, ctr)  # the grab that finds the queue empty
        return
    wts = np.ones(hi - lo) if mode == "rows" else weights
    b = static_bounds(wts, w)
    order = range(w) if load is None else np.argsort(load, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(costs, dtype=np.float64)])
    for blk, r in enumerate(order):
        sb.work(threads[r], kind, lo + int(b[blk]), lo + int(b[blk + 1]))
        if load is not None:
            load[r] += cum[b[blk + 1]] - cum[b[blk]]
