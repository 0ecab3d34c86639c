"""Accuracy against DRAMSim3 and Ramulator 2 (tests/data/validation, copied from shared/).

Tolerances from the issue: bandwidth within 10%, unloaded (idle) read latency within 5%,
loaded read latency within 25%, row-hit rate within 3 percentage points.
"""

import csv
from functools import cache
from pathlib import Path

import pytest

from sim.config.memory import load_memory_config
from sim.memory.dram import simulate
from workloads.validation_traces import validation_trace

DATA = Path(__file__).parent / "data" / "validation" / "dram_reference.csv"
PRESET = {
    ("dramsim3", "DDR4-3200"): "dramsim3_ddr4_3200",
    ("dramsim3", "HBM2"): "dramsim3_hbm2",
    ("ramulator2", "DDR4-3200"): "ramulator2_ddr4_3200",
    ("ramulator2", "HBM2"): "ramulator2_hbm2",
    ("ramulator2", "HBM3-6400"): "ramulator2_hbm3",
}
ROWS = list(csv.DictReader(DATA.open()))


@cache
def replay(preset: str, trace: str) -> dict:
    t = validation_trace(trace)
    return simulate(load_memory_config(preset), t["addr"], t["is_write"], t["arrival"]).summary


def test_all_fifteen_rows_present() -> None:
    assert len(ROWS) == 15
    assert {(r["reference"], r["standard"]) for r in ROWS} == set(PRESET)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['reference']}-{r['standard']}-{r['trace']}")
def test_matches_reference(row: dict) -> None:
    preset = PRESET[(row["reference"], row["standard"])]
    assert load_memory_config(preset).follows == row["reference"]
    got = replay(preset, row["trace"])
    ref_lat = float(row["read_latency_ns"])
    lat = got["read_latency_ns"]["mean"]
    if row["trace"] == "idle":
        assert lat == pytest.approx(ref_lat, rel=0.05), (lat, ref_lat)
    else:
        ref_bw = float(row["bandwidth_gb_per_s"])
        assert got["bandwidth_gb_per_s"] == pytest.approx(ref_bw, rel=0.10), got
        assert lat == pytest.approx(ref_lat, rel=0.25), (lat, ref_lat)
    assert 100 * got["row_hit_rate"] == pytest.approx(float(row["row_hit_pct"]), abs=3.0)
    assert got["bandwidth_gb_per_s"] <= got["peak_gb_per_s"]
