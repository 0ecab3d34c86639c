"""Calibration tables: achievable bandwidth per access shape from the request-level DRAM model."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from sim.config.memory import PRESET_DIR, load_memory_config
from sim.errors import UserError
from sim.memory.calibration import (
    CalibrationTable,
    calibrate,
    calibration_path,
    load_calibration,
    measure_point,
    peak_bytes_per_s,
    read_calibration,
    save_calibration,
    shape_trace,
)
from sim.memory.dram import simulate

SMALL = 1 << 14  # requests per point: fast, still thousands of accesses per point
SHIPPED = ("hbm2e", "hbm3", "hbm2e_a100", "hbm3_h100", "ddr5_4800")


def _replay_bytes_per_s(cfg, addr: np.ndarray) -> float:
    """Reads of the preset's access size at the given addresses, all arriving at once."""
    n = len(addr)
    res = simulate(cfg, addr.astype(np.uint64), np.zeros(n, bool), np.zeros(n, np.int64),
                   request_bytes=cfg.access_bytes)
    return n * cfg.access_bytes / (res.raw.end_clk * cfg.tck_ps * 1e-12)


def test_peak_matches_the_pin_rate():
    # JESD238A HBM3: 1024 data pins at 6.4 Gb/s; JESD235D HBM2E: 1024 pins at 3.2 Gb/s
    assert peak_bytes_per_s(load_memory_config("hbm3")) == 1024 * 6_400_000_000 // 8
    assert peak_bytes_per_s(load_memory_config("hbm2e")) == 1024 * 3_200_000_000 // 8


def test_read_bandwidth_rises_with_chunk_and_stays_below_peak():
    chunks = (64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20)
    table = calibrate("hbm3", chunks=chunks, read_fractions=(1.0,), requests_per_point=1 << 16)
    bw = table.bytes_per_s[:, 0]
    for a, b in zip(bw, bw[1:], strict=False):
        assert b >= 0.97 * a  # non-decreasing up to the randomness of run placement
    assert bw[-1] > 4 * bw[0]
    assert np.all(bw <= 1024 * 6_400_000_000 // 8)


@pytest.mark.parametrize("preset", ["hbm2e_a100", "hbm3"])
def test_random_small_reads_far_below_peak_and_streaming_near_it(preset):
    cfg = load_memory_config(preset)
    peak = cfg.scheduled_channels * cfg.access_bytes / (cfg.timing.BURST * cfg.tck_ps * 1e-12)
    n = 1 << 16  # equal lengths: start-up and drain weigh the same in both measurements
    small = measure_point(cfg, 64, 1.0, n, seed=3).bytes_per_s
    big = measure_point(cfg, 1 << 20, 1.0, n, seed=3).bytes_per_s
    # the same shapes replayed directly: one address stream from 0, and independent random
    # 64 B pairs drawn here (not by the calibration's generator)
    seq = _replay_bytes_per_s(cfg, np.arange(n, dtype=np.int64) * cfg.access_bytes)
    rng = np.random.default_rng(99)
    starts = rng.integers(0, cfg.capacity_bytes // 64, n // 2) * 64
    rand = _replay_bytes_per_s(cfg, (starts[:, None] + np.array([0, 32])[None, :]).ravel())
    assert big == pytest.approx(seq, rel=0.02)
    assert small == pytest.approx(rand, rel=0.08)  # seeds alone spread these by about 4 %
    assert small < 0.35 * peak  # every 64 B run opens a row: far from the bus peak
    # streaming: the bus peak less all-bank refresh (tRFC/tREFI, about 9 %) and row
    # switches the 32-entry queues cannot hide; see the report on issue 11
    assert big > 0.75 * peak
    assert big <= peak


def test_interpolation_rule_on_a_hand_made_table():
    t = CalibrationTable("toy", "h", 10_000, 32, chunks=(64, 256, 4096), read_fractions=(0.0, 1.0),
                         bytes_per_s=np.array([[100, 200], [300, 400], [1000, 1000]], np.int64),
                         read_latency_ps=np.full((3, 2), -1, np.int64))
    assert t.bandwidth(64, 0.0) == 100 and t.bandwidth(256, 1.0) == 400  # table points
    assert t.bandwidth(128, 1.0) == 300  # log2 128 = 7, halfway between 6 and 8
    # f = 0.25: 100 + 0.25 * 100 = 125 at 64 B, 300 + 0.25 * 100 = 325 at 256 B; halfway
    assert t.bandwidth(128, 0.25) == 225
    assert t.bandwidth(1024, 0.0) == 650  # log2 1024 = 10, halfway between 8 and 12
    assert t.bandwidth(100, 0.0) == round(100 + (math.log2(100) - 6) / 2 * 200)  # 164
    assert t.bandwidth(32, 0.5) == 150  # below the smallest chunk: clamped to 64 B
    assert t.bandwidth(1 << 30, 0.0) == 1000  # above the largest: clamped to 4 KiB
    assert t.bandwidth(256, 1.5) == 400 and t.bandwidth(256, -1.0) == 300  # fraction clamped


def test_same_seed_same_number_and_a_point_alone_equals_its_table_entry():
    cfg = load_memory_config("hbm2e")
    a = measure_point(cfg, 1024, 0.5, SMALL, seed=7)
    b = measure_point(cfg, 1024, 0.5, SMALL, seed=7)
    assert a == b
    table = calibrate("hbm2e", chunks=(256, 1024), read_fractions=(0.5, 1.0),
                      requests_per_point=SMALL, seed=7)
    assert table.point(1024, 0.5).bytes_per_s == a.bytes_per_s
    c = measure_point(cfg, 1024, 0.5, SMALL, seed=8)
    assert c.bytes_per_s != a.bytes_per_s  # the seed does reach the addresses


def test_shape_trace_is_chunk_runs_with_the_read_fraction():
    cfg = load_memory_config("hbm3")
    tr = shape_trace(cfg, 256, 0.25, 800, seed=1)
    runs = tr.reshape(-1, 256 // 32)
    assert len(runs) == 100
    assert np.all(runs["addr"][:, 0] % 256 == 0)
    assert np.all(np.diff(runs["addr"].astype(np.int64), axis=1) == 32)
    assert np.all(runs["is_write"] == runs["is_write"][:, :1])  # a run is all read or all write
    assert np.count_nonzero(~runs["is_write"][:, 0]) == 25
    assert np.all(tr["arrival"] == 0)
    with pytest.raises(UserError, match="multiple of the 32 B access"):
        shape_trace(cfg, 48, 1.0, 10, seed=1)


def test_table_round_trips_through_yaml(tmp_path):
    table = calibrate("hbm2e", chunks=(64, 4096), read_fractions=(0.0, 1.0),
                      requests_per_point=1 << 10)
    path = save_calibration(table, tmp_path / "t.yaml")
    back = read_calibration(path)
    assert back.chunks == table.chunks and back.read_fractions == table.read_fractions
    assert np.array_equal(back.bytes_per_s, table.bytes_per_s)
    assert np.array_equal(back.read_latency_ps, table.read_latency_ps)
    assert back.preset_hash == table.preset_hash
    assert back.provenance["seed"] == 1 and "membound calibrate --memory hbm2e" in \
        back.provenance["command"]


def test_missing_and_stale_tables(tmp_path):
    preset = tmp_path / "mymem.yaml"
    shutil.copy(PRESET_DIR / "hbm2.yaml", preset)
    with pytest.raises(UserError, match=r"no calibration table .*membound calibrate --memory"):
        load_calibration(str(preset))
    table = calibrate(str(preset), chunks=(64, 1024), read_fractions=(1.0,),
                      requests_per_point=1 << 10)
    assert save_calibration(table) == calibration_path(str(preset)) == \
        tmp_path / "calibration" / "mymem.yaml"
    assert load_calibration(str(preset)).bytes_per_s.tolist() == table.bytes_per_s.tolist()
    # a citation edit does not change the timing, so the table stays valid
    text = preset.read_text()
    preset.write_text(text.replace('source: "', 'source: "edited; '))
    load_calibration(str(preset))
    preset.write_text(text.replace("tRFC: 260 ns", "tRFC: 350 ns"))
    with pytest.raises(UserError, match=r"stale.*membound calibrate --memory"):
        load_calibration(str(preset))


@pytest.mark.parametrize("preset", SHIPPED)
def test_shipped_tables_are_current(preset):
    table = load_calibration(preset)  # raises if missing or generated from another preset
    assert table.chunks[0] == 64 and table.chunks[-1] == 1 << 20
    assert set(table.read_fractions) == {0.0, 0.5, 1.0}
    assert np.all(table.bytes_per_s <= table.peak_bytes_per_s)


def _cli():
    import click

    from sim.calibrate_cli import register
    from sim.cli import MemboundGroup

    @click.group(cls=MemboundGroup)
    def membound() -> None:
        pass

    register(membound)
    return membound


def test_calibrate_command_writes_and_prints_the_table(tmp_path):
    from click.testing import CliRunner

    out = tmp_path / "t.yaml"
    r = CliRunner().invoke(_cli(), ["calibrate", "-m", "ddr5_4800", "--requests", "256",
                                    "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "GB/s at 1 read" in r.output and "1 MiB" in r.output and f"wrote {out}" in r.output
    table = read_calibration(out)
    assert table.preset == "ddr5_4800" and len(table.chunks) == 15
    assert table.provenance["command"] == "membound calibrate --memory ddr5_4800 --requests 256"


@pytest.mark.parametrize("args, message", [
    (["calibrate"], "give --memory PRESET or --all"),
    (["calibrate", "-m", "hbm3", "-m", "hbm2e", "--out", "x.yaml"], "--out takes one preset"),
    (["calibrate", "-m", "hbm33"], "unknown memory preset 'hbm33'"),
])
def test_calibrate_command_errors_are_one_line(args, message):
    from click.testing import CliRunner

    r = CliRunner().invoke(_cli(), args)
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output
