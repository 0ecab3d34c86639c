"""Scratchpad SRAM YAML (kind: scratchpad) -> SramConfig, validated with file:line:key errors."""

from __future__ import annotations

from sim.config import yamlfile as y
from sim.config.memory import PRESET_DIR
from sim.config.units import parse_bytes, period_ps
from sim.config.yamlfile import Node
from sim.memory.sram_config import AtomicUnitConfig, SramConfig

TOP_KEYS = ("name", "kind", "source", "size", "banks", "bank_interleave", "clock", "latency",
            "bytes_per_clock_per_port", "ports_per_bank", "atomic")
ATOMIC_KEYS = ("latency", "ops_per_clock")


def list_sram_presets() -> list[str]:
    """Names of the scratchpad presets in hw_configs/memory."""
    return y.presets_of_kind(PRESET_DIR, "scratchpad")


def load_sram_config(name_or_path: str) -> SramConfig:
    """Load a scratchpad preset by name (hw_configs/memory/<name>.yaml) or by file path."""
    path = y.resolve_preset(name_or_path, PRESET_DIR, list_sram_presets, "scratchpad preset")
    return sram_config_from_node(y.load_yaml(path, preset_dir=PRESET_DIR))


def _pow2_bytes(node: Node) -> int:
    n = y.as_unit(node, parse_bytes)
    if n <= 0 or n & (n - 1):
        raise node.error(f"must be a power of two number of bytes, got {node.value!r}")
    return n


def sram_config_from_node(root: Node) -> SramConfig:
    kind = root.get("kind")
    if kind is None:
        hint = ("; this looks like a DRAM preset, load it with load_memory_config"
                if "timing" in root or "standard" in root else "")
        raise y.missing(root, "kind", f" (must be 'scratchpad'){hint}")
    if kind.value != "scratchpad":
        if kind.value == "dram":
            raise kind.error("this is a DRAM preset, not a scratchpad; load it with load_memory_config")
        raise kind.error(f"expected 'scratchpad', got {kind.value!r}")
    y.check_keys(root, TOP_KEYS)
    size = _pow2_bytes(y.require(root, "size"))
    banks = y.as_power_of_two(y.require(root, "banks"))
    interleave_node = y.require(root, "bank_interleave")
    interleave = _pow2_bytes(interleave_node)
    if banks * interleave > size:
        raise interleave_node.error(
            f"banks x bank_interleave ({banks} x {interleave} B) exceeds size ({size} B)"
        )
    clock = y.require(root, "clock")
    clock_ps = y.as_unit(clock, period_ps)
    if clock_ps <= 0:
        raise clock.error(f"must be a positive frequency or period, got {clock.value!r}")
    atomic = y.section(root, "atomic")
    y.check_keys(atomic, ATOMIC_KEYS)
    source = root.get("source")
    return SramConfig(
        name=y.as_str(y.require(root, "name")),
        size_bytes=size,
        banks=banks,
        bank_interleave_bytes=interleave,
        clock_ps=clock_ps,
        latency=y.as_int(y.require(root, "latency")),
        bytes_per_clock_per_port=y.as_int(y.require(root, "bytes_per_clock_per_port")),
        ports_per_bank=y.as_int(y.require(root, "ports_per_bank")),
        atomic=AtomicUnitConfig(
            latency=y.as_int(y.require(atomic, "latency")),
            ops_per_clock=y.as_int(y.require(atomic, "ops_per_clock")),
        ),
        source="" if source is None else y.as_str(source),
        path=root.path,
    )
