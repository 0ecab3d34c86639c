"""PIM presets (hw_configs/pim) against the published figures, and their loader's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config.machine import make_node
from sim.config.memory import load_memory_config
from sim.config.pim import PIM_DIR, list_pim, load_pim
from sim.errors import UserError
from tests.config_helpers import line_of, one_line_error, write_variant

# Published figures, each multiple recomputed here from the units' own description:
# HBM-PIM (ISSCC 2021): 128 PCUs x 16 FP16 lanes at 300 MHz in an HBM2 stack of 1024 pins
# at 2.4 Gb/s; AiM (ISSCC 2022 / Hot Chips 35): per channel 16 banks x 32 B per 1 GHz PU
# clock against 16 pins at 16 Gb/s, 16 BF16 multipliers per PU; AttAcc (its simulator's
# BW_SCALE): 2 ranks x 4 bank groups x 4 banks, one column per bank every 2 x tCCD_S.
HBM_PIM_INTERNAL = 128 * 16 * 2 * 300e6  # bytes/s: 16 FP16 operands of 2 B per PCU clock
HBM_PIM_EXTERNAL = 1024 * 2.4e9 / 8
HBM_PIM_FLOPS = 128 * 16 * 2 * 300e6  # a MAC (2 FLOP) per lane per clock
AIM_INTERNAL = 16 * 32 * 1e9
AIM_EXTERNAL = 16 * 16e9 / 8
AIM_FLOPS_PER_BANK = 16 * 2 * 1e9
ATTACC_MULTIPLE = 2 * 4 * 4 / 2

PUBLISHED = {
    # name: (kind, multiple, FLOP per byte, units per, memory)
    "hbm_pim": ("bank", HBM_PIM_INTERNAL / HBM_PIM_EXTERNAL, HBM_PIM_FLOPS / HBM_PIM_INTERNAL,
                "bank", "hbm2"),
    "aim": ("bank", AIM_INTERNAL / AIM_EXTERNAL, AIM_FLOPS_PER_BANK / 32e9, "bank", "lpddr5"),
    "attacc_bank": ("bank", ATTACC_MULTIPLE, 1, "bank", "hbm3"),
    "duplex_bank": ("bank", 16, 1, "bank", "hbm3"),
    "duplex_logic": ("logic", 4, 8, "stack", "hbm3"),
}


def test_every_preset_is_listed():
    assert set(list_pim()) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_matches_published_figures(name):
    p = load_pim(name)
    kind, multiple, fpb, units, memory = PUBLISHED[name]
    assert (p.name, p.kind, p.units_per, p.memory_preset) == (name, kind, units, memory)
    assert p.bandwidth_multiple == pytest.approx(multiple, rel=1e-9)
    assert p.flops_per_byte == pytest.approx(fpb, rel=1e-9)
    assert Path(p.path) == PIM_DIR / f"{name}.yaml" and p.source
    assert isinstance(p.latency_ps, int)
    load_memory_config(p.memory_preset)  # the named DRAM preset exists and loads


def test_every_number_is_cited_in_a_comment():
    for name in PUBLISHED:
        text = (PIM_DIR / f"{name}.yaml").read_text()
        for key in ("bandwidth_multiple:", "flops_per_byte:", "latency:", "memory:"):
            i = line_of(text, key)
            before = text.splitlines()[i - 2]
            here = text.splitlines()[i - 1]
            assert "#" in here or before.lstrip().startswith("#"), f"{name}: {key} uncited"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_latency_is_the_first_data_of_an_all_bank_sequence(name):
    # the presets' assumed launch latency: ACT, tRCD, then the first column's CL + burst in
    # the memory preset they name (what the request level's sequence gives)
    p = load_pim(name)
    d = load_memory_config(p.memory_preset)
    t = d.timing
    assert p.latency_ps == (t.RCD_RD + t.CL + t.BURST) * d.tck_ps


def test_rates_scale_the_stack_bandwidth():
    logic = load_pim("duplex_logic")
    stack = 819_200_000_000  # one HBM3 stack at 6.4 Gb/s: 1024 pins x 6.4e9 / 8
    assert logic.internal_bytes_per_s(stack) == 4 * stack
    assert logic.flops_per_s(stack) == 32 * stack
    hbm_pim = load_pim("hbm_pim")
    # ISSCC 2021: 1.2 TFLOP/s on a 2.4 Gb/s HBM2 stack
    assert hbm_pim.flops_per_s(307_200_000_000) == 1_228_800_000_000
    assert isinstance(hbm_pim.flops_per_s(307_200_000_000), int)


def test_overrides_replace_a_key():
    p = load_pim("attacc_bank", {"bandwidth_multiple": make_node(9)})
    assert p.bandwidth_multiple == 9  # AttAcc's power-constrained multiple


def test_unknown_preset_suggests_and_lists():
    with pytest.raises(UserError) as info:
        load_pim("duplex_logik")
    msg = str(info.value)
    assert "unknown PIM preset 'duplex_logik' (did you mean 'duplex_logic'?)" in msg
    assert "hbm_pim" in msg and "\n" not in msg


BASE = """\
name: test-pim
kind: bank
source: "test"
bandwidth_multiple: 16
flops_per_byte: 1
units_per: bank
latency: 30 ns
memory: hbm3
"""

BAD = [
    # (old, new, key, line snippet, message part)
    ("kind: bank", "kind: bnak", "kind", "kind:", "expected one of bank, logic"),
    ("kind: bank", "kind: pim", "kind", "kind:", "expected one of bank, logic"),
    ("bandwidth_multiple: 16", "bandwidth_multiple: 0", "bandwidth_multiple",
     "bandwidth_multiple:", "must be a positive integer, got 0"),
    ("bandwidth_multiple: 16", "bandwidth_multiple: 1.5", "bandwidth_multiple",
     "bandwidth_multiple:", "expected an integer"),
    ("flops_per_byte: 1", "flops_per_byte: 0", "flops_per_byte", "flops_per_byte:",
     "must be positive"),
    ("flops_per_byte: 1", "flops_per_byte: -2.5", "flops_per_byte", "flops_per_byte:",
     "must be positive"),
    ("flops_per_byte: 1", "flops_per_byte: lots", "flops_per_byte", "flops_per_byte:",
     "expected a number"),
    ("memory: hbm3", "memory: hbm4", "memory", "memory:", "unknown memory preset 'hbm4'"),
    ("units_per: bank", "units_per: stack", "units_per", "units_per:",
     "bank-level units sit per bank or per bank_group, not per stack"),
    ("units_per: bank", "units_per: rank", "units_per", "units_per:", "expected one of bank"),
    ("latency: 30 ns", "latency: 0 ns", "latency", "latency:", "must be a positive time"),
    ("latency: 30 ns", "latency: 30 GB", "latency", "latency:", "is not a time"),
    ("memory: hbm3", "memroy: hbm3", "memroy", "memroy:", "unknown key 'memroy' (did you mean 'memory'?)"),
]


@pytest.mark.parametrize("old,new,key,snippet,part", BAD)
def test_bad_pim_gives_one_line_with_file_line_key(tmp_path, old, new, key, snippet, part):
    path, text = write_variant(BASE, tmp_path, old, new, "bad.yaml")
    msg = one_line_error(load_pim, path)
    assert msg.startswith(f"{path}:{line_of(text, snippet)}: {key}: "), msg
    assert part in msg


def test_missing_key_names_the_file(tmp_path):
    path, _ = write_variant(BASE, tmp_path, "memory: hbm3\n", "", "bad.yaml")
    msg = one_line_error(load_pim, path)
    assert msg.startswith(f"{path}:") and "missing required key 'memory'" in msg


def test_logic_kind_needs_stack_units(tmp_path):
    path, text = write_variant(BASE, tmp_path, "kind: bank", "kind: logic", "bad.yaml")
    msg = one_line_error(load_pim, path)
    assert msg.startswith(f"{path}:{line_of(text, 'units_per:')}: units_per: ")
    assert "logic-level units sit per stack" in msg


def test_base_fixture_loads(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(BASE)
    p = load_pim(str(path))
    assert (p.kind, p.bandwidth_multiple, p.flops_per_byte, p.latency_ps) == ("bank", 16, 1.0, 30_000)
