"""Synthetic op streams: random, streaming or strided accesses mixed with compute.

Each thread's stream is generated lazily in chunks from its own seeded generator
(numpy PCG64 seeded with (seed, thread)), so any number of ops holds bounded memory and
the same parameters always give the same streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from workloads import ops as O

PATTERNS = ("random", "stream", "strided")
SPACES = {"dram": O.DRAM, "scratchpad": O.SP_LOCAL, "host": O.HOST}


@dataclass(frozen=True)
class SyntheticWorkload:
    threads: int  # streams (one per hardware thread, from thread 0 up)
    ops_per_thread: int
    pattern: str = "random"
    footprint: int = 1 << 30  # bytes of the address range touched
    access_bytes: int = 8
    stride: int = 64  # strided: bytes between consecutive accesses of one thread
    load: float = 1.0  # op mix: relative weights
    store: float = 0.0
    atomic: float = 0.0
    compute: float = 0.0
    compute_cycles: int = 1
    space: str = "dram"
    cached: bool = False  # loads go through the L1 (else they bypass it)
    seed: int = 0
    chunk: int = 4096

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise UserError(f"synthetic pattern {self.pattern!r}: choose from {', '.join(PATTERNS)}")
        if self.space not in SPACES:
            raise UserError(f"synthetic space {self.space!r}: choose from {', '.join(SPACES)}")
        if self.threads < 1 or self.ops_per_thread < 0:
            raise UserError("synthetic workload needs threads >= 1 and ops_per_thread >= 0")
        if self.access_bytes < 1:
            raise UserError(f"synthetic access size must be at least 1 byte, got "
                            f"{self.access_bytes}")
        if self.stride < 1:
            raise UserError(f"synthetic stride must be at least 1 byte, got {self.stride}")
        if self.footprint < self.access_bytes:
            raise UserError(f"synthetic footprint ({self.footprint} B) must hold at least one "
                            f"access ({self.access_bytes} B)")
        w = np.array([self.load, self.store, self.atomic, self.compute], float)
        if np.any(w < 0) or w.sum() <= 0:
            raise UserError("synthetic op mix weights must be >= 0 and not all zero")

    def source(self) -> O.GeneratorStreams:
        return O.GeneratorStreams(self.threads, self._stream)

    def _stream(self, s: int) -> Iterator[np.ndarray]:
        rng = np.random.Generator(np.random.PCG64([self.seed, s]))
        w = np.array([self.load, self.store, self.atomic, self.compute], float)
        cum = np.cumsum(w / w.sum())
        slots = self.footprint // self.access_bytes
        space = SPACES[self.space]
        # per op kind (load, store, atomic, compute): tables instead of per-op branches
        op_of = np.array([O.LOAD, O.STORE, O.ATOMIC, O.COMPUTE], np.uint8)
        space_of = np.array([space, space, space, 0], np.uint8)
        size_of = np.array([self.access_bytes] * 3 + [self.compute_cycles], np.int32)
        is_mem = np.array([1, 1, 1, 0], np.int64)
        sub_of = np.array([0 if self.cached else O.FLAG_BYPASS, 0, 0, 0], np.uint8)
        done = 0
        cursor = (s * slots) // self.threads  # stream/strided: threads start spread out
        while done < self.ops_per_thread:
            n = min(self.chunk, self.ops_per_thread - done)
            kind = np.searchsorted(cum, rng.random(n), side="right").clip(0, 3)
            if self.pattern == "random":
                slot = rng.integers(0, slots, n)
            else:
                step = 1 if self.pattern == "stream" else max(1, self.stride // self.access_bytes)
                slot = (cursor + step * np.arange(n)) % slots
                cursor = int((cursor + step * n) % slots)
            chunk = np.zeros(n, O.OP_DTYPE)
            chunk["op"] = op_of[kind]
            chunk["space"] = space_of[kind]
            chunk["size"] = size_of[kind]
            chunk["addr"] = slot * self.access_bytes * is_mem[kind]
            chunk["sub"] = sub_of[kind]
            done += n
            yield chunk
