"""Flash SSD preset YAML (hw_configs/storage/*.yaml, kind: flash) -> FlashSpec.

Every problem is a one-line ConfigError `file:line: key.path: what was expected`. The
schema (every value carries a unit where it has one):

    name: pm9a3
    kind: flash
    source: "..."
    geometry: {channels, dies_per_channel, planes_per_die, page_bytes, pages_per_block,
               blocks_per_plane}          # powers of two: the address map splits them into bits
    timing: {tR, tPROG, tBERS (optional, unused by reads and writes)}
    channel: {rate (MT/s), bus_bytes, command_overhead (optional, default 0)}
    controller: {latency, max_read_iops (optional), max_write_iops (optional)}
    link: pcie_gen4_x4                    # a link preset (hw_configs/links), see below

The controller's command rate: every command occupies the controller for
ceil(1e12 / max_*_iops) ps (a datasheet's random 4 KiB IOPS); without max_read_iops there
is no limit, and max_write_iops defaults to max_read_iops. The link is read with
sim.memory.link.link_from_ref, as tiers read theirs: a preset name, a path to a link file
or an inline mapping of link keys (which may `extends:` a preset). The flash model takes
from it the payload peak (LinkSpec.peak_bytes_per_s: full packets at the line rate) for
every page's transfer and its one-way latency for the completion; the link's
transfer_overhead is not added, since an NVMe command's own cost is the controller's
(latency and command rate).

A preset may `extends:` another in hw_configs/storage and override only what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.config import yamlfile as y
from sim.config.units import parse_bytes, parse_time_ps, parse_transfer_rate
from sim.config.yamlfile import Node
from sim.memory.flash import FlashSpec, command_ps
from sim.memory.link import link_from_ref
from sim.paths import data_dir

STORAGE_DIR = data_dir("hw_configs") / "storage"
KIND = "flash"

TOP_KEYS = ("name", "kind", "source", "geometry", "timing", "channel", "controller", "link")
GEOMETRY_KEYS = ("channels", "dies_per_channel", "planes_per_die", "page_bytes",
                 "pages_per_block", "blocks_per_plane")
TIMING_KEYS = ("tR", "tPROG", "tBERS")
CHANNEL_KEYS = ("rate", "bus_bytes", "command_overhead")
CONTROLLER_KEYS = ("latency", "max_read_iops", "max_write_iops")
# a page's transfer time is bytes * 1e12 / rate in int64 ps: 1 MiB keeps that below 2**63
MAX_PAGE_BYTES = 1 << 20
MAX_DIES = 1 << 16


def list_flash() -> list[str]:
    """Names of the flash SSD presets (hw_configs/storage/<name>.yaml)."""
    return y.presets_of_kind(STORAGE_DIR, KIND)


def is_flash_preset(name_or_path: str) -> bool:
    """True when the name is a flash preset, or the file says `kind: flash`."""
    if y.is_file_ref(name_or_path):
        path = Path(name_or_path)
        return path.is_file() and y.preset_kind(path, STORAGE_DIR) == KIND
    return (STORAGE_DIR / f"{name_or_path}.yaml").is_file()


def load_flash(name_or_path: str) -> FlashSpec:
    """Load a flash preset by name (hw_configs/storage/<name>.yaml) or by file path."""
    path = y.resolve_preset(name_or_path, STORAGE_DIR, list_flash, "flash preset")
    return flash_from_node(y.load_yaml(path, preset_dir=STORAGE_DIR))


def flash_from_node(root: Node) -> FlashSpec:
    kind = y.require(root, "kind")
    if kind.value != KIND:
        raise kind.error(f"expected '{KIND}', got {kind.value!r}; this file is not a flash preset")
    y.check_keys(root, TOP_KEYS)
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    source = root.get("source")
    geo = _geometry(y.section(root, "geometry"))
    timing = y.section(root, "timing")
    y.check_keys(timing, TIMING_KEYS)
    t_read = y.as_positive_unit(y.require(timing, "tR"), parse_time_ps)
    t_prog = y.as_positive_unit(y.require(timing, "tPROG"), parse_time_ps)
    erase = timing.get("tBERS")
    t_erase = 0 if erase is None else y.as_positive_unit(erase, parse_time_ps)
    channel = y.section(root, "channel")
    y.check_keys(channel, CHANNEL_KEYS)
    rate = y.as_positive_unit(y.require(channel, "rate"), parse_transfer_rate)
    bus_bytes = y.as_int(y.require(channel, "bus_bytes"))
    overhead = channel.get("command_overhead")
    overhead_ps = 0 if overhead is None else _at_least_zero(overhead, parse_time_ps)
    controller = y.section(root, "controller")
    y.check_keys(controller, CONTROLLER_KEYS)
    ctrl_lat = _at_least_zero(y.require(controller, "latency"), parse_time_ps)
    read_iops = controller.get("max_read_iops")
    read_ps = 0 if read_iops is None else command_ps(y.as_int(read_iops))
    write_iops = controller.get("max_write_iops")
    write_ps = read_ps if write_iops is None else command_ps(y.as_int(write_iops))
    link = link_from_ref(y.require(root, "link"))
    return FlashSpec(
        name=name.value,
        **geo,
        t_read_ps=t_read,
        t_prog_ps=t_prog,
        t_erase_ps=t_erase,
        channel_bytes_per_s=rate * bus_bytes,
        channel_overhead_ps=overhead_ps,
        controller_latency_ps=ctrl_lat,
        link_name=link.name,
        link_bytes_per_s=link.peak_bytes_per_s(),
        link_latency_ps=link.latency_ps,
        controller_read_ps=read_ps,
        controller_write_ps=write_ps,
        source="" if source is None else y.as_str(source),
        path=root.path,
    )


def _geometry(node: Node) -> dict[str, int]:
    y.check_keys(node, GEOMETRY_KEYS)
    out = {}
    for key in GEOMETRY_KEYS:
        child = y.require(node, key)
        if key == "page_bytes":
            value = y.as_positive_unit(child, parse_bytes)
            if value & (value - 1):
                raise child.error(f"must be a power of two (the address map splits it into "
                                  f"bits), got {value}")
            if value > MAX_PAGE_BYTES:
                raise child.error(f"{value} B exceeds the model's limit of {MAX_PAGE_BYTES} B")
        else:
            value = y.as_power_of_two(child)
        out[key] = value
    dies = out["channels"] * out["dies_per_channel"]
    if dies > MAX_DIES:
        raise node.value["dies_per_channel"].error(
            f"channels x dies_per_channel = {dies} exceeds the model's limit of {MAX_DIES}")
    return out


def _at_least_zero(node: Node, parse: Callable[[Any], int]) -> int:
    value = y.as_unit(node, parse)
    if value < 0:
        raise node.error(f"must not be negative, got {node.value!r}")
    return value
