"""DRAM energy and average power from the command log and IDD currents.

The method is Micron's DDR4 power calculation (TN-40-07 / TN-41-01) as DRAMSim3 and
DRAMPower apply it per command. For one rank of `devices_per_rank` devices at supply VDD:

* ACT (with its PRE): VDD x (IDD0 x tRC - (IDD3N x tRAS + IDD2N x (tRC - tRAS))). IDD0 is
  measured cycling ACT-PRE on one bank every tRC; taking away the standby current that
  flows anyway (active for tRAS, precharged for the rest) leaves the activation's own charge.
* RD / WR: VDD x (IDD4R or IDD4W - IDD3N) x burst time (BURST clocks): the burst currents
  are measured with all banks open, so the current above active standby is the burst's.
* REF: VDD x (IDD5B - IDD3N) x tRFC; the rank counts as active (IDD3N) during tRFC, so the
  two parts add up to IDD5B over tRFC.
* Background: VDD x IDD3N while any bank of the rank is open (from its ACT to the PRE that
  closes the last open bank) or a refresh is running, else VDD x IDD2N, over the whole run.

Power-down, self-refresh, the VPP/IPP supply and I/O (VDDQ, termination) are not modelled;
the controller never powers a rank down. Times are whole DRAM clocks from the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config.dram_power import DramPower
from sim.memory.commands import ACT, PRE, RD, REF, WR

if TYPE_CHECKING:
    from sim.memory.dram import DramResult

COMPONENTS = ("activate", "read", "write", "refresh", "background_active",
              "background_precharged")

# columns of the raw command log (sim.memory.commands.COMMAND_LOG_DTYPE order)
_CLK, _CMD, _CH, _RANK = 0, 1, 2, 3


def rank_ids(log: np.ndarray, ranks: int) -> np.ndarray:
    """Rank number of each log row: scheduled channel x ranks + rank."""
    return log[:, _CH] * ranks + log[:, _RANK]


def active_clocks(log: np.ndarray, n_ranks: int, ranks: int, end_clk: int,
                  rfc: int) -> np.ndarray:
    """Clocks each rank spends with a bank open or refreshing, over [0, end_clk)."""
    out = np.zeros(n_ranks, np.int64)
    if len(log) == 0:
        return out
    rid = rank_ids(log, ranks)
    cmd = log[:, _CMD]
    clk = log[:, _CLK]
    # per rank, in time order (the log is written in issue order, so a stable sort by rank
    # keeps time order; sort by time too only if it is not)
    order = (np.argsort(rid, kind="stable") if np.all(clk[1:] >= clk[:-1])
             else np.lexsort((clk, rid)))
    rid, cmd, clk = rid[order], cmd[order], clk[order]
    delta = (cmd == ACT).astype(np.int64) - (cmd == PRE)
    open_after = np.cumsum(delta)
    first = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
    before = np.r_[0, open_after[first[1:] - 1]]  # running sum where each rank starts
    open_after -= np.repeat(before, np.diff(np.r_[first, len(rid)]))
    nxt = np.r_[clk[1:], end_clk]
    last = np.r_[rid[1:] != rid[:-1], True]
    nxt[last] = end_clk
    span = np.maximum(np.minimum(nxt, end_clk) - clk, 0)
    out += np.bincount(rid, weights=np.where(open_after > 0, span, 0),
                       minlength=n_ranks).astype(np.int64)
    # REF issues only with every bank of the rank closed, so its tRFC never overlaps an
    # open-bank span above
    ref = cmd == REF
    out += np.bincount(rid[ref], weights=np.clip(end_clk - clk[ref], 0, rfc),
                       minlength=n_ranks).astype(np.int64)
    return out


def command_energies_j(power: DramPower, tck_ps: int, rc: int, ras: int, burst: int,
                       rfc: int) -> dict[str, float]:
    """Energy of one ACT(+PRE), RD, WR and REF on one rank, in joules."""
    t = tck_ps * 1e-12
    v, n = power.vdd, power.devices_per_rank
    act = v * (power.idd0 * rc - (power.idd3n * ras + power.idd2n * (rc - ras))) * t * n
    return {
        "activate": act,
        "read": v * (power.idd4r - power.idd3n) * burst * t * n,
        "write": v * (power.idd4w - power.idd3n) * burst * t * n,
        "refresh": v * (power.idd5b - power.idd3n) * rfc * t * n,
    }


def energy_report(log: np.ndarray, power: DramPower, *, tck_ps: int, rc: int, ras: int,
                  burst: int, rfc: int, scheduled_channels: int, ranks: int, end_clk: int,
                  bytes_moved: int) -> dict:
    """Energy (nJ) by component, average power (mW) and energy per requested bit (pJ).

    `log` is the raw int64 command log (sim.memory.dram.RawResult.log).
    """
    counts = np.bincount(log[:, _CMD], minlength=5) if len(log) else np.zeros(5, np.int64)
    per = command_energies_j(power, tck_ps, rc, ras, burst, rfc)
    n_ranks = scheduled_channels * ranks
    active = active_clocks(log, n_ranks, ranks, end_clk, rfc)
    t = tck_ps * 1e-12
    a_clk = int(active.sum())
    p_clk = n_ranks * end_clk - a_clk
    v, n = power.vdd, power.devices_per_rank
    joules = {
        "activate": per["activate"] * int(counts[ACT]),
        "read": per["read"] * int(counts[RD]),
        "write": per["write"] * int(counts[WR]),
        "refresh": per["refresh"] * int(counts[REF]),
        "background_active": v * power.idd3n * a_clk * t * n,
        "background_precharged": v * power.idd2n * p_clk * t * n,
    }
    total = sum(joules.values())
    seconds = end_clk * t
    return {
        "total_nj": total * 1e9,
        "components_nj": {k: joules[k] * 1e9 for k in COMPONENTS},
        "average_power_mw": total / seconds * 1e3 if seconds > 0 else 0.0,
        "pj_per_bit": total / (8 * bytes_moved) * 1e12 if bytes_moved else 0.0,
        "active_fraction": a_clk / (n_ranks * end_clk) if end_clk else 0.0,
        "per_command_nj": {k: v_ * 1e9 for k, v_ in per.items()},
        "devices": n_ranks * n,
        "source": power.source,
        "estimated": power.estimated,
    }


def replay_energy(res: DramResult) -> tuple[dict | None, str]:
    """Energy of a finished run with its command log, from its preset's power: section;
    (None, why) when the preset has no currents that apply."""
    from sim.config.dram_power import power_for

    if res.raw.log is None:
        raise ValueError("energy needs the command log: simulate(..., with_log=True)")
    power, why = power_for(res.cfg)
    if power is None:
        return None, why
    cfg, t = res.cfg, res.cfg.timing
    return energy_report(res.raw.log, power, tck_ps=cfg.tck_ps, rc=t.RC, ras=t.RAS,
                         burst=t.BURST, rfc=t.RFC, scheduled_channels=cfg.scheduled_channels,
                         ranks=cfg.ranks, end_clk=res.raw.end_clk,
                         bytes_moved=res.n_requests * res.request_bytes), ""
