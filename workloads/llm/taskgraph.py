"""Task graphs: the one workload description that both engine levels run.

A task either moves bytes between two named memories (TRANSFER) or does floating-point
work on a named compute unit (COMPUTE), after the tasks it depends on. The graph holds no
hardware numbers: which resource serves a task and how long it takes is decided by the
engine that runs it (sim/transfer for the transfer level, sim/llm_machine for the request
level), so one graph runs on either.

Storage is structure-of-arrays: ``tasks`` is a numpy structured array (``TASK_DTYPE``),
dependencies are CSR (``dep_ptr``, ``dep_idx``: task i depends on
``dep_idx[dep_ptr[i]:dep_ptr[i+1]]``, every one of them < i, so the task order is a
topological order). Names of memories, units and labels are small lists the int16 fields
index.

Fields of ``TASK_DTYPE``:

=========  ======  ===================================================================
field      type    meaning
=========  ======  ===================================================================
kind       uint8   TRANSFER or COMPUTE
src        int16   TRANSFER: source memory (index into ``memories``); else -1
dst        int16   TRANSFER: destination memory; else -1
unit       int16   COMPUTE: compute unit (index into ``units``); else -1
label      int16   what the task is for (index into ``labels``, e.g. "attn.qk")
place      int32   request level: the core (SM) that runs it; -1 = no preference
nbytes     int64   TRANSFER: bytes moved (> 0)
chunk      int64   TRANSFER: contiguous bytes per run (the access shape); runs of
                   ``chunk`` bytes, the last one shorter if nbytes is not a multiple
stride     int64   TRANSFER: source distance between consecutive runs (0: contiguous,
                   i.e. equal to chunk)
src_addr   int64   TRANSFER: byte address of the first run in the source memory
dst_addr   int64   TRANSFER: byte address in the destination memory (contiguous)
flops      int64   COMPUTE: floating-point operations (>= 0)
=========  ======  ===================================================================

Addresses matter only at the request level; model-scale graphs may leave them 0 and
describe the access shape by ``chunk`` alone (e.g. a paged KV read: nbytes = all blocks,
chunk = one block's bytes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TRANSFER, COMPUTE = 0, 1
KIND_NAMES = ("transfer", "compute")

TASK_DTYPE = np.dtype([
    ("kind", np.uint8), ("src", np.int16), ("dst", np.int16), ("unit", np.int16),
    ("label", np.int16), ("place", np.int32), ("nbytes", np.int64), ("chunk", np.int64),
    ("stride", np.int64), ("src_addr", np.int64), ("dst_addr", np.int64),
    ("flops", np.int64),
])


def csr_sinks(n: int, dep_idx: np.ndarray) -> np.ndarray:
    """Of n tasks with CSR dependencies, those nobody depends on (ascending ids)."""
    used = np.zeros(n, bool)
    used[dep_idx] = True
    return np.flatnonzero(~used)


def csr_sources(dep_ptr: np.ndarray) -> np.ndarray:
    """Tasks without dependencies (ascending ids)."""
    return np.flatnonzero(np.diff(dep_ptr) == 0)


@dataclass
class TaskGraph:
    """Tasks in topological order with CSR dependencies (see the module docstring)."""

    tasks: np.ndarray
    dep_ptr: np.ndarray  # int64, n + 1
    dep_idx: np.ndarray  # int32
    memories: tuple[str, ...]
    units: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.tasks)

    def deps_of(self, i: int) -> np.ndarray:
        return self.dep_idx[self.dep_ptr[i]:self.dep_ptr[i + 1]]

    def sinks(self) -> np.ndarray:
        """Tasks nobody depends on (ascending ids)."""
        return csr_sinks(self.n, self.dep_idx)

    def sources(self) -> np.ndarray:
        """Tasks without dependencies (ascending ids)."""
        return csr_sources(self.dep_ptr)

    def total_flops(self) -> int:
        return int(self.tasks["flops"][self.tasks["kind"] == COMPUTE].sum())

    def bytes_between(self, src: str | None = None, dst: str | None = None) -> int:
        """Bytes moved from memory ``src`` to ``dst`` (None: any)."""
        t = self.tasks
        m = t["kind"] == TRANSFER
        if src is not None:
            m &= t["src"] == self.memories.index(src) if src in self.memories else False
        if dst is not None:
            m &= t["dst"] == self.memories.index(dst) if dst in self.memories else False
        return int(t["nbytes"][m].sum())

    def bytes_read(self, memory: str) -> int:
        return self.bytes_between(src=memory)

    def bytes_written(self, memory: str) -> int:
        return self.bytes_between(dst=memory)

    def validate(self) -> None:
        """Raise ValueError if the arrays break the format (a programming error)."""
        t = self.tasks
        if t.dtype != TASK_DTYPE:
            raise ValueError(f"tasks have dtype {t.dtype}, expected TASK_DTYPE")
        if len(self.dep_ptr) != self.n + 1 or self.dep_ptr[0] != 0 or \
                self.dep_ptr[-1] != len(self.dep_idx) or np.any(np.diff(self.dep_ptr) < 0):
            raise ValueError("dep_ptr must rise from 0 to len(dep_idx) over n + 1 entries")
        owner = np.repeat(np.arange(self.n), np.diff(self.dep_ptr))
        if np.any(self.dep_idx < 0) or np.any(self.dep_idx >= owner):
            raise ValueError("a task depends on itself or on a later task")
        tr = t["kind"] == TRANSFER
        if np.any(t["kind"] > COMPUTE):
            raise ValueError("unknown task kind")
        if np.any(t["nbytes"][tr] <= 0) or np.any(t["chunk"][tr] <= 0):
            raise ValueError("a transfer needs nbytes > 0 and chunk > 0")
        if np.any(t["src"][tr] < 0) or np.any(t["src"][tr] >= len(self.memories)) or \
                np.any(t["dst"][tr] < 0) or np.any(t["dst"][tr] >= len(self.memories)):
            raise ValueError("a transfer names a memory that is not in the graph")
        if np.any(t["flops"][~tr] < 0) or np.any(t["unit"][~tr] < 0) or \
                np.any(t["unit"][~tr] >= len(self.units)):
            raise ValueError("a compute task needs flops >= 0 and a unit in the graph")

    def repeat(self, k: int) -> TaskGraph:
        """k copies in sequence: every source of copy j+1 depends on every sink of copy j."""
        if k < 1:
            raise ValueError("repeat needs k >= 1")
        n, m = self.n, len(self.dep_idx)
        src_ids, sink_ids = self.sources(), self.sinks()
        counts = np.diff(self.dep_ptr).copy()
        extra = np.zeros(n, np.int64)
        extra[src_ids] = len(sink_ids)
        per_copy = counts + extra  # dependency count of each task in copies 1..k-1
        lens = np.concatenate([counts] + [per_copy] * (k - 1))
        dep_ptr = np.zeros(n * k + 1, np.int64)
        np.cumsum(lens, out=dep_ptr[1:])
        dep_idx = np.empty(dep_ptr[-1], np.int32)
        dep_idx[:m] = self.dep_idx
        # one copy's dependency list, ids relative to the copy's first task: the sinks of
        # the previous copy (offset -n) first, then its own dependencies
        rel = np.empty(m + len(src_ids) * len(sink_ids), np.int64)
        rel_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(per_copy, out=rel_ptr[1:])
        is_src = extra > 0
        for i in range(n):  # one pass over one copy; copies are then tiled with numpy
            a = rel_ptr[i]
            if is_src[i]:
                rel[a:a + len(sink_ids)] = sink_ids - n
                a += len(sink_ids)
            own = self.dep_idx[self.dep_ptr[i]:self.dep_ptr[i + 1]]
            rel[a:a + len(own)] = own
        if k > 1:
            offs = (np.arange(1, k, dtype=np.int64) * n)[:, None]
            dep_idx[m:] = (rel[None, :] + offs).ravel()
        return TaskGraph(_tiled(self.tasks, k), dep_ptr, dep_idx, self.memories, self.units,
                         self.labels)


def _tiled(a: np.ndarray, k: int) -> np.ndarray:
    """k copies of ``a`` end to end, by doubling block copies (np.tile takes a slow path
    for structured arrays)."""
    out = np.empty(len(a) * k, a.dtype)
    out[:len(a)] = a
    filled = len(a)
    while filled < len(out):
        c = min(filled, len(out) - filled)
        out[filled:filled + c] = out[:c]
        filled += c
    return out


class TaskGraphBuilder:
    """Builds a TaskGraph task by task; ids are returned in creation (topological) order."""

    def __init__(self, memories: Sequence[str] = (), units: Sequence[str] = ()):
        self._memories: list[str] = list(memories)
        self._units: list[str] = list(units)
        self._labels: list[str] = []
        self._rows: list[tuple] = []
        self._deps: list[int] = []
        self._ptr: list[int] = [0]

    def _index(self, names: list[str], name: str) -> int:
        if name not in names:
            names.append(name)
        return names.index(name)

    def _add(self, row: tuple, deps: Iterable[int]) -> int:
        i = len(self._rows)
        for d in deps:
            d = int(d)
            if not 0 <= d < i:
                raise ValueError(f"task {i} cannot depend on task {d}")
            self._deps.append(d)
        self._rows.append(row)
        self._ptr.append(len(self._deps))
        return i

    def transfer(self, src: str, dst: str, nbytes: int, *, chunk: int | None = None,
                 deps: Iterable[int] = (), label: str = "", place: int = -1,
                 src_addr: int = 0, dst_addr: int = 0, stride: int = 0) -> int:
        """Move ``nbytes`` from memory ``src`` to ``dst`` in runs of ``chunk`` bytes."""
        if nbytes <= 0:
            raise ValueError(f"a transfer moves a positive number of bytes, got {nbytes}")
        chunk = nbytes if chunk is None else chunk
        if chunk <= 0:
            raise ValueError(f"chunk must be positive, got {chunk}")
        row = (TRANSFER, self._index(self._memories, src), self._index(self._memories, dst),
               -1, self._index(self._labels, label), place, nbytes, chunk, stride,
               src_addr, dst_addr, 0)
        return self._add(row, deps)

    def compute(self, unit: str, flops: int, *, deps: Iterable[int] = (), label: str = "",
                place: int = -1) -> int:
        """Do ``flops`` floating-point operations on ``unit``."""
        if flops < 0:
            raise ValueError(f"flops must be >= 0, got {flops}")
        row = (COMPUTE, -1, -1, self._index(self._units, unit), self._index(self._labels, label),
               place, 0, 0, 0, 0, 0, flops)
        return self._add(row, deps)

    def add_graph(self, g: TaskGraph, deps: Iterable[int] = (),
                  outside: Mapping[int, Iterable[int]] | None = None) -> np.ndarray:
        """Append ``g``; its sources also depend on ``deps``. ``outside``: task i of ``g``
        depends on the builder's tasks ``outside[i]`` instead (a source) or as well.
        Returns the new ids of g's sinks."""
        base = len(self._rows)
        deps = [int(d) for d in deps]
        outside = {int(i): [int(d) for d in ds] for i, ds in (outside or {}).items()}
        mem = [self._index(self._memories, m) for m in g.memories]
        uni = [self._index(self._units, u) for u in g.units]
        lab = [self._index(self._labels, lb) for lb in g.labels]
        for i, t in enumerate(g.tasks):
            row = list(t.tolist())
            if row[0] == TRANSFER:
                row[1], row[2] = mem[row[1]], mem[row[2]]
            else:
                row[3] = uni[row[3]]
            row[4] = lab[row[4]]
            own = (g.dep_idx[g.dep_ptr[i]:g.dep_ptr[i + 1]] + base).tolist()
            extra = outside.get(i, deps if len(own) == 0 else [])
            self._add(tuple(row), extra + own)
        return g.sinks() + base

    def __len__(self) -> int:
        return len(self._rows)

    def build(self) -> TaskGraph:
        tasks = np.array(self._rows, TASK_DTYPE) if self._rows else np.zeros(0, TASK_DTYPE)
        g = TaskGraph(tasks, np.array(self._ptr, np.int64), np.array(self._deps, np.int32),
                      tuple(self._memories), tuple(self._units), tuple(self._labels or [""]))
        g.validate()
        return g


def concat(graphs: Sequence[TaskGraph], chain: bool = True) -> TaskGraph:
    """Graphs one after another (chain: each graph's sources wait for the previous sinks)."""
    b = TaskGraphBuilder()
    prev: np.ndarray = np.zeros(0, np.int64)
    for g in graphs:
        sinks = b.add_graph(g, prev if chain else ())
        prev = sinks
    return b.build()
