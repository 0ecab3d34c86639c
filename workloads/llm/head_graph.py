"""Attention graphs built from one (batch, head) template per kernel, replicated with numpy.

Every (batch, head) pair of an attention kernel runs the same task pattern; only its HBM
addresses differ. A generator therefore describes one pair's tasks once (a
``HeadTemplate``, built with ``TemplateBuilder`` from numpy arrays), and
``assemble_kernels`` turns a sequence of kernels into one TaskGraph:

- granularity "tile": every kernel is its template repeated for each pair (pair k runs on
  place k mod places, its HBM addresses moved by k times the template's per-pair step);
- granularity "kernel": every kernel is P = min(pairs, 8) independent chains
  load -> compute -> store, chain p carrying the bytes and FLOPs of the pairs k with
  k mod P == p, so byte totals per memory and FLOPs equal the tile graph's exactly.

Consecutive kernels are separated by a zero-FLOP join task ("<label>.sync") that depends
on the previous kernel's sinks and that the next kernel's sources depend on, so no task
carries a dependency list that grows with the square of anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from workloads.llm.attention_costs import MEMORIES, TENSOR_UNIT
from workloads.llm.taskgraph import (
    COMPUTE,
    TASK_DTYPE,
    TRANSFER,
    TaskGraph,
    csr_sinks,
    csr_sources,
)

GRANULARITIES = ("tile", "kernel")
MAX_KERNEL_CHAINS = 8  # chains per kernel at kernel granularity: enough to overlap phases
HBM, SRAM = MEMORIES.index("hbm"), MEMORIES.index("sram")
HBM_ALIGN = 4096  # tensors start on a page boundary, as a caching allocator would place them


@dataclass
class HeadTemplate:
    """One (batch, head) pair's tasks of one kernel; ``label`` names the whole kernel."""

    tasks: np.ndarray  # TASK_DTYPE; label indexes the generator's label list
    dep_ptr: np.ndarray
    dep_idx: np.ndarray
    src_step: np.ndarray  # int64: per-pair move of src_addr
    dst_step: np.ndarray  # int64: per-pair move of dst_addr
    label: int

    @property
    def n(self) -> int:
        return len(self.tasks)

    def sinks(self) -> np.ndarray:
        return csr_sinks(self.n, self.dep_idx)

    def sources(self) -> np.ndarray:
        return csr_sources(self.dep_ptr)

    def totals(self) -> tuple[int, int, int]:
        """(bytes HBM -> SRAM, bytes SRAM -> HBM, FLOPs) of one pair."""
        t = self.tasks
        tr = t["kind"] == TRANSFER
        load = int(t["nbytes"][tr & (t["src"] == HBM)].sum())
        store = int(t["nbytes"][tr & (t["dst"] == HBM)].sum())
        return load, store, int(t["flops"][~tr].sum())

    def main_chunk(self, src: int) -> int:
        """The access shape of the transfer from ``src`` that moves the most bytes."""
        t = self.tasks
        m = (t["kind"] == TRANSFER) & (t["src"] == src)
        if not m.any():
            return 1
        i = np.flatnonzero(m)[np.argmax(t["nbytes"][m])]
        return int(t["chunk"][i])


class TemplateBuilder:
    """Fills a template of ``n`` tasks by index; dependencies are given as index arrays."""

    def __init__(self, n: int, label: int):
        self.tasks = np.zeros(n, TASK_DTYPE)
        self.tasks["src"] = self.tasks["dst"] = self.tasks["unit"] = -1
        self.tasks["place"] = -1
        self.src_step = np.zeros(n, np.int64)
        self.dst_step = np.zeros(n, np.int64)
        self.label = label
        self._owners: list[np.ndarray] = []
        self._deps: list[np.ndarray] = []

    def transfer(self, idx, *, load: bool, nbytes, hbm_addr, hbm_step: int, sram_addr,
                 label: int) -> None:
        """HBM -> SRAM (load) or SRAM -> HBM (store) transfers at positions ``idx``."""
        t = self.tasks
        t["kind"][idx] = TRANSFER
        t["src"][idx], t["dst"][idx] = (HBM, SRAM) if load else (SRAM, HBM)
        t["nbytes"][idx] = nbytes
        t["chunk"][idx] = nbytes  # blocks are contiguous rows of a (pair, row, col) tensor
        t["label"][idx] = label
        if load:
            t["src_addr"][idx], t["dst_addr"][idx] = hbm_addr, sram_addr
            self.src_step[idx] = hbm_step
        else:
            t["src_addr"][idx], t["dst_addr"][idx] = sram_addr, hbm_addr
            self.dst_step[idx] = hbm_step

    def compute(self, idx, flops, label: int) -> None:
        t = self.tasks
        t["kind"][idx] = COMPUTE
        t["unit"][idx] = 0
        t["flops"][idx] = flops
        t["label"][idx] = label

    def dep(self, owners, deps) -> None:
        """owners[k] depends on deps[k] (arrays broadcast; entries with dep < 0 are dropped)."""
        o, d = np.broadcast_arrays(np.asarray(owners, np.int64), np.asarray(deps, np.int64))
        keep = d >= 0
        self._owners.append(o[keep].ravel())
        self._deps.append(d[keep].ravel())

    def build(self) -> HeadTemplate:
        n = len(self.tasks)
        if np.any(self.tasks["kind"][self.tasks["nbytes"] == 0] == TRANSFER):
            raise ValueError("template has an unset or empty transfer")
        o = np.concatenate(self._owners) if self._owners else np.zeros(0, np.int64)
        d = np.concatenate(self._deps) if self._deps else np.zeros(0, np.int64)
        order = np.lexsort((d, o))
        o, d = o[order], d[order]
        dep_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(o, minlength=n), out=dep_ptr[1:])
        return HeadTemplate(self.tasks, dep_ptr, d.astype(np.int32), self.src_step,
                            self.dst_step, self.label)


class HbmLayout:
    """Places tensors in HBM one after another; each holds ``pairs`` equal per-pair slices."""

    def __init__(self, pairs: int):
        self.pairs = pairs
        self.top = 0
        self.regions: dict[str, tuple[int, int]] = {}

    def tensor(self, name: str, per_pair_bytes: int) -> tuple[int, int]:
        """(base address, per-pair step) of tensor ``name``, allocating it on first use."""
        if name not in self.regions:
            self.regions[name] = (self.top, per_pair_bytes)
            size = per_pair_bytes * self.pairs
            self.top += -(-size // HBM_ALIGN) * HBM_ALIGN
        return self.regions[name]


def check_granularity(granularity: str, places: int) -> None:
    if granularity not in GRANULARITIES:
        raise UserError(f"granularity must be one of {', '.join(GRANULARITIES)}, "
                        f"got {granularity!r}")
    if isinstance(places, bool) or not isinstance(places, int) or places < 1:
        raise UserError(f"places must be a positive integer, got {places!r}")


def _tile_kernel(tmpl: HeadTemplate, pairs: int, places: int, base: int,
                 after: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The template repeated for each pair; returns tasks, dep counts, dep ids, sink ids."""
    n = tmpl.n
    tasks = np.tile(tmpl.tasks, pairs)
    k = np.repeat(np.arange(pairs, dtype=np.int64), n)
    tasks["place"] = k % places
    tasks["src_addr"] += k * np.tile(tmpl.src_step, pairs)
    tasks["dst_addr"] += k * np.tile(tmpl.dst_step, pairs)
    own_counts = np.diff(tmpl.dep_ptr)
    counts = own_counts.copy()
    is_src = own_counts == 0
    if after >= 0:
        counts[is_src] = 1  # a source of the kernel waits for the join before it
    start = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    # one pair's dependency list (ids of the first pair), then tiled over the pairs
    one = np.empty(start[-1], np.int64)
    owner = np.repeat(np.arange(n), own_counts)
    one[start[owner] + np.arange(len(tmpl.dep_idx)) - tmpl.dep_ptr[owner]] = \
        tmpl.dep_idx + base
    is_join = np.zeros(len(one), bool)
    if after >= 0:
        is_join[start[:-1][is_src]] = True
    offs = (np.arange(pairs, dtype=np.int64) * n)[:, None]
    all_deps = one[None, :] + offs
    all_deps[:, is_join] = after
    sinks = (tmpl.sinks()[None, :] + base + offs).ravel()
    return tasks, np.tile(counts, pairs), all_deps.ravel(), sinks


def assemble_kernels(kernels: Sequence[HeadTemplate], *, pairs: int, granularity: str,
                     places: int, labels: Sequence[str], sync_label: str) -> TaskGraph:
    """Kernels in sequence, each over ``pairs`` (batch, head) pairs, joined by sync tasks."""
    labels = list(labels)
    if sync_label not in labels:
        labels.append(sync_label)
    sync_lab = labels.index(sync_label)
    parts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    deps: list[np.ndarray] = []
    base, after = 0, -1
    prev_sinks = np.zeros(0, np.int64)
    for kn, tmpl in enumerate(kernels):
        if kn > 0:  # the join: depends on every sink of the previous kernel
            sync = np.zeros(1, TASK_DTYPE)
            sync["kind"], sync["unit"], sync["label"] = COMPUTE, 0, sync_lab
            sync["src"] = sync["dst"] = sync["place"] = -1
            parts.append(sync)
            counts.append(np.array([len(prev_sinks)], np.int64))
            deps.append(np.sort(prev_sinks))
            after, base = base, base + 1
        if granularity == "tile":
            t, c, d, prev_sinks = _tile_kernel(tmpl, pairs, places, base, after)
        else:
            t, c, d, prev_sinks = _chain_kernel(tmpl, pairs, places, base, after)
        parts.append(t)
        counts.append(c)
        deps.append(d)
        base += len(t)
    tasks = np.concatenate(parts)
    dep_ptr = np.zeros(len(tasks) + 1, np.int64)
    np.cumsum(np.concatenate(counts), out=dep_ptr[1:])
    g = TaskGraph(tasks, dep_ptr, np.concatenate(deps).astype(np.int32), MEMORIES,
                  (TENSOR_UNIT,), tuple(labels))
    g.validate()
    return g


def _chain_kernel(tmpl: HeadTemplate, pairs: int, places: int, base: int,
                  after: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P = min(pairs, 8) chains load -> compute -> store carrying the pairs' totals."""
    load, store, flops = tmpl.totals()
    chains = min(pairs, MAX_KERNEL_CHAINS)
    per_chain = np.bincount(np.arange(pairs) % chains, minlength=chains).astype(np.int64)
    steps = [s for s, amount in (("load", load), ("compute", 1), ("store", store)) if amount]
    tasks = np.zeros(chains * len(steps), TASK_DTYPE)
    tasks["src"] = tasks["dst"] = tasks["unit"] = -1
    tasks["label"] = tmpl.label
    counts, deps = [], []
    for p in range(chains):
        for s, step in enumerate(steps):
            i = p * len(steps) + s
            row = tasks[i:i + 1]
            row["place"] = p % places
            if step == "compute":
                row["kind"], row["unit"], row["flops"] = COMPUTE, 0, per_chain[p] * flops
            else:
                src, dst = (HBM, SRAM) if step == "load" else (SRAM, HBM)
                row["kind"], row["src"], row["dst"] = TRANSFER, src, dst
                row["nbytes"] = per_chain[p] * (load if step == "load" else store)
                row["chunk"] = min(tmpl.main_chunk(src), int(row["nbytes"][0]))
            if s > 0:
                counts.append(1)
                deps.append(base + i - 1)
            elif after >= 0:
                counts.append(1)
                deps.append(after)
            else:
                counts.append(0)
    sinks = base + np.arange(chains, dtype=np.int64) * len(steps) + len(steps) - 1
    return tasks, np.array(counts, np.int64), np.array(deps, np.int64), sinks


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise UserError(f"attention {name} must be a positive integer, got {v!r}")
    return int(v)


def check_prefill_shape(shape) -> None:
    """Reject shapes the prefill / training generators cannot model (one line, UserError)."""
    for name in ("batch", "heads", "seq_q", "seq_kv", "head_dim", "bytes_per_element"):
        _positive_int(name, getattr(shape, name))
    if isinstance(shape.kv_heads, bool) or not isinstance(shape.kv_heads, (int, np.integer)) \
            or shape.kv_heads < 0:
        raise UserError(f"attention kv_heads must be 0 (same as heads) or positive, "
                        f"got {shape.kv_heads!r}")
    if shape.n_kv_heads != shape.heads:
        raise UserError(f"prefill/training attention models multi-head attention only: "
                        f"kv_heads ({shape.n_kv_heads}) must equal heads ({shape.heads})")
    if shape.causal and shape.seq_q != shape.seq_kv:
        raise UserError(f"causal prefill attention is self-attention: seq_q ({shape.seq_q}) "
                        f"must equal seq_kv ({shape.seq_kv})")
