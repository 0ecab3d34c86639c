"""Independent JEDEC timing checker for DRAM command logs.

Given a command log (``COMMAND_LOG_DTYPE``, sorted by clk) and a ``DramConfig``,
``check_command_log`` reports every command that breaks a DRAM timing or
bank-state rule. It is written from the rules of the standard (DDR4/HBM as
parameterised by DRAMSim3), not from the timing model, so that it can serve as
the model's outside check.

All gaps are in clocks of tCK and are measured between the clk of a later
command and the clk of an earlier one on the same (scheduled) channel.

Rules (rule name: constraint)

``cmd_bus``  at most one command per channel per clock.
``state``    ACT only to a closed bank; RD/WR only to an open bank and its open
             row; PRE only to an open bank; REF only when every bank of the rank
             is closed. REF changes no bank state. A PRE to a closed bank is
             reported and otherwise ignored (it affects no later timing).
Same bank:
``tRCD_RD``  ACT -> RD  >= RCD_RD
``tRCD_WR``  ACT -> WR  >= RCD_WR
``tRAS``     ACT -> PRE >= RAS
``tRC``      ACT -> ACT >= RC
``tRP``      PRE -> ACT >= RP          (also PRE of any bank -> REF of its rank)
``tRTP``     RD  -> PRE >= RTP
``tWR``      WR  -> PRE >= CWL + BURST + WR
Same rank, same bank group:
``tCCD_L``   RD -> RD, WR -> WR >= max(BURST, CCD_L)
``tRRD_L``   ACT -> ACT (another bank) >= RRD_L
``tWTR_L``   WR -> RD >= CWL + BURST + WTR_L
Same rank, another bank group:
``tCCD_S``   RD -> RD, WR -> WR >= max(BURST, CCD_S)
``tRRD_S``   ACT -> ACT >= RRD_S
``tWTR_S``   WR -> RD >= CWL + BURST + WTR_S
Same rank, any bank:
``tRTW``     RD -> WR >= timing.read_to_write
``tFAW``     an ACT is >= FAW after the 4th previous ACT of its rank
Another rank of the same channel:
``tRTRS``    RD -> RD, WR -> WR >= BURST + RTRS;
             RD -> WR >= CL + BURST + RTRS - CWL;  WR -> RD >= CWL + BURST + RTRS - CL
             (each clamped at >= 0)
Data bus:
``data_bus`` read data occupies [clk + CL, clk + CL + BURST), write data
             [clk + CWL, clk + CWL + BURST); no two bursts of a channel overlap.
             Reported gap: the command gap needed for the later burst to start
             when the earlier one ends.
Refresh:
``tRFC``     REF -> ACT and REF -> REF of one rank >= RFC
``tREFI``    (only when controller.refresh != "none") consecutive REFs of a rank
             are at most 9 x REFI apart, the first at most 9 x REFI after
             ``start_clk``; at the end of the log every rank of every channel
             must have refreshed within the last 9 x REFI (reported with
             index -1). This is an upper bound: ``actual <= required``.

Why "the most recent earlier command" suffices: every rule is a lower bound
``later.clk - earlier.clk >= g`` with one g for a whole class of earlier
commands (same bank, same bank group, other bank groups of the rank, other
ranks, ...). Within a class the most recent earlier command has the smallest
gap, so it violates whenever any does. The checker therefore keeps, per class,
the last command: per bank (ACT, PRE, RD, WR), per bank group (RD, WR),
per bank group the last two ACTs to distinct banks (for "another bank"),
per rank the last two RD/WR/ACT in distinct bank groups (for "another bank
group"), per channel the last two RD/WR in distinct ranks (for "another rank"),
the last four ACTs per rank (tFAW) and the last REF and PRE per rank. The data
bus keeps the bursts that can still overlap a future burst. At most one
violation is reported per command, rule and class, naming the most recent
conflicting command.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from sim.memory.commands import ACT, COMMAND_NAMES, PRE, RD, REF, WR
from sim.memory.dram_config import DramConfig

__all__ = ["Violation", "check_command_log", "summarize", "RULES"]

RULES = (
    "cmd_bus", "state",
    "tRCD_RD", "tRCD_WR", "tRAS", "tRC", "tRP", "tRTP", "tWR",
    "tCCD_L", "tCCD_S", "tRRD_L", "tRRD_S", "tWTR_L", "tWTR_S", "tRTW", "tFAW",
    "tRTRS", "data_bus", "tRFC", "tREFI",
)

REFRESH_POSTPONE_LIMIT = 9  # JEDEC: up to 8 REFs may be postponed -> gap <= 9 x tREFI

_NEVER = -(1 << 62)  # clk of "no such earlier command": every lower-bound gap passes


@dataclass(frozen=True)
class Violation:
    """One broken rule: command ``index`` (clk ``clk``) against ``earlier_index``.

    ``required`` and ``actual`` are clock gaps ``clk - earlier_clk``. For lower
    bounds (``bound == ">="``) actual < required; for the refresh cadence
    (``bound == "<="``) actual > required. State violations have
    ``bound == ""`` and explain themselves in ``detail``. ``index == -1`` is the
    end of the log (a missing command); ``earlier_index == -1`` is the start.
    """

    rule: str
    index: int
    earlier_index: int
    clk: int
    earlier_clk: int
    required: int
    actual: int
    bound: str = ">="
    command: str = ""  # e.g. "RD ch0 ra1 bg2 ba3 row 17"
    earlier_command: str = ""
    detail: str = ""

    def __str__(self) -> str:
        me = f"#{self.index} {self.command} @{self.clk}" if self.index >= 0 else (
            f"end of log @{self.clk}")
        if self.earlier_index >= 0:
            other = f"#{self.earlier_index} {self.earlier_command} @{self.earlier_clk}"
        else:
            other = f"start @{self.earlier_clk}"
        if self.bound == ">=":
            text = f"{self.actual} clk after {other}, needs >= {self.required}"
        elif self.bound == "<=":
            text = f"{self.actual} clk after {other}, allowed <= {self.required}"
        else:
            text = self.detail + (f" (last: {other})" if self.earlier_index >= 0 else "")
        if self.detail and self.bound:
            text += f" [{self.detail}]"
        return f"{self.rule}: {me}: {text}"


def summarize(violations: list[Violation]) -> dict[str, int]:
    """Count violations by rule name, in RULES order."""
    counts = Counter(v.rule for v in violations)
    return {rule: counts[rule] for rule in RULES if counts[rule]} | {
        rule: n for rule, n in counts.items() if rule not in RULES
    }


def _validate(log: np.ndarray, cfg: DramConfig) -> None:
    names = ("clk", "cmd", "channel", "rank", "bankgroup", "bank", "row")
    if log.dtype.names is None or any(n not in log.dtype.names for n in names):
        raise ValueError(f"command log must have fields {names}, got {log.dtype}")
    if log.ndim != 1:
        raise ValueError(f"command log must be one-dimensional, got shape {log.shape}")
    if len(log) == 0:
        return

    def first_bad(mask: np.ndarray, what: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(f"command log row {i}: {what} (row = {log[i]})")

    clk = log["clk"]
    first_bad(np.r_[False, clk[1:] < clk[:-1]], "clk decreases: the log must be sorted by clk")
    cmd = log["cmd"]
    first_bad((cmd < 0) | (cmd > REF), "unknown command code")
    ch = log["channel"]
    first_bad((ch < 0) | (ch >= cfg.scheduled_channels),
              f"channel outside 0..{cfg.scheduled_channels - 1}")
    first_bad((log["rank"] < 0) | (log["rank"] >= cfg.ranks), f"rank outside 0..{cfg.ranks - 1}")
    banked = cmd != REF
    bg, ba, row = log["bankgroup"], log["bank"], log["row"]
    first_bad(banked & ((bg < 0) | (bg >= cfg.bank_groups)),
              f"bank group outside 0..{cfg.bank_groups - 1}")
    first_bad(banked & ((ba < 0) | (ba >= cfg.banks_per_group)),
              f"bank outside 0..{cfg.banks_per_group - 1}")
    first_bad(((cmd == ACT) | (cmd == RD) | (cmd == WR)) & ((row < 0) | (row >= cfg.rows)),
              f"row outside 0..{cfg.rows - 1}")


def check_command_log(log: np.ndarray, cfg: DramConfig, *, start_clk: int = 0) -> list[Violation]:
    """Return every timing / state violation in ``log`` (see the module docstring).

    ``log`` is a structured array of ``COMMAND_LOG_DTYPE`` sorted by clk;
    ``start_clk`` is the clock at which the memory started (for the first REF
    deadline). Raises ValueError for a malformed log (unsorted, fields out of range).
    """
    _validate(log, cfg)
    n = len(log)
    if n == 0:
        return []
    t = cfg.timing
    B = t.BURST
    R, NBG, NBA = cfg.ranks, cfg.bank_groups, cfg.banks_per_group

    # required gaps
    g_rcd_rd, g_rcd_wr, g_ras, g_rc, g_rp, g_rtp = t.RCD_RD, t.RCD_WR, t.RAS, t.RC, t.RP, t.RTP
    g_wr = t.CWL + B + t.WR
    g_ccd_l, g_ccd_s = max(B, t.CCD_L), max(B, t.CCD_S)
    g_rrd_l, g_rrd_s, g_faw = t.RRD_L, t.RRD_S, t.FAW
    g_wtr_l, g_wtr_s = t.CWL + B + t.WTR_L, t.CWL + B + t.WTR_S
    g_rtw = t.read_to_write
    g_rtrs_same = max(0, B + t.RTRS)
    g_rtrs_rw = max(0, t.CL + B + t.RTRS - t.CWL)
    g_rtrs_wr = max(0, t.CWL + B + t.RTRS - t.CL)
    g_rfc = t.RFC
    refresh_on = cfg.controller.refresh != "none"
    g_refi = REFRESH_POSTPONE_LIMIT * t.REFI
    CL, CWL = t.CL, t.CWL
    min_lat = min(CL, CWL)

    # flat ids, vectorised
    clks = log["clk"].astype(np.int64).tolist()
    cmds = log["cmd"].astype(np.int64).tolist()
    ch_a = log["channel"].astype(np.int64)
    rk_a = ch_a * R + log["rank"]
    is_ref = log["cmd"] == REF
    lbg_a = np.where(is_ref, 0, log["bankgroup"]).astype(np.int64)
    lba_a = np.where(is_ref, 0, log["bank"]).astype(np.int64)
    bg_a = rk_a * NBG + lbg_a
    bk_a = bg_a * NBA + lba_a
    chs, rks, lrs = ch_a.tolist(), rk_a.tolist(), log["rank"].astype(np.int64).tolist()
    bgs, lbgs, bks, lbas = bg_a.tolist(), lbg_a.tolist(), bk_a.tolist(), lba_a.tolist()
    rows = log["row"].astype(np.int64).tolist()

    n_ch = cfg.scheduled_channels
    n_rk = n_ch * R
    n_bg = n_rk * NBG
    n_bk = n_bg * NBA

    # per channel
    ch_last_clk = [_NEVER] * n_ch
    ch_last_idx = [-1] * n_ch
    # "last two in distinct ranks" trackers: key1 (local rank), clk1, idx1, clk2, idx2
    crd_k, crd_c1, crd_i1, crd_c2, crd_i2 = [-1] * n_ch, [_NEVER] * n_ch, [-1] * n_ch, [_NEVER] * n_ch, [-1] * n_ch
    cwr_k, cwr_c1, cwr_i1, cwr_c2, cwr_i2 = [-1] * n_ch, [_NEVER] * n_ch, [-1] * n_ch, [_NEVER] * n_ch, [-1] * n_ch
    # data bus: live bursts per channel, reads and writes apart (each sorted by start)
    rd_bursts = [deque() for _ in range(n_ch)]  # (start, end, idx)
    wr_bursts = [deque() for _ in range(n_ch)]

    # per rank: "last two in distinct bank groups" trackers for RD, WR, ACT
    rrd_k, rrd_c1, rrd_i1, rrd_c2, rrd_i2 = [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk
    rwr_k, rwr_c1, rwr_i1, rwr_c2, rwr_i2 = [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk
    rac_k, rac_c1, rac_i1, rac_c2, rac_i2 = [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk, [_NEVER] * n_rk, [-1] * n_rk
    faw = [deque(maxlen=4) for _ in range(n_rk)]  # (clk, idx) of the last 4 ACTs
    ref_clk, ref_idx = [_NEVER] * n_rk, [-1] * n_rk
    rpre_clk, rpre_idx = [_NEVER] * n_rk, [-1] * n_rk  # last PRE of any bank
    n_open = [0] * n_rk

    # per bank group: last RD, last WR; last two ACTs to distinct banks
    grd_clk, grd_idx = [_NEVER] * n_bg, [-1] * n_bg
    gwr_clk, gwr_idx = [_NEVER] * n_bg, [-1] * n_bg
    gac_k, gac_c1, gac_i1, gac_c2, gac_i2 = [-1] * n_bg, [_NEVER] * n_bg, [-1] * n_bg, [_NEVER] * n_bg, [-1] * n_bg

    # per bank
    open_row = [-1] * n_bk
    act_clk, act_idx = [_NEVER] * n_bk, [-1] * n_bk
    pre_clk, pre_idx = [_NEVER] * n_bk, [-1] * n_bk
    brd_clk, brd_idx = [_NEVER] * n_bk, [-1] * n_bk
    bwr_clk, bwr_idx = [_NEVER] * n_bk, [-1] * n_bk

    found: list[tuple] = []  # (rule, index, earlier_index, required, actual, bound, detail)
    add = found.append

    for i in range(n):
        now = clks[i]
        c = cmds[i]
        ch = chs[i]

        # command bus
        if ch_last_clk[ch] == now:
            add(("cmd_bus", i, ch_last_idx[ch], 1, 0, ">=", ""))
        ch_last_clk[ch] = now
        ch_last_idx[ch] = i

        if c == RD or c == WR:
            b = bks[i]
            g = bgs[i]
            rk = rks[i]
            lbg = lbgs[i]
            lr = lrs[i]
            if open_row[b] != rows[i]:
                if open_row[b] < 0:
                    add(("state", i, pre_idx[b], 0, 0, "", "column command to a closed bank"))
                else:
                    add(("state", i, act_idx[b], 0, 0, "",
                         f"column command to row {rows[i]} but row {open_row[b]} is open"))
            if c == RD:
                if now - act_clk[b] < g_rcd_rd:
                    add(("tRCD_RD", i, act_idx[b], g_rcd_rd, now - act_clk[b], ">=", ""))
                if now - grd_clk[g] < g_ccd_l:
                    add(("tCCD_L", i, grd_idx[g], g_ccd_l, now - grd_clk[g], ">=", ""))
                if rrd_k[rk] != lbg:
                    oc, oi = rrd_c1[rk], rrd_i1[rk]
                else:
                    oc, oi = rrd_c2[rk], rrd_i2[rk]
                if now - oc < g_ccd_s:
                    add(("tCCD_S", i, oi, g_ccd_s, now - oc, ">=", ""))
                if now - gwr_clk[g] < g_wtr_l:
                    add(("tWTR_L", i, gwr_idx[g], g_wtr_l, now - gwr_clk[g], ">=", ""))
                if rwr_k[rk] != lbg:
                    oc, oi = rwr_c1[rk], rwr_i1[rk]
                else:
                    oc, oi = rwr_c2[rk], rwr_i2[rk]
                if now - oc < g_wtr_s:
                    add(("tWTR_S", i, oi, g_wtr_s, now - oc, ">=", ""))
                # other ranks
                if crd_k[ch] != lr:
                    oc, oi = crd_c1[ch], crd_i1[ch]
                else:
                    oc, oi = crd_c2[ch], crd_i2[ch]
                if now - oc < g_rtrs_same:
                    add(("tRTRS", i, oi, g_rtrs_same, now - oc, ">=", "RD after RD of another rank"))
                if cwr_k[ch] != lr:
                    oc, oi = cwr_c1[ch], cwr_i1[ch]
                else:
                    oc, oi = cwr_c2[ch], cwr_i2[ch]
                if now - oc < g_rtrs_wr:
                    add(("tRTRS", i, oi, g_rtrs_wr, now - oc, ">=", "RD after WR of another rank"))
                lat = CL
                # updates
                brd_clk[b] = now
                brd_idx[b] = i
                grd_clk[g] = now
                grd_idx[g] = i
                if rrd_k[rk] != lbg:
                    rrd_c2[rk] = rrd_c1[rk]
                    rrd_i2[rk] = rrd_i1[rk]
                    rrd_k[rk] = lbg
                rrd_c1[rk] = now
                rrd_i1[rk] = i
                if crd_k[ch] != lr:
                    crd_c2[ch] = crd_c1[ch]
                    crd_i2[ch] = crd_i1[ch]
                    crd_k[ch] = lr
                crd_c1[ch] = now
                crd_i1[ch] = i
            else:  # WR
                if now - act_clk[b] < g_rcd_wr:
                    add(("tRCD_WR", i, act_idx[b], g_rcd_wr, now - act_clk[b], ">=", ""))
                if now - gwr_clk[g] < g_ccd_l:
                    add(("tCCD_L", i, gwr_idx[g], g_ccd_l, now - gwr_clk[g], ">=", ""))
                if rwr_k[rk] != lbg:
                    oc, oi = rwr_c1[rk], rwr_i1[rk]
                else:
                    oc, oi = rwr_c2[rk], rwr_i2[rk]
                if now - oc < g_ccd_s:
                    add(("tCCD_S", i, oi, g_ccd_s, now - oc, ">=", ""))
                # last RD of this rank, any bank group
                if now - rrd_c1[rk] < g_rtw:
                    add(("tRTW", i, rrd_i1[rk], g_rtw, now - rrd_c1[rk], ">=", ""))
                if cwr_k[ch] != lr:
                    oc, oi = cwr_c1[ch], cwr_i1[ch]
                else:
                    oc, oi = cwr_c2[ch], cwr_i2[ch]
                if now - oc < g_rtrs_same:
                    add(("tRTRS", i, oi, g_rtrs_same, now - oc, ">=", "WR after WR of another rank"))
                if crd_k[ch] != lr:
                    oc, oi = crd_c1[ch], crd_i1[ch]
                else:
                    oc, oi = crd_c2[ch], crd_i2[ch]
                if now - oc < g_rtrs_rw:
                    add(("tRTRS", i, oi, g_rtrs_rw, now - oc, ">=", "WR after RD of another rank"))
                lat = CWL
                bwr_clk[b] = now
                bwr_idx[b] = i
                gwr_clk[g] = now
                gwr_idx[g] = i
                if rwr_k[rk] != lbg:
                    rwr_c2[rk] = rwr_c1[rk]
                    rwr_i2[rk] = rwr_i1[rk]
                    rwr_k[rk] = lbg
                rwr_c1[rk] = now
                rwr_i1[rk] = i
                if cwr_k[ch] != lr:
                    cwr_c2[ch] = cwr_c1[ch]
                    cwr_i2[ch] = cwr_i1[ch]
                    cwr_k[ch] = lr
                cwr_c1[ch] = now
                cwr_i1[ch] = i

            # data bus: the new burst [s, e) against live bursts of the channel
            s = now + lat
            e = s + B
            horizon = now + min_lat  # no later burst starts before this
            hit_idx = -1
            hit_end = 0
            for q in (rd_bursts[ch], wr_bursts[ch]):
                while q and q[0][1] <= horizon:
                    q.popleft()
                # latest-starting burst that starts before e: it has the latest end
                for k in range(len(q) - 1, -1, -1):
                    qs, qe, qi = q[k]
                    if qs < e:
                        if qe > s and qi > hit_idx:
                            hit_idx = qi
                            hit_end = qe
                        break
            if hit_idx >= 0:
                prev_lat = CL if cmds[hit_idx] == RD else CWL
                add(("data_bus", i, hit_idx, prev_lat + B - lat, now - clks[hit_idx], ">=",
                     f"data [{s}, {e}) overlaps burst ending at {hit_end}"))
            (rd_bursts if c == RD else wr_bursts)[ch].append((s, e, i))

        elif c == ACT:
            b = bks[i]
            g = bgs[i]
            rk = rks[i]
            lbg = lbgs[i]
            lba = lbas[i]
            if open_row[b] >= 0:
                add(("state", i, act_idx[b], 0, 0, "", f"ACT to a bank with row {open_row[b]} open"))
            else:
                n_open[rk] += 1
            if now - act_clk[b] < g_rc:
                add(("tRC", i, act_idx[b], g_rc, now - act_clk[b], ">=", ""))
            if now - pre_clk[b] < g_rp:
                add(("tRP", i, pre_idx[b], g_rp, now - pre_clk[b], ">=", ""))
            if gac_k[g] != lba:
                oc, oi = gac_c1[g], gac_i1[g]
            else:
                oc, oi = gac_c2[g], gac_i2[g]
            if now - oc < g_rrd_l:
                add(("tRRD_L", i, oi, g_rrd_l, now - oc, ">=", ""))
            if rac_k[rk] != lbg:
                oc, oi = rac_c1[rk], rac_i1[rk]
            else:
                oc, oi = rac_c2[rk], rac_i2[rk]
            if now - oc < g_rrd_s:
                add(("tRRD_S", i, oi, g_rrd_s, now - oc, ">=", ""))
            w = faw[rk]
            if len(w) == 4 and now - w[0][0] < g_faw:
                add(("tFAW", i, w[0][1], g_faw, now - w[0][0], ">=", ""))
            if now - ref_clk[rk] < g_rfc:
                add(("tRFC", i, ref_idx[rk], g_rfc, now - ref_clk[rk], ">=", ""))
            # updates
            open_row[b] = rows[i]
            act_clk[b] = now
            act_idx[b] = i
            w.append((now, i))
            if gac_k[g] != lba:
                gac_c2[g] = gac_c1[g]
                gac_i2[g] = gac_i1[g]
                gac_k[g] = lba
            gac_c1[g] = now
            gac_i1[g] = i
            if rac_k[rk] != lbg:
                rac_c2[rk] = rac_c1[rk]
                rac_i2[rk] = rac_i1[rk]
                rac_k[rk] = lbg
            rac_c1[rk] = now
            rac_i1[rk] = i

        elif c == PRE:
            b = bks[i]
            rk = rks[i]
            if open_row[b] < 0:
                add(("state", i, pre_idx[b], 0, 0, "", "PRE to a closed bank"))
                continue
            if now - act_clk[b] < g_ras:
                add(("tRAS", i, act_idx[b], g_ras, now - act_clk[b], ">=", ""))
            if now - brd_clk[b] < g_rtp:
                add(("tRTP", i, brd_idx[b], g_rtp, now - brd_clk[b], ">=", ""))
            if now - bwr_clk[b] < g_wr:
                add(("tWR", i, bwr_idx[b], g_wr, now - bwr_clk[b], ">=", ""))
            open_row[b] = -1
            n_open[rk] -= 1
            pre_clk[b] = now
            pre_idx[b] = i
            rpre_clk[rk] = now
            rpre_idx[rk] = i

        else:  # REF
            rk = rks[i]
            if n_open[rk] > 0:
                base = rk * NBG * NBA
                opened = [k for k in range(base, base + NBG * NBA) if open_row[k] >= 0]
                last = max(opened, key=lambda k: act_clk[k])
                add(("state", i, act_idx[last], 0, 0, "",
                     f"REF with {len(opened)} bank(s) of the rank open"))
            if now - rpre_clk[rk] < g_rp:
                add(("tRP", i, rpre_idx[rk], g_rp, now - rpre_clk[rk], ">=", ""))
            if now - ref_clk[rk] < g_rfc:
                add(("tRFC", i, ref_idx[rk], g_rfc, now - ref_clk[rk], ">=", ""))
            if refresh_on:
                prev = ref_clk[rk] if ref_idx[rk] >= 0 else start_clk
                if now - prev > g_refi:
                    add(("tREFI", i, ref_idx[rk], g_refi, now - prev, "<=",
                         "refresh postponed more than 8 times"))
            ref_clk[rk] = now
            ref_idx[rk] = i

    # refresh still due at the end of the log
    if refresh_on:
        end = clks[-1]
        for rk in range(n_rk):
            prev = ref_clk[rk] if ref_idx[rk] >= 0 else start_clk
            if end - prev > g_refi:
                add(("tREFI", -1, ref_idx[rk], g_refi, end - prev, "<=",
                     f"no REF on ch{rk // R} ra{rk % R} by the end of the log"))

    return [_make(f, log, clks, start_clk) for f in found]


def _describe(log: np.ndarray, j: int) -> str:
    r = log[j]
    name = COMMAND_NAMES[int(r["cmd"])]
    if int(r["cmd"]) == REF:
        return f"{name} ch{int(r['channel'])} ra{int(r['rank'])}"
    text = (f"{name} ch{int(r['channel'])} ra{int(r['rank'])} "
            f"bg{int(r['bankgroup'])} ba{int(r['bank'])}")
    if int(r["cmd"]) != PRE:
        text += f" row {int(r['row'])}"
    return text


def _make(f: tuple, log: np.ndarray, clks: list[int], start_clk: int) -> Violation:
    rule, i, j, required, actual, bound, detail = f
    return Violation(
        rule=rule,
        index=i,
        earlier_index=j,
        clk=clks[i] if i >= 0 else clks[-1],
        earlier_clk=clks[j] if j >= 0 else start_clk,
        required=required,
        actual=actual,
        bound=bound,
        command=_describe(log, i) if i >= 0 else "",
        earlier_command=_describe(log, j) if j >= 0 else "",
        detail=detail,
    )
