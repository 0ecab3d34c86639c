"""Address mappings with split fields and XOR (sim/memory/address_map.py, sim/kernels/address.py).

Decoding is checked against a bit-by-bit computation written here from the mapping's
definition (each piece takes the next bits of the access index, XOR sources are read
before any XOR), and against hand-written bit tables of Ramulator 2's MOP4CLXOR.
"""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import numpy as np
import pytest

from sim.config.machine import load_machine_config
from sim.config.memory import load_memory_config
from sim.memory.dram import make_accesses
from sim.memory.dram_config import DramConfig
from tests.config_helpers import FIX, line_of, one_line_error, write_variant

BASE_TEXT = (FIX / "ddr4_base.yaml").read_text()


# --- an independent decoder ------------------------------------------------------------


def widths_of(cfg: DramConfig) -> dict[str, int]:
    def lg(n: int) -> int:
        assert n & (n - 1) == 0
        return len(bin(n)) - 3

    return {"ch": lg(cfg.channels), "pc": lg(cfg.pseudo_channels), "ra": lg(cfg.ranks),
            "bg": lg(cfg.bank_groups), "ba": lg(cfg.banks_per_group), "ro": lg(cfg.rows),
            "co": lg(cfg.columns // cfg.burst_length)}


def bit_table(pieces_msb_first: list[str], widths: dict[str, int]) -> list[tuple[str, int]]:
    """(field, bit) for every bit of the access index, least significant first."""
    out = []
    for p in reversed(pieces_msb_first):
        m = re.fullmatch(r"(\w\w)(?:\[(\d*)(?::(\d+))?\])?", p)
        name, a, b = m.groups()
        if a is None:
            hi, lo = widths[name] - 1, 0
        elif b is None:
            hi = lo = int(a)
        else:
            hi, lo = (widths[name] - 1 if a == "" else int(a)), int(b)
        out += [(name, bit) for bit in range(lo, hi + 1)]
    return out


def decode_by_hand(index: int, table: list[tuple[str, int]],
                   xors: list[tuple[str, str, int, int]]) -> dict[str, int]:
    """Field values of one access index; xors: (target, source, lo, hi) bit ranges."""
    f = dict.fromkeys(("ch", "pc", "ra", "bg", "ba", "ro", "co"), 0)
    for pos, (name, bit) in enumerate(table):
        f[name] |= ((index >> pos) & 1) << bit
    before = dict(f)
    for target, source, lo, hi in xors:
        for k in range(hi - lo + 1):
            f[target] ^= ((before[source] >> (lo + k)) & 1) << k
    return f


def check_decoding(cfg: DramConfig, table, xors, n: int = 3000, seed: int = 1) -> None:
    assert len(table) == (cfg.capacity_bytes // cfg.access_bytes).bit_length() - 1
    rng = random.Random(seed)
    idx = [rng.randrange(cfg.capacity_bytes // cfg.access_bytes) for _ in range(n)]
    acc = make_accesses(cfg, np.array(idx, np.uint64) * np.uint64(cfg.access_bytes),
                        np.zeros(n, bool), np.zeros(n, np.int64), request_bytes=cfg.access_bytes)
    for i, x in enumerate(idx):
        f = decode_by_hand(x, table, xors)
        rank = f["pc"] * cfg.ranks + f["ra"]
        got = (acc.controller[i], acc.channel[i], acc.rank[i], acc.bankgroup[i], acc.bank[i],
               acc.row[i])
        want = (f["ch"], f["ch"] * cfg.pseudo_channels + f["pc"], rank, f["bg"],
                (rank * cfg.bank_groups + f["bg"]) * cfg.banks_per_group + f["ba"], f["ro"])
        assert tuple(int(v) for v in got) == want, (hex(x), got, want)


def with_mapping(cfg: DramConfig, mapping: tuple[str, ...], bank_xor: bool = False,
                 xor: tuple[tuple[str, str], ...] = ()) -> DramConfig:
    return dataclasses.replace(cfg, controller=dataclasses.replace(
        cfg.controller, address_mapping=mapping, bank_xor=bank_xor, xor=xor))


# MOP4CLXOR as read from Ramulator 2's source, written out bit by bit (not from the preset)
HBM3_MOP4 = ([("ch", b) for b in range(4)] + [("co", 0), ("co", 1), ("pc", 0), ("ra", 0)]
             + [("bg", 0), ("bg", 1), ("ba", 0), ("ba", 1), ("co", 2), ("co", 3), ("co", 4)]
             + [("ro", b) for b in range(13)])
HBM3_MOP4_XOR = [("pc", "co", 0, 0), ("ra", "co", 1, 1), ("bg", "co", 2, 3), ("ba", "co", 4, 4)]
DDR4_MOP4 = ([("co", 0), ("co", 1), ("ra", 0), ("bg", 0), ("bg", 1), ("ba", 0), ("ba", 1)]
             + [("co", b) for b in range(2, 7)] + [("ro", b) for b in range(16)])
DDR4_MOP4_XOR = [("ra", "co", 0, 0), ("bg", "co", 1, 2), ("ba", "co", 3, 4), ("ro", "co", 5, 6)]


@pytest.mark.parametrize("preset,table,xors", [
    ("ramulator2_hbm3_mop4clxor", HBM3_MOP4, HBM3_MOP4_XOR),
    ("ramulator2_ddr4_3200_mop4clxor", DDR4_MOP4, DDR4_MOP4_XOR),
])
def test_mop4clxor_presets_decode_as_ramulator(preset, table, xors) -> None:
    check_decoding(load_memory_config(preset), table, xors)


def test_robaracoch_hbm3_decodes_sid_as_rank() -> None:
    cfg = load_memory_config("ramulator2_hbm3")  # README: ro ba bg sid pc co ch
    table = ([("ch", b) for b in range(4)] + [("co", b) for b in range(5)]
             + [("pc", 0), ("ra", 0), ("bg", 0), ("bg", 1), ("ba", 0), ("ba", 1)]
             + [("ro", b) for b in range(13)])
    check_decoding(cfg, table, [])


@pytest.mark.parametrize("seed", range(6))
def test_random_split_mappings_and_xors(seed: int) -> None:
    """Random splits of every field, in random order, with random XOR terms."""
    rng = random.Random(seed)
    cfg = load_memory_config(str(FIX / "ddr4_base.yaml"))
    w = widths_of(cfg)
    pieces = []
    for name, width in w.items():
        if width == 0:
            continue
        cuts = sorted(rng.sample(range(1, width), min(rng.randint(0, 2), width - 1)))
        bounds = [0, *cuts, width]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            whole = lo == 0 and hi == width
            pieces.append(name if whole else (f"{name}[{lo}]" if hi - lo == 1 else
                                              f"{name}[{hi - 1}:{lo}]"))
    rng.shuffle(pieces)
    xors, entries = [], []
    for target in rng.sample([f for f in w if w[f]], 2):
        source = rng.choice([f for f in w if w[f] and f != target])
        n = rng.randint(1, min(w[target], w[source]))
        lo = rng.randint(0, w[source] - n)
        xors.append((target, source, lo, lo + n - 1))
        entries.append((target, f"{source}[{lo + n - 1}:{lo}]"))
    check_decoding(with_mapping(cfg, tuple(pieces), xor=tuple(entries)), bit_table(pieces, w),
                   xors, n=500, seed=seed)


def test_bank_xor_true_is_the_row_xor_shorthand() -> None:
    cfg = load_memory_config(str(FIX / "ddr4_base.yaml"))  # ro-ch-ra-ba-bg-co, 2 + 2 bank bits
    table = bit_table(["ro", "ra", "ba", "bg", "co"], widths_of(cfg))
    check_decoding(with_mapping(cfg, cfg.controller.address_mapping, bank_xor=True), table,
                   [("bg", "ro", 0, 1), ("ba", "ro", 2, 3)])


def test_yaml_xor_matches_bank_xor(tmp_path: Path) -> None:
    path, _ = write_variant(BASE_TEXT, tmp_path, "  bank_xor: false",
                            "  xor:\n    bg: ro[1:0]\n    ba: ro[3:2]", "x.yaml")
    explicit = load_memory_config(str(path))
    assert explicit.controller.xor == (("bg", "ro[1:0]"), ("ba", "ro[3:2]"))
    short = with_mapping(explicit, ("ro", "ch", "ra", "ba", "bg", "co"), bank_xor=True)
    lines = explicit.capacity_bytes // 64
    addr = np.array(random.Random(3).sample(range(lines), 2000), np.uint64) * np.uint64(64)
    z, w = np.zeros(len(addr), bool), np.zeros(len(addr), np.int64)
    a, b = make_accesses(explicit, addr, z, w), make_accesses(short, addr, z, w)
    assert np.array_equal(a.bank, b.bank) and np.array_equal(a.row, b.row)


# --- sequential traffic spreads as the mapping says -------------------------------------


def seq_accesses(cfg: DramConfig, n: int):
    addr = np.arange(n, dtype=np.uint64) * np.uint64(cfg.access_bytes)
    return make_accesses(cfg, addr, np.zeros(n, bool), np.zeros(n, np.int64),
                         request_bytes=cfg.access_bytes)


def test_sequential_hbm3_mop4clxor_visits_every_bank_four_times() -> None:
    cfg = load_memory_config("ramulator2_hbm3_mop4clxor")
    per_channel_banks = cfg.pseudo_channels * cfg.ranks * cfg.bank_groups * cfg.banks_per_group
    n = cfg.channels * 4 * per_channel_banks  # 16 channels x 4 columns x 64 banks
    acc = seq_accesses(cfg, n)
    key = acc.controller.astype(np.int64) * 64 + acc.bank
    assert np.bincount(key, minlength=cfg.channels * 64).tolist() == [4] * (cfg.channels * 64)
    # the first four accesses of a channel (co = 0..3) share row, bank group and bank, and
    # the XOR of pc and SID with co[1:0] sends them to the four (pc, SID) pairs: ranks 0..3
    ch0 = np.flatnonzero(acc.controller == 0)[:4]
    assert sorted(acc.rank[ch0].tolist()) == [0, 1, 2, 3]
    assert set(acc.bank[ch0].tolist()) == {r * 16 for r in range(4)}  # bg = ba = 0
    assert set(acc.row[ch0].tolist()) == {0}


def test_sequential_hbm3_robaracoch_stays_in_one_bank_per_row() -> None:
    cfg = load_memory_config("ramulator2_hbm3")
    acc = seq_accesses(cfg, cfg.channels * 32)  # one 32-access row per channel
    for ch in range(cfg.channels):
        assert len(set(acc.bank[acc.controller == ch].tolist())) == 1


def test_sequential_ddr4_mop4clxor_rotates_bank_groups() -> None:
    cfg = load_memory_config("ramulator2_ddr4_3200_mop4clxor")
    acc = seq_accesses(cfg, 4 * 2 * 16)  # co[1:0], ra, bg, ba: every bank of both ranks
    assert np.bincount(acc.bank, minlength=32).tolist() == [4] * 32
    # RoBaRaCoCh keeps 128 consecutive lines in one bank group
    plain = seq_accesses(load_memory_config("ramulator2_ddr4_3200"), 128)
    assert len(set(plain.bankgroup.tolist())) == 1


# --- bad mapping strings: one line, file:line:key ---------------------------------------


@pytest.mark.parametrize("mapping,key,fragments", [
    ("ro-ch-ra-ba-bg-co[6:2]-co[2:0]", "address_mapping", ["bit 2 of co appears twice"]),
    ("ro-ch-ra-ba-bg-co[6:3]-co[1:0]", "address_mapping", ["bit 2 of co", "appear in no piece"]),
    ("ro-ch-ra-ba-bg-co[2:6]", "address_mapping", ["high to low", "co[6:2]"]),
    ("ro-ch-ra-ba-bg-co[9:0]", "address_mapping", ["needs bit 9 of co", "7 bits"]),
    ("ro-ch-ra-ba-bg-co[", "address_mapping", ["cannot read 'co['"]),
    ("ro-ch-ra-ba-bg-co[]", "address_mapping", ["empty bit range"]),
    ("ro-ch-ra-ba-bg-col[6:0]", "address_mapping", ["unknown field 'col'", "did you mean 'co'?"]),
    ("ro-ch-ra-ba-bg-co-co[1:0]", "address_mapping", ["appears twice"]),
])
def test_bad_mapping_string_is_one_line(tmp_path, mapping, key, fragments) -> None:
    path, text = write_variant(BASE_TEXT, tmp_path, "ro-ch-ra-ba-bg-co", mapping, "m.yaml")
    msg = one_line_error(load_memory_config, path)
    assert msg.startswith(f"{path}:{line_of(text, key)}: controller.{key}: "), msg
    for f in fragments:
        assert f in msg, msg


@pytest.mark.parametrize("xor,line_key,key,fragments", [
    ("  xor:\n    bgg: ro[1:0]", "bgg:", "xor.bgg", ["unknown target field 'bgg'", "'bg'"]),
    ("  xor:\n    bg: ro[2:0]", "bg:", "xor.bg", ["3 bits, more than the 2"]),
    ("  xor:\n    bg: bg[0]", "bg:", "xor.bg", ["its own bits"]),
    ("  xor:\n    bg: ro[1:0] ^ rox[0]", "bg:", "xor.bg", ["unknown field 'rox'"]),
    ("  xor:\n    bg: ro[17:16]", "bg:", "xor.bg", ["needs bit 17 of ro"]),
    ("  xor: ro[1:0]", "xor:", "xor", ["expected a mapping of target field"]),
])
def test_bad_xor_is_one_line(tmp_path, xor, line_key, key, fragments) -> None:
    path, text = write_variant(BASE_TEXT, tmp_path, "  bank_xor: false", xor, "x.yaml")
    msg = one_line_error(load_memory_config, path)
    assert msg.startswith(f"{path}:{line_of(text, line_key)}: controller.{key}: "), msg
    for f in fragments:
        assert f in msg, msg


def test_xor_and_bank_xor_together_is_an_error(tmp_path) -> None:
    path, text = write_variant(BASE_TEXT, tmp_path, "  bank_xor: false",
                               "  bank_xor: true\n  xor:\n    bg: ro[1:0]", "x.yaml")
    msg = one_line_error(load_memory_config, path)
    assert msg.startswith(f"{path}:{line_of(text, 'bank_xor')}: controller.bank_xor: ")
    assert "not both" in msg


def test_machine_refuses_a_mapping_its_controller_cannot_decode(tmp_path) -> None:
    """The machine's controller decodes whole fields; a split/XOR preset is refused by name."""
    machine = (Path(__file__).parents[1] / "hw_configs" / "piuma.yaml").read_text()
    m = re.search(r"^  preset: (\S+)", machine, re.M)
    assert m, "piuma.yaml has no memory preset line"
    text = machine.replace(m.group(0), "  preset: ramulator2_ddr4_3200_mop4clxor", 1)
    path = tmp_path / "m.yaml"
    path.write_text(text)
    msg = one_line_error(load_machine_config, path)
    assert msg.startswith(f"{path}:{line_of(text, 'ramulator2_ddr4_3200_mop4clxor')}: ")
    assert "decodes whole fields only" in msg
