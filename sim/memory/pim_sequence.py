"""The all-bank command sequence of bank-level PIM: command times as a pure function.

A bank-level PIM kernel streams the same columns of every bank of a channel into the
banks' compute units. The controller drives all banks with one command at a time
(AttAcc's HBM3-PIM device model, scale-snu/attacc_simulator pim_ramulator_src/HBM3-PIM.cpp:
ACTAB, MACAB and PREA act on every bank; Samsung's HBM-PIM all-bank mode likewise
broadcasts ordinary ACT/RD/PRE commands, Lee et al., ISCA 2021):

* all-bank ACT opens the same row in every bank. It is one command, so tRRD and tFAW,
  which space ACT commands, do not apply to it; AttAcc spaces all-bank ACTs by tRC
  (ACTAB -> ACTAB) and by tRP after the precharge-all, and models the activation power
  as a longer column spacing instead (nCCDAB > nCCDL in its power-constrained presets).
  We take its unconstrained case ("NPC" presets, nCCDAB = nCCDL), the one its 16x
  internal-bandwidth figure describes.
* column commands follow tRCD after the ACT, tCCD_L apart (the banks of a bank group
  share the column path, so lockstep reads in every bank run at the long spacing); each
  delivers one column (access_bytes) per bank to that bank's unit.
* precharge-all after tRAS from the ACT and tRTP from the last column; the next row's
  ACT tRP later (and tRC after the previous ACT).

Streaming several rows repeats this per row. The last column's data is consumed by the
units CL + BURST clocks after its command (ASSUMED: the bank-to-unit path is no slower
than the read path to the pins); the channel takes ordinary commands again tRP after the
last precharge-all. Times are DRAM clocks (int). The machine's reference
(sim/reference/machine.py) calls this function; its numba kernel reimplements the same
rule (sim/kernels/machine.py) and the differential test holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.memory.dram_config import DramConfig


@dataclass(frozen=True)
class PimTiming:
    """What the sequence needs of a channel: its organisation (per channel) and timings
    (DRAM clocks)."""

    banks: int  # banks driven in lockstep (every bank of the channel, all ranks)
    column_bytes: int  # bytes one column command delivers per bank
    columns_per_row: int  # column commands per row
    rows: int  # rows per bank
    RCD: int
    RAS: int
    RP: int
    RC: int  # 0: not given (ACT-to-ACT is then bounded by tRAS + tRP alone)
    RTP: int
    CCD_L: int
    CL: int
    BURST: int

    @property
    def row_bytes(self) -> int:
        return self.columns_per_row * self.column_bytes

    @classmethod
    def from_dram(cls, dram: DramConfig) -> PimTiming:
        """The timing of one (pseudo-)channel of a DRAM preset."""
        t = dram.timing
        return cls(banks=dram.banks_per_channel, column_bytes=dram.access_bytes,
                   columns_per_row=dram.accesses_per_row, rows=dram.rows, RCD=t.RCD_RD,
                   RAS=t.RAS, RP=t.RP, RC=t.RC, RTP=t.RTP, CCD_L=t.CCD_L, CL=t.CL,
                   BURST=t.BURST)


@dataclass(frozen=True)
class PimSequence:
    """Command times (DRAM clocks) of one all-bank PIM sequence."""

    acts: np.ndarray  # all-bank ACT of each row touched
    columns: np.ndarray  # every all-bank column command, in order
    pres: np.ndarray  # precharge-all closing each row
    done: int  # the last column's data consumed by the units
    free: int  # the channel may activate again (last precharge-all + tRP)
    internal_bytes: int  # banks x columns x column_bytes read inside the channel


def columns_of(t: PimTiming, offset: int, nbytes: int) -> tuple[int, int]:
    """(first column, number of columns) that stream bytes [offset, offset + nbytes) of
    every bank; a column index counts row-major (row * columns_per_row + column)."""
    first = offset // t.column_bytes
    return first, (offset + nbytes - 1) // t.column_bytes - first + 1


def all_bank_sequence(t: PimTiming, start: int, first_column: int, n_columns: int
                      ) -> PimSequence:
    """The sequence whose first all-bank ACT is at clock ``start`` (every bank closed by
    then), reading columns first_column .. first_column + n_columns - 1 of every bank."""
    if n_columns <= 0:
        raise ValueError("a PIM sequence reads at least one column")
    if first_column < 0 or first_column + n_columns > t.rows * t.columns_per_row:
        raise ValueError("the columns run past the banks' last row")
    acts, cols, pres = [], [], []
    k, stop, act = first_column, first_column + n_columns, start
    while True:
        row_end = min(stop, (k // t.columns_per_row + 1) * t.columns_per_row)
        first = act + t.RCD
        row_cols = first + t.CCD_L * np.arange(row_end - k, dtype=np.int64)
        pre = max(act + t.RAS, int(row_cols[-1]) + t.RTP)
        acts.append(act)
        cols.append(row_cols)
        pres.append(pre)
        k = row_end
        if k == stop:
            break
        act = max(pre + t.RP, act + t.RC)
    last = int(cols[-1][-1])
    return PimSequence(
        acts=np.array(acts, np.int64), columns=np.concatenate(cols), pres=np.array(pres, np.int64),
        done=last + t.CL + t.BURST, free=pres[-1] + t.RP,
        internal_bytes=t.banks * n_columns * t.column_bytes)
