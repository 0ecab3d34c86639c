"""Link presets (hw_configs/links) and LinkSpec's bandwidth of a transfer size.

Expected numbers come from the standards' figures written out here (lanes, GT/s, encoding,
TLP bytes) and from hand-worked transfer times, not from the code under test.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from sim.config import yamlfile as y
from sim.config.machine import make_node
from sim.errors import UserError
from sim.memory.link import LinkSpec, link_from_ref, list_links, load_link
from tests.config_helpers import line_of, one_line_error

# Raw bytes/s per direction from the published line rates: lanes x GT/s x encoding / 8,
# floored to a whole byte per second (sources in each preset's comments).
RAW = {
    "pcie_gen4_x16": 16 * 16 * 10**9 * 128 // (130 * 8),   # PCIe 4.0: 16 GT/s, 128b/130b
    "pcie_gen5_x16": 16 * 32 * 10**9 * 128 // (130 * 8),   # PCIe 5.0: 32 GT/s, 128b/130b
    "pcie_gen4_x4": 4 * 16 * 10**9 * 128 // (130 * 8),
    "pcie_gen5_x4": 4 * 32 * 10**9 * 128 // (130 * 8),
    "cxl2_x16": 16 * 32 * 10**9 * 128 // (130 * 8),       # CXL 2.0 on the PCIe 5.0 PHY
    "nvlink4": 18 * 25 * 10**9,                            # H100: 18 links x 25 GB/s
    "tsv_hbm3": 1024 * 6400 * 10**6 // 8,                  # HBM3: 1024 bits x 6.4 Gb/s
    "tsv_hbm3_duplex": 4 * 1024 * 6400 * 10**6 // 8,       # Duplex: 4x the TSVs
    "ucie_d2d": 16 * 32 * 10**9 // 8,                      # UCIe x16 at 32 GT/s, no code
}
# (max payload, bytes added per packet) as the sources give them
PACKETS = {
    "pcie_gen4_x16": (256, 24), "pcie_gen5_x16": (256, 24), "pcie_gen4_x4": (256, 24),
    "pcie_gen5_x4": (256, 24),
    "cxl2_x16": (64, 4), "nvlink4": (256, 16), "tsv_hbm3": (32, 0),
    "tsv_hbm3_duplex": (32, 0), "ucie_d2d": (64, 4),
}
PS = 10**12

BASE = """\
name: test_link
kind: link
source: "test"
lanes: 16
rate: 16 GT/s
encoding: 128b/130b
latency: 500 ns
max_payload: 256 B
packet_overhead: 24 B
transfer_overhead: 2.5 us
"""


def test_every_preset_loads_with_a_source_and_its_published_numbers() -> None:
    assert sorted(list_links()) == sorted(RAW)
    for name in list_links():
        spec = load_link(name)
        assert spec.name == name and spec.source.strip(), name
        assert spec.raw_bytes_per_s == RAW[name], name
        assert (spec.max_payload, spec.packet_overhead) == PACKETS[name], name
        assert Path(spec.path).name == f"{name}.yaml"


def test_gen5_has_twice_gen4_raw_rate() -> None:
    g4, g5 = load_link("pcie_gen4_x16"), load_link("pcie_gen5_x16")
    # both floored from 31,507,692,307.7 and 63,015,384,615.4 B/s
    assert g4.raw_bytes_per_s == 31_507_692_307 and g5.raw_bytes_per_s == 63_015_384_615
    assert abs(g5.raw_bytes_per_s - 2 * g4.raw_bytes_per_s) <= 1
    # everything but the lane rate is inherited (extends: pcie_gen4_x16)
    assert (g5.latency_ps, g5.max_payload, g5.packet_overhead, g5.transfer_overhead_ps) == \
        (g4.latency_ps, g4.max_payload, g4.packet_overhead, g4.transfer_overhead_ps)


@pytest.mark.parametrize("name", sorted(RAW))
def test_rate_rises_with_transfer_size_towards_the_payload_peak(name: str) -> None:
    spec = load_link(name)
    payload, overhead = PACKETS[name]
    peak = Fraction(RAW[name] * payload, payload + overhead)  # full packets, no fixed cost
    assert spec.peak_bytes_per_s() == int(peak)
    chunks = [1 << k for k in range(31)]  # 1 B .. 1 GiB
    rates = [spec.bytes_per_s(c) for c in chunks]
    assert all(b >= a for a, b in zip(rates, rates[1:], strict=False)), rates
    if overhead or spec.transfer_overhead_ps:
        assert rates[-1] > 2 * rates[0]  # fixed costs make 1 B transfers slow
    else:
        assert rates[0] == rates[-1] == RAW[name]  # bare wires (TSVs): no size effect
    assert all(r <= peak for r in rates)
    assert rates[-1] >= peak * Fraction(999, 1000)  # 1 GiB: within 0.1% of the peak
    # each point against the closed form from the published numbers, in exact rationals:
    # c bytes in (fixed cost + wire bytes / raw rate) seconds, rounded down to whole B/s
    for c in chunks[::3] + [3, 257, 1000, 65_537]:
        t = Fraction(spec.transfer_overhead_ps, PS) + \
            Fraction(c + -(-c // payload) * overhead, RAW[name])
        assert spec.bytes_per_s(c) == int(c / t), (name, c)


def test_small_copies_over_pcie_gen4_cost_more_per_byte_by_the_hand_computed_ratio() -> None:
    spec = load_link("pcie_gen4_x16")
    # Raw rate 16 lanes x 16e9 T/s x 128/130 bits / 8 = 32,768e9 / 1040 = 31,507,692,307.7 B/s.
    # 4 KiB = 16 TLPs of 256 B, each + 24 B: 4480 B on the wire, 4480 x 1040 / 32768 ns
    # = 142,187.5 ps; plus the 2.5 us per-copy cost: 2,642,187.5 ps.
    # 2 MiB = 8192 TLPs: 2,293,760 B on the wire = 72,800,000 ps; + 2.5 us = 75,300,000 ps.
    # (The preset's rate is that raw rate floored to whole B/s: 2e-11 relative, invisible
    # here.) Per byte, 4 KiB costs (2,642,187.5 / 4096) / (75,300,000 / 2,097,152) = 17.97x.
    ratio = Fraction(5_284_375, 2 * 4096) / Fraction(75_300_000, 2 << 20)
    small, large = spec.bytes_per_s(4096), spec.bytes_per_s(2 << 20)
    assert abs(small - 4096 * PS / 2_642_187.5) <= 1  # 1.550 GB/s
    assert abs(large - (2 << 20) * PS / 75_300_000) <= 1  # 27.85 GB/s
    assert abs(Fraction(large, small) - ratio) < ratio * Fraction(1, 10**8)
    assert 17.96 < ratio < 17.97
    # whole-picosecond transfer times round those up
    assert spec.transfer_time_ps(4096) == 2_642_188
    assert spec.transfer_time_ps(2 << 20) == 75_300_001


def test_inline_link_and_preset_reference(tmp_path: Path) -> None:
    text = ("host:\n"
            "  by_name: pcie_gen5_x16\n"
            "  inline:\n"
            "    extends: pcie_gen4_x16\n"
            "    latency: 1 us\n"
            "    max_payload: 512 B\n")
    path = tmp_path / "machine.yaml"
    path.write_text(text)
    host = y.load_yaml(path).value["host"]
    assert link_from_ref(host.value["by_name"]).raw_bytes_per_s == RAW["pcie_gen5_x16"]
    spec = link_from_ref(host.value["inline"])
    assert spec.raw_bytes_per_s == RAW["pcie_gen4_x16"]
    assert (spec.latency_ps, spec.max_payload, spec.packet_overhead) == (10**6, 512, 24)
    assert spec.peak_bytes_per_s() == RAW["pcie_gen4_x16"] * 512 // 536


def test_inline_mapping_without_name_is_named_by_its_key(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("link:\n" + "".join(
        "  " + line + "\n" for line in BASE.splitlines() if not line.startswith("name")))
    spec = link_from_ref(y.load_yaml(path).value["link"])
    assert spec.name == "link" and spec.raw_bytes_per_s == RAW["pcie_gen4_x16"]


def test_overrides() -> None:
    spec = load_link("nvlink4", {"transfer_overhead": make_node("0 ns")})
    assert spec.transfer_overhead_ps == 0
    # a 256 B write is then one packet: 272 B at 450 GB/s (ceil to whole ps)
    assert spec.transfer_time_ps(256) == -(-272 * PS // (450 * 10**9))


@pytest.mark.parametrize("old, new, key, words", [
    ("lanes: 16\nrate: 16 GT/s\nencoding: 128b/130b\n", "bandwidth: 0 GB/s\n", "bandwidth",
     "positive"),
    ("lanes: 16\nrate: 16 GT/s\nencoding: 128b/130b\n", "bandwidth: -5 GB/s\n", "bandwidth",
     "positive"),
    ("encoding: 128b/130b\n", "encoding: 128b/130b\nbandwidth: 5 GB/s\n", "bandwidth",
     "not both"),
    ("rate: 16 GT/s", "rate: 0 GT/s", "rate", "positive"),
    ("rate: 16 GT/s", "rate: 16 GB/s", "rate", "bits, not bytes"),
    ("lanes: 16", "lanes: 0", "lanes", "positive integer"),
    ("encoding: 128b/130b", "encoding: 130b/128b", "encoding", "payload bits"),
    ("encoding: 128b/130b", "encoding: 8/10", "encoding", "128b/130b"),
    ("max_payload: 256 B", "max_payload: 0 B", "max_payload", "at least 1 B"),
    ("packet_overhead: 24 B", "packet_overhead: 2.5 B", "packet_overhead", "whole number"),
    ("latency: 500 ns", "latncy: 500 ns", "latncy", "did you mean 'latency'"),
    ("transfer_overhead: 2.5 us", "transfer_overhead: -1 us", "transfer_overhead",
     "negative"),
    ("transfer_overhead: 2.5 us", "transfer_overhead: 3", "transfer_overhead", "no unit"),
    ("kind: link", "kind: xpu", "kind", "not a link preset"),
])
def test_bad_values_name_file_line_and_key(tmp_path: Path, old: str, new: str, key: str,
                                           words: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    msg = one_line_error(load_link, path)
    assert msg.startswith(f"{path}:{line_of(text, key + ':')}: {key}: "), msg
    assert words in msg, msg


@pytest.mark.parametrize("drop, key", [("encoding: 128b/130b\n", "encoding"),
                                       ("latency: 500 ns\n", "latency"),
                                       ("kind: link\n", "kind")])
def test_missing_keys(tmp_path: Path, drop: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace(drop, ""))
    msg = one_line_error(load_link, path)
    assert msg.startswith(f"{path}:1: {key}: missing required key '{key}'"), msg


def test_unknown_preset_references_suggest_the_closest(tmp_path: Path) -> None:
    text = "host:\n  link: pcie_gen4x16\nother:\n  link:\n    extends: nvlnk4\n"
    path = tmp_path / "m.yaml"
    path.write_text(text)
    root = y.load_yaml(path)
    msg = one_line_error(lambda _: link_from_ref(root.value["host"].value["link"]), path)
    assert msg.startswith(f"{path}:2: host.link: unknown link preset 'pcie_gen4x16' "
                          f"(did you mean 'pcie_gen4_x16'?)"), msg
    msg = one_line_error(lambda _: link_from_ref(root.value["other"].value["link"]), path)
    assert msg.startswith(f"{path}:5: other.link.extends: unknown link preset 'nvlnk4' "
                          f"(did you mean 'nvlink4'?)"), msg
    with pytest.raises(UserError, match="did you mean 'ucie_d2d'"):
        load_link("ucie_d2e")


def test_a_non_link_reference_is_the_referring_keys_error(tmp_path: Path) -> None:
    other = tmp_path / "not_a_link.yaml"
    other.write_text(BASE.replace("kind: link", "kind: xpu"))
    path = tmp_path / "m.yaml"
    path.write_text("host:\n  link: not_a_link.yaml\n")
    root = y.load_yaml(path)
    msg = one_line_error(lambda _: link_from_ref(root.value["host"].value["link"]), path)
    assert msg.startswith(f"{path}:2: host.link: "), msg
    assert "is not a link preset" in msg


def test_linkspec_rejects_impossible_values() -> None:
    with pytest.raises(ValueError):
        LinkSpec("x", raw_bytes_per_s=0, latency_ps=0, max_payload=1, packet_overhead=0,
                 transfer_overhead_ps=0)
    with pytest.raises(ValueError):
        LinkSpec("x", raw_bytes_per_s=1, latency_ps=0, max_payload=0, packet_overhead=0,
                 transfer_overhead_ps=0)
    # the slowest link still reports at least 1 B/s
    slow = LinkSpec("x", 1, 0, 1, 0, 10**15)
    assert slow.bytes_per_s(1) == 1 and slow.bytes_per_s(0) == 1
