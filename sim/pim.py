"""A processing-in-memory (PIM) unit as the transfer level sees it: hw_configs/pim/*.yaml resolved.

Two kinds sit in an HBM stack. Bank-level PIM ("bank") puts compute units in the DRAM dies,
beside each bank or bank group, so they read every bank at once and see a multiple of the
stack's external bandwidth (Samsung HBM-PIM, SK hynix AiM, AttAcc, Duplex's Bank-PIM).
Logic-die PIM ("logic") puts them on the HBM base die, fed through more TSVs than the
external interface needs (Duplex's Logic-PIM). A unit is described by how much internal
bandwidth it sees (a multiple of the stack's) and how many FLOP it sustains per internal
byte; sim/config/pim.py loads it, citing every number. The request level models the
bank-level all-bank command sequence itself (sim/memory/pim_sequence.py, docs/pim.md).
"""

from __future__ import annotations

from dataclasses import dataclass

PIM_KINDS = ("bank", "logic")
UNITS_PER = ("bank", "bank_group", "stack")


@dataclass(frozen=True)
class PimSpec:
    name: str
    kind: str  # "bank" (in the DRAM dies, per bank or bank group) or "logic" (on the base die)
    bandwidth_multiple: int  # internal bandwidth as a multiple of the stack's external one
    flops_per_byte: float  # FLOP per internal byte the units sustain (their balance point)
    units_per: str  # "bank" | "bank_group" | "stack": where the compute units sit
    latency_ps: int  # launch-to-first-data latency of a PIM kernel
    memory_preset: str  # the DRAM preset (hw_configs/memory) whose timings the request level uses
    source: str = ""
    path: str = ""

    def internal_bytes_per_s(self, stack_bytes_per_s: int) -> int:
        """Bytes per second the units read inside stacks whose external peak is given."""
        return self.bandwidth_multiple * stack_bytes_per_s

    def flops_per_s(self, stack_bytes_per_s: int) -> int:
        """FLOP/s of the units: internal bandwidth x FLOP per byte (rounded to a whole FLOP/s)."""
        return round(self.internal_bytes_per_s(stack_bytes_per_s) * self.flops_per_byte)
