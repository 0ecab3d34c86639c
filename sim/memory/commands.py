"""DRAM command codes and the command-log record that the timing model emits."""

import numpy as np

ACT, PRE, RD, WR, REF = 0, 1, 2, 3, 4
COMMAND_NAMES = ("ACT", "PRE", "RD", "WR", "REF")
N_COMMANDS = 5

# One row per issued command. `channel` is the scheduled channel (pseudo-channels
# count as channels). REF is rank-wide: bankgroup, bank and row are -1. PRE names
# the one bank it closes.
COMMAND_LOG_DTYPE = np.dtype(
    [
        ("clk", np.int64),  # DRAM clock (tCK) at which the command is on the command bus
        ("cmd", np.int8),
        ("channel", np.int32),
        ("rank", np.int32),
        ("bankgroup", np.int32),
        ("bank", np.int32),  # bank index within its bank group
        ("row", np.int32),
    ]
)
