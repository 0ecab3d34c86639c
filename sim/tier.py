"""Memory tiers beyond an xPU's HBM, and the PIM units inside it, as a system sees them.

A ``TierSpec`` is one more place data can live: host DRAM behind a link, a DDR tier wired
to the chip (SambaNova SN40L), an SSD, or a computational storage drive. It is resolved
from the ``tiers:`` section of an xPU preset (sim/config/tier.py) and becomes rows of the
transfer level's platform (sim/transfer/platform.py). A ``PimUnit`` names a PIM preset
(hw_configs/pim) placed in the xPU's HBM stacks.

Integers only: bytes, bytes/s, ps, FLOP/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIER_KINDS = ("dram", "flash")


@dataclass(frozen=True)
class TierSpec:
    name: str  # what placements call it ("host", "ssd", "ddr", "csd")
    kind: str  # "dram" (a DRAM preset x channels) or "flash" (a storage preset x devices)
    preset: str  # memory preset (dram) or storage preset (flash), as written
    devices: int  # DRAM channels or SSDs, striped
    capacity_bytes: int
    latency_ps: int  # the device's own access latency (the link's is added)
    link: Any = None  # sim.memory.link.LinkSpec the tier sits behind; None: wired directly
    queue_depth: int = 0  # flash: requests the host keeps outstanding per device
    compute_flops_per_s: int = 0  # > 0: compute beside the tier (host CPU, in-storage units)
    source: str = ""

    @property
    def has_compute(self) -> bool:
        return self.compute_flops_per_s > 0


@dataclass(frozen=True)
class PimUnit:
    name: str  # the unit's name in placements ("logic_pim", "bank_pim")
    spec: Any  # sim.pim.PimSpec
