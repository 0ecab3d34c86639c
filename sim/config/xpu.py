"""xPU preset YAML (hw_configs/xpu/*.yaml, kind: xpu) -> XpuSpec, with file:line:key errors.

An xPU file gives the SM array (count, clock, shared memory, FLOP/s) and its HBM as a
memory preset of the DRAM family (hw_configs/memory) times a number of stacks. The
device's cited bandwidth and capacity are written too, and checked against what the
preset models, so a datasheet figure and the simulated memory cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.config import memory as mem
from sim.config import yamlfile as y
from sim.config.machine import _load_preset, _preset_path, apply_overrides
from sim.config.tier import pims_from_node, tiers_from_node
from sim.config.units import (
    parse_bandwidth,
    parse_bytes,
    parse_flop_rate,
    parse_frequency_hz,
    parse_time_ps,
)
from sim.config.yamlfile import Node
from sim.paths import data_dir
from sim.xpu import XpuSpec

XPU_DIR = data_dir("hw_configs") / "xpu"

TOP_KEYS = ("name", "kind", "source", "sms", "clock", "sram_per_sm",
            "sram_bytes_per_clock_per_sm", "flops", "flops_8bit", "hbm", "tiers", "pim")
HBM_KEYS = ("preset", "stacks", "capacity", "bandwidth", "latency")
# how far the cited device bandwidth may sit from the preset's peak x stacks: datasheets
# round (1555 GB/s, 3.35 TB/s) and preset clocks are whole picoseconds
BANDWIDTH_TOLERANCE = 0.02


def list_xpus() -> list[str]:
    """Names of the xPU presets (hw_configs/xpu/<name>.yaml)."""
    return y.preset_names(XPU_DIR)


# the key tree overrides are checked against (a dict is a section, None a value)
SCHEMA: dict[str, Any] = {**dict.fromkeys(TOP_KEYS), "hbm": dict.fromkeys(HBM_KEYS)}


def load_xpu(name_or_path: str, overrides: Mapping[str, Node] | None = None) -> XpuSpec:
    """Load an xPU preset by name (hw_configs/xpu/<name>.yaml) or by file path.

    ``overrides`` maps dotted keys (``hbm.stacks``) to Nodes, as for machine presets.
    """
    path = y.resolve_preset(name_or_path, XPU_DIR, list_xpus, "xPU")
    root = y.load_yaml(path, preset_dir=XPU_DIR)
    if overrides:
        root = apply_overrides(root, overrides, _schema(root))
    return xpu_from_node(root)


def _schema(root: Node) -> dict[str, Any]:
    """SCHEMA plus the tiers and PIM units this preset names (so they can be swept)."""
    from sim.config.tier import TIER_KEYS

    def names(key: str) -> list[str]:
        n = root.get(key)
        return list(n.value) if n is not None and n.is_mapping else []

    return {**SCHEMA, "tiers": {t: dict.fromkeys(TIER_KEYS) for t in names("tiers")},
            "pim": dict.fromkeys(names("pim"))}


def xpu_from_node(root: Node) -> XpuSpec:
    kind = root.get("kind")
    if kind is not None and kind.value != "xpu":
        raise kind.error(f"expected 'xpu', got {kind.value!r}; this file is not an xPU preset")
    y.check_keys(root, TOP_KEYS)
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    source = root.get("source")
    sms = y.as_int(y.require(root, "sms"))
    clock_hz = y.as_positive_unit(y.require(root, "clock"), parse_frequency_hz)
    sram = y.as_positive_unit(y.require(root, "sram_per_sm"), parse_bytes)
    sram_rate = y.as_positive_unit(y.require(root, "sram_bytes_per_clock_per_sm"), parse_bytes)
    flops = y.as_positive_unit(y.require(root, "flops"), parse_flop_rate)
    if flops < sms * clock_hz:
        raise root.value["flops"].error(
            f"{flops:,} FLOP/s is under one FLOP per SM per clock "
            f"({sms} SMs x {clock_hz:,} Hz); check the unit")
    f8 = root.get("flops_8bit")
    flops_8bit = 0 if f8 is None else y.as_positive_unit(f8, parse_flop_rate)
    if f8 is not None and flops_8bit < flops:
        raise f8.error(f"{flops_8bit:,} FLOP/s is below the 16-bit peak ({flops:,}); an "
                       f"8-bit rate is at least the 16-bit one")
    hbm = _hbm(y.section(root, "hbm"))
    taken: set[str] = set()
    tiers = tiers_from_node(root.get("tiers"), taken)
    pim = pims_from_node(root.get("pim"), taken)
    return XpuSpec(
        name=name.value,
        sms=sms,
        clock_hz=clock_hz,
        sram_bytes_per_sm=sram,
        sram_bytes_per_clock_per_sm=sram_rate,
        flops_per_s=flops,
        flops_per_s_8bit=flops_8bit,
        **hbm,
        source="" if source is None else y.as_str(source),
        path=root.path,
        tiers=tiers,
        pim=pim,
    )


def _hbm(node: Node) -> dict[str, Any]:
    y.check_keys(node, HBM_KEYS)
    preset_node = y.require(node, "preset")
    path = _preset_path(preset_node, mem.PRESET_DIR, mem.list_memory_presets, "memory preset")
    dram = _load_preset(preset_node, path, mem.load_memory_config, "DRAM preset")
    stacks_node = y.require(node, "stacks")
    stacks = y.as_int(stacks_node)
    capacity_node = y.require(node, "capacity")
    capacity = y.as_positive_unit(capacity_node, parse_bytes)
    bandwidth_node = y.require(node, "bandwidth")
    bandwidth = y.as_positive_unit(bandwidth_node, parse_bandwidth)
    latency = y.as_positive_unit(y.require(node, "latency"), parse_time_ps)

    modelled = dram.peak_bytes_per_s * stacks
    if abs(bandwidth - modelled) > BANDWIDTH_TOLERANCE * bandwidth:
        raise bandwidth_node.error(
            f"{bandwidth / 1e9:,.1f} GB/s disagrees with {stacks} x {dram.name} "
            f"({dram.peak_bytes_per_s / 1e9:,.1f} GB/s peak each = {modelled / 1e9:,.1f} GB/s) "
            f"by more than {BANDWIDTH_TOLERANCE:.0%}; fix the stacks or the preset's clock")
    total = dram.capacity_bytes * stacks
    if capacity > total:
        raise capacity_node.error(
            f"{capacity:,} B exceeds {stacks} x {dram.name} "
            f"({dram.capacity_bytes:,} B each = {total:,} B)")
    # keep the reference as written (a bare name, or the resolved file) so that
    # load_memory_config(spec.hbm_preset) finds the same preset again
    written = preset_node.value.strip()
    preset = str(path) if y.is_file_ref(written) else written
    return {"hbm_preset": preset, "hbm_stacks": stacks, "hbm_capacity_bytes": capacity,
            "hbm_bytes_per_s": bandwidth, "hbm_latency_ps": latency}
