"""The `membound` command line: replay, convert, presets, demo, bench smoke run, error handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from sim.cli import main
from sim.memory.dram import BREAKDOWN_KEYS
from sim.report_table import BREAKDOWN_LABELS
from workloads.traces import make_trace, read_trace, write_trace

SUMMARY_KEYS = {
    "requests", "bytes_read", "bytes_written", "sim_time_ns", "bandwidth_gb_per_s",
    "peak_gb_per_s", "utilization", "read_latency_ns", "row_hit_rate", "row_miss_rate",
    "row_conflict_rate", "per_channel_gb_per_s", "latency_breakdown_ns",
}
# the preset name, and the statistics a replay adds (sim/memory/dram_stats.py, dram_power.py)
OPTIONAL_SUMMARY_KEYS = {"memory", "commands", "write_latency_ns", "read_latency_histogram",
                         "per_bank", "energy", "energy_note", "epochs"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_user_error(result: Result, *fragments: str) -> str:
    """Exit code 2 and exactly one stderr line `membound: ...` containing every fragment."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("membound: ")
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


@pytest.fixture
def mixed_trace(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """40 requests, one in four a write, over two rows of several banks, rising arrivals."""
    rng = np.random.default_rng(7)
    n = 40
    addr = (rng.integers(0, 4, n) << 20) + rng.integers(0, 64, n) * 64
    trace = make_trace(addr, np.arange(n) % 4 == 3, np.sort(rng.integers(0, 60, n)))
    path = tmp_path / "mixed.trace"
    write_trace(trace, path, "dramsim3")
    return path, trace


def test_replay_json_has_exactly_the_summary_keys_and_sane_values(mixed_trace, tmp_path):
    path, trace = mixed_trace
    out = tmp_path / "out" / "summary.json"
    result = run("replay", "--memory", "ddr4_3200", "--trace", path, "--json", out)
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout.splitlines()[-1]
    s = json.loads(out.read_text())
    assert SUMMARY_KEYS <= set(s) <= SUMMARY_KEYS | OPTIONAL_SUMMARY_KEYS
    reads = int(np.count_nonzero(~trace["is_write"]))
    assert s["requests"] == len(trace)
    assert s["bytes_read"] == 64 * reads
    assert s["bytes_written"] == 64 * (len(trace) - reads)
    assert 0 < s["bandwidth_gb_per_s"] <= s["peak_gb_per_s"]
    assert 0 < s["utilization"] <= 1
    assert s["sim_time_ns"] > 0
    lat = s["read_latency_ns"]
    assert set(lat) == {"mean", "p50", "p99"}
    assert 0 < lat["p50"] <= lat["p99"]
    assert s["row_hit_rate"] + s["row_miss_rate"] + s["row_conflict_rate"] == pytest.approx(1)
    assert set(s["latency_breakdown_ns"]) == set(BREAKDOWN_KEYS)
    assert sum(s["latency_breakdown_ns"].values()) == pytest.approx(lat["mean"])
    assert sum(s["per_channel_gb_per_s"]) == pytest.approx(s["bandwidth_gb_per_s"])
    assert out.read_text().startswith('{\n  "')  # indent 2


def test_replay_table_shows_units_breakdown_rows_and_channels(mixed_trace):
    path, _ = mixed_trace
    result = run("replay", "--memory", "hbm2", "--trace", path, "--format", "dramsim3")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for header in ("bandwidth (GB/s)", "read latency mean (ns)", "utilization (%)", "% of mean"):
        assert header in text
    for key in BREAKDOWN_KEYS:
        row = next(line for line in text.splitlines() if BREAKDOWN_LABELS[key] in line)
        assert len(row.split()) >= 3
    assert "per-channel bandwidth (GB/s) over 16 channels: min" in text
    assert "max" in text


def test_reference_engine_gives_the_same_summary(mixed_trace, tmp_path):
    path, _ = mixed_trace
    outs = {}
    for engine in ("fast", "reference"):
        outs[engine] = tmp_path / f"{engine}.json"
        result = run("replay", "-m", "ddr4_3200", "-t", path, "--engine", engine, "--json", outs[engine])
        assert result.exit_code == 0, result.output
    assert json.loads(outs["fast"].read_text()) == json.loads(outs["reference"].read_text())


def test_empty_trace_gives_zero_statistics(tmp_path):
    path = tmp_path / "empty.trace"
    path.write_text("# nothing here\n\n")
    out = tmp_path / "empty.json"
    result = run("replay", "--memory", "ddr4_3200", "--trace", path, "--json", out)
    assert result.exit_code == 0, result.output
    s = json.loads(out.read_text())
    assert s["requests"] == 0 and s["bytes_read"] == 0 and s["bytes_written"] == 0
    assert s["bandwidth_gb_per_s"] == 0 and s["utilization"] == 0
    assert s["read_latency_ns"] == {"mean": 0.0, "p50": 0.0, "p99": 0.0}
    assert all(v == 0 for v in s["latency_breakdown_ns"].values())


def test_address_beyond_capacity_needs_wrap(tmp_path):
    path = tmp_path / "far.trace"
    path.write_text("0x0 READ 0\n0x40000000000 READ 0\n")  # 4 TiB, beyond every preset
    result = run("replay", "--memory", "ddr4_3200", "--trace", path)
    assert_user_error(result, str(path), "beyond", "--wrap")
    out = tmp_path / "far.json"
    result = run("replay", "--memory", "ddr4_3200", "--trace", path, "--wrap", "--json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["requests"] == 2


@pytest.mark.parametrize("case", ["missing_trace", "unknown_preset", "bad_line", "bad_format",
                                  "bad_yaml", "missing_option", "bad_k", "json_unwritable",
                                  "ramulator_arrivals"])
def test_bad_input_is_one_line_exit_2(case, tmp_path):
    good = tmp_path / "good.trace"
    good.write_text("0x0 READ 0\n0x40 READ 3\n")
    if case == "missing_trace":
        missing = tmp_path / "missing.trace"
        assert_user_error(run("replay", "-m", "ddr4_3200", "-t", missing), str(missing))
    elif case == "unknown_preset":
        assert_user_error(run("replay", "-m", "ddr9_9999", "-t", good), "ddr9_9999", "ddr4_3200")
    elif case == "bad_line":
        bad = tmp_path / "bad.trace"
        bad.write_text("0x0 READ 0\n0x40 READ 1\n0xzz READ 2\n")
        assert_user_error(run("replay", "-m", "ddr4_3200", "-t", bad), f"{bad}:3")
    elif case == "bad_format":
        assert_user_error(run("replay", "-m", "ddr4_3200", "-t", good, "--format", "csv"), "--format", "csv")
    elif case == "bad_yaml":
        cfg = tmp_path / "mem.yaml"
        cfg.write_text("name: x\nstandard: DDR4\norganization: [1, 2\n")
        assert_user_error(run("replay", "-m", cfg, "-t", good), str(cfg))
    elif case == "missing_option":
        assert_user_error(run("replay", "-m", "ddr4_3200"), "--trace")
    elif case == "bad_k":
        assert_user_error(run("replay", "-m", "ddr4_3200", "-t", good, "--requests-per-clock", "0"),
                          "--requests-per-clock")
    elif case == "json_unwritable":
        blocker = tmp_path / "file"
        blocker.write_text("")
        out = blocker / "x.json"
        assert_user_error(run("replay", "-m", "ddr4_3200", "-t", good, "--json", out), str(out))
    elif case == "ramulator_arrivals":
        out = tmp_path / "out.ram"
        assert_user_error(run("convert", "-t", good, "--to", "ramulator", "-o", out), str(out))


def test_convert_round_trips_through_every_format(tmp_path):
    rng = np.random.default_rng(3)
    trace = make_trace(rng.integers(0, 1 << 30, 50) * 64, rng.random(50) < 0.3,
                       np.sort(rng.integers(0, 1000, 50)))
    src = tmp_path / "src.trace"
    write_trace(trace, src, "dramsim3")
    native = tmp_path / "t.npz"
    back = tmp_path / "back.trace.gz"
    assert run("convert", "-t", src, "--to", "native", "-o", native).exit_code == 0
    result = run("convert", "-t", native, "--to", "dramsim3", "-o", back, "--format", "native")
    assert result.exit_code == 0 and "50 requests" in result.stdout
    assert np.array_equal(read_trace(back), trace)
    assert np.array_equal(read_trace(native), trace)
    # Ramulator has no arrival clocks: round-trip a trace whose arrivals are all 0
    flat = make_trace(trace["addr"], trace["is_write"])
    write_trace(flat, src, "dramsim3")
    ram = tmp_path / "t.ram"
    assert run("convert", "-t", src, "--to", "ramulator", "-o", ram).exit_code == 0
    assert ram.read_text().splitlines()[0].split()[0] in ("LD", "ST")
    assert run("convert", "-t", ram, "--to", "dramsim3", "-o", back).exit_code == 0
    assert np.array_equal(read_trace(back), flat)


def test_presets_lists_standard_peak_and_follows():
    result = run("presets")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("peak (GB/s)" in line and "follows" in line for line in lines)
    ddr4 = next(line.split() for line in lines if line.split()[:1] == ["ddr4_3200"])
    assert ddr4[1] == "DDR4" and ddr4[2] == "25.6"
    assert any(line.split()[:1] == ["dramsim3_hbm2"] and line.split()[-1] == "dramsim3" for line in lines)
    # machine presets: piuma is 1 die x 8 cores of 66 threads on 16 x 2 GiB narrow DDR5 channels
    piuma = next(line.split() for line in lines if line.split()[:1] == ["piuma"])
    assert piuma[1:5] == ["1", "x", "8", "66"] and piuma[5] == "piuma_ddr5_4400"
    assert piuma[-1] == "32"


def test_bench_memory_smoke(tmp_path):
    out = tmp_path / "bench.json"
    result = run("bench", "memory", "--requests", "2000", "--reference-requests", "200", "--json", out)
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())
    for key in ("fast_requests_per_s", "reference_requests_per_s", "speedup", "jit_compile_s",
                "fast_requests", "reference_requests", "fast_wall_s", "startup_s", "numba_cache_hit"):
        assert key in r
    assert r["fast_requests"] == 2000 and r["reference_requests"] == 200
    assert r["fast_requests_per_s"] > 0 and r["jit_compile_s"] >= 0
    assert r["reference_matches_fast"] is True
    assert "requests/s" in result.stdout


def test_console_entry_point_error_is_one_line(tmp_path):
    missing = tmp_path / "nope.trace"
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "replay", "-m", "ddr4_3200", "-t", str(missing)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"membound: {missing}: no such trace file"]


def test_trailing_writes_finish(tmp_path):
    path = tmp_path / "w.trace"
    path.write_text("0x0 READ 0\n0x40 WRITE 0\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "sim.cli", "replay", "-m", "ddr4_3200", "-t", str(path)],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:  # a controller that never drains a lone write hangs
        pytest.fail("replay of a trace ending in one write did not finish")
    assert proc.returncode == 0, proc.stderr
    assert "bytes written (B)" in proc.stdout
