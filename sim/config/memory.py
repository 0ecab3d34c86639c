"""DRAM preset YAML -> DramConfig (sim.memory.dram_config), validated with file:line:key errors."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

from sim.config import yamlfile as y
from sim.config.errors import ConfigError
from sim.config.units import parse_time_ps, parse_transfer_rate
from sim.config.yamlfile import KeyPath, Node
from sim.memory import address_map as amap
from sim.memory.dram_config import (
    COMMAND_QUEUES,
    PAGE_POLICIES,
    REFRESH_POLICIES,
    ROW_DTYPE,
    STRUCTURES,
    UNIT_DTYPE,
    ControllerConfig,
    DramConfig,
    DramTiming,
)
from sim.paths import data_dir

PRESET_DIR = data_dir("hw_configs") / "memory"

STANDARDS = ("DDR4", "DDR5", "HBM2", "HBM2E", "HBM3", "LPDDR5")
TOP_KEYS = ("name", "kind", "standard", "source", "follows", "organization", "timing", "controller",
            "power")  # power: read by sim.config.dram_power
# organisation fields the address map splits into bits, so each must be a power of two
ORG_KEYS = ("channels", "pseudo_channels", "ranks", "bank_groups", "banks_per_group", "rows",
            "columns", "device_width", "bus_width", "burst_length")
# YAML timing name -> DramTiming field (RCD is special: it sets RCD_RD and RCD_WR)
TIMINGS = {"CL": "CL", "CWL": "CWL", "RCD": "", "RCDRD": "RCD_RD", "RCDWR": "RCD_WR",
           "RP": "RP", "RAS": "RAS", "RC": "RC", "CCD_S": "CCD_S", "CCD_L": "CCD_L",
           "RRD_S": "RRD_S", "RRD_L": "RRD_L", "FAW": "FAW", "WR": "WR", "WTR_S": "WTR_S",
           "WTR_L": "WTR_L", "RTP": "RTP", "RTRS": "RTRS", "RFC": "RFC", "REFI": "REFI",
           "RTW": "RTW", "BURST": "BURST"}
OPTIONAL_TIMINGS = ("RCDRD", "RCDWR", "RTRS", "RTW", "BURST")
TIMING_KEYS = ("tCK", "data_rate", *(f"{p}{n}" for n in TIMINGS for p in "nt"))
CONTROLLER_KEYS = ("structure", "address_mapping", "bank_xor", "xor", "page_policy", "read_queue",
                   "write_queue", "bank_queue", "command_queues", "write_drain_low", "write_drain_high", "refresh",
                   "row_hit_cap", "requests_per_clock")
DEFAULT_DRAIN = {"write_drain_low": 0.2, "write_drain_high": 0.8}


def _replaces(parent: KeyPath, key: str) -> tuple[str, ...]:
    """Keys a derived preset displaces in its base when it sets `key` (extends: merging).

    Only one of nX / tX (and of tCK / data_rate) may be given, so a child that
    writes tRCD must hide the base's nRCD; RCD also resets the RCDRD/RCDWR overrides.
    """
    if parent != ("timing",):
        return ()
    if key in ("tCK", "data_rate"):
        return ("tCK", "data_rate")
    name = key[1:]
    if key[:1] in ("n", "t") and name in TIMINGS:
        names = [name, "RCDRD", "RCDWR"] if name == "RCD" else [name]
        return tuple(p + n for n in names for p in "nt")
    return ()


def list_memory_presets() -> list[str]:
    """Names of the DRAM presets in hw_configs/memory (scratchpad files excluded)."""
    return [n for n in y.preset_names(PRESET_DIR)
            if y.preset_kind(PRESET_DIR / f"{n}.yaml", PRESET_DIR) != "scratchpad"]


def load_memory_config(name_or_path: str) -> DramConfig:
    """Load a DRAM preset by name (hw_configs/memory/<name>.yaml) or by file path."""
    path = y.resolve_preset(name_or_path, PRESET_DIR, list_memory_presets, "memory preset")
    _check_one_form_per_file(path)
    root = y.load_yaml(path, preset_dir=PRESET_DIR, replaces=_replaces)
    return dram_config_from_node(root)


def _check_one_form_per_file(path: Path) -> None:
    """No file of the extends: chain gives both nX and tX of one timing.

    Merging lets a child's tX displace its base's nX (_replaces), and would equally let a
    child's own later key displace its earlier one, silently; so each file is checked as
    written before the merge. Unreadable files and broken extends are left to load_yaml.
    """
    seen: set[Path] = set()
    while path.is_file() and path.resolve() not in seen:
        seen.add(path.resolve())
        node = y.read_yaml(path)
        timing = node.get("timing")
        if timing is not None and timing.is_mapping:
            for name in TIMINGS:
                n, t = timing.get("n" + name), timing.get("t" + name)
                if n is not None and t is not None:
                    later = n if n.line > t.line else t
                    raise later.error(f"give either n{name} (clocks) or t{name} (time), "
                                      f"not both")
        ext = node.get("extends")
        if ext is None or not isinstance(ext.value, str) or not ext.value.strip():
            return
        name = ext.value.strip()
        path = path.parent / name if y.is_file_ref(name) else PRESET_DIR / f"{name}.yaml"


def dram_config_from_node(root: Node) -> DramConfig:
    kind = root.get("kind")
    if kind is not None and kind.value != "dram":
        if kind.value == "scratchpad":
            raise kind.error("this is a scratchpad SRAM config, not a DRAM preset; "
                             "load it with load_sram_config")
        raise kind.error(f"expected 'dram' (or leave kind out), got {kind.value!r}")
    y.check_keys(root, TOP_KEYS)
    org = _organization(y.section(root, "organization"))
    tck_ps, timing = _timing(y.section(root, "timing"), org["burst_length"])
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    return DramConfig(
        name=name.value,
        standard=y.as_enum(y.require(root, "standard"), STANDARDS),
        **org,
        tck_ps=tck_ps,
        timing=timing,
        controller=_controller(root, org),
        source=_opt_str(root, "source"),
        follows=_opt_str(root, "follows"),
        path=root.path,
    )


def _opt_str(node: Node, key: str) -> str:
    child = node.get(key)
    return "" if child is None else y.as_str(child)


def _organization(node: Node) -> dict[str, int]:
    y.check_keys(node, ORG_KEYS)
    org = {}
    for key in ORG_KEYS:
        child = node.get(key)
        if child is None and key == "pseudo_channels":
            org[key] = 1
            continue
        org[key] = y.as_power_of_two(y.require(node, key))
    if org["columns"] % org["burst_length"]:
        raise node.value["columns"].error(
            f"columns ({org['columns']}) must be a multiple of burst_length ({org['burst_length']})"
        )
    # every channel, bank and row number must fit the per-access field types
    units = int(np.iinfo(UNIT_DTYPE).max) + 1
    limits = (("channels", org["channels"] * org["pseudo_channels"], units,
               "channels x pseudo_channels"),
              ("banks_per_group", org["pseudo_channels"] * org["ranks"] * org["bank_groups"]
               * org["banks_per_group"], units,
               "banks per channel (pseudo_channels x ranks x bank_groups x banks_per_group)"),
              ("rows", org["rows"], int(np.iinfo(ROW_DTYPE).max) + 1, "rows"))
    for key, value, limit, what in limits:
        if value > limit:
            raise node.value[key].error(f"{what} = {value} exceeds the model's limit of {limit}")
    if org["bus_width"] * org["burst_length"] < 8:
        raise node.value["bus_width"].error(
            f"a column access moves bus_width x burst_length = "
            f"{org['bus_width'] * org['burst_length']} bits; it must be at least one byte")
    return org


def _clock_ps(node: Node) -> int:
    tck, rate = node.get("tCK"), node.get("data_rate")
    if tck is not None and rate is not None:
        raise rate.error("give either tCK or data_rate, not both")
    if tck is not None:
        ps = y.as_unit(tck, parse_time_ps)
        if ps <= 0:
            raise tck.error(f"must be a positive time, got {tck.value!r}")
        return ps
    if rate is None:
        raise y.missing(node, "tCK", " (or data_rate)")
    mts = y.as_unit(rate, parse_transfer_rate)
    if mts <= 0:
        raise rate.error(f"must be a positive transfer rate, got {rate.value!r}")
    ps = Fraction(2 * 10**12, mts)  # double data rate: two transfers per clock
    if ps.denominator != 1:
        raise rate.error(f"gives tCK = {float(ps):.4f} ps, not a whole number of ps; "
                         f"give tCK instead (e.g. tCK: {math.floor(ps) / 1000} ns)")
    return int(ps)


def _timing(node: Node, burst_length: int) -> tuple[int, DramTiming]:
    y.check_keys(node, TIMING_KEYS)
    tck_ps = _clock_ps(node)
    clocks: dict[str, int] = {}
    for name in TIMINGS:
        n, t = node.get("n" + name), node.get("t" + name)
        if n is not None and t is not None:
            raise t.error(f"give either n{name} (clocks) or t{name} (time), not both")
        if n is not None:
            clocks[name] = y.as_int(n, minimum=0 if name == "RTRS" else 1)
        elif t is not None:
            ps = y.as_unit(t, parse_time_ps)
            if ps < 0 or (ps == 0 and name != "RTRS"):
                raise t.error(f"must be a positive time, got {t.value!r}")
            clocks[name] = -(-ps // tck_ps)  # ceil: a constraint is never shortened
    if "RCD" not in clocks and not ("RCDRD" in clocks and "RCDWR" in clocks):
        raise y.missing(node, "nRCD", " (or tRCD, or both RCDRD and RCDWR)")
    for name in TIMINGS:
        if name not in clocks and name not in OPTIONAL_TIMINGS and name != "RCD":
            raise y.missing(node, f"n{name}", f" (or t{name})")
    fields = {TIMINGS[k]: v for k, v in clocks.items() if TIMINGS[k]}
    fields.setdefault("RCD_RD", clocks.get("RCD", 0))
    fields.setdefault("RCD_WR", clocks.get("RCD", 0))
    fields.setdefault("RTRS", 1)
    fields.setdefault("BURST", burst_length // 2)
    return tck_ps, DramTiming(**fields)


def _widths(org: dict[str, int]) -> dict[str, int]:
    """Bits of each address field (as DramConfig.field_bits, from the raw organisation)."""
    def log2(n: int) -> int:
        return n.bit_length() - 1

    return {"ch": log2(org["channels"]), "pc": log2(org["pseudo_channels"]),
            "ra": log2(org["ranks"]), "bg": log2(org["bank_groups"]),
            "ba": log2(org["banks_per_group"]), "ro": log2(org["rows"]),
            "co": log2(org["columns"] // org["burst_length"])}


def _mapping(node: Node, org: dict[str, int]) -> tuple[str, ...]:
    text = y.as_str(node)
    # a field of one value has no bits and may be left out
    optional = {"pc": org["pseudo_channels"] == 1, "ch": org["channels"] == 1,
                "ra": org["ranks"] == 1}
    try:
        pieces = amap.parse_mapping(text)
        amap.check_mapping(pieces, _widths(org), optional)
    except amap.MappingError as exc:
        raise node.error(f"address mapping '{text.strip()}': {exc}") from None
    return tuple(str(p) for p in pieces)


def _xor(node: Node, org: dict[str, int]) -> tuple[tuple[str, str], ...]:
    """The `xor:` mapping as (target, sources) pairs (ControllerConfig.xor), checked."""
    if not node.is_mapping:
        raise node.error("expected a mapping of target field to source bits, "
                         "e.g. {bg: 'ro[1:0]', ba: 'ro[3:2]'}")
    widths = _widths(org)
    out = []
    for target, child in node.value.items():
        text = y.as_str(child)
        try:
            sources = amap.parse_sources(text)
            amap.check_xor(target, sources, widths)
        except amap.MappingError as exc:
            raise child.error(str(exc)) from None
        out.append((target, " ^ ".join(str(s) for s in sources)))
    return tuple(out)


def _controller(root: Node, org: dict[str, int]) -> ControllerConfig:
    node = y.section(root, "controller", required=False)
    if node is None:  # all defaults; still checked against the organisation
        node = Node({}, root.path, root.line, ("controller",))
    y.check_keys(node, CONTROLLER_KEYS)
    d = ControllerConfig()
    out: dict[str, object] = {}
    mapping = node.get("address_mapping")
    if mapping is None:
        default = Node("-".join(d.address_mapping), node.path, node.line, ("controller", "address_mapping"))
        try:
            out["address_mapping"] = _mapping(default, org)
        except ConfigError as exc:
            raise y.missing(node, "address_mapping", f": the default {exc.message}") from None
    else:
        out["address_mapping"] = _mapping(mapping, org)
    enums = {"structure": STRUCTURES, "page_policy": PAGE_POLICIES, "refresh": REFRESH_POLICIES,
             "command_queues": COMMAND_QUEUES}
    for key, choices in enums.items():
        if key in node:
            out[key] = y.as_enum(node.value[key], choices)
    if "bank_xor" in node:
        out["bank_xor"] = y.as_bool(node.value["bank_xor"])
    if "xor" in node:
        terms = _xor(node.value["xor"], org)
        if out.get("bank_xor") and terms:
            raise node.value["bank_xor"].error("give either bank_xor: true (its shorthand) or "
                                               "xor, not both")
        out["xor"] = terms
    for key in ("read_queue", "write_queue", "bank_queue", "requests_per_clock", "row_hit_cap"):
        if key in node:
            out[key] = y.as_int(node.value[key], minimum=0 if key == "row_hit_cap" else 1)
    fracs = {}
    for key, default_frac in DEFAULT_DRAIN.items():
        child = node.get(key)
        frac = default_frac if child is None else y.as_number(child)
        if not 0 <= frac <= 1:
            raise child.error(f"must be a fraction of write_queue between 0 and 1, got {frac}")
        fracs[key] = Decimal(repr(frac))  # exact decimal as written, no binary rounding
    if fracs["write_drain_low"] >= fracs["write_drain_high"]:
        bad = node.get("write_drain_low") or node.get("write_drain_high") or node
        raise bad.error(f"write_drain_low ({fracs['write_drain_low']}) must be below "
                        f"write_drain_high ({fracs['write_drain_high']})")
    queue = out.get("write_queue", d.write_queue)
    for key, frac in fracs.items():
        out[key] = int(round(frac * queue))
    return ControllerConfig(**out)
