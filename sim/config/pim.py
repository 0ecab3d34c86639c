"""PIM preset YAML (hw_configs/pim/*.yaml) -> PimSpec, with file:line:key errors.

    name: attacc_bank
    kind: bank                 # bank: units in the DRAM dies; logic: on the HBM base die
    source: "..."
    bandwidth_multiple: 16     # internal bandwidth / the stack's external bandwidth
    flops_per_byte: 1          # FLOP per internal byte the units sustain
    units_per: bank            # bank | bank_group (kind bank); stack (kind logic)
    latency: 30 ns             # launch-to-first-data of a PIM kernel
    memory: hbm3               # the DRAM preset (hw_configs/memory) of the stack

Every number carries its citation in a comment of the preset file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.config import memory as mem
from sim.config import yamlfile as y
from sim.config.machine import _load_preset, _preset_path, apply_overrides
from sim.config.units import parse_time_ps
from sim.config.yamlfile import Node
from sim.paths import data_dir
from sim.pim import PIM_KINDS, UNITS_PER, PimSpec

PIM_DIR = data_dir("hw_configs") / "pim"

TOP_KEYS = ("name", "kind", "source", "bandwidth_multiple", "flops_per_byte", "units_per",
            "latency", "memory")
SCHEMA: dict[str, Any] = dict.fromkeys(TOP_KEYS)
# where each kind's units may sit: bank-level units are per bank or per bank group, a
# logic-die unit serves its whole stack
PLACEMENTS = {"bank": ("bank", "bank_group"), "logic": ("stack",)}
assert set(PLACEMENTS) == set(PIM_KINDS) and {u for v in PLACEMENTS.values() for u in v} == set(UNITS_PER)


def list_pim() -> list[str]:
    """Names of the PIM presets (hw_configs/pim/<name>.yaml)."""
    return y.preset_names(PIM_DIR)


def load_pim(name_or_path: str, overrides: Mapping[str, Node] | None = None) -> PimSpec:
    """Load a PIM preset by name (hw_configs/pim/<name>.yaml) or by file path.

    ``overrides`` maps keys (``bandwidth_multiple``) to Nodes, as for xPU presets.
    """
    path = y.resolve_preset(name_or_path, PIM_DIR, list_pim, "PIM preset")
    root = y.load_yaml(path, preset_dir=PIM_DIR)
    if overrides:
        root = apply_overrides(root, overrides, SCHEMA)
    return pim_from_node(root)


def pim_from_node(root: Node) -> PimSpec:
    if not root.is_mapping:
        raise root.error("expected a mapping of PIM preset keys")
    y.check_keys(root, TOP_KEYS)
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    kind_node = y.require(root, "kind")
    if kind_node.value in ("pim", "xpu", "machine", "dram"):
        raise kind_node.error(f"expected one of {', '.join(PIM_KINDS)} (where the units sit), "
                              f"got {kind_node.value!r}")
    kind = y.as_enum(kind_node, PIM_KINDS)
    multiple = y.as_int(y.require(root, "bandwidth_multiple"))  # >= 1: a PIM unit sees at
    #                                                             least the external bandwidth
    fpb_node = y.require(root, "flops_per_byte")
    flops_per_byte = float(y.as_number(fpb_node))
    if not flops_per_byte > 0:
        raise fpb_node.error(f"must be positive, got {fpb_node.value!r}")
    units_node = y.require(root, "units_per")
    units_per = y.as_enum(units_node, UNITS_PER)
    if units_per not in PLACEMENTS[kind]:
        raise units_node.error(f"{kind}-level units sit per {' or per '.join(PLACEMENTS[kind])}, "
                               f"not per {units_per}")
    latency_node = y.require(root, "latency")
    latency = y.as_unit(latency_node, parse_time_ps)
    if latency <= 0:
        raise latency_node.error(f"must be a positive time, got {latency_node.value!r}")
    mem_node = y.require(root, "memory")
    mem_path = _preset_path(mem_node, mem.PRESET_DIR, mem.list_memory_presets, "memory preset")
    _load_preset(mem_node, mem_path, mem.load_memory_config, "DRAM preset")  # it must load
    written = mem_node.value.strip()
    source = root.get("source")
    return PimSpec(
        name=name.value.strip(), kind=kind, bandwidth_multiple=multiple,
        flops_per_byte=flops_per_byte, units_per=units_per, latency_ps=latency,
        memory_preset=str(mem_path) if y.is_file_ref(written) else written,
        source="" if source is None else y.as_str(source), path=root.path,
    )
