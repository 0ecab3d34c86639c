"""Op streams: what one hardware thread (or engine) executes, as numpy structured arrays.

A workload emits one stream per hardware thread; the engine consumes them in chunks, so a
run of billions of ops holds bounded memory (see ``OpSource``). The semantics of every op
is specified in sim/machine/model.py.

Fields of ``OP_DTYPE`` (unused fields are 0):

=======  =========  =============================================================
field    type       meaning
=======  =========  =============================================================
op       uint8      LOAD, STORE, ATOMIC, COMPUTE, DMA, WAIT, BARRIER, PIM
space    uint8      memory ops: SP_LOCAL, SP_REMOTE, DRAM, HOST; DMA: source space;
                    PIM: DRAM (bank-level PIM in the channel of addr)
sub      uint8      ATOMIC: ATOMIC_ADD/CAS/MIN, | FLAG_POSTED (posted: the thread
                    does not wait for the result); BARRIER: SCOPE_CORE/DIE/MACHINE;
                    LOAD: FLAG_BYPASS (skip the L1); DMA: destination space
core     int32      SP_REMOTE: the core whose scratchpad is addressed (global index);
                    DMA: the destination core for a scratchpad destination
size     int32      bytes of a memory op or DMA element; COMPUTE: core cycles;
                    PIM: bytes each bank of the channel streams to its unit
addr     int64      byte address in its space (scratchpad offset, global DRAM/host address;
                    PIM: its channel, and the row and column every bank starts at)
addr2    int64      DMA: destination address
count    int32      DMA: number of elements (1 = one contiguous copy of ``size`` bytes)
stride   int32      DMA: source stride in bytes between elements (gather when > size)
stride2  int32      DMA: destination stride in bytes (scatter when > size)
handle   int32      DMA: the handle it signals; WAIT: the handle waited for;
                    BARRIER: barrier id (all participants must name the same id)
=======  =========  =============================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from sim.errors import UserError

OP_DTYPE = np.dtype([
    ("op", np.uint8), ("space", np.uint8), ("sub", np.uint8), ("core", np.int32),
    ("size", np.int32), ("addr", np.int64), ("addr2", np.int64), ("count", np.int32),
    ("stride", np.int32), ("stride2", np.int32), ("handle", np.int32),
])

# op codes
LOAD, STORE, ATOMIC, COMPUTE, DMA, WAIT, BARRIER, PIM = range(8)
OP_NAMES = ("LOAD", "STORE", "ATOMIC", "COMPUTE", "DMA", "WAIT", "BARRIER", "PIM")
# memory spaces
SP_LOCAL, SP_REMOTE, DRAM, HOST = range(4)
SPACE_NAMES = ("sp_local", "sp_remote", "dram", "host")
# ATOMIC sub-ops (the same codes as sim.memory.sram's ATOMIC_* minus 2)
ATOMIC_ADD, ATOMIC_CAS, ATOMIC_MIN = range(3)
# ATOMIC flag: the low 2 bits of sub are the kind, this bit posts it (sim/machine/model.py)
FLAG_POSTED = 16
# BARRIER scopes
SCOPE_CORE, SCOPE_DIE, SCOPE_MACHINE = range(3)
SCOPE_NAMES = ("core", "die", "machine")
# LOAD flags
FLAG_BYPASS = 1


def empty(n: int) -> np.ndarray:
    return np.zeros(n, OP_DTYPE)


# ----------------------------------------------------------------------------- builders
def load(addr: int, size: int = 8, space: int = DRAM, core: int = 0, bypass: bool = False):
    return (LOAD, space, FLAG_BYPASS if bypass else 0, core, size, addr, 0, 0, 0, 0, 0)


def store(addr: int, size: int = 8, space: int = DRAM, core: int = 0):
    return (STORE, space, 0, core, size, addr, 0, 0, 0, 0, 0)


def atomic(addr: int, kind: int = ATOMIC_ADD, space: int = DRAM, core: int = 0):
    return (ATOMIC, space, kind, core, 8, addr, 0, 0, 0, 0, 0)


def compute(cycles: int):
    return (COMPUTE, 0, 0, 0, cycles, 0, 0, 0, 0, 0, 0)


def dma(src_space: int, src: int, dst_space: int, dst: int, size: int, handle: int,
        count: int = 1, stride: int = 0, stride2: int = 0, dst_core: int = 0):
    return (DMA, src_space, dst_space, dst_core, size, src, dst, count,
            stride or size, stride2 or size, handle)


def wait(handle: int):
    return (WAIT, 0, 0, 0, 0, 0, 0, 0, 0, 0, handle)


def barrier(scope: int = SCOPE_MACHINE, barrier_id: int = 0):
    return (BARRIER, 0, scope, 0, 0, 0, 0, 0, 0, 0, barrier_id)


def pim(addr: int, bytes_per_bank: int):
    """Bank-level PIM: every bank of addr's channel streams bytes_per_bank from addr's
    row and column to its compute unit (sim/machine/model.py)."""
    return (PIM, DRAM, 0, 0, bytes_per_bank, addr, 0, 0, 0, 0, 0)


def stream(ops: Sequence[tuple]) -> np.ndarray:
    """An op stream from builder tuples, e.g. ``stream([load(0), compute(4)])``."""
    return np.array(list(ops), OP_DTYPE)


# ----------------------------------------------------------------------------- sources
class OpSource(Protocol):
    """Streams handed to the engine: ``n_streams`` streams, read in chunks.

    ``next_chunk(s, max_ops)`` returns the next at most ``max_ops`` ops of stream s (an
    ``OP_DTYPE`` array); an empty array means the stream has ended. The chunk may be a view
    of a buffer the source reuses: it is valid until the next ``next_chunk`` call, so a
    consumer copies what it keeps. The engine asks again only after it has consumed the
    previous chunk, so a source never needs more than one chunk per stream in memory.
    """

    n_streams: int

    def next_chunk(self, s: int, max_ops: int) -> np.ndarray: ...


class ArrayStreams:
    """Streams already in memory (one array per stream), e.g. loaded from .npz."""

    def __init__(self, streams: Sequence[np.ndarray]):
        self.streams = [np.asarray(s) for s in streams]
        for i, s in enumerate(self.streams):
            if s.dtype != OP_DTYPE:
                raise UserError(f"stream {i}: dtype {s.dtype} is not the op-stream dtype")
        self.n_streams = len(self.streams)
        self._pos = [0] * self.n_streams

    def next_chunk(self, s: int, max_ops: int) -> np.ndarray:
        p = self._pos[s]
        chunk = self.streams[s][p:p + max_ops]
        self._pos[s] = p + len(chunk)
        return chunk

    def total_ops(self) -> int:
        return sum(len(s) for s in self.streams)


class GeneratorStreams:
    """Streams produced lazily: ``make(s)`` returns an iterator of chunks for stream s."""

    def __init__(self, n_streams: int, make):
        self.n_streams = n_streams
        self._make = make
        self._iters: list[Iterator[np.ndarray] | None] = [None] * n_streams
        self._buf: list[np.ndarray] = [empty(0)] * n_streams

    def next_chunk(self, s: int, max_ops: int) -> np.ndarray:
        if self._iters[s] is None:
            self._iters[s] = iter(self._make(s))
        buf = self._buf[s]
        while len(buf) == 0:
            nxt = next(self._iters[s], None)
            if nxt is None:
                return empty(0)
            buf = np.asarray(nxt, OP_DTYPE)
        self._buf[s] = buf[max_ops:]
        return buf[:max_ops]


# ----------------------------------------------------------------------------- files
def save_streams(path: str | Path, streams: Sequence[np.ndarray]) -> None:
    """Save streams to .npz: all ops concatenated plus stream offsets."""
    lengths = np.array([len(s) for s in streams], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ops = np.concatenate([np.asarray(s, OP_DTYPE) for s in streams]) if streams else empty(0)
    np.savez_compressed(path, ops=ops, offsets=offsets, format_version=np.int64(1))


def load_streams(path: str | Path) -> ArrayStreams:
    """Load streams saved by ``save_streams`` (or by any tool writing the same layout)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            if "ops" not in z or "offsets" not in z:
                raise UserError(f"{p}: not an op-stream file (needs arrays 'ops' and 'offsets')")
            ops, offsets = z["ops"], z["offsets"]
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"{p}: cannot read op streams: {e}") from None
    if ops.dtype != OP_DTYPE:
        try:
            ops = ops.astype(OP_DTYPE)
        except (TypeError, ValueError):
            raise UserError(f"{p}: 'ops' has dtype {ops.dtype}, expected {OP_DTYPE}") from None
    offsets = np.asarray(offsets, np.int64)
    if (offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ops)
            or np.any(np.diff(offsets) < 0)):
        raise UserError(f"{p}: 'offsets' must rise from 0 to the number of ops ({len(ops)})")
    return ArrayStreams([ops[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)])
