"""DRAM preset loading: YAML line tracking, extends:, validation with file:line:key errors."""

import random
from pathlib import Path

import pytest

from sim.config import memory
from sim.config.errors import ConfigError
from sim.config.memory import list_memory_presets, load_memory_config
from sim.config.yamlfile import load_yaml
from sim.errors import UserError
from sim.memory.dram_config import DramConfig
from tests.config_helpers import FIX, line_of, one_line_error, write_variant

BASE_TEXT = (FIX / "ddr4_base.yaml").read_text()




def variant(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    return write_variant(BASE_TEXT, tmp_path, old, new, "variant.yaml")


def load_error(path: Path | str) -> str:
    return one_line_error(load_memory_config, path)


# --- a valid preset ---------------------------------------------------------------------


def test_base_fixture_resolves_to_integers():
    cfg = load_memory_config(str(FIX / "ddr4_base.yaml"))
    assert isinstance(cfg, DramConfig)
    assert cfg.name == "test_ddr4_3200"
    assert cfg.standard == "DDR4"
    assert cfg.follows == "dramsim3"
    assert cfg.tck_ps == 625
    assert (cfg.channels, cfg.pseudo_channels, cfg.ranks) == (1, 1, 2)  # pseudo_channels defaults
    t = cfg.timing
    assert (t.CL, t.CWL) == (22, 16)
    assert t.RCD_RD == t.RCD_WR == 22  # 13.75 ns / 0.625 ns exactly
    assert t.RAS == 52  # 32 ns / 0.625 ns = 51.2 -> rounded up
    assert t.RC == 74  # 73.2 -> 74
    assert t.FAW == 34  # 33.6 -> 34
    assert t.WR == 24
    assert t.RFC == 560
    assert t.REFI == 12480  # 7.8 us
    assert t.RTRS == 1  # default
    assert t.RTW == -1  # absent: derived
    assert t.BURST == 4  # burst_length // 2
    c = cfg.controller
    assert c.address_mapping == ("ro", "ch", "ra", "ba", "bg", "co")
    assert c.write_drain_low == 6  # round(0.2 * 32)
    assert c.write_drain_high == 26  # round(0.8 * 32)
    assert cfg.path == str(FIX / "ddr4_base.yaml")


def test_optional_timings_and_rcd_overrides(tmp_path):
    path, _ = variant(tmp_path, "  nRTP: 12\n",
                      "  nRTP: 12\n  nRCDRD: 30\n  nRTW: 10\n  nBURST: 8\n  tRTRS: 1.25 ns\n")
    t = load_memory_config(str(path)).timing
    assert (t.RCD_RD, t.RCD_WR) == (30, 22)
    assert (t.RTW, t.BURST, t.RTRS) == (10, 8, 2)


def test_controller_values(tmp_path):
    path, _ = variant(tmp_path, "  bank_queue: 8", "  bank_queue: 16\n  command_queues: per_rank")
    text = path.read_text().replace("write_queue: 32", "write_queue: 64")
    path.write_text(text.replace("page_policy: open", "page_policy: closed"))
    c = load_memory_config(str(path)).controller
    assert (c.bank_queue, c.command_queues, c.page_policy) == (16, "per_rank", "closed")
    assert (c.write_drain_low, c.write_drain_high) == (13, 51)  # round(12.8), round(51.2)


def test_rcdrd_and_rcdwr_replace_rcd(tmp_path):
    path, _ = variant(tmp_path, "  tRCD: 13.75 ns\n", "  nRCDRD: 20\n  nRCDWR: 18\n")
    t = load_memory_config(str(path)).timing
    assert (t.RCD_RD, t.RCD_WR) == (20, 18)


def test_data_rate_instead_of_tck(tmp_path):
    path, _ = variant(tmp_path, "  tCK: 0.625 ns", "  data_rate: 3200 MT/s")
    assert load_memory_config(str(path)).tck_ps == 625


def test_controller_section_is_optional(tmp_path):
    path, _ = variant(tmp_path, BASE_TEXT[BASE_TEXT.index("controller:"):], "")
    c = load_memory_config(str(path)).controller
    assert c.structure == "bank_queues"
    assert c.write_queue == 32
    assert (c.write_drain_low, c.write_drain_high) == (6, 26)


def test_pseudo_channels_with_pc_field(tmp_path):
    path, _ = variant(tmp_path, "  channels: 1\n", "  channels: 2\n  pseudo_channels: 2\n")
    text = path.read_text().replace("ro-ch-ra-ba-bg-co", "ro-pc-ch-ra-ba-bg-co")
    path.write_text(text)
    cfg = load_memory_config(str(path))
    assert cfg.scheduled_channels == 4
    assert cfg.controller.address_mapping[1] == "pc"


def test_ch_may_be_omitted_with_one_channel(tmp_path):
    path, _ = variant(tmp_path, "ro-ch-ra-ba-bg-co", "ro-ra-ba-bg-co")
    assert load_memory_config(str(path)).controller.address_mapping == ("ro", "ra", "ba", "bg", "co")


# --- validation: each rule gives one line "file:line: key.path: message" --------------

CASES = [
    # (old text, new text, line snippet, key path, message fragments)
    ("  nRTP: 12\n", "  nRTP: 12\n  nRCDD: 3\n", "nRCDD", "timing.nRCDD",
     ["unknown key 'nRCDD'", "did you mean 'nRCD'?"]),
    ("standard: DDR4\n", "standard: DDR4\nstandrd: DDR4\n", "standrd", "standrd",
     ["unknown key", "did you mean 'standard'?"]),
    ("  bank_queue: 8", "  bank_queue: 8\n  bank_queues: 8", "bank_queues:", "controller.bank_queues",
     ["did you mean 'bank_queue'?"]),
    ("  nCL: 22", '  nCL: "22"', "nCL", "timing.nCL", ["expected an integer", "string"]),
    ("  ranks: 2", "  ranks: true", "ranks", "organization.ranks", ["expected an integer", "boolean"]),
    ("  nCWL: 16", "  nCWL: 16.0", "nCWL", "timing.nCWL", ["expected an integer"]),
    ("  bank_xor: false", "  bank_xor: 0", "bank_xor", "controller.bank_xor", ["true or false"]),
    ("follows: dramsim3", "follows: 3", "follows", "follows", ["expected a string"]),
    ("  nCCD_S: 4", "  nCCD_S: 0", "nCCD_S", "timing.nCCD_S", ["positive"]),
    ("  nWTR_S: 4", "  nWTR_S: -4", "nWTR_S", "timing.nWTR_S", ["positive"]),
    ("  tRP: 13.75 ns", "  tRP: -13.75 ns", "tRP", "timing.tRP", ["positive"]),
    ("  tRP: 13.75 ns", "  tRP: 0 ns", "tRP", "timing.tRP", ["positive"]),
    ("  rows: 65536", "  rows: 0", "rows", "organization.rows", ["positive"]),
    ("  tCK: 0.625 ns", "  tCK: 0 ns", "tCK", "timing.tCK", ["positive"]),
    ("  tCK: 0.625 ns", "  tCK: 0.8333 ns", "tCK", "timing.tCK", ["whole number of ps"]),
    ("  tCK: 0.625 ns", "  data_rate: 2400 MT/s", "data_rate", "timing.data_rate",
     ["whole number of ps", "give tCK"]),
    ("  tCK: 0.625 ns", "  tCK: 0.625 ns\n  data_rate: 3200 MT/s", "data_rate", "timing.data_rate",
     ["not both"]),
    ("  nCL: 22", "  nCL: 22\n  tCL: 13.75 ns", "tCL", "timing.tCL", ["not both"]),
    ("  tRP: 13.75 ns", "  tRP: 13.75", "tRP", "timing.tRP", ["no unit"]),
    ("  tRP: 13.75 ns", "  tRP: 13.75 GHz", "tRP", "timing.tRP", ["not a time"]),
    ("  tRP: 13.75 ns", "  tRP: 13.75 nss", "tRP", "timing.tRP", ["unknown unit"]),
    ("  tCK: 0.625 ns", "  data_rate: 3.2 GB/s", "data_rate", "timing.data_rate", ["transfer rate"]),
    ("  channels: 1", "  channels: 3", "channels", "organization.channels", ["power of two"]),
    ("  ranks: 2", "  pseudo_channels: 6\n  ranks: 2", "pseudo_channels", "organization.pseudo_channels",
     ["power of two"]),
    ("  bank_groups: 4", "  bank_groups: 3", "bank_groups", "organization.bank_groups", ["power of two"]),
    ("  banks_per_group: 4", "  banks_per_group: 5", "banks_per_group", "organization.banks_per_group",
     ["power of two"]),
    ("  rows: 65536", "  rows: 65535", "rows", "organization.rows", ["power of two"]),
    ("  columns: 1024", "  columns: 1000", "columns", "organization.columns", ["power of two"]),
    ("  device_width: 8", "  device_width: 12", "device_width", "organization.device_width",
     ["power of two"]),
    ("  bus_width: 64", "  bus_width: 48", "bus_width", "organization.bus_width", ["power of two"]),
    ("  bus_width: 64\n  burst_length: 8", "  bus_width: 1\n  burst_length: 4", "bus_width",
     "organization.bus_width", ["moves bus_width x burst_length = 4 bits", "at least one byte"]),
    ("  burst_length: 8", "  burst_length: 6", "burst_length", "organization.burst_length",
     ["power of two"]),
    ("  ranks: 2", "  ranks: 1.5", "ranks", "organization.ranks", ["expected an integer"]),
    ("  columns: 1024", "  columns: 4", "columns", "organization.columns", ["multiple of burst_length"]),
    ("  rows: 65536", "  rows: 4294967296", "rows", "organization.rows",
     ["rows = 4294967296 exceeds the model's limit of 2147483648"]),
    ("  banks_per_group: 4", "  banks_per_group: 8192", "banks_per_group", "organization.banks_per_group",
     ["banks per channel", "= 65536 exceeds"]),
    ("  channels: 1", "  channels: 65536", "channels", "organization.channels",
     ["channels x pseudo_channels = 65536 exceeds"]),
    ("ro-ch-ra-ba-bg-co", "ro-ch-ra-ba-co", "address_mapping", "controller.address_mapping",
     ["missing field 'bg'"]),
    ("ro-ch-ra-ba-bg-co", "ro-ra-ra-ba-bg-co", "address_mapping", "controller.address_mapping",
     ["'ra' appears twice"]),
    ("ro-ch-ra-ba-bg-co", "ro-ch-ra-ba-bgg-co", "address_mapping", "controller.address_mapping",
     ["unknown field 'bgg'", "did you mean 'bg'?"]),
    ("ro-ch-ra-ba-bg-co", "ro-ch-ra-ba-bg-co-xx", "address_mapping", "controller.address_mapping",
     ["unknown field 'xx'"]),
    ("ro-ch-ra-ba-bg-co", "ro-ch-ra-ba-bg-co-", "address_mapping", "controller.address_mapping",
     ["unknown field ''"]),
    ("  channels: 1", "  channels: 1\n  pseudo_channels: 2", "address_mapping",
     "controller.address_mapping", ["missing field 'pc'"]),
    ("standard: DDR4", "standard: DDR6", "standard", "standard", ["DDR4", "did you mean 'DDR5'?"]),
    ("  structure: bank_queues", "  structure: bank_queue", "structure", "controller.structure",
     ["expected one of bank_queues, fr_fcfs", "did you mean 'bank_queues'?"]),
    ("  page_policy: open", "  page_policy: opn", "page_policy", "controller.page_policy",
     ["did you mean 'open'?"]),
    ("  refresh: rank_staggered", "  refresh: allbank", "refresh", "controller.refresh",
     ["did you mean 'all_bank'?"]),
    ("  bank_queue: 8", "  bank_queue: 8\n  command_queues: perrank", "command_queues",
     "controller.command_queues", ["did you mean 'per_rank'?"]),
    ("  refresh: rank_staggered", "  refresh: 3", "refresh", "controller.refresh", ["expected one of"]),
    ("  write_drain_low: 0.2", "  write_drain_low: 0.9", "write_drain_low", "controller.write_drain_low",
     ["must be below write_drain_high"]),
    ("  write_drain_low: 0.2", "  write_drain_low: 0.8", "write_drain_low", "controller.write_drain_low",
     ["must be below"]),
    ("  write_drain_high: 0.8", "  write_drain_high: 1.5", "write_drain_high",
     "controller.write_drain_high", ["between 0 and 1"]),
    ("  write_drain_low: 0.2", "  write_drain_low: -0.1", "write_drain_low",
     "controller.write_drain_low", ["between 0 and 1"]),
    ("  write_drain_low: 0.2", "  write_drain_low: low", "write_drain_low",
     "controller.write_drain_low", ["expected a number"]),
    ("  read_queue: 32", "  read_queue: 0", "read_queue", "controller.read_queue", ["positive"]),
    ("  write_queue: 32", "  write_queue: -1", "write_queue", "controller.write_queue", ["positive"]),
    ("  bank_queue: 8", "  bank_queue: 0", "bank_queue: 0", "controller.bank_queue", ["positive"]),
    ("  requests_per_clock: 1", "  requests_per_clock: 0", "requests_per_clock",
     "controller.requests_per_clock", ["positive"]),
    ("  nRTP: 12\n", "", "timing:", "timing.nRTP", ["missing required key 'nRTP'", "tRTP"]),
    ("  tRCD: 13.75 ns\n", "", "timing:", "timing.nRCD", ["missing required key"]),
    ("  tCK: 0.625 ns\n", "", "timing:", "timing.tCK", ["missing required key", "data_rate"]),
    ("  rows: 65536\n", "", "organization:", "organization.rows", ["missing required key 'rows'"]),
    ("name: test_ddr4_3200\n", "", "# Test fixture", "name", ["missing required key 'name'"]),
    ("standard: DDR4\n", "", "# Test fixture", "standard", ["missing required key 'standard'"]),
]


@pytest.mark.parametrize("old, new, snippet, key_path, fragments", CASES,
                         ids=[f"{c[3]}:{c[1].strip()[:30]}" for c in CASES])
def test_validation_error_points_at_key(tmp_path, old, new, snippet, key_path, fragments):
    path, text = variant(tmp_path, old, new)
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, snippet)}: {key_path}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_missing_ch_field_with_two_channels(tmp_path):
    path, text = variant(tmp_path, "  channels: 1", "  channels: 2")
    path.write_text(text.replace("ro-ch-ra-ba-bg-co", "ro-ra-ba-bg-co"))
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'address_mapping')}: controller.address_mapping: ")
    assert "missing field 'ch'" in msg


def test_section_must_be_a_mapping(tmp_path):
    path, text = variant(tmp_path, BASE_TEXT[BASE_TEXT.index("controller:"):], "controller: 5\n")
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'controller: 5')}: controller: expected a mapping")


def test_missing_section_points_at_top(tmp_path):
    start = BASE_TEXT.index("organization:")
    path, _ = variant(tmp_path, BASE_TEXT[start:BASE_TEXT.index("timing:")], "")
    assert load_error(path).startswith(f"{path}:1: organization: missing required key")


def test_default_mapping_checked_against_pseudo_channels(tmp_path):
    path, text = variant(tmp_path, "  address_mapping: ro-ch-ra-ba-bg-co\n", "")
    path.write_text(text.replace("  channels: 1", "  channels: 1\n  pseudo_channels: 2"))
    msg = load_error(path)
    assert f"{path}:{line_of(text, 'controller:') + 1}: controller.address_mapping: " in msg
    assert "'pc'" in msg


def test_unknown_top_level_kind(tmp_path):
    path, text = variant(tmp_path, "standard: DDR4", "standard: DDR4\nkind: flash")
    assert load_error(path).startswith(f"{path}:{line_of(text, 'kind')}: kind: ")


# --- YAML file problems ----------------------------------------------------------------


def test_yaml_syntax_error_has_line():
    msg = load_error(FIX / "syntax_error.yaml")
    assert msg.startswith(f"{FIX / 'syntax_error.yaml'}:3: ")
    assert "invalid YAML" in msg


def test_duplicate_key_is_an_error():
    msg = load_error(FIX / "duplicate_key.yaml")
    assert msg.startswith(f"{FIX / 'duplicate_key.yaml'}:3: ")
    assert "duplicate key" in msg


def test_missing_file_names_path(tmp_path):
    with pytest.raises(UserError, match="nothere.yaml"):
        load_memory_config(str(tmp_path / "nothere.yaml"))


@pytest.mark.parametrize("text, fragment", [("", "empty"), ("- 1\n- 2\n", "mapping"),
                                            ("a: 1\n3: x\n", "keys must be strings")])
def test_bad_top_level(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert fragment in load_error(path)


def test_scratchpad_file_is_not_a_dram_preset():
    msg = load_error(FIX / "scratchpad.yaml")
    assert "scratchpad" in msg and "load_sram_config" in msg
    assert msg.startswith(f"{FIX / 'scratchpad.yaml'}:3: kind: ")


# --- extends: ---------------------------------------------------------------------------


def test_extends_overrides_one_field_and_merges_nested():
    base = load_memory_config(str(FIX / "ddr4_base.yaml"))
    child = load_memory_config(str(FIX / "ddr4_child.yaml"))
    assert child.name == "test_ddr4_child"
    assert child.timing.RCD_RD == child.timing.RCD_WR == 20  # overridden (nRCD displaces tRCD)
    assert child.timing.RP == base.timing.RP  # sibling in the same section inherited
    assert child.controller.page_policy == "closed"  # nested override
    assert child.controller.structure == base.controller.structure  # nested sibling kept
    assert child.ranks == base.ranks  # untouched section inherited
    assert child.path == str(FIX / "ddr4_child.yaml")


def test_extends_chain_alternatives_displace_base_keys():
    cfg = load_memory_config(str(FIX / "ddr4_grandchild.yaml"))
    assert cfg.tck_ps == 1250  # data_rate 1600 MT/s displaced the base's tCK
    assert cfg.timing.RCD_RD == 11  # tRCD 13.75 ns at 1.25 ns displaced the child's nRCD: 20
    assert cfg.timing.RAS == 26  # base's tRAS 32 ns re-evaluated at the new clock (25.6 -> 26)
    assert cfg.controller.page_policy == "closed"  # from the middle file


@pytest.mark.parametrize("first,second", [("tRCD: 13.75 ns", "nRCD: 30"),
                                           ("nRCD: 30", "tRCD: 13.75 ns")])
def test_child_giving_both_time_and_clock_forms_is_an_error(tmp_path, first, second):
    """A derived preset with tRCD and nRCD must not keep one silently (each displaces the
    other in the merge): the later of the two is named, file:line:key."""
    text = (f"extends: {FIX / 'ddr4_base.yaml'}\nname: both\ntiming:\n"
            f"  {first}\n  {second}\n")
    path = tmp_path / "both.yaml"
    path.write_text(text)
    msg = load_error(path)
    key = second.split(":")[0]
    assert msg == (f"{path}:{line_of(text, second)}: timing.{key}: give either nRCD (clocks) "
                   f"or tRCD (time), not both")


@pytest.mark.parametrize("order", ["rd_first", "rcd_first"])
def test_a_child_keeps_its_own_rcdrd_beside_its_rcd_in_either_order(tmp_path, order):
    """nRCD displaces the base's nRCDRD/nRCDWR, never the child's own nRCDRD."""
    lines = ["  nRCDRD: 30", "  nRCD: 24"]
    if order == "rcd_first":
        lines.reverse()
    path = tmp_path / "child.yaml"
    path.write_text(f"extends: {FIX / 'ddr4_base.yaml'}\nname: c\ntiming:\n"
                    + "\n".join(lines) + "\n")
    t = load_memory_config(str(path)).timing
    assert (t.RCD_RD, t.RCD_WR) == (30, 24)


def test_both_forms_in_a_base_of_the_chain_is_an_error(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(BASE_TEXT.replace("  tRP: 13.75 ns", "  tRP: 13.75 ns\n  nRP: 22"))
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: c\n")
    assert load_error(child).startswith(f"{base}:{line_of(base.read_text(), 'nRP: 22')}: "
                                        f"timing.nRP: give either nRP")


def test_extends_cycle_is_an_error():
    msg = load_error(FIX / "cycle_a.yaml")
    assert msg.startswith(f"{FIX / 'cycle_b.yaml'}:2: extends: ")
    assert "cycle" in msg and "cycle_a.yaml -> cycle_b.yaml -> cycle_a.yaml" in msg


def test_self_extends_is_a_cycle(tmp_path):
    path = tmp_path / "self.yaml"
    path.write_text("name: x\nextends: self.yaml\n")
    assert load_error(path).startswith(f"{path}:2: extends: extends cycle")


def test_error_in_child_override_points_at_child():
    msg = load_error(FIX / "child_bad_value.yaml")
    assert msg.startswith(f"{FIX / 'child_bad_value.yaml'}:6: organization.rows: ")


def test_error_in_inherited_value_points_at_base():
    msg = load_error(FIX / "child_of_bad_base.yaml")
    assert msg.startswith(f"{FIX / 'base_bad_value.yaml'}:6: organization.bank_groups: ")


def test_extends_unknown_preset_suggests(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\n\nextends: {FIX / 'ddr4_bsae.yaml'}\n")
    assert load_error(path).startswith(f"{path}:3: extends: no such file")
    node_path = tmp_path / "d.yaml"
    node_path.write_text("extends: ddr4_bsae\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(node_path, preset_dir=FIX)
    assert str(info.value).startswith(f"{node_path}:1: extends: unknown preset 'ddr4_bsae'")
    assert "did you mean 'ddr4_base'?" in str(info.value)


def test_extends_must_be_a_string(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nextends: [a, b]\n")
    assert load_error(path).startswith(f"{path}:2: extends: expected the name")


def test_generic_merge_lists_replace_mappings_merge_lines_follow_file(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "a:\n  b:\n    x: 1\n    y: 2\n  items: [1, 2, 3]\nkeep: base\nscalar: 1\n"
    )
    (tmp_path / "child.yaml").write_text(
        "# child\nextends: base.yaml\na:\n  b:\n    y: 20\n  items:\n    - 4\nscalar: {s: 1}\n"
    )
    root = load_yaml(tmp_path / "child.yaml")
    assert root.plain() == {"a": {"b": {"x": 1, "y": 20}, "items": [4]}, "keep": "base",
                            "scalar": {"s": 1}}
    x = root.value["a"].value["b"].value["x"]
    y = root.value["a"].value["b"].value["y"]
    item = root.value["a"].value["items"].value[0]
    assert (Path(x.path).name, x.line, x.where) == ("base.yaml", 3, "a.b.x")
    assert (Path(y.path).name, y.line, y.where) == ("child.yaml", 5, "a.b.y")
    assert (Path(item.path).name, item.line, item.where) == ("child.yaml", 7, "a.items[0]")
    assert Path(root.value["keep"].path).name == "base.yaml"
    assert "extends" not in root.value


# --- presets by name ----------------------------------------------------------------------


def test_bare_name_resolves_in_preset_dir(monkeypatch):
    monkeypatch.setattr(memory, "PRESET_DIR", FIX)
    assert load_memory_config("ddr4_child").name == "test_ddr4_child"
    names = list_memory_presets()
    assert "ddr4_base" in names and "scratchpad" not in names


def test_unknown_preset_lists_available_with_suggestion(monkeypatch):
    monkeypatch.setattr(memory, "PRESET_DIR", FIX)
    with pytest.raises(UserError) as info:
        load_memory_config("ddr4_bsae")
    msg = str(info.value)
    assert "unknown memory preset 'ddr4_bsae'" in msg
    assert "did you mean 'ddr4_base'?" in msg
    assert "ddr4_child" in msg  # the listing
    assert "\n" not in msg


@pytest.mark.parametrize("name", list_memory_presets())
def test_every_repo_dram_preset_loads(name):
    cfg = load_memory_config(name)  # hw_configs/memory/<name>.yaml
    assert cfg.name and cfg.tck_ps > 0 and cfg.timing.CL > 0


def test_repo_preset_listing_excludes_scratchpads():
    assert "piuma_scratchpad" not in list_memory_presets()


def test_yaml_merge_keys_keep_lines(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("defaults: &d\n  a: 1\nx:\n  <<: *d\n  b: 2\n")
    x = load_yaml(path).value["x"]
    assert x.plain() == {"a": 1, "b": 2}
    assert (x.value["a"].line, x.value["b"].line) == (2, 5)


def test_mutated_configs_never_leak_other_exceptions(tmp_path):
    """Random damage to a valid file gives a one-line UserError or loads, never a traceback."""
    rng = random.Random(7)
    lines = BASE_TEXT.splitlines()
    junk = ["0", "-1", "true", '"x"', "[1, 2]", "{a: 1}", "", "1.5", "3 GHz", "null", ".nan",
            "1e999", "0x10", "2020-01-01", "!!binary aGk=", "!custom 3", "1/0 ns", "- a"]
    path = tmp_path / "m.yaml"
    for _ in range(150):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(mutated))
            if ":" in mutated[i] and rng.random() < 0.7:
                mutated[i] = mutated[i].split(":")[0] + ": " + rng.choice(junk)
            else:
                del mutated[i]
        path.write_text("\n".join(mutated) + "\n")
        try:
            load_memory_config(str(path))
        except UserError as exc:
            assert "\n" not in str(exc)
