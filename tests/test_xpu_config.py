"""xPU presets (hw_configs/xpu) and their HBM stack presets against NVIDIA's published figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.config.memory import list_memory_presets, load_memory_config
from sim.config.units import UnitError, parse_flop_rate
from sim.config.xpu import XPU_DIR, list_xpus, load_xpu
from sim.errors import UserError
from sim.llm.presets import presets_tables
from tests.config_helpers import line_of, one_line_error, write_variant
from workloads.traces import make_trace, write_trace

# Published device figures (A100 whitepaper / datasheet; H100 whitepaper / datasheet):
# SMs, boost clock, dense FP16 tensor FLOP/s, HBM bandwidth, HBM stacks.
PUBLISHED = {
    "a100": dict(sms=108, clock_hz=1410e6, flops=312e12, hbm_bytes_per_s=1.555e12, stacks=5,
                 nominal_bytes=40e9),
    "h100": dict(sms=132, clock_hz=1830e6, flops=989.4e12, hbm_bytes_per_s=3.35e12, stacks=5,
                 nominal_bytes=80e9),
}
# Dense FP16 FLOP per SM per clock = 4 tensor cores x FMA per core per clock x 2:
# A100 256 FMA (A100 whitepaper: "1024 dense FP16/FP32 FMA operations per clock" per SM),
# H100 512 FMA (twice A100's per SM per clock, Hopper whitepaper).
FLOP_PER_SM_PER_CLOCK = {"a100": 2 * 1024, "h100": 2 * 2048}
# JEDEC HBM: 1024 data pins per stack; pin rate is 2 per CK (HBM2E DDR) or 4 per CK (HBM3)
PINS_PER_STACK = 1024
TRANSFERS_PER_CK = {"HBM2E": 2, "HBM3": 4}


def within(got: float, want: float, tol: float) -> bool:
    return abs(got - want) <= tol * want


def test_presets_are_listed():
    assert {"a100", "h100"} <= set(list_xpus())
    assert {"hbm2e_a100", "hbm3_h100"} <= set(list_memory_presets())


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_xpu_matches_published_figures(name):
    x, pub = load_xpu(name), PUBLISHED[name]
    assert (x.name, x.sms, x.clock_hz, x.hbm_stacks) == (name, pub["sms"], pub["clock_hz"],
                                                         pub["stacks"])
    assert within(x.flops_per_s, pub["flops"], 0.001)
    assert within(x.hbm_bytes_per_s, pub["hbm_bytes_per_s"], 0.001)
    assert x.flops_per_sm_per_clock == FLOP_PER_SM_PER_CLOCK[name]
    # usable memory: a little under the marketed size, never above what the stacks hold
    assert 0.95 * pub["nominal_bytes"] <= x.hbm_capacity_bytes
    assert Path(x.path) == XPU_DIR / f"{name}.yaml" and x.source


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_hbm_preset_times_stacks_gives_the_cited_bandwidth(name):
    x = load_xpu(name)
    dram = load_memory_config(x.hbm_preset)
    want = PUBLISHED[name]["hbm_bytes_per_s"]
    assert within(dram.peak_bytes_per_s * x.hbm_stacks, want, 0.02)
    # the same from the JEDEC pin count and the preset's clock, not the model's formula
    pins = dram.channels * dram.pseudo_channels * dram.bus_width
    assert pins == PINS_PER_STACK
    pin_rate = TRANSFERS_PER_CK[dram.standard] * 1e12 / dram.tck_ps
    assert within(pins * pin_rate / 8 * x.hbm_stacks, want, 0.02)
    assert x.hbm_capacity_bytes <= dram.capacity_bytes * x.hbm_stacks


def test_stack_capacities_and_pin_rates():
    a100 = load_memory_config("hbm2e_a100")
    assert a100.capacity_bytes == 8 * 2**30  # 4-high of 16 Gb dies
    assert within(2e12 / a100.tck_ps, 2.43e9, 0.001)  # 1215 MHz DDR
    h100 = load_memory_config("hbm3_h100")
    assert h100.capacity_bytes == 16 * 2**30
    assert within(4e12 / h100.tck_ps, 3.35e12 * 8 / (5 * 1024), 0.002)  # ~5.23 Gb/s


def test_membound_presets_and_replay_on_hbm3_h100(tmp_path):
    runner = CliRunner()
    listing = runner.invoke(main, ["presets"])
    assert listing.exit_code == 0, listing.output
    assert "hbm2e_a100" in listing.output and "hbm3_h100" in listing.output
    trace = tmp_path / "seq.trace"
    write_trace(make_trace(np.arange(2000, dtype=np.uint64) * 64), trace, "native")
    out = runner.invoke(main, ["replay", "-m", "hbm3_h100", "-t", str(trace)])
    assert out.exit_code == 0, out.output
    # one stack's peak: 32 pseudo-channels x 32 B per BL8 burst every 2 CK of 764 ps
    assert f"{32 * 32 / (2 * 764e-12) / 1e9:.2f}" in out.output


def test_presets_tables_lists_models_and_xpus():
    text = presets_tables()
    for name in ("a100", "h100", "llama-3-70b", "mixtral-8x7b", "hbm3_h100"):
        assert name in text
    assert "problem:" not in text


BASE = """\
name: test-xpu
kind: xpu
source: "test"
sms: 132
clock: 1830 MHz
sram_per_sm: 228 KiB
sram_bytes_per_clock_per_sm: 128 B
flops: 989.4 TFLOP/s
hbm:
  preset: hbm3_h100
  stacks: 5
  capacity: 80 GB
  bandwidth: 3.35 TB/s
  latency: 260 ns
"""

BAD = [
    # (old, new, key, line snippet, message part)
    ("sms: 132", "smss: 132", "smss", "smss:", "unknown key 'smss' (did you mean 'sms'?)"),
    ("  latency: 260 ns", "  latncy: 260 ns", "hbm.latncy", "latncy:", "unknown key 'latncy'"),
    ("sms: 132", "sms: 0", "sms", "sms:", "must be a positive integer, got 0"),
    ("clock: 1830 MHz", "clock: 0 MHz", "clock", "clock:", "must be positive"),
    ("sram_per_sm: 228 KiB", "sram_per_sm: -1 KiB", "sram_per_sm", "sram_per_sm:", "must be positive"),
    ("  latency: 260 ns", "  latency: 0 ns", "hbm.latency", "latency:", "must be positive"),
    ("flops: 989.4 TFLOP/s", "flops: 989 TB/s", "flops", "flops:", "is not a FLOP rate"),
    ("flops: 989.4 TFLOP/s", "flops: 1 GFLOP/s", "flops", "flops:", "under one FLOP per SM per clock"),
    ("preset: hbm3_h100", "preset: hbm3_h10", "hbm.preset", "preset:",
     "unknown memory preset 'hbm3_h10' (did you mean 'hbm3_h100'?)"),
    ("stacks: 5", "stacks: 4", "hbm.bandwidth", "bandwidth:", "disagrees with 4 x hbm3_h100"),
    ("bandwidth: 3.35 TB/s", "bandwidth: 3.5 TB/s", "hbm.bandwidth", "bandwidth:", "more than 2%"),
    ("capacity: 80 GB", "capacity: 96 GB", "hbm.capacity", "capacity:", "exceeds 5 x hbm3_h100"),
    ("kind: xpu", "kind: machine", "kind", "kind:", "expected 'xpu'"),
    ("  stacks: 5\n", "", "hbm.stacks", "hbm:", "missing required key 'stacks'"),
]


@pytest.mark.parametrize("old,new,key,snippet,part", BAD)
def test_bad_xpu_gives_one_line_with_file_line_key(tmp_path, old, new, key, snippet, part):
    path, text = write_variant(BASE, tmp_path, old, new, "bad.yaml")
    msg = one_line_error(load_xpu, path)
    assert msg.startswith(f"{path}:{line_of(text, snippet)}: {key}: "), msg
    assert part in msg


def test_base_fixture_loads(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    x = load_xpu(str(path))
    assert (x.sram_bytes_per_sm, x.hbm_capacity_bytes, x.hbm_latency_ps) == (228 * 1024, 80e9, 260_000)


def test_unknown_device_suggests_and_lists():
    with pytest.raises(UserError) as info:
        load_xpu("h10")
    msg = str(info.value)
    assert "unknown xPU 'h10' (did you mean 'h100'?)" in msg
    assert "a100" in msg and "\n" not in msg


@pytest.mark.parametrize("text,want", [("312 TFLOP/s", 312 * 10**12), ("989.4 TFLOPS", 9894 * 10**11),
                                       ("1.5 GFLOP/s", 15 * 10**8), ("4 FLOP/ns", 4 * 10**9)])
def test_parse_flop_rate_exact(text, want):
    assert parse_flop_rate(text) == want


@pytest.mark.parametrize("text,part", [("312 TB/s", "is not a FLOP rate"), ("312", "has no unit"),
                                       ("0.5 FLOP/s", "not a whole number")])
def test_parse_flop_rate_rejects(text, part):
    with pytest.raises(UnitError) as info:
        parse_flop_rate(text)
    assert part in str(info.value)
