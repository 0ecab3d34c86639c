"""Machine presets (kind: machine): resolved integers, overrides, file:line:key errors."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from sim.config.errors import ConfigError
from sim.config.machine import (
    MACHINE_DIR,
    list_machine_presets,
    load_machine_config,
    make_node,
    spread_nodes,
)
from sim.config.memory import load_memory_config
from sim.config.yamlfile import Node, load_yaml
from sim.errors import UserError
from sim.machine.model import MachineSpec
from tests.config_helpers import line_of, one_line_error, write_variant

PIUMA_TEXT = (MACHINE_DIR / "piuma.yaml").read_text()
CPU_TEXT = (MACHINE_DIR / "cpu_baseline.yaml").read_text()


def variant(tmp_path: Path, old: str, new: str | None, base: str = PIUMA_TEXT) -> tuple[Path, str]:
    """base with `old` replaced by `new`; new=None deletes the whole line starting with old."""
    if new is None:
        line = next(s for s in base.splitlines(keepends=True) if s.startswith(old))
        old, new = line, ""
    return write_variant(base, tmp_path, old, new, "machine.yaml")


def load_error(path: Path | str) -> str:
    return one_line_error(load_machine_config, path)


def overrides_error(overrides: dict[str, Node], name: str = "piuma") -> str:
    with pytest.raises(ConfigError) as info:
        load_machine_config(name, overrides)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# --- the presets ------------------------------------------------------------------------


def test_piuma_resolves_to_integers():
    s = load_machine_config("piuma")
    assert isinstance(s, MachineSpec)
    assert s.name == "piuma" and s.path == str(MACHINE_DIR / "piuma.yaml")
    assert s.cycle_ps == 1000  # 1 GHz
    assert (s.dies, s.cores_per_die, s.mtp, s.threads_per_mtp, s.stp) == (1, 8, 4, 16, 2)
    assert s.threads_per_core == 66 and s.threads == 528  # 4 x 16 + 2; 8 x 66
    assert (s.stp_speedup, s.max_posted) == (8, 8)
    assert s.l1_size == 192 * 1024  # 192 KiB = 196608 B
    assert (s.l1_ways, s.l1_line, s.l1_latency) == (12, 64, 2)  # 196608 / (12 x 64) = 256 sets
    # piuma_scratchpad: 4 MiB, 16 banks, 8 B interleave, 1 GHz, latency 2, 8 B/clock, 1 port
    assert (s.sp_size, s.sp_banks, s.sp_interleave, s.sp_clock_ps) == (4 * 2**20, 16, 8, 1000)
    assert (s.sp_latency, s.sp_bytes_per_clock, s.sp_ports) == (2, 8, 1)
    assert (s.sp_atomic_latency, s.sp_atomic_per_clock) == (4, 1)
    assert (s.mesh_x, s.mesh_y, s.hop_latency, s.header_bytes) == (4, 4, 2, 8)
    assert s.link_bytes == 32  # 32 GB/s x 1000 ps = 32 B per cycle
    assert s.core_nodes == (0, 2, 5, 7, 8, 10, 13, 15)
    assert s.controller_nodes == (1, 1, 3, 3, 4, 4, 6, 6, 9, 9, 11, 11, 12, 12, 14, 14)
    assert (s.gateway_node, s.host_node) == (0, 3)
    assert (s.die_link_latency, s.die_link_bytes) == (100, 32)  # 100 ns / 1 ns; 32 GB/s x 1 ns
    assert (s.host_link_latency, s.host_link_bytes, s.host_latency) == (250, 16, 100)
    assert s.calendar_slots == 1 << 20
    assert (s.controllers_per_die, s.interleave_bytes, s.access_bytes) == (16, 64, 8)
    assert s.memory_preset == "piuma_ddr5_4400"
    assert s.tck_ps == 454  # 0.454 ns
    assert (s.CL, s.CWL, s.RCD, s.RP, s.RAS, s.RTP, s.WR) == (32, 30, 32, 32, 71, 17, 66)
    assert (s.CCD_L, s.RRD_S, s.FAW, s.BURST) == (11, 8, 32, 8)
    assert (s.ranks, s.bank_groups, s.banks_per_group) == (1, 8, 4)
    # mapping ro-ra-ba-co-bg-ch from the LSB: ch dropped, ra has 0 bits; row = 1024 columns
    # x 8 bits = 1 KiB = 128 accesses of 8 B -> co 7 bits; 64K rows -> ro 16 bits
    assert s.dram_fields == (("bg", 3), ("co", 7), ("ba", 2), ("ro", 16))
    assert (s.controller_latency, s.atomic_interval, s.atomic_latency) == (10, 4, 8)
    assert (s.dma_slots, s.dma_chunk_bytes, s.max_handles) == (8, 64, 16)
    assert s.barrier_latency == (4, 50, 500)
    assert (s.timeline_bin_ps, s.timeline_bins) == (1_000_000, 256)  # 1 us
    # 2^(3+7+2+16) accesses x 8 B = 2 GiB per channel; x 16 = 32 GiB ("32 GB per socket")
    assert s.extra["dram_channel_bytes"] == 2 * 2**30
    assert s.extra["dram_capacity_bytes"] == 32 * 2**30
    assert "rounding" not in s.extra  # every bandwidth is a whole number of B per cycle
    # 16 x 8 B / (8 x 454 ps) = 35.24 GB/s
    assert s.dram_peak_bytes_per_s() == pytest.approx(16 * 8 / (8 * 454e-12))
    assert "2010.06277" in s.source


def test_cpu_baseline_resolves_to_integers():
    s = load_machine_config("cpu_baseline")
    assert s.cycle_ps == 500  # 2 GHz
    assert (s.cores_per_die, s.mtp, s.threads_per_mtp, s.stp, s.threads) == (8, 4, 4, 0, 128)
    assert (s.l1_size, s.l1_ways, s.l1_line, s.l1_latency) == (2 * 2**20, 16, 64, 16)
    assert s.sp_size == 1024 and s.sp_clock_ps == 500  # inline placeholder scratchpad
    assert s.extra["scratchpad_preset"] == "cpu_baseline.scratchpad"  # default inline name
    assert s.link_bytes == 32  # 64 GB/s x 500 ps
    # defaults: cores on nodes 0..7 of the 4x3 mesh, 2 controllers spread over free 8..11,
    # gateway node 0, host on the last node
    assert s.core_nodes == tuple(range(8))
    assert s.controller_nodes == (8, 10)
    assert (s.gateway_node, s.host_node) == (0, 11)
    assert (s.die_link_latency, s.die_link_bytes) == (200, 16)  # 100 ns / 0.5 ns; 32 GB/s x 0.5 ns
    assert (s.host_link_latency, s.host_link_bytes, s.host_latency) == (500, 32, 200)
    assert s.memory_preset == "ddr5_4800"
    assert (s.tck_ps, s.CL, s.RCD, s.RP, s.BURST) == (416, 34, 34, 34, 8)
    assert (s.controllers_per_die, s.interleave_bytes, s.access_bytes) == (2, 256, 64)
    # ddr5_4800 row per rank: 1024 columns x 32 bits = 4 KiB = 64 accesses of 64 B -> co 6
    assert s.dram_fields == (("bg", 3), ("co", 6), ("ba", 2), ("ro", 16))
    assert s.extra["dram_capacity_bytes"] == 16 * 2**30  # 2 x 8 GiB subchannels
    assert s.controller_latency == 96  # plain integer: DRAM clocks (96 x 0.416 ns = 40 ns)
    assert s.barrier_latency == (50, 500, 2000)


def test_piuma_memory_preset_loads_with_dram_loader():
    cfg = load_memory_config("piuma_ddr5_4400")
    assert cfg.tck_ps == 454 and cfg.standard == "DDR5"
    t = cfg.timing
    assert (t.CL, t.CWL, t.RCD_RD, t.RP, t.RAS, t.RC) == (32, 30, 32, 32, 71, 103)
    assert (t.CCD_S, t.CCD_L, t.RRD_S, t.RRD_L, t.FAW, t.WR) == (8, 11, 8, 11, 32, 66)
    assert (t.WTR_S, t.WTR_L, t.RTP, t.RFC, t.REFI, t.BURST) == (6, 22, 17, 648, 8590, 8)
    assert cfg.access_bytes == 8  # 8-bit channel x BC8
    assert cfg.capacity_bytes == 32 * 2**30
    assert cfg.peak_bytes_per_s == pytest.approx(35.24e9, rel=1e-3)


def test_preset_listing():
    names = list_machine_presets()
    assert {"piuma", "cpu_baseline"} <= set(names)
    assert "ddr5_4800" not in names  # memory presets live in hw_configs/memory


@pytest.mark.parametrize("name", list_machine_presets())
def test_every_machine_preset_loads(name):
    s = load_machine_config(name)
    assert s.cycle_ps > 0 and s.threads > 0 and s.dram_fields


def test_unknown_preset_suggests():
    with pytest.raises(UserError) as info:
        load_machine_config("pioma")
    assert "unknown machine preset 'pioma'" in str(info.value)
    assert "did you mean 'piuma'?" in str(info.value)


def test_spread_nodes_defaults():
    assert spread_nodes(2, 12, list(range(8))) == [8, 10]
    assert spread_nodes(4, 16, [0, 1, 2, 3]) == [4, 7, 10, 13]  # 12 free nodes, every third
    # more controllers than free nodes: several per free node, in order
    assert spread_nodes(16, 16, list(range(8))) == [8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15]
    assert spread_nodes(3, 4, [0, 1, 2, 3]) == [0, 1, 2]  # every node has a core: all nodes


def test_times_round_up_to_cycles(tmp_path):
    path, _ = variant(tmp_path, "    hop_latency: 2 ", "    hop_latency: 2.5 ns ")
    assert load_machine_config(str(path)).hop_latency == 3  # 2.5 ns / 1 ns, rounded up
    path, _ = variant(tmp_path, "  controller_latency: 10 ", "  controller_latency: 5 ns ")
    assert load_machine_config(str(path)).controller_latency == 12  # 5000 / 454 = 11.01 -> 12


def test_bandwidth_as_integer_and_rounding(tmp_path):
    path, _ = variant(tmp_path, "    link_bandwidth: 32 GB/s", "    link_bandwidth: 24")
    assert load_machine_config(str(path)).link_bytes == 24  # plain integer: B per cycle
    path, _ = variant(tmp_path, "    link_bandwidth: 32 GB/s", "    link_bandwidth: 20.5 GB/s")
    s = load_machine_config(str(path))
    assert s.link_bytes == 20  # 20.5 B per cycle, rounded down
    assert s.extra["rounding"] == ["network.mesh.link_bandwidth: 20.5 B/cycle rounded down to 20"]


def test_no_l1(tmp_path):
    start = PIUMA_TEXT.index("  l1:\n")
    block = PIUMA_TEXT[start:PIUMA_TEXT.index("  scratchpad:")]
    path, _ = variant(tmp_path, block, "")
    s = load_machine_config(str(path))
    assert (s.l1_size, s.l1_ways, s.l1_line, s.l1_latency) == (0, 1, 64, 0)
    path, _ = variant(tmp_path, block, "  l1:\n    size: 0\n    line: 128 B\n")
    assert (load_machine_config(str(path)).l1_size, load_machine_config(str(path)).l1_line) == (0, 128)


def test_die_link_needed_only_with_several_dies(tmp_path):
    block = CPU_TEXT[CPU_TEXT.index("  die_link:"):CPU_TEXT.index("  host:")]
    path, text = variant(tmp_path, block, "", base=CPU_TEXT)
    s = load_machine_config(str(path))
    assert (s.die_link_latency, s.die_link_bytes) == (s.hop_latency, s.link_bytes)  # unused
    path.write_text(text.replace("  dies: 1", "  dies: 2"))
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'network:')}: network.die_link: "), msg
    assert "missing required key 'die_link'" in msg


def test_extends_a_preset(tmp_path):
    child = tmp_path / "two_dies.yaml"
    child.write_text("extends: piuma\nname: piuma_x2\ncore:\n  dies: 2\n")
    s = load_machine_config(str(child))
    assert (s.name, s.dies, s.cores, s.controllers, s.threads) == ("piuma_x2", 2, 16, 32, 1056)
    assert s.extra["dram_capacity_bytes"] == 64 * 2**30
    child.write_text("extends: piuma\nname: piuma_x2\ncore:\n  dies: 0\n")
    assert load_error(child).startswith(f"{child}:4: core.dies: must be a positive integer")


# --- validation: each rule gives one line "file:line: key.path: message" ------------------

CASES = [
    # (old text, new text or None to delete the line, line snippet, key path, fragments)
    ("  cores_per_die: 8", "  cores_per_die: 0", "cores_per_die: 0", "core.cores_per_die",
     ["must be a positive integer, got 0"]),
    ("  cores_per_die: 8", "  cores_per_die: 17", "cores_per_die: 17", "core.cores_per_die",
     ["17 cores do not fit the 4x4 mesh (16 nodes)"]),
    ("  threads_per_mtp: 16", '  threads_per_mtp: "16"', "threads_per_mtp", "core.threads_per_mtp",
     ["expected an integer"]),
    ("  mtp: 4\n  threads_per_mtp: 16\n  stp: 2\n", "  mtp: 0\n  threads_per_mtp: 16\n  stp: 0\n",
     "mtp: 0", "core.mtp", ["at least one pipeline"]),
    ("  stp: 2", "  stp: -1", "stp: -1", "core.stp", ["must be at least 0"]),
    ("  stp_speedup: 8", "  stp_speedup: 8\n  stp_speedupp: 8", "stp_speedupp",
     "core.stp_speedupp", ["unknown key 'stp_speedupp'", "did you mean 'stp_speedup'?"]),
    ("kind: machine\n", "kind: machine\nmemroy: {}\n", "memroy", "memroy",
     ["unknown key 'memroy'", "did you mean 'memory'?"]),
    ("    ways: 12", "    wayz: 12", "wayz", "core.l1.wayz", ["did you mean 'ways'?"]),
    ("  stp_speedup", None, "core:", "core.stp_speedup", ["missing required key 'stp_speedup'"]),
    ("kind: machine", "kind: dram", "kind: dram", "kind", ["expected 'machine'", "load_memory_config"]),
    ("kind: machine\n", "", "# Intel PIUMA", "kind", ["missing required key 'kind'"]),
    ("  clock: 1 GHz", "  clock: 3 GHz", "clock: 3 GHz", "core.clock", ["whole number of ps"]),
    ("  clock: 1 GHz", "  clock: 1 GB", "clock: 1 GB", "core.clock", ["frequency"]),
    ("  interleave: 64 B", "  interleave: 96 B", "interleave: 96", "memory.interleave",
     ["power of two"]),
    ("  access_bytes: 8", "  access_bytes: 12", "access_bytes: 12", "memory.access_bytes",
     ["power of two"]),
    ("  access_bytes: 8", "  access_bytes: 16", "access_bytes: 16", "memory.access_bytes",
     ["more than one column access of piuma_ddr5_4400 (8 B"]),
    ("  interleave: 64 B", "  interleave: 4 B", "access_bytes: 8", "memory.access_bytes",
     ["exceeds memory.interleave (4 B)"]),
    ("  controllers_per_die: 16", "  controllers_per_die: 0", "controllers_per_die: 0",
     "memory.controllers_per_die", ["positive"]),
    ("  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]",
     "  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]\n  controller_nodes: [1, 3]", "controller_nodes:",
     "network.controller_nodes", ["lists 2 nodes but memory.controllers_per_die is 16"]),
    ("  controller_latency: 10", "  controller_latency: -1", "controller_latency: -1",
     "memory.controller_latency", ["must be at least 0"]),
    ("    interval: 4", "    interval: 0", "interval: 0", "memory.atomic.interval", ["positive"]),
    ("  preset: piuma_ddr5_4400", "  preset: piuma_ddr5_440", "preset: piuma_ddr5_440",
     "memory.preset", ["unknown memory preset 'piuma_ddr5_440'", "did you mean 'piuma_ddr5_4400'?"]),
    ("  preset: piuma_ddr5_4400", "  preset: piuma_scratchpad", "preset: piuma_scratchpad",
     "memory.preset", ["piuma_scratchpad.yaml is not a DRAM preset", "scratchpad SRAM config"]),
    ("  preset: piuma_ddr5_4400", "  preset: ./nowhere.yaml", "preset: ./nowhere",
     "memory.preset", ["no such file"]),
    ("  scratchpad: piuma_scratchpad", "  scratchpad: piuma_scratchpd", "scratchpad: piuma_scratchpd",
     "core.scratchpad", ["unknown scratchpad preset", "did you mean 'piuma_scratchpad'?"]),
    ("  scratchpad: piuma_scratchpad", "  scratchpad: ddr5_4800", "scratchpad: ddr5_4800",
     "core.scratchpad", ["ddr5_4800.yaml is not a scratchpad preset", "load_memory_config"]),
    ("  scratchpad: piuma_scratchpad", "  scratchpad: [1]", "scratchpad: [1]", "core.scratchpad",
     ["preset name or an inline mapping"]),
    ("    line: 64 B", "    line: 128 B", "line: 128 B", "core.l1.line",
     ["exceeds memory.interleave (64 B)"]),
    ("    line: 64 B", "    line: 4 B", "line: 4 B", "core.l1.line",
     ["smaller than memory.access_bytes (8 B)"]),
    ("    line: 64 B", "    line: 48 B", "line: 48 B", "core.l1.line", ["power of two"]),
    ("    ways: 12", "    ways: 10", "size: 192 KiB", "core.l1.size",
     ["power of two number of sets"]),
    ("    latency: 2 ", "    latency: 0 ", "latency: 0", "core.l1.latency", ["positive"]),
    ("  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]", "  core_nodes: [0, 2, 5, 7, 8, 10, 13, 16]",
     "core_nodes:", "network.core_nodes[7]", ["node 16 is outside the 4x4 mesh (nodes 0..15)"]),
    ("  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]", "  core_nodes: [0, 2, 5, 7, 8, 10, 13, 13]",
     "core_nodes:", "network.core_nodes[7]", ["node 13 already holds core 6", "distinct"]),
    ("  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]", "  core_nodes: [0, 2, 5]", "core_nodes:",
     "network.core_nodes", ["lists 3 nodes but core.cores_per_die is 8"]),
    ("  core_nodes: [0, 2, 5, 7, 8, 10, 13, 15]", "  core_nodes: 0", "core_nodes:",
     "network.core_nodes", ["expected a list of 8 mesh node numbers"]),
    ("  gateway_node: 0", "  gateway_node: 99", "gateway_node: 99", "network.gateway_node",
     ["outside the 4x4 mesh"]),
    ("    node: 3", "    node: -1", "node: -1", "network.host.node", ["must be at least 0"]),
    ("  calendar_slots: 1048576", "  calendar_slots: 1000", "calendar_slots: 1000",
     "network.calendar_slots", ["power of two"]),
    ("  calendar_slots: 1048576", "  calendar_slots: 1", "calendar_slots: 1", "network.calendar_slots",
     ["at least 2"]),
    ("    link_bandwidth: 32 GB/s", "    link_bandwidth: 500 MB/s", "link_bandwidth: 500",
     "network.mesh.link_bandwidth", ["0.5 B per core cycle", "at least 1 B per cycle"]),
    ("    link_bandwidth: 32 GB/s", "    link_bandwidth: 32 GB", "link_bandwidth: 32 GB",
     "network.mesh.link_bandwidth", ["not a bandwidth"]),
    ("    link_bandwidth: 32 GB/s", "    link_bandwidth: 0", "link_bandwidth: 0",
     "network.mesh.link_bandwidth", ["positive"]),
    ("    hop_latency: 2", "    hop_latency: 0", "hop_latency: 0", "network.mesh.hop_latency",
     ["positive"]),
    ("    link_latency: 250 ns", "    link_latency: 250 GHz", "link_latency: 250 GHz",
     "network.host.link_latency", ["whole number of core cycles or a time"]),
    ("    header: 8 B", "    header: 0 B", "header: 0 B", "network.mesh.header", ["at least 1 B"]),
    ("  chunk: 64 B", "  chunk: 128 B", "chunk: 128 B", "dma.chunk", ["exceeds memory.interleave"]),
    ("  slots: 8", "  slots: 0", "slots: 0", "dma.slots", ["positive"]),
    ("  die: 50", "  die: -5", "die: -5", "barrier.die", ["must be at least 0"]),
    ("  timeline_bins: 256", "  timeline_bins: 255", "timeline_bins: 255", "stats.timeline_bins",
     ["must be even"]),
    ("  timeline_bin: 1 us", "  timeline_bin: 0 us", "timeline_bin: 0 us", "stats.timeline_bin",
     ["positive time"]),
    ("name: piuma", 'name: ""', 'name: ""', "name", ["must not be empty"]),
]


@pytest.mark.parametrize("old, new, snippet, key_path, fragments", CASES,
                         ids=[f"{c[3]}:{(c[1] or 'deleted').strip()[:30]}" for c in CASES])
def test_validation_error_points_at_key(tmp_path, old, new, snippet, key_path, fragments):
    path, text = variant(tmp_path, old, new)
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, snippet)}: {key_path}: "), msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_cpu_access_bytes_above_column_access(tmp_path):
    path, text = variant(tmp_path, "  access_bytes: 64 B", "  access_bytes: 128 B", base=CPU_TEXT)
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'access_bytes: 128')}: memory.access_bytes: ")
    assert "ddr5_4800 (64 B = 32 bits x BL16)" in msg


def test_default_access_bytes_checked_against_interleave(tmp_path):
    path, text = variant(tmp_path, "  access_bytes: 64 B", "", base=CPU_TEXT)
    assert load_machine_config(str(path)).access_bytes == 64  # the preset's column access
    path.write_text(text.replace("  interleave: 256 B", "  interleave: 32 B"))
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'interleave: 256')}: memory.interleave: ")
    assert "smaller than one DRAM access of ddr5_4800 (64 B)" in msg


def test_inline_scratchpad_errors_use_machine_keys(tmp_path):
    path, text = variant(tmp_path, "    banks: 1", "    banks: 3", base=CPU_TEXT)
    msg = load_error(path)
    assert msg.startswith(f"{path}:{line_of(text, 'banks: 3')}: core.scratchpad.banks: "), msg
    assert "power of two" in msg


# --- overrides --------------------------------------------------------------------------


def test_overrides_apply():
    s = load_machine_config("piuma", {
        "memory.controllers_per_die": make_node(8, "sweep", 1),
        "network.controller_nodes": make_node([1, 3, 4, 6, 9, 11, 12, 14], "sweep", 2),
        "core.threads_per_mtp": make_node(np.int64(8), "sweep", 3),  # numpy scalars welcome
        "core.l1": make_node({"latency": 3}, "sweep", 4),  # a mapping merges into the section
    })
    assert s.controllers_per_die == 8 and s.controller_nodes == (1, 3, 4, 6, 9, 11, 12, 14)
    assert s.threads_per_mtp == 8 and s.threads_per_core == 34
    assert s.l1_latency == 3 and s.l1_size == 196608  # the rest of core.l1 is kept


def test_override_clock_rescales_bandwidths():
    s = load_machine_config("piuma", {"core.clock": make_node("2 GHz")})
    assert (s.cycle_ps, s.link_bytes, s.host_link_bytes) == (500, 16, 8)  # 32 and 16 GB/s x 0.5 ns
    assert (s.die_link_latency, s.host_latency) == (200, 200)  # 100 ns / 0.5 ns
    s = load_machine_config("piuma", {"core.clock": make_node("1.25 GHz")})  # 800 ps
    assert (s.link_bytes, s.die_link_bytes, s.host_link_bytes) == (25, 25, 12)  # 25.6, 25.6, 12.8
    assert "network.mesh.link_bandwidth: 25.6 B/cycle rounded down to 25" in s.extra["rounding"]
    assert s.hop_latency == 2  # plain integers stay cycles


def test_override_key_of_named_scratchpad():
    s = load_machine_config("piuma", {"core.scratchpad.size": make_node("1 MiB")})
    assert (s.sp_size, s.sp_banks, s.sp_clock_ps) == (2**20, 16, 1000)  # rest of the preset
    msg = overrides_error({"core.scratchpad.banks": make_node(3, "sweep.yaml", 7)})
    assert msg.startswith("sweep.yaml:7: core.scratchpad.banks: "), msg


def test_override_creates_missing_section(tmp_path):
    block = CPU_TEXT[CPU_TEXT.index("  die_link:"):CPU_TEXT.index("  host:")]
    path, _ = variant(tmp_path, block, "", base=CPU_TEXT)
    s = load_machine_config(str(path), {
        "core.dies": make_node(2),
        "network.die_link": make_node({"latency": "50 ns", "bandwidth": 8}),
    })
    assert (s.dies, s.die_link_latency, s.die_link_bytes) == (2, 100, 8)  # 50 ns / 0.5 ns


def _experiment(tmp_path: Path, body: str) -> tuple[Path, dict[str, Node]]:
    exp = tmp_path / "exp.yaml"
    exp.write_text("machine: piuma\noverrides:\n" + body)
    return exp, load_yaml(exp).value["overrides"].value


def test_override_bad_value_reports_override_line(tmp_path):
    exp, ov = _experiment(tmp_path, "  core.clock: 1 GHz\n  memory.controllers_per_die: 0\n")
    msg = overrides_error(ov)
    assert msg == f"{exp}:4: memory.controllers_per_die: must be a positive integer, got 0"


def test_override_unknown_key_suggests(tmp_path):
    exp, ov = _experiment(tmp_path, "  memory.controlers_per_die: 8\n")
    msg = overrides_error(ov)
    assert msg.startswith(f"{exp}:3: memory.controlers_per_die: unknown key 'controlers_per_die' "
                          "in section 'memory'"), msg
    assert "did you mean 'controllers_per_die'?" in msg
    exp, ov = _experiment(tmp_path, "  cor.clock: 2 GHz\n")
    assert "did you mean 'core'?" in overrides_error(ov)


def test_override_below_a_value_is_refused(tmp_path):
    exp, ov = _experiment(tmp_path, "  core.clock.x: 1\n")
    assert overrides_error(ov) == (f"{exp}:3: core.clock.x: 'core.clock' is a value, not a "
                                   "section; it has no key 'x'")
    msg = overrides_error({"core..clock": make_node(1, "cli", 1)})
    assert msg.startswith("cli:1: core..clock: an override key is a dotted path")


def test_override_memory_preset_path_is_relative_to_override_file(tmp_path):
    (tmp_path / "mydram.yaml").write_text("extends: ddr5_4800\nname: mydram\n")
    exp, ov = _experiment(tmp_path, "  memory.preset: mydram.yaml\n")
    s = load_machine_config("cpu_baseline", ov)
    assert s.memory_preset == "mydram" and s.tck_ps == 416


def test_override_access_bytes_keeps_capacity():
    s = load_machine_config("cpu_baseline", {"memory.access_bytes": make_node(8)})
    # 4 KiB row / 8 B = 512 accesses -> co 9 bits; capacity is still 8 GiB per channel
    assert s.dram_fields == (("bg", 3), ("co", 9), ("ba", 2), ("ro", 16))
    assert s.extra["dram_channel_bytes"] == 8 * 2**30


def test_make_node_plain_values():
    n = make_node({"a": [1, 2.5, "x"], "b": None}, "f.yaml", 9, ("root",))
    assert n.plain() == {"a": [1, 2.5, "x"], "b": None}
    assert (n.value["a"].value[1].path, n.value["a"].value[1].line) == ("f.yaml", 9)
    assert n.value["a"].value[1].where == "root.a[1]"
    assert type(make_node(np.int64(3)).value) is int
    with pytest.raises(TypeError):
        make_node(object())


def test_plain_values_are_accepted_as_overrides():
    s = load_machine_config("piuma", {"core.dies": 2})  # type: ignore[dict-item]
    assert s.dies == 2


# --- robustness -------------------------------------------------------------------------


def test_mutated_machine_files_never_leak_other_exceptions(tmp_path):
    """Random damage to a valid file gives a one-line UserError or loads, never a traceback."""
    rng = random.Random(11)
    lines = PIUMA_TEXT.splitlines()
    junk = ["0", "-1", "true", '"x"', "[1, 2]", "{a: 1}", "", "1.5", "3 GHz", "null", "1e999",
            "4 KiB", "7 GB/s", "20 ns", "- a", "[0, 99]", "piuma_scratchpad", "ddr4_3200"]
    path = tmp_path / "m.yaml"
    for _ in range(120):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(mutated))
            if ":" in mutated[i] and rng.random() < 0.7:
                mutated[i] = mutated[i].split(":")[0] + ": " + rng.choice(junk)
            else:
                del mutated[i]
        path.write_text("\n".join(mutated) + "\n")
        try:
            load_machine_config(str(path))
        except UserError as exc:
            assert "\n" not in str(exc)
