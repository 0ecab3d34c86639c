"""The DRAM address space of a SpGEMM run: named arrays at fixed, aligned base addresses.

Regions are placed in the order they are added, from address 0, each aligned to ``ALIGN``
bytes (so a region starts on a line and on its own DRAM page). Sizes are exact byte counts;
``end`` is the footprint. ``bases()`` gives the ``lay`` array the kernels index with
``emit.L_*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import UserError
from workloads.spgemm.emit import LAY_NAMES, N_LAY

ALIGN = 4096


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int
    elem_bytes: int

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass
class DramLayout:
    regions: dict[str, Region] = field(default_factory=dict)
    end: int = 0

    def add(self, name: str, count: int, elem_bytes: int) -> Region:
        if name not in LAY_NAMES:
            raise ValueError(f"unknown region {name}")
        base = -(-self.end // ALIGN) * ALIGN
        r = Region(name, base, int(count) * elem_bytes, elem_bytes)
        self.regions[name] = r
        self.end = r.end
        return r

    def bases(self) -> np.ndarray:
        lay = np.full(N_LAY, -1, np.int64)
        for r in self.regions.values():
            lay[LAY_NAMES.index(r.name)] = r.base
        return lay

    def check_fits(self, dram_bytes: int | None, what: str) -> None:
        if dram_bytes is not None and self.end > dram_bytes:
            big = sorted(self.regions.values(), key=lambda r: -r.size)[:3]
            parts = ", ".join(f"{r.name} {r.size:,} B" for r in big)
            raise UserError(f"{what}: the DRAM layout needs {self.end:,} B but the target has "
                            f"{dram_bytes:,} B (largest: {parts})")

    def describe(self) -> dict[str, dict[str, int]]:
        return {r.name: {"base": r.base, "bytes": r.size, "elem_bytes": r.elem_bytes}
                for r in self.regions.values()}
