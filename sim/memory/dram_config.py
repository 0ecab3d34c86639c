"""Resolved DRAM configuration: every field an integer (clocks, bits, bytes, picoseconds).

The YAML loader (sim.config.memory) turns a preset file into a DramConfig; the
timing model, the SimPy reference and the JEDEC checker all read only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Field names of the address-mapping string, MSB to LSB, e.g. "ro-ch-ra-ba-bg-co"; a field
# may be split into bit ranges ("co[1:0]") and XORed with others (sim.memory.address_map).
ADDRESS_FIELDS = ("ch", "pc", "ra", "bg", "ba", "ro", "co")

STRUCTURES = ("bank_queues", "fr_fcfs")
COMMAND_QUEUES = ("per_bank", "per_rank")
PAGE_POLICIES = ("open", "closed")
REFRESH_POLICIES = ("rank_staggered", "all_bank", "none")

# Per-access field types (sim.memory.dram.Accesses): a long trace has one entry per access
# in each array, so they are as narrow as the organisation allows (sim.config.memory
# rejects organisations that do not fit); fresh memory costs about as much in page faults
# as the kernel spends on it.
UNIT_DTYPE = np.int16  # channel, rank, bank group and bank numbers
ROW_DTYPE = np.int32


@dataclass(frozen=True)
class DramTiming:
    """DRAM timings in clocks of tCK (JEDEC names without the leading t/n)."""

    CL: int
    CWL: int
    RCD_RD: int
    RCD_WR: int
    RP: int
    RAS: int
    RC: int
    CCD_S: int
    CCD_L: int
    RRD_S: int
    RRD_L: int
    FAW: int
    WR: int
    WTR_S: int
    WTR_L: int
    RTP: int
    RTRS: int
    RFC: int
    REFI: int
    BURST: int  # data-bus clocks of one column access (BL / 2 for double data rate)
    RTW: int = -1  # read-to-write on one rank; -1 derives CL + BURST - CWL + RTRS

    @property
    def read_to_write(self) -> int:
        return self.RTW if self.RTW >= 0 else self.CL + self.BURST - self.CWL + self.RTRS


@dataclass(frozen=True)
class ControllerConfig:
    structure: str = "bank_queues"  # bank_queues (DRAMSim3-like) | fr_fcfs (Ramulator-like)
    # MSB -> LSB pieces as written: whole fields ("co") or bit ranges ("co[4:2]")
    address_mapping: tuple[str, ...] = ("ro", "ch", "ra", "ba", "bg", "co")
    bank_xor: bool = False  # shorthand: XOR bank-group/bank bits with the low row bits
    # the preset's `xor:` as (target, sources) pairs, e.g. ("bg", "ro[1:0] ^ co[3]")
    xor: tuple[tuple[str, str], ...] = ()
    page_policy: str = "open"
    read_queue: int = 32
    write_queue: int = 32
    bank_queue: int = 8  # command-queue depth (bank_queues structure)
    command_queues: str = "per_bank"  # per_bank | per_rank: what one command queue serves
    write_drain_low: int = 6  # write-queue entries (resolved from a fraction)
    write_drain_high: int = 26
    refresh: str = "rank_staggered"
    row_hit_cap: int = 4  # a conflicting precharge waits for pending hits until this many
    requests_per_clock: int = 1  # replay default K


@dataclass(frozen=True)
class DramConfig:
    name: str
    standard: str
    channels: int
    pseudo_channels: int
    ranks: int
    bank_groups: int
    banks_per_group: int
    rows: int
    columns: int
    device_width: int  # bits
    bus_width: int  # bits per (pseudo-)channel
    burst_length: int  # beats
    tck_ps: int
    timing: DramTiming
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    source: str = ""
    follows: str = ""  # which reference simulator's structure this preset reproduces
    path: str = ""  # file it was loaded from, for messages

    # --- derived organisation -------------------------------------------------
    @property
    def scheduled_channels(self) -> int:
        """Independently scheduled channels: pseudo-channels count as channels."""
        return self.channels * self.pseudo_channels

    @property
    def banks_per_rank(self) -> int:
        return self.bank_groups * self.banks_per_group

    @property
    def banks_per_channel(self) -> int:
        return self.ranks * self.banks_per_rank

    @property
    def access_bytes(self) -> int:
        """Bytes moved by one column command (bus width x burst length)."""
        return self.bus_width * self.burst_length // 8

    @property
    def accesses_per_row(self) -> int:
        return self.columns // self.burst_length

    @property
    def field_bits(self) -> dict[str, int]:
        def log2(n: int) -> int:
            return n.bit_length() - 1

        return {
            "ch": log2(self.channels),
            "pc": log2(self.pseudo_channels),
            "ra": log2(self.ranks),
            "bg": log2(self.bank_groups),
            "ba": log2(self.banks_per_group),
            "ro": log2(self.rows),
            "co": log2(self.accesses_per_row),
        }

    @property
    def capacity_bytes(self) -> int:
        return (
            self.scheduled_channels * self.banks_per_channel * self.rows
            * self.accesses_per_row * self.access_bytes
        )

    @property
    def peak_bytes_per_s(self) -> float:
        # one access of access_bytes every BURST clocks on every scheduled channel
        return self.scheduled_channels * self.access_bytes / (self.timing.BURST * self.tck_ps * 1e-12)
