"""DRAM energy: a hand calculation from the preset's IDD numbers, rank active time, the
power: loader's checks, and presets without currents reporting none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from sim.cli import main
from sim.config.dram_power import power_for
from sim.config.memory import PRESET_DIR, list_memory_presets, load_memory_config
from sim.memory.commands import ACT, PRE, RD, REF
from sim.memory.dram import simulate
from sim.memory.dram_power import active_clocks, replay_energy
from tests.config_helpers import line_of, one_line_error

DDR4 = PRESET_DIR / "ddr4_3200.yaml"


def _milli(text: str) -> float:
    """'57 mA' -> 0.057 (A), '1.2 V' -> 1.2: the test's own reading of the preset."""
    value, unit = str(text).split()
    return float(value) * {"mA": 1e-3, "A": 1.0, "V": 1.0}[unit]


def test_energy_of_acts_reads_and_a_pre_matches_a_hand_calculation():
    """Four reads of one row, then one read of another row of the same bank:
    ACT, 4 RD, PRE, ACT, RD, computed by hand from the preset file's own numbers."""
    cfg = load_memory_config("ddr4_3200")
    # ro-ra-ba-co-bg-ch above 6 offset bits: bank group 2 bits, column 7, bank 2, rank 1
    row_bit = 6 + 2 + 7 + 2 + 1
    addr = np.array([0, 256, 512, 768, 1 << row_bit], np.uint64)  # columns 0-3, then row 1
    res = simulate(cfg, addr, np.zeros(5, bool), np.zeros(5, np.int64), with_log=True)
    log = res.raw.log
    assert log[:, 1].tolist() == [ACT, RD, RD, RD, RD, PRE, ACT, RD]
    assert len(set(map(tuple, log[:, 2:6].tolist()))) == 1  # one bank
    energy, note = replay_energy(res)
    assert note == ""

    doc = YAML(typ="safe").load(DDR4.read_text())
    p, t = doc["power"], doc["timing"]
    vdd = _milli(p["VDD"])
    idd = {k: _milli(p[k]) for k in ("IDD0", "IDD2N", "IDD3N", "IDD4R")}
    n_dev = p["devices_per_rank"]
    tck = 0.625e-9
    assert str(t["tCK"]) == "0.625 ns"
    rc, ras, burst = t["nRC"] * tck, t["nRAS"] * tck, 4 * tck  # BL8 on DDR: 4 clocks
    e_act = vdd * (idd["IDD0"] * rc - idd["IDD3N"] * ras - idd["IDD2N"] * (rc - ras)) * n_dev
    e_rd = vdd * (idd["IDD4R"] - idd["IDD3N"]) * burst * n_dev
    end = res.raw.end_clk
    open_clk = int(log[5, 0] - log[0, 0]) + int(end - log[6, 0])  # ACT..PRE, ACT..end
    ranks = doc["organization"]["ranks"]
    bg_active = vdd * idd["IDD3N"] * open_clk * tck * n_dev
    bg_pre = vdd * idd["IDD2N"] * (ranks * end - open_clk) * tck * n_dev
    total = 2 * e_act + 5 * e_rd + bg_active + bg_pre
    assert energy["total_nj"] == pytest.approx(total * 1e9, rel=1e-12)
    c = energy["components_nj"]
    assert c["activate"] == pytest.approx(2 * e_act * 1e9, rel=1e-12)
    assert c["read"] == pytest.approx(5 * e_rd * 1e9, rel=1e-12)
    assert c["background_active"] == pytest.approx(bg_active * 1e9, rel=1e-12)
    assert c["write"] == 0 and c["refresh"] == 0
    assert energy["average_power_mw"] == pytest.approx(total / (end * tck) * 1e3, rel=1e-12)
    assert energy["pj_per_bit"] == pytest.approx(total / (5 * 64 * 8) * 1e12, rel=1e-12)
    # 57 mA x 46.25 ns - 52 mA x 32.5 ns - 37 mA x 13.75 ns = 437.5 mA ns; x 1.2 V x 8 = 4.2 nJ
    assert e_act * 1e9 == pytest.approx(4.2, rel=1e-9)


def test_active_time_is_the_union_of_open_banks_and_refresh_per_rank():
    # columns: clk, cmd, channel, rank, bankgroup, bank, row; two ranks on one channel
    log = np.array([
        [10, ACT, 0, 0, 0, 0, 1],
        [14, ACT, 0, 0, 1, 0, 1],   # a second bank of rank 0 opens: still one span
        [30, PRE, 0, 0, 0, 0, 1],
        [50, PRE, 0, 0, 1, 0, 1],   # rank 0 open 10..50 = 40
        [60, REF, 0, 0, -1, -1, -1],  # + tRFC 25 -> 65
        [20, ACT, 0, 1, 2, 3, 7],   # rank 1 open 20..end (100) = 80
        [95, REF, 0, 1, -1, -1, -1],  # (not issued with a bank open in a real run) clipped: 5
    ], np.int64)
    got = active_clocks(log, n_ranks=2, ranks=2, end_clk=100, rfc=25)
    assert got.tolist() == [65, 85]


def test_replay_energy_on_ddr4_counts_every_command(tmp_path):
    """On a longer mixed trace the components follow the command counts exactly."""
    cfg = load_memory_config("ddr4_3200")
    rng = np.random.default_rng(5)
    n = 3000
    addr = rng.integers(0, 1 << 24, n).astype(np.uint64) * 64
    res = simulate(cfg, addr, rng.random(n) < 0.4, np.arange(n, dtype=np.int64) * 12,
                   with_log=True)
    energy, _ = replay_energy(res)
    cmd = res.summary["commands"]
    per = energy["per_command_nj"]
    c = energy["components_nj"]
    for key, name in (("activate", "ACT"), ("read", "RD"), ("write", "WR"), ("refresh", "REF")):
        assert c[key] == pytest.approx(per[key] * cmd[name], rel=1e-12)
    assert cmd["REF"] > 0  # the trace is long enough to refresh
    assert 0 < energy["active_fraction"] < 1
    assert energy["total_nj"] == pytest.approx(sum(c.values()))


def test_presets_with_power_load_and_derived_speed_bins_report_none():
    with_power = []
    for name in list_memory_presets():
        power, why = power_for(load_memory_config(name))
        if power is not None:
            with_power.append(name)
            assert power.source and why == ""
        else:
            assert "no power: section" in why or "are for tCK" in why
    for name in ("ddr4_3200", "dramsim3_ddr4_3200", "hbm2", "dramsim3_hbm2", "hbm3"):
        assert name in with_power
    power, why = power_for(load_memory_config("hbm2e"))  # extends hbm2 at 3.2 Gb/s
    assert power is None and "tCK 625 ps" in why and "hbm2.yaml" in why
    assert power_for(load_memory_config("hbm3"))[0].estimated


def test_replay_without_power_section_reports_no_energy(tmp_path):
    path = tmp_path / "t.trace"
    path.write_text("0x0 READ 0\n0x40 READ 0\n")
    out = tmp_path / "s.json"
    result = CliRunner().invoke(main, ["replay", "-m", "lpddr5", "-t", str(path),
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "energy: not reported: lpddr5 has no power: section" in result.stdout
    s = json.loads(out.read_text())
    assert s["energy"] is None and "no power: section" in s["energy_note"]


def _variant(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    text = DDR4.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path, text


def _load_power(path: str) -> object:
    return power_for(load_memory_config(path))


@pytest.mark.parametrize("old, new, key, fragment", [
    ("  IDD4R: 168 mA", "  IDD4R: 40 mA", "IDD4R", "must exceed IDD3N (52 mA)"),
    ("  IDD0: 57 mA", "  IDD0: 57", "IDD0", "expected a value with a unit such as '57 mA'"),
    ("  IDD0: 57 mA", "  IDD0: 20 mA", "IDD0", "activate energy would be negative"),
    ("  VDD: 1.2 V", "  VDD: 1.2 mA", "VDD", "units: V, mV"),
    ("  IDD5B: 250 mA", "  IDD5X: 250 mA", "IDD5X", "did you mean 'IDD5B'"),
])
def test_power_section_mistakes_are_one_line_errors(tmp_path, old, new, key, fragment):
    path, text = _variant(tmp_path, old, new)
    msg = one_line_error(_load_power, path)
    assert msg.startswith(f"{path}:{line_of(text, new.strip())}: power.{key}: "), msg
    assert fragment in msg
