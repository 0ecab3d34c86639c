"""Scratchpad SRAM config loading and validation."""

from pathlib import Path

import pytest

from sim.config.sram import list_sram_presets, load_sram_config
from sim.memory.sram_config import SramConfig
from tests.config_helpers import FIX, line_of, one_line_error, write_variant

SP_TEXT = (FIX / "scratchpad.yaml").read_text()




def variant(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    return write_variant(SP_TEXT, tmp_path, old, new, "sp.yaml")


def load_error(path: Path | str) -> str:
    return one_line_error(load_sram_config, path)


def test_fixture_resolves_to_integers():
    cfg = load_sram_config(str(FIX / "scratchpad.yaml"))
    assert isinstance(cfg, SramConfig)
    assert cfg.size_bytes == 4 * 2**20
    assert cfg.banks == 16
    assert cfg.bank_interleave_bytes == 8
    assert cfg.clock_ps == 800  # 1.25 GHz
    assert (cfg.latency, cfg.bytes_per_clock_per_port, cfg.ports_per_bank) == (2, 8, 1)
    assert (cfg.atomic.latency, cfg.atomic.ops_per_clock) == (4, 1)
    assert cfg.source == ""
    assert cfg.path == str(FIX / "scratchpad.yaml")


def test_piuma_preset_by_name():
    cfg = load_sram_config("piuma_scratchpad")
    assert cfg.size_bytes == 4 * 2**20  # the one published PIUMA figure
    assert cfg.clock_ps == 1000
    assert "2010.06277" in cfg.source
    assert "piuma_scratchpad" in list_sram_presets()


def test_clock_as_period(tmp_path):
    path, _ = variant(tmp_path, "clock: 1.25 GHz", "clock: 2 ns")
    assert load_sram_config(str(path)).clock_ps == 2000


def test_extends_overrides_size(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(f"extends: {FIX / 'scratchpad.yaml'}\nname: big\nsize: 8 MiB\natomic:\n  latency: 6\n")
    cfg = load_sram_config(str(path))
    assert (cfg.name, cfg.size_bytes, cfg.banks) == ("big", 8 * 2**20, 16)
    assert (cfg.atomic.latency, cfg.atomic.ops_per_clock) == (6, 1)


CASES = [
    ("size: 4 MiB", "size: 3 MiB", "size", "size", ["power of two"]),
    ("size: 4 MiB", "size: 4 MB", "size", "size", ["power of two"]),
    ("size: 4 MiB", "size: 4 KB", "size", "size", ["ambiguous"]),
    ("size: 4 MiB", "size: 4 ns", "size", "size", ["not a size"]),
    ("banks: 16", "banks: 12", "banks", "banks", ["power of two"]),
    ("banks: 16", "banks: 0", "banks", "banks", ["positive"]),
    ("banks: 16", "banks: sixteen", "banks", "banks", ["expected an integer"]),
    ("bank_interleave: 8 B", "bank_interleave: 6 B", "bank_interleave", "bank_interleave",
     ["power of two"]),
    ("bank_interleave: 8 B", "bank_interleave: 1 MiB", "bank_interleave", "bank_interleave",
     ["exceeds size"]),
    ("clock: 1.25 GHz", "clock: 1.5 GHz", "clock", "clock", ["whole number of ps"]),
    ("clock: 1.25 GHz", "clock: 1 GB", "clock", "clock", ["frequency"]),
    ("clock: 1.25 GHz", "clock: 1000", "clock", "clock", ["frequency"]),
    ("latency: 2", "latency: 0", "latency: 0", "latency", ["positive"]),
    ("ports_per_bank: 1", "ports_per_bank: true", "ports_per_bank", "ports_per_bank",
     ["expected an integer"]),
    ("  ops_per_clock: 1", "  ops_per_clock: 0", "ops_per_clock", "atomic.ops_per_clock",
     ["positive"]),
    ("  latency: 4", "  latncy: 4", "latncy", "atomic.latncy",
     ["unknown key 'latncy'", "did you mean 'latency'?"]),
    ("banks: 16", "bank: 16", "bank:", "bank", ["did you mean 'banks'?"]),
    ("  ops_per_clock: 1\n", "", "atomic:", "atomic.ops_per_clock", ["missing required key"]),
    ("size: 4 MiB\n", "", "# Test fixture", "size", ["missing required key 'size'"]),
    ("kind: scratchpad\n", "", "# Test fixture", "kind", ["missing required key 'kind'"]),
    ("kind: scratchpad", "kind: scratchpd", "kind", "kind", ["expected 'scratchpad'"]),
    ("kind: scratchpad", "kind: dram", "kind", "kind", ["DRAM preset", "load_memory_config"]),
]


@pytest.mark.parametrize("old, new, snippet, key_path, fragments", CASES,
                         ids=[f"{c[3]}:{c[1].strip()[:30]}" for c in CASES])
def test_validation_error_points_at_key(tmp_path, old, new, snippet, key_path, fragments):
    path, text = variant(tmp_path, old, new)
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, snippet)}: {key_path}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_dram_preset_is_not_a_scratchpad():
    msg = load_error(FIX / "ddr4_base.yaml")
    assert msg.startswith(f"{FIX / 'ddr4_base.yaml'}:1: kind: ")
    assert "DRAM preset" in msg and "load_memory_config" in msg
