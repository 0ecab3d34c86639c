"""Interconnect links (hw_configs/links/*.yaml, kind: link) -> LinkSpec, a bandwidth function.

A link carries one transfer at a time in one direction. A transfer of ``c`` bytes is cut
into packets of at most ``max_payload`` bytes; each packet also sends ``packet_overhead``
bytes (header, sequence number, CRC, framing), and each transfer pays a fixed
``transfer_overhead`` (the DMA descriptor, doorbell and completion, or the driver's per-copy
cost). So small transfers are slow per byte and large ones approach the payload efficiency
max_payload / (max_payload + packet_overhead) of the line rate. ``LinkSpec.bytes_per_s``
has the transfer level's Bandwidth signature (sim/transfer/platform.py), so a LinkSpec can
serve a MemoryPort as it is. The read fraction is ignored: a link direction carries its
bytes the same way whichever end reads them.

YAML keys (every one but ``source`` and ``extends`` required; see docs/links.md):
  * ``name``, ``kind: link``, ``source``;
  * the line rate, either ``lanes`` + ``rate`` (transfers/s per lane, "16 GT/s") +
    ``encoding`` ("128b/130b": payload bits / line bits; "1b/1b" for none), giving
    floor(lanes x rate x payload_bits / (line_bits x 8)) bytes/s, or a direct
    ``bandwidth`` per direction ("450 GB/s"), not both;
  * ``latency`` (one way), ``max_payload``, ``packet_overhead``, ``transfer_overhead``.
Another YAML file embeds a link at some key as a preset name (or file path), or as an
inline mapping of these keys, which may ``extends:`` a preset and override some of them
(``link_from_ref``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sim.config import yamlfile as y
from sim.config.machine import _load_preset, _preset_path, apply_overrides
from sim.config.units import parse_bandwidth, parse_bytes, parse_time_ps, parse_transfer_rate
from sim.config.yamlfile import Node
from sim.paths import data_dir

LINK_DIR = data_dir("hw_configs") / "links"
PS_PER_S = 10**12

TOP_KEYS = ("name", "kind", "source", "lanes", "rate", "encoding", "bandwidth", "latency",
            "max_payload", "packet_overhead", "transfer_overhead")
LINE_RATE_KEYS = ("lanes", "rate", "encoding")
SCHEMA: dict[str, None] = dict.fromkeys(TOP_KEYS)  # for load_link's dotted overrides
_ENCODING = re.compile(r"^\s*(\d+)\s*b\s*/\s*(\d+)\s*b\s*$")


@dataclass(frozen=True)
class LinkSpec:
    """One direction of a link; integers in bytes, bytes/s and picoseconds."""

    name: str
    raw_bytes_per_s: int  # line rate after line encoding: data bits per second / 8
    latency_ps: int  # one way, first byte sent to first byte received
    max_payload: int  # bytes of data per packet (TLP, flit, burst)
    packet_overhead: int  # bytes each packet adds (header, sequence, CRC, framing)
    transfer_overhead_ps: int  # fixed cost of each transfer (descriptor, doorbell, completion)
    source: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if self.raw_bytes_per_s < 1 or self.max_payload < 1:
            raise ValueError(f"link {self.name}: needs raw_bytes_per_s >= 1 and max_payload >= 1")
        if min(self.latency_ps, self.packet_overhead, self.transfer_overhead_ps) < 0:
            raise ValueError(f"link {self.name}: latency, packet and transfer overheads must "
                             f"be >= 0")

    def wire_bytes(self, chunk_bytes: int) -> int:
        """Bytes on the wire for one transfer of ``chunk_bytes`` (at least 1): the payload
        plus ceil(chunk / max_payload) packet overheads."""
        c = max(int(chunk_bytes), 1)
        return c + -(-c // self.max_payload) * self.packet_overhead

    def transfer_time_ps(self, chunk_bytes: int) -> int:
        """Time of one transfer of ``chunk_bytes`` (at least 1), rounded up to whole ps:
        transfer_overhead_ps + ceil(wire_bytes(chunk) * 10**12 / raw_bytes_per_s)."""
        wire = self.wire_bytes(chunk_bytes)
        return self.transfer_overhead_ps + -(-wire * PS_PER_S // self.raw_bytes_per_s)

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float = 1.0) -> int:
        """Sustained rate of back-to-back transfers of ``chunk_bytes`` each. With
        c = max(chunk_bytes, 1), T = transfer_overhead_ps, R = raw_bytes_per_s and
        W = c + ceil(c / max_payload) * packet_overhead (every packet carries max_payload
        bytes but the last, which carries the rest, and each adds packet_overhead), one
        transfer takes T / 10**12 + W / R seconds, and the result is exactly

            max(1, floor(c * R * 10**12 / (T * R + W * 10**12)))

        in integers: the time is not rounded to picoseconds first, so a fast link's rate
        for small transfers carries no rounding step. ``read_fraction`` is ignored (see the
        module docstring).
        """
        c = max(int(chunk_bytes), 1)
        r = self.raw_bytes_per_s
        return max(1, c * r * PS_PER_S
                   // (self.transfer_overhead_ps * r + self.wire_bytes(c) * PS_PER_S))

    def peak_bytes_per_s(self) -> int:
        """The limit for large transfers: floor(raw_bytes_per_s * max_payload /
        (max_payload + packet_overhead)), full packets and no transfer overhead."""
        return max(1, self.raw_bytes_per_s * self.max_payload
                   // (self.max_payload + self.packet_overhead))


# --- presets ----------------------------------------------------------------------------


def list_links() -> list[str]:
    """Names of the link presets: hw_configs/links/*.yaml files with kind: link."""
    return y.presets_of_kind(LINK_DIR, "link")


def load_link(name_or_path: str, overrides: Mapping[str, Node] | None = None) -> LinkSpec:
    """Load a link preset by name (hw_configs/links/<name>.yaml) or by file path.

    ``overrides`` maps keys (``latency``) to Nodes (sim.config.machine.make_node), applied
    after ``extends:``. A bad file raises ConfigError (file:line: key: message).
    """
    path = y.resolve_preset(name_or_path, LINK_DIR, list_links, "link preset")
    root = y.load_yaml(path, preset_dir=LINK_DIR)
    if overrides:
        root = apply_overrides(root, overrides, SCHEMA)
    kind = root.get("kind")
    if kind is None:
        raise y.missing(root, "kind", " (must be 'link')")
    return link_from_node(root)


def link_from_ref(node: Node) -> LinkSpec:
    """The link another YAML file gives at ``node``: a preset name or a path to a link file
    (relative to that file), or an inline mapping of link keys that may ``extends:`` a
    preset. An inline mapping without ``name`` is named after its key path."""
    if isinstance(node.value, str):
        path = _preset_path(node, LINK_DIR, list_links, "link preset")
        return _load_preset(node, path, load_link, "link preset")
    if not node.is_mapping:
        raise node.error("expected the name of a link preset or a mapping of link keys")
    ext = node.get("extends")
    if ext is not None:
        path = _preset_path(ext, LINK_DIR, list_links, "link preset")
        base = y.load_yaml(path, preset_dir=LINK_DIR)
        kind = base.get("kind")
        if kind is None or kind.value != "link":
            raise ext.error(f"{path} is not a link preset (kind: "
                            f"{'none' if kind is None else kind.value})")
        child = Node({k: v for k, v in node.value.items() if k != "extends"},
                     node.path, node.line, node.key_path)
        node = y.merge(base, child)
    return link_from_node(node, default_name=node.where or "link")


def link_from_node(root: Node, *, default_name: str | None = None) -> LinkSpec:
    """A LinkSpec from a mapping of link keys (schema in the module docstring); ``name``
    may be left out only when ``default_name`` is given."""
    if not root.is_mapping:
        raise root.error("expected a mapping of link keys")
    kind = root.get("kind")
    if kind is not None and kind.value != "link":
        raise kind.error(f"expected 'link', got {kind.value!r}; this is not a link preset")
    y.check_keys(root, TOP_KEYS)
    name_node = root.get("name")
    if name_node is not None:
        name = y.as_str(name_node).strip()
        if not name:
            raise name_node.error("must not be empty")
    elif default_name is not None:
        name = default_name
    else:
        raise y.missing(root, "name")
    source = root.get("source")
    return LinkSpec(
        name=name,
        raw_bytes_per_s=_line_rate(root),
        latency_ps=_time(y.require(root, "latency")),
        max_payload=_size(y.require(root, "max_payload"), minimum=1),
        packet_overhead=_size(y.require(root, "packet_overhead"), minimum=0),
        transfer_overhead_ps=_time(y.require(root, "transfer_overhead")),
        source="" if source is None else y.as_str(source),
        path=root.path,
    )


def _line_rate(root: Node) -> int:
    """Bytes/s per direction from ``bandwidth`` or from ``lanes`` x ``rate`` x encoding."""
    bandwidth = root.get("bandwidth")
    given = [k for k in LINE_RATE_KEYS if k in root]
    if bandwidth is not None:
        if given:
            raise bandwidth.error(f"give either 'bandwidth' or {'/'.join(LINE_RATE_KEYS)}, "
                                  f"not both (this link also sets '{given[0]}')")
        bw = y.as_unit(bandwidth, parse_bandwidth)
        if bw <= 0:
            raise bandwidth.error(f"must be a positive bandwidth, got {bandwidth.value!r}")
        return bw
    if not given:
        raise y.missing(root, "bandwidth", " (or lanes, rate and encoding)")
    for key in LINE_RATE_KEYS:
        if key not in root:
            raise y.missing(root, key, f" (with {', '.join(given)}; or give 'bandwidth')")
    lanes = y.as_int(root.value["lanes"])
    rate_node = root.value["rate"]
    rate = y.as_unit(rate_node, parse_transfer_rate)
    if rate <= 0:
        raise rate_node.error(f"must be a positive transfer rate, got {rate_node.value!r}")
    payload_bits, line_bits = _encoding(root.value["encoding"])
    bw = lanes * rate * payload_bits // (line_bits * 8)
    if bw <= 0:
        raise rate_node.error(f"gives {bw} bytes/s ({lanes} lanes x {rate} T/s x "
                              f"{payload_bits}/{line_bits} / 8); must be positive")
    return bw


def _encoding(node: Node) -> tuple[int, int]:
    m = _ENCODING.match(node.value) if isinstance(node.value, str) else None
    if m is None:
        raise node.error(f"expected a line encoding such as '128b/130b' or '1b/1b', "
                         f"got {node.value!r}")
    payload, line = int(m.group(1)), int(m.group(2))
    if not 0 < payload <= line:
        raise node.error(f"payload bits must be 1..line bits, got {node.value!r}")
    return payload, line


def _size(node: Node, *, minimum: int) -> int:
    n = y.as_unit(node, parse_bytes)
    if n < minimum:
        raise node.error(f"must be at least {minimum} B, got {node.value!r}")
    return n


def _time(node: Node) -> int:
    ps = y.as_unit(node, parse_time_ps)
    if ps < 0:
        raise node.error(f"must not be negative, got {node.value!r}")
    return ps
