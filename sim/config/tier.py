"""The ``tiers:`` and ``pim:`` sections of an xPU preset -> TierSpec and PimUnit tuples.

    tiers:
      host:                      # a name placements use
        kind: dram               # dram: a DRAM preset x channels; flash: a storage preset x devices
        memory: ddr5_4800        # dram: preset of one channel (hw_configs/memory)
        channels: 8
        capacity: 512 GiB
        latency: 100 ns          # the memory's own access latency (cite it)
        link: pcie_gen5_x16      # dram: a link preset (hw_configs/links) or an inline mapping;
                                 # leave out for DRAM wired to the chip (SN40L's DDR)
        compute: 3 TFLOP/s       # optional: compute beside the tier (host CPU, in-storage units)
      ssd:
        kind: flash
        storage: pm9a3           # flash: a storage preset (hw_configs/storage); its own host link
        devices: 1
        queue_depth: 32          # reads the host keeps outstanding per device
    pim:
      logic_pim: duplex_logic    # unit name -> PIM preset (hw_configs/pim) in the HBM stacks

A flash tier's capacity defaults to the preset's times the devices. Mistakes are one-line
ConfigErrors with file:line and the key.
"""

from __future__ import annotations

from pathlib import Path

from sim.config import yamlfile as y
from sim.config.units import parse_bytes, parse_flop_rate, parse_time_ps
from sim.config.yamlfile import Node
from sim.tier import TIER_KINDS, PimUnit, TierSpec

TIER_KEYS = ("kind", "memory", "storage", "channels", "devices", "capacity", "latency", "link",
             "queue_depth", "compute", "source")
DRAM_KEYS = ("kind", "memory", "channels", "capacity", "latency", "link", "compute", "source")
FLASH_KEYS = ("kind", "storage", "devices", "capacity", "queue_depth", "compute", "source")
RESERVED = ("hbm", "sram", "tensor", "xpu", "auto")  # names the platform already uses


def _name(key: str, node: Node, taken: set[str]) -> str:
    if key in RESERVED or "." in key or not key:
        raise node.error(f"'{key}' cannot name a tier or unit (reserved: "
                         f"{', '.join(RESERVED)}; no dots)")
    if key in taken:
        raise node.error(f"'{key}' is already the name of a tier or PIM unit")
    taken.add(key)
    return key


def tiers_from_node(node: Node | None, taken: set[str]) -> tuple[TierSpec, ...]:
    if node is None:
        return ()
    if not node.is_mapping:
        raise node.error("expected a mapping of tier names to tiers")
    return tuple(_tier(_name(k, v, taken), v) for k, v in node.value.items())


def _tier(name: str, node: Node) -> TierSpec:
    if not node.is_mapping:
        raise node.error("expected a tier: a mapping with kind, memory or storage, ...")
    kind = y.as_enum(y.require(node, "kind"), TIER_KINDS)
    y.check_keys(node, DRAM_KEYS if kind == "dram" else FLASH_KEYS)
    compute = node.get("compute")
    flops = 0 if compute is None else y.as_positive_unit(compute, parse_flop_rate)
    source = "" if node.get("source") is None else y.as_str(node.get("source"))
    if kind == "dram":
        from sim.config import memory as mem
        from sim.config.machine import _load_preset, _preset_path

        pnode = y.require(node, "memory")
        path = _preset_path(pnode, mem.PRESET_DIR, mem.list_memory_presets, "memory preset")
        dram = _load_preset(pnode, path, mem.load_memory_config, "DRAM preset")
        channels = y.as_int(y.require(node, "channels"))
        cap_node = y.require(node, "capacity")
        capacity = y.as_positive_unit(cap_node, parse_bytes)
        if capacity > dram.capacity_bytes * channels:
            raise cap_node.error(
                f"{capacity / 2**30:,.1f} GiB exceeds {channels} x {dram.name} "
                f"({dram.capacity_bytes / 2**30:,.1f} GiB each)")
        link = None
        if node.get("link") is not None:
            from sim.memory.link import link_from_ref

            link = link_from_ref(node.get("link"))
        written = pnode.value.strip()
        return TierSpec(name=name, kind=kind, preset=str(path) if y.is_file_ref(written)
                        else written, devices=channels, capacity_bytes=capacity,
                        latency_ps=y.as_positive_unit(y.require(node, "latency"), parse_time_ps),
                        link=link, compute_flops_per_s=flops, source=source)
    from sim.memory.flash import list_flash, load_flash

    snode = y.require(node, "storage")
    written = y.as_str(snode).strip()
    if not y.is_file_ref(written) and written not in list_flash():
        raise snode.error(f"unknown storage preset '{written}'"
                          f"{y.did_you_mean(written, list_flash())}; available: "
                          f"{', '.join(list_flash()) or 'none'}")
    if y.is_file_ref(written) and not snode.path.startswith("<"):
        written = str(Path(snode.path).parent / written)
    spec = load_flash(written)
    devices = 1 if node.get("devices") is None else y.as_int(node.get("devices"))
    cap_node = node.get("capacity")
    capacity = spec.capacity_bytes * devices if cap_node is None else y.as_positive_unit(cap_node, parse_bytes)
    if capacity > spec.capacity_bytes * devices:
        raise cap_node.error(f"{capacity / 2**30:,.1f} GiB exceeds {devices} x {spec.name} "
                             f"({spec.capacity_bytes / 2**30:,.1f} GiB each)")
    qd = 32 if node.get("queue_depth") is None else y.as_int(node.get("queue_depth"))
    return TierSpec(name=name, kind=kind, preset=written,
                    devices=devices, capacity_bytes=capacity, latency_ps=0, link=None,
                    queue_depth=qd, compute_flops_per_s=flops, source=source)


def pims_from_node(node: Node | None, taken: set[str]) -> tuple[PimUnit, ...]:
    if node is None:
        return ()
    if not node.is_mapping:
        raise node.error("expected a mapping of unit names to PIM presets (hw_configs/pim)")
    from sim.config.pim import list_pim, load_pim

    out = []
    for key, v in node.value.items():
        name = _name(key, v, taken)
        ref = y.as_str(v).strip()
        if not y.is_file_ref(ref) and ref not in list_pim():
            raise v.error(f"unknown PIM preset '{ref}'{y.did_you_mean(ref, list_pim())}; "
                          f"available: {', '.join(list_pim()) or 'none'}")
        out.append(PimUnit(name, load_pim(ref)))
    return tuple(out)
