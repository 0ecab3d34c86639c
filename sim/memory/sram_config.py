"""Resolved scratchpad SRAM configuration (integers: bytes, clocks, picoseconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtomicUnitConfig:
    latency: int  # clocks from issue to result for one atomic (fetch-add, CAS, min)
    ops_per_clock: int  # atomics the unit can start per clock (pipelined throughput)


@dataclass(frozen=True)
class SramConfig:
    name: str
    size_bytes: int  # power of two
    banks: int  # power of two
    bank_interleave_bytes: int  # consecutive addresses rotate across banks at this granularity
    clock_ps: int  # SRAM clock period
    latency: int  # clocks from a bank accepting an access to its data
    bytes_per_clock_per_port: int  # each bank port moves this many bytes per clock
    ports_per_bank: int  # accesses one bank can start per clock
    atomic: AtomicUnitConfig
    source: str = ""
    path: str = ""
