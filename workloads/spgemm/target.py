"""The machine shape a SpGEMM workload is generated for (no engine import: plain integers)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import UserError


@dataclass(frozen=True)
class SpgemmTarget:
    """What the workload needs to know about the machine.

    cores, threads_per_core
        One op stream per hardware thread: stream s runs on core s // threads_per_core (the
        engine's thread numbering, sim/machine/model.py).
    sp_bytes, sp_banks, sp_interleave
        Per-core scratchpad capacity, bank count and bank interleave (bytes); SMASH sizes its
        hash table from sp_bytes and reports how its atomics spread over the banks.
    line_bytes
        The memory-request granularity the streams use: a fiber is loaded as one LOAD per
        line-sized piece, never one op per element.
    dram_bytes
        DRAM capacity (all controllers); when given, a layout that does not fit is refused.
    """

    cores: int
    threads_per_core: int
    sp_bytes: int
    sp_banks: int = 16
    line_bytes: int = 64
    sp_interleave: int = 8
    dram_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("cores", "threads_per_core", "sp_bytes", "sp_banks", "line_bytes",
                     "sp_interleave"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise UserError(f"SpgemmTarget.{name} must be a positive integer, got {v!r}")
        if self.line_bytes % 16 or self.line_bytes & (self.line_bytes - 1):
            raise UserError(f"SpgemmTarget.line_bytes must be a power of two >= 16, "
                            f"got {self.line_bytes}")
        if self.dram_bytes is not None and self.dram_bytes <= 0:
            raise UserError(f"SpgemmTarget.dram_bytes must be positive, got {self.dram_bytes}")

    @property
    def threads(self) -> int:
        return self.cores * self.threads_per_core
