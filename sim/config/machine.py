"""Machine preset YAML (kind: machine) -> MachineSpec, validated with file:line:key errors.

A machine file names a DRAM preset (hw_configs/memory) and a scratchpad preset (or gives
the scratchpad inline) and adds the cores, network, DMA and barrier parameters. Quantities
are written with units ("1 GHz", "4 MiB", "32 GB/s", "20 ns") and resolved here to the
integers MachineSpec holds (ps, core cycles, bytes, DRAM clocks). Schema and rounding
rules: docs/machine_presets.md.

Overrides (experiment files, sweeps) name keys of the machine tree with dotted paths
("memory.controllers_per_die") and carry their own file and line, so a bad value reports
where the override was written.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from sim.config import memory as mem
from sim.config import sram
from sim.config import yamlfile as y
from sim.config.errors import ConfigError
from sim.config.units import UnitError, parse_bandwidth, parse_bytes, parse_time_ps, period_ps
from sim.config.yamlfile import KeyPath, Node
from sim.machine.model import MachineSpec
from sim.memory.address_map import is_plain
from sim.memory.dram_config import DramConfig
from sim.memory.sram_config import SramConfig
from sim.paths import data_dir

MACHINE_DIR = data_dir("hw_configs")

# The key tree of a machine file: a dict is a section, None a value.
Schema = dict[str, "Schema | None"]

SCRATCHPAD_SCHEMA: Schema = {
    **{k: None for k in sram.TOP_KEYS if k != "atomic"},
    "atomic": dict.fromkeys(sram.ATOMIC_KEYS),
}
SCHEMA: Schema = {
    "name": None,
    "kind": None,
    "source": None,
    "core": {
        **dict.fromkeys(("clock", "dies", "cores_per_die", "mtp", "threads_per_mtp", "stp",
                         "stp_speedup", "max_posted")),
        "l1": dict.fromkeys(("size", "ways", "line", "latency")),
        "scratchpad": SCRATCHPAD_SCHEMA,
    },
    "network": {
        "mesh": dict.fromkeys(("x", "y", "hop_latency", "link_bandwidth", "header")),
        "core_nodes": None,
        "controller_nodes": None,
        "gateway_node": None,
        "die_link": dict.fromkeys(("latency", "bandwidth")),
        "host": dict.fromkeys(("node", "link_latency", "link_bandwidth", "memory_latency")),
        "calendar_slots": None,
    },
    "memory": {
        **dict.fromkeys(("preset", "controllers_per_die", "interleave", "access_bytes",
                         "controller_latency")),
        "atomic": dict.fromkeys(("interval", "latency")),
    },
    "dma": dict.fromkeys(("slots", "chunk", "max_handles")),
    "barrier": dict.fromkeys(("core", "die", "machine")),
    "stats": dict.fromkeys(("timeline_bin", "timeline_bins")),
}



def section_keys(*path: str) -> Schema:
    """The schema of the section at `path` (e.g. section_keys("network", "mesh"))."""
    schema: Schema | None = SCHEMA
    for part in path:
        assert schema is not None
        schema = schema[part]
    assert schema is not None, f"{'.'.join(path)} is not a section"
    return schema


DEFAULT_CALENDAR_SLOTS = 1 << 16
DEFAULT_TIMELINE_BIN_PS = 1_000_000  # 1 us
DEFAULT_TIMELINE_BINS = 256
DEFAULT_L1_LINE = 64  # reported as l1_line when there is no L1 and no line is given

# what "a plain integer" means for each clock a latency can be counted in
_CORE = "core cycles"
_DRAM = "DRAM clocks"


# --- presets --------------------------------------------------------------------------


def list_machine_presets() -> list[str]:
    """Names of the machine presets: hw_configs/*.yaml files with kind: machine."""
    return y.presets_of_kind(MACHINE_DIR, "machine")


def load_machine_config(
    name_or_path: str, overrides: Mapping[str, Node] | None = None
) -> MachineSpec:
    """Load a machine preset by name (hw_configs/<name>.yaml) or by file path.

    `overrides` maps dotted keys of the machine tree to Nodes (see make_node); they are
    applied after `extends:` and before validation. Raises ConfigError (a UserError).
    """
    path = y.resolve_preset(name_or_path, MACHINE_DIR, list_machine_presets, "machine preset")
    root = y.load_yaml(path, preset_dir=MACHINE_DIR)
    if overrides:
        root = apply_overrides(root, overrides)
    return machine_spec_from_node(root)


# --- overrides ------------------------------------------------------------------------


def make_node(value: Any, path: str = "<override>", line: int = 1,
              key_path: KeyPath = ()) -> Node:
    """A Node tree for a plain Python value (dicts, lists, scalars), all at path:line.

    For sweeps and command-line overrides, which have no YAML file of their own. numpy
    scalars become Python ints and floats; an existing Node is returned re-keyed.
    """
    if isinstance(value, Node):
        return _rekey(value, key_path)
    if isinstance(value, Mapping):
        return Node({str(k): make_node(v, path, line, (*key_path, str(k)))
                     for k, v in value.items()}, path, line, key_path)
    if isinstance(value, list | tuple):
        return Node([make_node(v, path, line, (*key_path, i)) for i, v in enumerate(value)],
                    path, line, key_path)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return Node(value, path, line, key_path)
    if isinstance(value, numbers.Integral):
        return Node(int(value), path, line, key_path)
    if isinstance(value, numbers.Real):
        return Node(float(value), path, line, key_path)
    raise TypeError(f"cannot make a config value from {type(value).__name__}")


def _rekey(node: Node, key_path: KeyPath) -> Node:
    """The same tree with key paths rooted at key_path (origins kept)."""
    if isinstance(node.value, dict):
        value: Any = {k: _rekey(v, (*key_path, k)) for k, v in node.value.items()}
    elif isinstance(node.value, list):
        value = [_rekey(v, (*key_path, i)) for i, v in enumerate(node.value)]
    else:
        value = node.value
    return Node(value, node.path, node.line, key_path)


def apply_overrides(root: Node, overrides: Mapping[str, Node], schema: Schema | None = None
                    ) -> Node:
    """The tree with each dotted key set to its Node (mappings merge, others replace).

    ``schema`` is the key tree the keys are checked against (default: a machine's).
    """
    for key, value in overrides.items():
        if not isinstance(value, Node):
            value = make_node(value)
        parts = _check_override_key(key, value, SCHEMA if schema is None else schema)
        root = _set(root, parts, _rekey(value, parts), ())
    return root


def _check_override_key(key: str, value: Node, top: Schema) -> tuple[str, ...]:
    parts = tuple(key.split("."))
    if not key or any(not p for p in parts):
        raise ConfigError(value.path, value.line, key,
                          "an override key is a dotted path such as 'memory.controllers_per_die'")
    schema: Schema | None = top
    for i, part in enumerate(parts):
        where = ".".join(parts[:i])
        if schema is None:
            raise ConfigError(value.path, value.line, key,
                              f"'{where}' is a value, not a section; it has no key '{part}'")
        if part not in schema:
            inside = f" in section '{where}'" if where else ""
            raise ConfigError(value.path, value.line, key,
                              f"unknown key '{part}'{inside}{y.did_you_mean(part, schema)}")
        schema = schema[part]
    return parts


def _set(cur: Node, parts: tuple[str, ...], value: Node, prefix: KeyPath) -> Node:
    head, rest = parts[0], parts[1:]
    here = (*prefix, head)
    child = cur.value.get(head)
    if rest:
        if child is None:
            child = Node({}, value.path, value.line, here)
        elif here == ("core", "scratchpad") and isinstance(child.value, str):
            child = _inline_scratchpad_preset(child)  # override one key of a named preset
        if not child.is_mapping:
            raise value.error(f"cannot set this key: '{y.format_key_path(here)}' is "
                              f"{child.value!r} ({child.path}:{child.line}), not a section")
        new = _set(child, rest, value, here)
    elif child is not None and child.is_mapping and value.is_mapping:
        new = y.merge(child, value)
    else:
        new = value
    return Node({**cur.value, head: new}, cur.path, cur.line, cur.key_path)


def _inline_scratchpad_preset(node: Node) -> Node:
    path = _preset_path(node, sram.PRESET_DIR, sram.list_sram_presets, "scratchpad preset")
    return _rekey(y.load_yaml(path, preset_dir=sram.PRESET_DIR), node.key_path)


# --- reading values -------------------------------------------------------------------


def _preset_path(node: Node, directory: Path, available: Callable[[], list[str]],
                 what: str) -> Path:
    """A preset named by `node`: a bare name in `directory` or a path relative to the file
    that wrote it (an override's path is relative to the override's file)."""
    name = y.as_str(node).strip()
    if not name:
        raise node.error(f"expected the name of a {what} or a path to one")
    if y.is_file_ref(name):
        path = Path(name)
        if not path.is_absolute():
            path = Path(node.path).parent / path
        if not path.is_file():
            raise node.error(f"no such file {path}")
        return path
    path = directory / f"{name}.yaml"
    if not path.is_file():
        names = available()
        raise node.error(f"unknown {what} '{name}'{y.did_you_mean(name, names)}; "
                         f"available: {', '.join(names) or 'none'}")
    return path


def _load_preset(node: Node, path: Path, load: Callable[[str], Any], what: str) -> Any:
    """Load a referenced preset; a preset of the wrong kind is the referring key's error."""
    try:
        return load(str(path))
    except ConfigError as exc:
        if exc.key_path == "kind" and Path(exc.path) == path:
            raise node.error(f"{path} is not a {what} ({exc.message})") from None
        raise


def _is_int(node: Node) -> bool:
    return isinstance(node.value, int) and not isinstance(node.value, bool)


def _bytes(node: Node, *, minimum: int = 1, pow2: bool = False) -> int:
    n = y.as_unit(node, parse_bytes)
    if n < minimum:
        raise node.error(f"must be at least {minimum} B, got {node.value!r}")
    if pow2 and n & (n - 1):
        raise node.error(f"must be a power of two number of bytes, got {node.value!r}")
    return n


def _clocks(node: Node, period: int, unit: str, *, minimum: int = 0) -> int:
    """A latency: a plain integer counts `unit`; a time ("20 ns") is rounded up to them."""
    if _is_int(node):
        return y.as_int(node, minimum=minimum)
    try:
        ps = parse_time_ps(node.value)
    except UnitError as exc:
        raise node.error(f"expected a whole number of {unit} or a time such as '20 ns' "
                         f"({exc})") from None
    n = -(-ps // period)  # ceil: a latency is never shortened
    if n < minimum:
        raise node.error(f"must be at least {minimum} {unit}, got {node.value!r} = {n}")
    return n


class _Reader:
    """Per-load state: the core clock and the rounding notes for spec.extra."""

    def __init__(self) -> None:
        self.cycle_ps = 0
        self.rounding: list[str] = []

    def per_cycle(self, node: Node) -> int:
        """Bytes per core cycle: a plain integer, or a bandwidth rounded down (at least 1)."""
        if _is_int(node):
            return y.as_int(node)
        bw = y.as_unit(node, parse_bandwidth)
        exact = Fraction(bw * self.cycle_ps, 10**12)
        n = math.floor(exact)
        if n < 1:
            raise node.error(f"{node.value!r} is {float(exact):.4g} B per core cycle "
                             f"({self.cycle_ps} ps); a link needs at least 1 B per cycle")
        if n != exact:
            self.rounding.append(f"{node.where}: {float(exact):.4g} B/cycle rounded down to {n}")
        return n


def _node_index(node: Node, nodes: int, mesh: str) -> int:
    v = y.as_int(node, minimum=0)
    if v >= nodes:
        raise node.error(f"node {v} is outside the {mesh} mesh (nodes 0..{nodes - 1})")
    return v


def _node_list(node: Node, count: int, nodes: int, mesh: str, what: str,
               count_key: str) -> list[int]:
    if not isinstance(node.value, list):
        raise node.error(f"expected a list of {count} mesh node numbers, one per {what}")
    if len(node.value) != count:
        raise node.error(f"lists {len(node.value)} nodes but {count_key} is {count}")
    return [_node_index(item, nodes, mesh) for item in node.value]


def spread_nodes(count: int, nodes: int, taken: list[int]) -> list[int]:
    """Default controller nodes: evenly spaced over the nodes without a core (row-major),
    several per node when there are more controllers than such nodes (all nodes if every
    node has a core)."""
    free = [n for n in range(nodes) if n not in set(taken)]
    pool = free or list(range(nodes))
    return [pool[i * len(pool) // count] for i in range(count)]


# --- the schema -----------------------------------------------------------------------


def machine_spec_from_node(root: Node) -> MachineSpec:
    kind = root.get("kind")
    if kind is None:
        raise y.missing(root, "kind", " (must be 'machine')")
    if kind.value != "machine":
        hint = {"dram": "; this is a DRAM preset, load it with load_memory_config",
                "scratchpad": "; this is a scratchpad preset, load it with load_sram_config"}
        raise kind.error(f"expected 'machine', got {kind.value!r}"
                         f"{hint.get(kind.value, '') if isinstance(kind.value, str) else ''}")
    y.check_keys(root, SCHEMA)
    name = y.require(root, "name")
    if not y.as_str(name).strip():
        raise name.error("must not be empty")
    source = root.get("source")
    r = _Reader()

    # core
    core = y.section(root, "core")
    y.check_keys(core, section_keys("core"))
    clock = y.require(core, "clock")
    r.cycle_ps = y.as_unit(clock, period_ps)
    if r.cycle_ps <= 0:
        raise clock.error(f"must be a positive frequency or period, got {clock.value!r}")
    dies = y.as_int(y.require(core, "dies"))
    cores_node = y.require(core, "cores_per_die")
    cores = y.as_int(cores_node)
    mtp_node = y.require(core, "mtp")
    mtp = y.as_int(mtp_node, minimum=0)
    threads_per_mtp = y.as_int(y.require(core, "threads_per_mtp"))
    stp = y.as_int(y.require(core, "stp"), minimum=0)
    if mtp + stp == 0:
        raise mtp_node.error("a core needs at least one pipeline (mtp + stp >= 1)")
    stp_speedup = y.as_int(y.require(core, "stp_speedup"))
    max_posted = y.as_int(y.require(core, "max_posted"))
    sp = _scratchpad(y.require(core, "scratchpad"), name.value)

    # memory (before the L1, whose line is checked against it)
    memory = y.section(root, "memory")
    y.check_keys(memory, section_keys("memory"))
    preset_node = y.require(memory, "preset")
    dram_path = _preset_path(preset_node, mem.PRESET_DIR, mem.list_memory_presets, "memory preset")
    dram = _load_preset(preset_node, dram_path, mem.load_memory_config, "DRAM preset")
    c = dram.controller
    if not is_plain(c.address_mapping, c.bank_xor, c.xor):  # its kernel decodes whole fields
        raise preset_node.error(
            f"{dram.name} splits or XORs address fields ({'-'.join(c.address_mapping)}); the "
            f"machine's controller decodes whole fields only: use a preset without them")
    controllers = y.as_int(y.require(memory, "controllers_per_die"))
    interleave_node = y.require(memory, "interleave")
    interleave = _bytes(interleave_node, pow2=True)
    access_node = memory.get("access_bytes")
    if access_node is None:
        access = dram.access_bytes
        if access > interleave:
            raise interleave_node.error(
                f"{interleave} B is smaller than one DRAM access of {dram.name} ({access} B); "
                f"an access must not straddle two controllers")
    else:
        access = _bytes(access_node, pow2=True)
        if access > dram.access_bytes:
            raise access_node.error(
                f"{access} B is more than one column access of {dram.name} "
                f"({dram.access_bytes} B = {dram.bus_width} bits x BL{dram.burst_length})")
        if access > interleave:
            raise access_node.error(f"{access} B exceeds memory.interleave ({interleave} B); "
                                    f"an access must not straddle two controllers")
    controller_latency = _clocks(y.require(memory, "controller_latency"), dram.tck_ps, _DRAM)
    atomic = y.section(memory, "atomic")
    y.check_keys(atomic, section_keys("memory", "atomic"))
    atomic_interval = _clocks(y.require(atomic, "interval"), dram.tck_ps, _DRAM, minimum=1)
    atomic_latency = _clocks(y.require(atomic, "latency"), dram.tck_ps, _DRAM)
    fields = dram_fields(dram, access)

    # L1
    l1 = _l1(core.get("l1"), r.cycle_ps, access, interleave)

    # network
    net = y.section(root, "network")
    y.check_keys(net, section_keys("network"))
    mesh = y.section(net, "mesh")
    y.check_keys(mesh, section_keys("network", "mesh"))
    mx, my = y.as_int(y.require(mesh, "x")), y.as_int(y.require(mesh, "y"))
    nodes, shape = mx * my, f"{mx}x{my}"
    if cores > nodes:
        raise cores_node.error(f"{cores} cores do not fit the {shape} mesh ({nodes} nodes)")
    hop_latency = _clocks(y.require(mesh, "hop_latency"), r.cycle_ps, _CORE, minimum=1)
    link_bytes = r.per_cycle(y.require(mesh, "link_bandwidth"))
    header = _bytes(y.require(mesh, "header"))
    core_nodes_node = net.get("core_nodes")
    if core_nodes_node is None:
        core_nodes = list(range(cores))
    else:
        core_nodes = _node_list(core_nodes_node, cores, nodes, shape, "core",
                                "core.cores_per_die")
        for i, v in enumerate(core_nodes):
            if v in core_nodes[:i]:
                raise core_nodes_node.value[i].error(
                    f"node {v} already holds core {core_nodes.index(v)}; cores need distinct nodes")
    ctrl_node = net.get("controller_nodes")
    controller_nodes = (spread_nodes(controllers, nodes, core_nodes) if ctrl_node is None else
                        _node_list(ctrl_node, controllers, nodes, shape, "controller",
                                   "memory.controllers_per_die"))
    gateway = net.get("gateway_node")
    gateway_node = 0 if gateway is None else _node_index(gateway, nodes, shape)
    die_link = y.section(net, "die_link", required=dies > 1)
    if die_link is None:  # one die: never used; harmless values
        die_latency, die_bytes = hop_latency, link_bytes
    else:
        y.check_keys(die_link, section_keys("network", "die_link"))
        die_latency = _clocks(y.require(die_link, "latency"), r.cycle_ps, _CORE)
        die_bytes = r.per_cycle(y.require(die_link, "bandwidth"))
    host = y.section(net, "host")
    y.check_keys(host, section_keys("network", "host"))
    host_node_node = host.get("node")
    host_node = nodes - 1 if host_node_node is None else _node_index(host_node_node, nodes, shape)
    host_link_latency = _clocks(y.require(host, "link_latency"), r.cycle_ps, _CORE)
    host_link_bytes = r.per_cycle(y.require(host, "link_bandwidth"))
    host_latency = _clocks(y.require(host, "memory_latency"), r.cycle_ps, _CORE)
    slots_node = net.get("calendar_slots")
    calendar_slots = DEFAULT_CALENDAR_SLOTS if slots_node is None else y.as_power_of_two(slots_node)
    if calendar_slots < 2:
        raise slots_node.error("must be at least 2 (the horizon is calendar_slots / 2)")

    # DMA, barriers, statistics
    dma = y.section(root, "dma")
    y.check_keys(dma, section_keys("dma"))
    chunk_node = y.require(dma, "chunk")
    chunk = _bytes(chunk_node, pow2=True)
    if chunk > interleave:
        raise chunk_node.error(f"{chunk} B exceeds memory.interleave ({interleave} B); a DMA "
                               f"chunk is one request to one controller")
    barrier = y.section(root, "barrier")
    y.check_keys(barrier, section_keys("barrier"))
    barriers = tuple(_clocks(y.require(barrier, k), r.cycle_ps, _CORE)
                     for k in ("core", "die", "machine"))
    bin_ps, bins = _stats(y.section(root, "stats", required=False))

    channel_bytes = (1 << sum(bits for _, bits in fields)) * access
    extra: dict[str, Any] = {
        "dram_channel_bytes": channel_bytes,
        "dram_capacity_bytes": channel_bytes * controllers * dies,
        "memory_preset_path": dram.path,
        "scratchpad_preset": sp.name,
    }
    if r.rounding:
        extra["rounding"] = r.rounding
    t = dram.timing
    return MachineSpec(
        name=name.value.strip(), cycle_ps=r.cycle_ps, dies=dies, cores_per_die=cores, mtp=mtp,
        threads_per_mtp=threads_per_mtp, stp=stp, stp_speedup=stp_speedup,
        max_posted=max_posted,
        l1_size=l1[0], l1_ways=l1[1], l1_line=l1[2], l1_latency=l1[3],
        sp_size=sp.size_bytes, sp_banks=sp.banks, sp_interleave=sp.bank_interleave_bytes,
        sp_clock_ps=sp.clock_ps, sp_latency=sp.latency,
        sp_bytes_per_clock=sp.bytes_per_clock_per_port, sp_ports=sp.ports_per_bank,
        sp_atomic_latency=sp.atomic.latency, sp_atomic_per_clock=sp.atomic.ops_per_clock,
        mesh_x=mx, mesh_y=my, hop_latency=hop_latency, link_bytes=link_bytes,
        header_bytes=header, core_nodes=tuple(core_nodes),
        controller_nodes=tuple(controller_nodes), gateway_node=gateway_node,
        die_link_latency=die_latency, die_link_bytes=die_bytes, host_node=host_node,
        host_link_latency=host_link_latency, host_link_bytes=host_link_bytes,
        host_latency=host_latency, calendar_slots=calendar_slots,
        controllers_per_die=controllers, interleave_bytes=interleave, access_bytes=access,
        tck_ps=dram.tck_ps, controller_latency=controller_latency, ranks=dram.ranks,
        bank_groups=dram.bank_groups, banks_per_group=dram.banks_per_group,
        dram_fields=fields, CL=t.CL, CWL=t.CWL, RCD=t.RCD_RD, RP=t.RP, RAS=t.RAS, RTP=t.RTP,
        WR=t.WR, CCD_L=t.CCD_L, RRD_S=t.RRD_S, FAW=t.FAW, BURST=t.BURST, RC=t.RC,
        column_bytes=dram.access_bytes,
        atomic_interval=atomic_interval, atomic_latency=atomic_latency,
        dma_slots=y.as_int(y.require(dma, "slots")), dma_chunk_bytes=chunk,
        max_handles=y.as_int(y.require(dma, "max_handles")),
        barrier_latency=(barriers[0], barriers[1], barriers[2]),
        timeline_bin_ps=bin_ps, timeline_bins=bins,
        source="" if source is None else y.as_str(source), path=root.path,
        memory_preset=dram.name, extra=extra,
    )


def dram_fields(dram: DramConfig, access_bytes: int) -> tuple[tuple[str, int], ...]:
    """(field, bits) from the least significant bit of (local address // access_bytes) up.

    The preset's mapping string without its ch/pc fields (one controller is one channel);
    fields of width 0 are left out. co counts accesses of access_bytes in one row of one
    rank: log2(columns x bus_width / 8 / access_bytes).
    """
    row_bytes = dram.columns * dram.bus_width // 8
    widths = {
        "ra": dram.ranks.bit_length() - 1,
        "bg": dram.bank_groups.bit_length() - 1,
        "ba": dram.banks_per_group.bit_length() - 1,
        "ro": dram.rows.bit_length() - 1,
        "co": (row_bytes // access_bytes).bit_length() - 1,
    }
    return tuple((f, widths[f]) for f in reversed(dram.controller.address_mapping)
                 if f in widths and widths[f] > 0)


def _scratchpad(node: Node, machine: str) -> SramConfig:
    if isinstance(node.value, str):
        path = _preset_path(node, sram.PRESET_DIR, sram.list_sram_presets, "scratchpad preset")
        return _load_preset(node, path, sram.load_sram_config, "scratchpad preset")
    if not node.is_mapping:
        raise node.error("expected a scratchpad preset name or an inline mapping of its keys")
    value = dict(node.value)  # inline: kind and name may be left out
    for key, default in (("kind", "scratchpad"), ("name", f"{machine}.scratchpad")):
        value.setdefault(key, Node(default, node.path, node.line, (*node.key_path, key)))
    return sram.sram_config_from_node(Node(value, node.path, node.line, node.key_path))


def _l1(node: Node | None, cycle_ps: int, access: int,
        interleave: int) -> tuple[int, int, int, int]:
    """(size, ways, line, latency); size 0 (or no l1 section) means no L1."""
    if node is None:
        return 0, 1, DEFAULT_L1_LINE, 0
    if not node.is_mapping:
        raise node.error("expected a mapping of keys under 'l1'")
    y.check_keys(node, section_keys("core", "l1"))
    size_node = y.require(node, "size")
    size = _bytes(size_node, minimum=0)
    line_node = node.get("line")
    if size == 0:
        line = DEFAULT_L1_LINE if line_node is None else _bytes(line_node, pow2=True)
        return 0, 1, line, 0
    ways = y.as_int(y.require(node, "ways"))
    line_node = y.require(node, "line")
    line = _bytes(line_node, pow2=True)
    if line < access:
        raise line_node.error(f"{line} B is smaller than memory.access_bytes ({access} B)")
    if line > interleave:
        raise line_node.error(f"{line} B exceeds memory.interleave ({interleave} B); a line "
                              f"fill is one request to one controller")
    latency = _clocks(y.require(node, "latency"), cycle_ps, _CORE, minimum=1)
    sets, rest = divmod(size, ways * line)
    if rest or sets & (sets - 1):
        raise size_node.error(f"size / (ways x line) = {size} / ({ways} x {line}) must be a "
                              f"power of two number of sets")
    return size, ways, line, latency


def _stats(node: Node | None) -> tuple[int, int]:
    if node is None:
        return DEFAULT_TIMELINE_BIN_PS, DEFAULT_TIMELINE_BINS
    y.check_keys(node, section_keys("stats"))
    bin_node, bins_node = node.get("timeline_bin"), node.get("timeline_bins")
    bin_ps = DEFAULT_TIMELINE_BIN_PS
    if bin_node is not None:
        bin_ps = y.as_unit(bin_node, parse_time_ps)
        if bin_ps <= 0:
            raise bin_node.error(f"must be a positive time, got {bin_node.value!r}")
    bins = DEFAULT_TIMELINE_BINS
    if bins_node is not None:
        bins = y.as_int(bins_node, minimum=2)
        if bins % 2:
            raise bins_node.error(f"must be even (bins merge pairwise), got {bins}")
    return bin_ps, bins
