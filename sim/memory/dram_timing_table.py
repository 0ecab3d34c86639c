"""DRAM timing constraints as data: (scope, earlier command, later command, gap, category).

Modelled on Ramulator 2's declarative constraint lists and DRAMSim3's timing.cc
(which our validation presets reproduce). The gap is an expression over
DramTiming field names; it is evaluated once per configuration and compiled into
a dense array for the kernels. The category says which wait a violated-until
constraint represents; it feeds the latency breakdown ("why is my read slow?").

Scopes: same_bank; same_bankgroup (other banks of the bank group);
other_bankgroup (same rank); other_rank (same channel).
"""

from __future__ import annotations

import numpy as np

from sim.memory.dram_config import DramTiming

SCOPES = ("same_bank", "same_bankgroup", "other_bankgroup", "other_rank")

# Ready-time entries kept per bank / bank group / rank: (command, category).
ENTRIES = (
    ("ACT", "row"),  # 0: same-bank tRC / tRP
    ("ACT", "window"),  # 1: tRRD (tFAW is tracked separately)
    ("ACT", "refresh"),  # 2: tRFC after REF
    ("PRE", "row"),  # 3: tRAS, tRTP, write recovery
    ("RD", "row"),  # 4: tRCD
    ("RD", "bus"),  # 5: tCCD, same direction
    ("RD", "turnaround"),  # 6: write-to-read, rank switch
    ("WR", "row"),  # 7
    ("WR", "bus"),  # 8
    ("WR", "turnaround"),  # 9
)
N_ENTRIES = len(ENTRIES)
ENTRY_INDEX = {e: i for i, e in enumerate(ENTRIES)}

# (scope, earlier, later, gap expression, category)
CONSTRAINTS = (
    ("same_bank", "ACT", "ACT", "RC", "row"),
    ("same_bank", "ACT", "RD", "RCD_RD", "row"),
    ("same_bank", "ACT", "WR", "RCD_WR", "row"),
    ("same_bank", "ACT", "PRE", "RAS", "row"),
    ("same_bank", "PRE", "ACT", "RP", "row"),
    ("same_bank", "RD", "PRE", "RTP", "row"),
    ("same_bank", "WR", "PRE", "CWL + BURST + WR", "row"),
    ("same_bank", "RD", "RD", "max(BURST, CCD_L)", "bus"),
    ("same_bank", "WR", "WR", "max(BURST, CCD_L)", "bus"),
    ("same_bank", "RD", "WR", "read_to_write", "turnaround"),
    ("same_bank", "WR", "RD", "CWL + BURST + WTR_L", "turnaround"),
    ("same_bankgroup", "ACT", "ACT", "RRD_L", "window"),
    ("same_bankgroup", "RD", "RD", "max(BURST, CCD_L)", "bus"),
    ("same_bankgroup", "WR", "WR", "max(BURST, CCD_L)", "bus"),
    ("same_bankgroup", "RD", "WR", "read_to_write", "turnaround"),
    ("same_bankgroup", "WR", "RD", "CWL + BURST + WTR_L", "turnaround"),
    ("other_bankgroup", "ACT", "ACT", "RRD_S", "window"),
    ("other_bankgroup", "RD", "RD", "max(BURST, CCD_S)", "bus"),
    ("other_bankgroup", "WR", "WR", "max(BURST, CCD_S)", "bus"),
    ("other_bankgroup", "RD", "WR", "read_to_write", "turnaround"),
    ("other_bankgroup", "WR", "RD", "CWL + BURST + WTR_S", "turnaround"),
    ("other_rank", "RD", "RD", "BURST + RTRS", "turnaround"),
    ("other_rank", "WR", "WR", "BURST + RTRS", "turnaround"),
    ("other_rank", "RD", "WR", "CL + BURST + RTRS - CWL", "turnaround"),
    ("other_rank", "WR", "RD", "max(0, CWL + BURST + RTRS - CL)", "turnaround"),
)

COMMANDS = ("ACT", "PRE", "RD", "WR", "REF")


def _names(t: DramTiming) -> dict[str, int]:
    names = {k: getattr(t, k) for k in t.__dataclass_fields__}
    names["read_to_write"] = t.read_to_write
    names["max"] = max
    return names


def compile_table(t: DramTiming) -> np.ndarray:
    """Dense int64 array [scope, earlier command, entry] of gaps; -1 where no constraint."""
    table = np.full((len(SCOPES), len(COMMANDS), N_ENTRIES), -1, dtype=np.int64)
    names = _names(t)
    for scope, earlier, later, expr, category in CONSTRAINTS:
        gap = int(eval(expr, {"__builtins__": {}}, names))  # expressions are our own table
        s, x, e = SCOPES.index(scope), COMMANDS.index(earlier), ENTRY_INDEX[(later, category)]
        table[s, x, e] = max(table[s, x, e], gap)
    return table
