"""Tests of the independent JEDEC timing checker (sim.memory.jedec_checker).

Every rule gets a minimal legal log (no violation) and the same log with one
command one clock too early (exactly that rule, with the right gaps). A long
log from an obviously-legal conservative scheduler must be clean, and on small
random logs the checker must agree with a brute-force O(n^2) pairwise check
written straight from the rule table.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from sim.memory.commands import ACT, COMMAND_LOG_DTYPE, PRE, RD, REF, WR
from sim.memory.dram_config import ControllerConfig, DramConfig, DramTiming
from sim.memory.jedec_checker import Violation, check_command_log, summarize

# Every gap distinct enough that moving one command by one clock breaks one rule only.
TIMING = DramTiming(
    CL=10, CWL=7, RCD_RD=9, RCD_WR=8, RP=11, RAS=25, RC=40,
    CCD_S=5, CCD_L=7, RRD_S=3, RRD_L=5, FAW=20, WR=12, WTR_S=2, WTR_L=5,
    RTP=6, RTRS=2, RFC=60, REFI=1000, BURST=4,
)


def make_cfg(refresh: str = "rank_staggered", **timing_overrides) -> DramConfig:
    return DramConfig(
        name="test", standard="DDR4", channels=2, pseudo_channels=1, ranks=2,
        bank_groups=4, banks_per_group=2, rows=64, columns=1024, device_width=8,
        bus_width=64, burst_length=8, tck_ps=1000,
        timing=dataclasses.replace(TIMING, **timing_overrides),
        controller=ControllerConfig(refresh=refresh),
    )


CFG = make_cfg()


def make_log(cmds) -> np.ndarray:
    """cmds: (clk, cmd, rank, bankgroup, bank, row[, channel]); REF uses -1 fields."""
    log = np.zeros(len(cmds), dtype=COMMAND_LOG_DTYPE)
    for i, c in enumerate(cmds):
        clk, cmd, rank, bg, ba, row = c[:6]
        ch = c[6] if len(c) > 6 else 0
        log[i] = (clk, cmd, ch, rank, bg, ba, row)
    order = np.argsort(log["clk"], kind="stable")
    return log[order]


def ref(clk, rank, ch=0):
    return (clk, REF, rank, -1, -1, -1, ch)


# ---------------------------------------------------------------------------
# one case per rule: (name, commands, rule, required, earlier position)
# The LAST command is the one moved one clock earlier; clocks are distinct, so
# moving it keeps the order and its index stays len - 1.
# ---------------------------------------------------------------------------
CWL_B = TIMING.CWL + TIMING.BURST
CASES = [
    ("tRCD_RD", [(0, ACT, 0, 0, 0, 5), (9, RD, 0, 0, 0, 5)], "tRCD_RD", 9, 0),
    ("tRCD_WR", [(0, ACT, 0, 0, 0, 5), (8, WR, 0, 0, 0, 5)], "tRCD_WR", 8, 0),
    ("tRAS", [(0, ACT, 0, 0, 0, 5), (25, PRE, 0, 0, 0, -1)], "tRAS", 25, 0),
    ("tRC", [(0, ACT, 0, 0, 0, 5), (25, PRE, 0, 0, 0, -1), (40, ACT, 0, 0, 0, 6)], "tRC", 40, 0),
    ("tRP", [(0, ACT, 0, 0, 0, 5), (30, PRE, 0, 0, 0, -1), (41, ACT, 0, 0, 0, 6)], "tRP", 11, 1),
    ("tRTP", [(0, ACT, 0, 0, 0, 5), (20, RD, 0, 0, 0, 5), (26, PRE, 0, 0, 0, -1)], "tRTP", 6, 1),
    ("tWR", [(0, ACT, 0, 0, 0, 5), (8, WR, 0, 0, 0, 5), (8 + CWL_B + 12, PRE, 0, 0, 0, -1)],
     "tWR", CWL_B + 12, 1),
    ("tCCD_L rd", [(0, ACT, 0, 0, 0, 5), (5, ACT, 0, 0, 1, 6), (20, RD, 0, 0, 0, 5),
                   (27, RD, 0, 0, 1, 6)], "tCCD_L", 7, 2),
    ("tCCD_L rd same bank", [(0, ACT, 0, 0, 0, 5), (20, RD, 0, 0, 0, 5), (27, RD, 0, 0, 0, 5)],
     "tCCD_L", 7, 1),
    ("tCCD_L wr", [(0, ACT, 0, 0, 0, 5), (5, ACT, 0, 0, 1, 6), (20, WR, 0, 0, 0, 5),
                   (27, WR, 0, 0, 1, 6)], "tCCD_L", 7, 2),
    ("tCCD_S rd", [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 1, 0, 6), (20, RD, 0, 0, 0, 5),
                   (25, RD, 0, 1, 0, 6)], "tCCD_S", 5, 2),
    ("tCCD_S wr", [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 1, 0, 6), (20, WR, 0, 0, 0, 5),
                   (25, WR, 0, 1, 0, 6)], "tCCD_S", 5, 2),
    ("tRRD_L", [(0, ACT, 0, 0, 0, 5), (5, ACT, 0, 0, 1, 6)], "tRRD_L", 5, 0),
    ("tRRD_S", [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 1, 0, 6)], "tRRD_S", 3, 0),
    ("tWTR_L", [(0, ACT, 0, 0, 0, 5), (5, ACT, 0, 0, 1, 6), (20, WR, 0, 0, 0, 5),
                (20 + CWL_B + 5, RD, 0, 0, 1, 6)], "tWTR_L", CWL_B + 5, 2),
    ("tWTR_L same bank", [(0, ACT, 0, 0, 0, 5), (20, WR, 0, 0, 0, 5),
                          (20 + CWL_B + 5, RD, 0, 0, 0, 5)], "tWTR_L", CWL_B + 5, 1),
    ("tWTR_S", [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 1, 0, 6), (20, WR, 0, 0, 0, 5),
                (20 + CWL_B + 2, RD, 0, 1, 0, 6)], "tWTR_S", CWL_B + 2, 2),
    ("tRTW", [(0, ACT, 0, 0, 0, 5), (20, RD, 0, 0, 0, 5), (29, WR, 0, 0, 0, 5)], "tRTW", 9, 1),
    ("tRTW other bank group", [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 2, 1, 6), (20, RD, 0, 0, 0, 5),
                               (29, WR, 0, 2, 1, 6)], "tRTW", 9, 2),
    ("tRTRS rd-rd", [(0, ACT, 0, 0, 0, 5), (1, ACT, 1, 0, 0, 5), (20, RD, 0, 0, 0, 5),
                     (26, RD, 1, 0, 0, 5)], "tRTRS", 6, 2),
    ("tRTRS wr-wr", [(0, ACT, 0, 0, 0, 5), (1, ACT, 1, 0, 0, 5), (20, WR, 0, 0, 0, 5),
                     (26, WR, 1, 0, 0, 5)], "tRTRS", 6, 2),
    ("tRTRS rd-wr", [(0, ACT, 0, 0, 0, 5), (1, ACT, 1, 0, 0, 5), (20, RD, 0, 0, 0, 5),
                     (29, WR, 1, 0, 0, 5)], "tRTRS", 10 + 4 + 2 - 7, 2),
    ("tRTRS wr-rd", [(0, ACT, 0, 0, 0, 5), (1, ACT, 1, 0, 0, 5), (20, WR, 0, 0, 0, 5),
                     (23, RD, 1, 0, 0, 5)], "tRTRS", 7 + 4 + 2 - 10, 2),
    ("tFAW", [(0, ACT, 0, 0, 0, 1), (3, ACT, 0, 1, 0, 1), (6, ACT, 0, 2, 0, 1),
              (9, ACT, 0, 3, 0, 1), (20, ACT, 0, 0, 1, 1)], "tFAW", 20, 0),
    ("cmd_bus", [(0, ACT, 0, 0, 0, 5), (1, ACT, 1, 0, 0, 5)], "cmd_bus", 1, 0),
    ("tRFC ref-act", [ref(0, 0), (60, ACT, 0, 0, 0, 5)], "tRFC", 60, 0),
    ("tRFC ref-ref", [ref(0, 0), ref(60, 0)], "tRFC", 60, 0),
    ("tRP pre-ref", [(0, ACT, 0, 1, 1, 5), (25, PRE, 0, 1, 1, -1), ref(36, 0)], "tRP", 11, 1),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_legal_and_one_clock_early(case):
    _, cmds, rule, required, earlier = case
    assert check_command_log(make_log(cmds), CFG) == []
    moved = list(cmds)
    last = moved[-1]
    moved[-1] = (last[0] - 1,) + tuple(last[1:])
    v = check_command_log(make_log(moved), CFG)
    assert [x.rule for x in v] == [rule], [str(x) for x in v]
    x = v[0]
    assert x.index == len(cmds) - 1
    assert x.earlier_index == earlier
    assert (x.required, x.actual) == (required, required - 1)
    assert x.clk == last[0] - 1 and x.earlier_clk == cmds[earlier][0]
    assert x.actual == x.clk - x.earlier_clk


def test_rrd_is_between_different_banks_only():
    # ACT-PRE-ACT on one bank within tRRD_L: tRC, tRAS and tRP, but no tRRD
    cmds = [(0, ACT, 0, 0, 0, 5), (2, PRE, 0, 0, 0, -1), (4, ACT, 0, 0, 0, 6)]
    v = check_command_log(make_log(cmds), CFG)
    assert sorted((x.rule, x.index, x.earlier_index) for x in v) == [
        ("tRAS", 1, 0), ("tRC", 2, 0), ("tRP", 2, 1)]
    # ...while another bank of the group, older than the re-ACT, still counts
    cmds = [(0, ACT, 0, 0, 1, 5), (1, ACT, 0, 0, 0, 5), (2, PRE, 0, 0, 0, -1),
            (4, ACT, 0, 0, 0, 6)]
    v = check_command_log(make_log(cmds), CFG)
    assert ("tRRD_L", 3, 0) in {(x.rule, x.index, x.earlier_index) for x in v}
    assert ("tRRD_L", 3, 1) not in {(x.rule, x.index, x.earlier_index) for x in v}


def test_data_bus_only_when_turnaround_allows_overlap():
    # With an (unrealistic) read-to-write of 1 clock, only the data bus keeps
    # the write burst from overlapping the read burst.
    cfg = make_cfg(RTW=1)
    need = TIMING.CL + TIMING.BURST - TIMING.CWL  # write data starts when read data ends
    cmds = [(0, ACT, 0, 0, 0, 5), (20, RD, 0, 0, 0, 5), (20 + need, WR, 0, 0, 0, 5)]
    assert check_command_log(make_log(cmds), cfg) == []
    cmds[-1] = (20 + need - 1, WR, 0, 0, 0, 5)
    v = check_command_log(make_log(cmds), cfg)
    assert [x.rule for x in v] == ["data_bus"]
    assert (v[0].index, v[0].earlier_index, v[0].required, v[0].actual) == (2, 1, need, need - 1)
    # the same log against the derived read-to-write: tRTW as well
    rules = {x.rule for x in check_command_log(make_log(cmds), CFG)}
    assert rules == {"data_bus", "tRTW"}


def test_data_bus_write_burst_before_an_earlier_read_burst():
    # WR data can land entirely before the data of an older RD when CL >> CWL;
    # the overlap with an even older RD must still be found.
    cfg = make_cfg(RTW=0, CL=30, RTRS=0)
    B = TIMING.BURST
    cmds = [(0, ACT, 0, 0, 0, 5), (3, ACT, 0, 1, 0, 5),
            (20, RD, 0, 0, 0, 5),        # data [50, 54)
            (30, RD, 0, 1, 0, 5),        # data [60, 64)
            (45, WR, 0, 0, 0, 5)]        # data [52, 56): overlaps the first read only
    v = [x for x in check_command_log(make_log(cmds), cfg) if x.rule == "data_bus"]
    assert len(v) == 1 and v[0].earlier_index == 2
    assert v[0].required == 30 + B - 7 and v[0].actual == 25


def test_channels_are_independent():
    cmds = []
    for ch in (0, 1):
        cmds += [(0, ACT, 0, 0, 0, 5, ch), (9, RD, 0, 0, 0, 5, ch), (25, PRE, 0, 0, 0, -1, ch)]
    assert check_command_log(make_log(cmds), CFG) == []
    cmds.append((10, RD, 0, 0, 0, 5, 1))  # one clock after the ch1 RD: ch1 only
    log = make_log(cmds)
    v = check_command_log(log, CFG)
    assert sorted(x.rule for x in v) == ["data_bus", "tCCD_L"]
    assert all(log["channel"][x.index] == 1 == log["channel"][x.earlier_index] for x in v)


# ---------------------------------------------------------------------------
# bank state
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cmds, index", [
    ([(0, ACT, 0, 0, 0, 5), (100, ACT, 0, 0, 0, 6)], 1),          # ACT to an open bank
    ([(0, RD, 0, 0, 0, 5)], 0),                                    # RD to a closed bank
    ([(0, WR, 0, 0, 0, 5)], 0),                                    # WR to a closed bank
    ([(0, ACT, 0, 0, 0, 5), (50, RD, 0, 0, 0, 6)], 1),             # RD to another row
    ([(0, ACT, 0, 0, 0, 5), (50, PRE, 0, 0, 0, -1), (100, PRE, 0, 0, 0, -1)], 2),  # PRE closed
    ([(0, ACT, 0, 3, 1, 5), ref(500, 0)], 1),                      # REF with a bank open
    ([ref(0, 0), (200, RD, 0, 0, 0, 5)], 1),                       # REF opens nothing
    ([(0, ACT, 0, 0, 0, 5), (50, PRE, 0, 0, 0, -1), ref(100, 0), (200, RD, 0, 0, 0, 5)], 3),
])
def test_state_violations(cmds, index):
    v = check_command_log(make_log(cmds), CFG)
    assert [(x.rule, x.index) for x in v] == [("state", index)], [str(x) for x in v]
    assert str(v[0]).startswith("state:")


def test_ref_closes_nothing_else_and_other_rank_refs_freely():
    cmds = [(0, ACT, 0, 0, 0, 5), ref(10, 1), (40, RD, 0, 0, 0, 5), (80, PRE, 0, 0, 0, -1)]
    assert check_command_log(make_log(cmds), CFG) == []


# ---------------------------------------------------------------------------
# refresh cadence
# ---------------------------------------------------------------------------
def _ref_log(period, n, late=None):
    """REFs on every rank of both channels every `period` clocks (first at `period`)."""
    cmds = []
    for k in range(1, n + 1):
        for ch in (0, 1):
            for r in (0, 1):
                clk = k * period - 2 * ch - r
                if late == (k, ch, r):
                    clk += 1
                cmds.append(ref(clk, r, ch))
    return make_log(cmds)


def test_refresh_cadence():
    limit = 9 * TIMING.REFI
    assert check_command_log(_ref_log(limit, 4), CFG) == []
    v = check_command_log(_ref_log(limit, 4, late=(2, 1, 0)), CFG)
    assert [(x.rule, x.required, x.actual, x.bound) for x in v] == [("tREFI", limit, limit + 1, "<=")]
    assert "allowed <=" in str(v[0])
    # the first REF too late after the start
    v = check_command_log(_ref_log(limit, 2, late=(1, 0, 0)), CFG)
    assert [(x.rule, x.earlier_index, x.earlier_clk, x.actual) for x in v] == [
        ("tREFI", -1, 0, limit + 1)]
    # with refresh off there is no cadence
    assert check_command_log(_ref_log(limit, 4, late=(2, 1, 0)), make_cfg(refresh="none")) == []


def test_refresh_missing_at_end_of_log():
    limit = 9 * TIMING.REFI
    short = make_log([(0, ACT, 0, 0, 0, 5), (limit, PRE, 0, 0, 0, -1)])
    assert check_command_log(short, CFG) == []
    long = make_log([(0, ACT, 0, 0, 0, 5), (limit + 1, PRE, 0, 0, 0, -1)])
    v = check_command_log(long, CFG)
    assert [(x.rule, x.index) for x in v] == [("tREFI", -1)] * 4  # 2 channels x 2 ranks
    assert check_command_log(long, make_cfg(refresh="none")) == []


# ---------------------------------------------------------------------------
# long legal log from a conservative scheduler
# ---------------------------------------------------------------------------
def conservative_log(cfg: DramConfig, n_requests: int, seed: int = 0) -> np.ndarray:
    """Closed page, one request at a time, generous slack; all ranks refreshed every REFI."""
    t = cfg.timing
    rng = random.Random(seed)
    slack = 2 * (t.FAW + t.RTRS + t.CL + t.CWL + t.BURST + t.CCD_L + t.WTR_L + t.RRD_L)
    cmds = []
    now = 0
    next_ref = t.REFI
    for _ in range(n_requests):
        if now >= next_ref:  # every bank is closed and precharged by now + slack
            for ch in range(cfg.scheduled_channels):
                for r in range(cfg.ranks):
                    cmds.append(ref(now, r, ch))
                    now += 1
            now += t.RFC + slack
            next_ref += t.REFI
        ch, r = rng.randrange(cfg.scheduled_channels), rng.randrange(cfg.ranks)
        bg, ba = rng.randrange(cfg.bank_groups), rng.randrange(cfg.banks_per_group)
        row = rng.randrange(cfg.rows)
        col = now + max(t.RCD_RD, t.RCD_WR)
        write = rng.random() < 0.3
        pre = max(now + t.RAS, col + t.RTP, col + t.CWL + t.BURST + t.WR)
        cmds += [(now, ACT, r, bg, ba, row, ch), (col, WR if write else RD, r, bg, ba, row, ch),
                 (pre, PRE, r, bg, ba, -1, ch)]
        now = max(pre + t.RP, now + t.RC) + slack
    return make_log(cmds)


def test_long_conservative_log_is_clean():
    log = conservative_log(CFG, 20000)
    assert len(log) > 60000 and (log["cmd"] == REF).sum() > 100
    v = check_command_log(log, CFG)
    assert v == [], [str(x) for x in v[:10]]
    assert summarize(v) == {}


def test_long_log_with_one_command_early():
    log = conservative_log(CFG, 5000, seed=3)
    rd = np.flatnonzero(log["cmd"] == RD)[1234]
    log["clk"][rd] -= 1  # still sorted: every gap is large
    v = check_command_log(log, CFG)
    assert [(x.rule, x.index, x.earlier_index) for x in v] == [("tRCD_RD", rd, rd - 1)]


# ---------------------------------------------------------------------------
# agreement with a brute-force pairwise checker on random logs
# ---------------------------------------------------------------------------
def random_log(cfg: DramConfig, n: int, seed: int) -> np.ndarray:
    """Mostly state-legal commands with random small gaps: plenty of timing violations."""
    rng = random.Random(seed)
    open_row = {}
    cmds = []
    now = 0
    for _ in range(n):
        now += rng.choice((0, 1, 1, 2, 3, 4, 5, 7, 9, 12, 16, 25, 40, 70))
        ch, r = rng.randrange(cfg.scheduled_channels), rng.randrange(cfg.ranks)
        bg, ba = rng.randrange(cfg.bank_groups), rng.randrange(cfg.banks_per_group)
        key = (ch, r, bg, ba)
        u = rng.random()
        if u < 0.03:
            cmds.append((now, PRE, r, bg, ba, -1, ch))  # possibly to a closed bank
            open_row.pop(key, None)
        elif u < 0.08:
            if not any(k[:2] == (ch, r) for k in open_row) or u < 0.04:
                cmds.append(ref(now, r, ch))
        elif key not in open_row:
            row = rng.randrange(4)
            open_row[key] = row
            cmds.append((now, ACT, r, bg, ba, row, ch))
        elif u < 0.3:
            cmds.append((now, PRE, r, bg, ba, -1, ch))
            del open_row[key]
        else:
            row = open_row[key] if u < 0.97 else open_row[key] + 1
            cmds.append((now, RD if u < 0.65 else WR, r, bg, ba, row, ch))
    return make_log(cmds)


def brute_force(log: np.ndarray, cfg: DramConfig):
    """Set of (index, earlier, rule) violations from every pair, plus state errors."""
    t = cfg.timing
    B = t.BURST
    rows = [tuple(int(x) for x in r) for r in log]
    out = set()
    open_row = {}
    noop_pre = set()
    for i, (_clk, cmd, ch, r, bg, ba, row) in enumerate(rows):
        key = (ch, r, bg, ba)
        if cmd == ACT:
            if key in open_row:
                out.add((i, None, "state"))
            open_row[key] = row
        elif cmd in (RD, WR):
            if open_row.get(key) != row:
                out.add((i, None, "state"))
        elif cmd == PRE:
            if key not in open_row:
                out.add((i, None, "state"))
                noop_pre.add(i)
            open_row.pop(key, None)
        elif any(k[:2] == (ch, r) for k in open_row):
            out.add((i, None, "state"))

    def rules(a, b):
        """(rule, min gap) constraints from earlier command a to later command b."""
        _, ca, cha, ra, bga, baa, _ = a
        _, cb, chb, rb, bgb, bab, _ = b
        if ra != rb:
            pairs = {(RD, RD): B + t.RTRS, (WR, WR): B + t.RTRS,
                     (RD, WR): t.CL + B + t.RTRS - t.CWL, (WR, RD): t.CWL + B + t.RTRS - t.CL}
            if (ca, cb) in pairs:
                yield "tRTRS", max(0, pairs[(ca, cb)])
            return
        if ca == REF or cb == REF:
            if (ca, cb) in ((REF, ACT), (REF, REF)):
                yield "tRFC", t.RFC
            if (ca, cb) == (PRE, REF):
                yield "tRP", t.RP
            return
        same_bank = (bga, baa) == (bgb, bab)
        if same_bank:
            table = {(ACT, RD): ("tRCD_RD", t.RCD_RD), (ACT, WR): ("tRCD_WR", t.RCD_WR),
                     (ACT, PRE): ("tRAS", t.RAS), (ACT, ACT): ("tRC", t.RC),
                     (PRE, ACT): ("tRP", t.RP), (RD, PRE): ("tRTP", t.RTP),
                     (WR, PRE): ("tWR", t.CWL + B + t.WR)}
            if (ca, cb) in table:
                yield table[(ca, cb)]
        s = "L" if bga == bgb else "S"
        if (ca, cb) in ((RD, RD), (WR, WR)):
            yield "tCCD_" + s, max(B, t.CCD_L if s == "L" else t.CCD_S)
        if (ca, cb) == (ACT, ACT) and not same_bank:
            yield "tRRD_" + s, t.RRD_L if s == "L" else t.RRD_S
        if (ca, cb) == (WR, RD):
            yield "tWTR_" + s, t.CWL + B + (t.WTR_L if s == "L" else t.WTR_S)
        if (ca, cb) == (RD, WR):
            yield "tRTW", t.read_to_write

    for j, b in enumerate(rows):
        acts_before = []
        for i in range(j):
            a = rows[i]
            if a[2] != b[2]:
                continue
            gap = b[0] - a[0]
            if gap == 0:
                out.add((j, i, "cmd_bus"))
            if i in noop_pre or j in noop_pre:
                continue
            for rule, need in rules(a, b):
                if gap < need:
                    out.add((j, i, rule))
            if a[1] in (RD, WR) and b[1] in (RD, WR):
                sa = a[0] + (t.CL if a[1] == RD else t.CWL)
                sb = b[0] + (t.CL if b[1] == RD else t.CWL)
                if sa < sb + B and sb < sa + B:
                    out.add((j, i, "data_bus"))
            if a[1] == ACT and b[1] == ACT and a[3] == b[3]:
                acts_before.append(i)
        if b[1] == ACT and len(acts_before) >= 4:
            i = acts_before[-4]
            if b[0] - rows[i][0] < t.FAW:
                out.add((j, i, "tFAW"))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_brute_force_on_random_logs(seed):
    cfg = make_cfg(refresh="none") if seed % 2 == 0 else make_cfg(
        refresh="none", RTW=3, CL=14, CWL=4, CCD_S=2, RTRS=0, RFC=30, FAW=400)
    log = random_log(cfg, 400, seed)
    fast = check_command_log(log, cfg)
    slow = brute_force(log, cfg)
    assert {(v.index, v.rule) for v in fast} == {(j, rule) for j, _, rule in slow}
    for v in fast:
        if v.rule != "state":
            assert (v.index, v.earlier_index, v.rule) in slow, str(v)
            assert v.actual == v.clk - v.earlier_clk < v.required
    # a random log breaks many different rules, so the comparison means something
    assert len(summarize(fast)) >= 10, summarize(fast)


# ---------------------------------------------------------------------------
# API details
# ---------------------------------------------------------------------------
def test_summarize_and_str():
    cmds = [(0, ACT, 0, 0, 0, 5), (3, RD, 0, 0, 0, 5), (4, RD, 0, 0, 0, 5), (5, PRE, 0, 0, 0, -1)]
    v = check_command_log(make_log(cmds), CFG)
    counts = summarize(v)
    assert counts == {"tRCD_RD": 2, "tRAS": 1, "tRTP": 1, "tCCD_L": 1, "data_bus": 1}
    assert all(isinstance(x, Violation) for x in v)
    text = str(next(x for x in v if x.rule == "tCCD_L"))
    assert text == "tCCD_L: #2 RD ch0 ra0 bg0 ba0 row 5 @4: 1 clk after #1 RD ch0 ra0 bg0 ba0 row 5 @3, needs >= 7"
    assert "\n" not in "".join(str(x) for x in v)


def test_empty_log_and_malformed_logs():
    assert check_command_log(np.zeros(0, dtype=COMMAND_LOG_DTYPE), CFG) == []
    with pytest.raises(ValueError, match="sorted"):
        check_command_log(_unsorted(), CFG)
    with pytest.raises(ValueError, match="channel"):
        check_command_log(make_log([(0, ACT, 0, 0, 0, 1, 2)]), CFG)
    with pytest.raises(ValueError, match="bank group"):
        check_command_log(make_log([(0, ACT, 0, 4, 0, 1)]), CFG)
    with pytest.raises(ValueError, match="row"):
        check_command_log(make_log([(0, ACT, 0, 0, 0, 64)]), CFG)


def _unsorted():
    log = make_log([(0, ACT, 0, 0, 0, 1), (5, ACT, 0, 1, 0, 1)])
    return log[::-1].copy()
