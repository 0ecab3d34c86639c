"""Replay statistics: command counts, write latency, read-latency histogram, per-bank
and per-epoch statistics, the command-trace dump, and the replay CLI carrying them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.config.memory import PRESET_DIR, load_memory_config
from sim.errors import UserError
from sim.memory.commands import ACT, COMMAND_NAMES, PRE, WR
from sim.memory.dram import command_log, simulate
from sim.memory.dram_stats import epoch_stats, parse_epoch, write_command_trace
from workloads.traces import make_trace, write_trace

# ddr4_3200 maps ro-ra-ba-co-bg-ch above 6 offset bits: 2 bank-group bits, 7 column
# bits, 2 bank bits, 1 rank bit, then the row
BG, CO, BA, RA = 6, 8, 15, 17
RO = 18


def ddr4_addr(row: int, rank: int, bank: int, bankgroup: int, column: int = 0) -> int:
    return (row << RO) | (rank << RA) | (bank << BA) | (column << CO) | (bankgroup << BG)


def random_run(preset: str = "ddr4_3200", n: int = 3000, seed: int = 1, writes: float = 0.3):
    cfg = load_memory_config(preset)
    rng = np.random.default_rng(seed)
    addr = rng.integers(0, cfg.capacity_bytes // 64, n).astype(np.uint64) * 64
    return simulate(cfg, addr, rng.random(n) < writes, np.arange(n, dtype=np.int64) * 6,
                    with_log=True)


def test_command_counts_are_the_log_and_match_reads_and_writes():
    res = random_run()
    s = res.summary
    log = command_log(res)
    assert s["commands"] == {name: int(np.count_nonzero(log["cmd"] == i))
                             for i, name in enumerate(COMMAND_NAMES)}
    writes = int(np.count_nonzero(res.request_is_write))
    assert s["commands"]["WR"] == writes
    assert s["commands"]["RD"] == s["requests"] - writes
    assert simulate(res.cfg, np.zeros(1, np.uint64), np.zeros(1, bool),
                    np.zeros(1, np.int64)).summary["commands"] is None  # no log kept


def test_activates_follow_row_kinds_without_refresh_but_not_with_it(tmp_path):
    """Without refresh every ACT belongs to a miss or conflict and every PRE to a conflict;
    refresh closes rows behind the accesses' backs, which only the log sees."""
    path = tmp_path / "noref.yaml"
    path.write_text(f"extends: {PRESET_DIR / 'ddr4_3200.yaml'}\nname: noref\n"
                    "controller:\n  refresh: none\n")
    cfg = load_memory_config(str(path))
    rng = np.random.default_rng(2)
    n = 4000
    addr = rng.integers(0, cfg.capacity_bytes // 64, n).astype(np.uint64) * 64
    res = simulate(cfg, addr, rng.random(n) < 0.3, np.zeros(n, np.int64), with_log=True)
    s, acc = res.summary, len(res.accesses)
    cmd = s["commands"]
    assert cmd["REF"] == 0
    assert cmd["ACT"] == round((s["row_miss_rate"] + s["row_conflict_rate"]) * acc)
    assert cmd["PRE"] == round(s["row_conflict_rate"] * acc)
    # with refresh (20k random requests span 19 refresh intervals) the log has more
    res = random_run(n=20000)
    s = res.summary
    kinds_act = round((s["row_miss_rate"] + s["row_conflict_rate"]) * len(res.accesses))
    assert s["commands"]["REF"] > 0
    assert s["commands"]["ACT"] > kinds_act


def test_write_latency_of_a_lone_write_is_activate_then_write_then_data():
    cfg = load_memory_config("ddr4_3200")
    res = simulate(cfg, np.array([ddr4_addr(5, 1, 2, 3)], np.uint64), np.ones(1, bool),
                   np.zeros(1, np.int64), with_log=True)
    log = command_log(res)
    assert log["cmd"].tolist() == [ACT, WR]
    t = cfg.timing
    assert log["clk"][1] - log["clk"][0] == t.RCD_WR
    expect_ns = (log["clk"][1] + t.CWL + t.BURST) * cfg.tck_ps / 1000.0
    wl = res.summary["write_latency_ns"]
    assert wl == {"mean": expect_ns, "p50": expect_ns, "p99": expect_ns}
    assert res.summary["read_latency_histogram"]["counts"] == []  # no reads


def test_read_latency_histogram_accounts_for_every_read():
    res = random_run(n=4000, writes=0.2)
    s = res.summary
    h = s["read_latency_histogram"]
    reads = s["requests"] - s["commands"]["WR"]
    assert sum(h["counts"]) + h["overflow"] == reads
    w = h["bin_ns"]
    assert w / 10 ** np.floor(np.log10(w)) in (1, 2, 2.5, 5)
    assert np.allclose(np.diff(h["edges_ns"]), w)
    assert h["overflow"] <= 0.011 * reads  # the bins reach the 99th percentile
    # the median latency lies in the bin where the cumulative count crosses one half
    cum = np.cumsum(h["counts"])
    i = int(np.searchsorted(cum, reads / 2))
    assert h["edges_ns"][i] <= s["read_latency_ns"]["p50"] <= h["edges_ns"][i] + w


def test_per_bank_statistics_of_a_trace_aimed_at_known_banks():
    cfg = load_memory_config("ddr4_3200")
    # 6 accesses to rank 1 / group 3 / bank 2 (rows 4, 4, 9: a hit and a conflict among them),
    # 2 to rank 0 / group 0 / bank 1
    addr = [ddr4_addr(4, 1, 2, 3, 0), ddr4_addr(4, 1, 2, 3, 1), ddr4_addr(9, 1, 2, 3, 0),
            ddr4_addr(9, 1, 2, 3, 5), ddr4_addr(4, 1, 2, 3, 2), ddr4_addr(4, 1, 2, 3, 3),
            ddr4_addr(7, 0, 1, 0, 0), ddr4_addr(7, 0, 1, 0, 1)]
    n = len(addr)
    arrival = np.arange(n, dtype=np.int64) * 200  # one at a time: no reordering
    res = simulate(cfg, np.array(addr, np.uint64), np.zeros(n, bool), arrival, with_log=True)
    pb = res.summary["per_bank"]
    assert len(pb["accesses"]) == 2 * 16
    busy = {(pb["channel"][b], pb["rank"][b], pb["bankgroup"][b], pb["bank"][b]): b
            for b in range(32) if pb["accesses"][b]}
    assert set(busy) == {(0, 1, 3, 2), (0, 0, 0, 1)}
    b = busy[(0, 1, 3, 2)]
    assert pb["accesses"][b] == 6 and pb["reads"][b] == 6
    # row 4 opens (miss), hit, row 9 (conflict), hit, row 4 (conflict), hit
    assert (pb["row_misses"][b], pb["row_hits"][b], pb["row_conflicts"][b]) == (1, 3, 2)
    assert pb["activates"][b] == 3 and pb["precharges"][b] == 2
    b = busy[(0, 0, 0, 1)]
    assert (pb["accesses"][b], pb["row_misses"][b], pb["row_hits"][b], pb["activates"][b]) \
        == (2, 1, 1, 1)


def test_per_bank_totals_agree_with_the_whole_run_on_hbm3():
    res = random_run("hbm3", n=3000)
    pb, s = res.summary["per_bank"], res.summary
    cfg = res.cfg
    assert len(pb["accesses"]) == cfg.scheduled_channels * cfg.banks_per_channel
    assert sum(pb["accesses"]) == len(res.accesses)
    assert sum(pb["activates"]) == s["commands"]["ACT"]
    for b in range(len(pb["accesses"])):
        assert pb["row_hits"][b] + pb["row_misses"][b] + pb["row_conflicts"][b] \
            == pb["accesses"][b]
    assert max(pb["channel"]) == cfg.scheduled_channels - 1


def test_epochs_split_two_bursts_and_add_up_to_the_run():
    cfg = load_memory_config("ddr4_3200")
    n = 40
    addr = np.arange(n, dtype=np.uint64) * 64
    arrival = np.r_[np.zeros(n // 2), np.full(n // 2, 20000)].astype(np.int64)
    res = simulate(cfg, addr, np.zeros(n, bool), arrival, with_log=True)
    ep = epoch_stats(res, 5000)
    assert ep["requests"][0] == n // 2 and ep["requests"][4] == n // 2
    assert sum(ep["requests"][1:4]) == 0 and ep["bandwidth_gb_per_s"][2] == 0
    assert sum(ep["activates"]) == res.summary["commands"]["ACT"]
    # bytes: bandwidth x epoch length summed over epochs = bytes requested
    end = res.raw.end_clk
    lengths = [min(5000, end - 5000 * i) * cfg.tck_ps for i in range(len(ep["start_ns"]))]
    moved = sum(bw * ps / 1000.0 for bw, ps in zip(ep["bandwidth_gb_per_s"], lengths, strict=True))
    assert moved == pytest.approx(n * 64)
    assert len(ep["start_ns"]) == -(-end // 5000)


def test_parse_epoch_takes_clocks_or_a_time():
    assert parse_epoch("1000", 625) == 1000
    assert parse_epoch("1 us", 625) == 1600
    for bad in ("0", "1 parsec", "0.1 ps"):
        with pytest.raises(UserError):
            parse_epoch(bad, 625)


def test_command_trace_file_lists_the_log(tmp_path):
    res = random_run(n=500)
    path = tmp_path / "cmds.txt"
    assert write_command_trace(res, path) == len(res.raw.log)
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    log = command_log(res)
    assert len(lines) == len(log)
    for i in (0, len(log) // 2, len(log) - 1):
        clk, ns, name, ch, rank, bg, bank, row = lines[i].split()
        r = log[i]
        assert (int(clk), name, int(ch), int(rank), int(bg), int(bank), int(row)) == (
            r["clk"], COMMAND_NAMES[r["cmd"]], r["channel"], r["rank"], r["bankgroup"],
            r["bank"], r["row"])
        assert float(ns) == pytest.approx(r["clk"] * 0.625, abs=1e-3)
    assert PRE in log["cmd"]


def test_replay_cli_reports_the_new_statistics(tmp_path):
    rng = np.random.default_rng(4)
    n = 300
    trace = make_trace(rng.integers(0, 1 << 22, n) * 64, rng.random(n) < 0.3,
                       np.arange(n) * 3)
    tpath = tmp_path / "t.trace"
    write_trace(trace, tpath, "dramsim3")
    out, cmds = tmp_path / "s.json", tmp_path / "c.txt"
    result = CliRunner().invoke(main, ["replay", "-m", "ddr4_3200", "-t", str(tpath),
                                       "--epoch", "500 ns", "--command-trace", str(cmds),
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for fragment in ("command  count", "write", "read latency (ns)  reads", "busiest",
                     "epochs of 800 clocks (500.00 ns)", "activate + precharge",
                     "average power", f"commands to {cmds}"):
        assert fragment in text, fragment
    s = json.loads(out.read_text())
    for key in ("commands", "write_latency_ns", "read_latency_histogram", "per_bank",
                "epochs", "energy"):
        assert key in s
    assert s["energy"]["total_nj"] > 0 and not s["energy"]["estimated"]
    assert sum(s["epochs"]["requests"]) == n


def test_epoch_and_command_trace_are_dram_only(tmp_path):
    tpath = tmp_path / "t.trace"
    tpath.write_text("0x0 READ 0\n")
    result = CliRunner().invoke(main, ["replay", "-m", "pm9a3", "-t", str(tpath),
                                       "--epoch", "100"])
    assert result.exit_code == 2
    assert "--epoch applies to DRAM presets only" in result.stderr
