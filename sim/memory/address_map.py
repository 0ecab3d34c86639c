"""Address-mapping strings: which bits of an access index select channel, rank, bank, row, column.

An access index is a byte address divided by the access size (bus width x burst length).
The mapping string lists its pieces from the most significant to the least, joined by '-':

    ro-ba-bg-ra-pc-co-ch             whole fields (the form every older preset uses)
    ro-co[4:2]-ba-bg-ra-pc-co[1:0]-ch  a split field: co's bits 1..0 lowest, bits 4..2 above
                                       the banks (Ramulator 2's MOP4CLXOR layout)

    field        all bits of the field (ch pc ra bg ba ro co)
    field[h:l]   bits h down to l of the field (inclusive, h >= l)
    field[i]     bit i
    field[:l]    bit l up to the field's top bit (the width follows the organisation)

Every bit of a field that has bits must appear exactly once; fields of one value (one
channel, one rank, one pseudo-channel) may be left out.

XOR (controller key `xor`, a mapping target -> sources): after the bits are split, each
target field is XORed with bits of other fields, read before any XOR and right-aligned:
``bg: ro[1:0]`` means bg ^= ro & 3, ``ba: ro[3:2] ^ co[4]`` means ba ^= ((ro >> 2) & 3) ^
((co >> 4) & 1). A source slice may be narrower than its target, never wider (the result
must stay a valid number of the target). `bank_xor: true` is the shorthand
``bg: ro[<bg bits - 1>:0], ba: ro[<bg bits + ba bits - 1>:<bg bits>]``.

The functions raise MappingError with a one-line message; sim.config.memory adds the
file, line and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS = ("ch", "pc", "ra", "bg", "ba", "ro", "co")
_TOKEN = re.compile(r"^([a-z]+)(?:\[(\d*)(?::(\d+))?\])?$")


class MappingError(ValueError):
    """A mapping string or XOR source that cannot be used (one-line message)."""


@dataclass(frozen=True)
class Slice:
    """Bits lo..hi of a field; hi None means up to the field's top bit."""

    field: str
    lo: int = 0
    hi: int | None = None

    def bounds(self, width: int) -> tuple[int, int]:
        """(lo, number of bits) for a field of `width` bits, checked against it."""
        hi = width - 1 if self.hi is None else self.hi
        if self.hi is not None and hi >= width:
            raise MappingError(f"'{self}' needs bit {hi} of {self.field}, which has "
                               f"{width} bit{'s' * (width != 1)} (bits {max(width - 1, 0)}..0)")
        return self.lo, max(hi - self.lo + 1, 0)

    def __str__(self) -> str:
        if self.lo == 0 and self.hi is None:
            return self.field
        if self.hi is None:
            return f"{self.field}[:{self.lo}]"
        if self.hi == self.lo:
            return f"{self.field}[{self.lo}]"
        return f"{self.field}[{self.hi}:{self.lo}]"


def parse_slice(text: str) -> Slice:
    """'co', 'co[4:2]', 'co[3]' or 'co[:2]' -> Slice."""
    t = text.strip()
    if not t:
        raise MappingError("unknown field '' (an empty piece: two '-' in a row or one at an end)")
    m = _TOKEN.match(t)
    if m is None:
        raise MappingError(f"cannot read '{t}': expected a field (e.g. co), a bit range "
                           f"(co[4:2]), one bit (co[3]) or the bits from one up (co[:2])")
    name, first, second = m.groups()
    if name not in FIELDS:
        from sim.config.yamlfile import did_you_mean

        raise MappingError(f"unknown field '{name}'{did_you_mean(name, FIELDS)}; "
                           f"fields are {' '.join(FIELDS)}")
    if m.group(0).endswith("]") and not first and second is None:
        raise MappingError(f"empty bit range in '{t}'")
    if second is None:  # no colon: 'co' or 'co[3]'
        return Slice(name) if first is None else Slice(name, int(first), int(first))
    lo = int(second)
    if not first:
        return Slice(name, lo, None)
    hi = int(first)
    if hi < lo:
        raise MappingError(f"'{t}': write bit ranges high to low, as {name}[{lo}:{hi}]")
    return Slice(name, lo, hi)


def parse_mapping(text: str) -> tuple[Slice, ...]:
    """The pieces of a mapping string, most significant first (syntax only)."""
    parts = text.split("-")
    return tuple(parse_slice(p) for p in parts)


def check_mapping(pieces: tuple[Slice, ...], widths: dict[str, int],
                  optional: dict[str, bool]) -> None:
    """Every bit of every field with bits appears exactly once; whole fields at most once."""
    covered: dict[str, set[int]] = {f: set() for f in FIELDS}
    named: set[str] = set()
    whole_named: set[str] = set()
    for p in pieces:
        lo, n = p.bounds(widths[p.field])
        bits = set(range(lo, lo + n))
        whole = p.lo == 0 and p.hi is None
        if p.field in named and (whole or p.field in whole_named):
            raise MappingError(f"field '{p.field}' appears twice")
        if bits & covered[p.field]:
            raise MappingError(f"bit {min(bits & covered[p.field])} of {p.field} appears twice "
                               f"('{p}' overlaps another piece of {p.field})")
        covered[p.field] |= bits
        named.add(p.field)
        if whole:
            whole_named.add(p.field)
    for f in FIELDS:
        if f not in named:
            if optional.get(f, False):
                continue
            why = {"pc": " (pseudo_channels > 1)", "ch": " (channels > 1)",
                   "ra": " (ranks > 1)"}.get(f, "")
            raise MappingError(f"missing field '{f}'{why}")
        missing = set(range(widths[f])) - covered[f]
        if missing:
            raise MappingError(f"bit{'s' * (len(missing) > 1)} "
                               f"{', '.join(str(b) for b in sorted(missing, reverse=True))} of "
                               f"{f} ({widths[f]} bits) appear in no piece")


def segments(pieces: tuple[Slice, ...], widths: dict[str, int]) -> list[tuple[str, int, int]]:
    """(field, lo, bits) from the least significant piece up; pieces without bits left out."""
    out = []
    for p in reversed(pieces):
        lo, n = p.bounds(widths[p.field])
        if n > 0:
            out.append((p.field, lo, n))
    return out


def parse_sources(text: str) -> tuple[Slice, ...]:
    """'ro[1:0]' or 'ro[3:2] ^ co[4]' -> the source slices."""
    return tuple(parse_slice(s) for s in str(text).split("^"))


def check_xor(target: str, sources: tuple[Slice, ...], widths: dict[str, int]) -> None:
    if target not in FIELDS:
        from sim.config.yamlfile import did_you_mean

        raise MappingError(f"unknown target field '{target}'{did_you_mean(target, FIELDS)}; "
                           f"fields are {' '.join(FIELDS)}")
    if widths[target] == 0:
        raise MappingError(f"target '{target}' has no bits in this organisation")
    for s in sources:
        if s.field == target:
            raise MappingError(f"'{target}' cannot be XORed with its own bits ('{s}')")
        _, n = s.bounds(widths[s.field])
        if n == 0:
            raise MappingError(f"source '{s}' has no bits in this organisation")
        if n > widths[target]:
            raise MappingError(f"source '{s}' has {n} bits, more than the {widths[target]} "
                               f"of target '{target}'")


def bank_xor_terms(widths: dict[str, int]) -> tuple[tuple[str, str], ...]:
    """The (target, source) pairs `bank_xor: true` stands for."""
    bg, ba, ro = widths["bg"], widths["ba"], widths["ro"]
    out = []
    if bg and ro:
        out.append(("bg", str(Slice("ro", 0, min(bg, ro) - 1))))
    if ba and ro > bg:
        out.append(("ba", str(Slice("ro", bg, min(bg + ba, ro) - 1))))
    return tuple(out)


def pieces_of(address_mapping: tuple[str, ...]) -> tuple[Slice, ...]:
    """ControllerConfig.address_mapping -> its pieces, MSB first."""
    return tuple(parse_slice(e) for e in address_mapping)


def xor_terms(pairs: tuple[tuple[str, str], ...], bank_xor: bool,
              widths: dict[str, int]) -> list[tuple[str, str, int, int]]:
    """(target, source field, lo, bits) of every XOR term, bank_xor expanded."""
    out = []
    for target, text in pairs + (bank_xor_terms(widths) if bank_xor else ()):
        for s in parse_sources(text):
            lo, n = s.bounds(widths[s.field])
            out.append((target, s.field, lo, n))
    return out


def is_plain(address_mapping: tuple[str, ...], bank_xor: bool,
             xor: tuple[tuple[str, str], ...]) -> bool:
    """Whole fields only and no XOR: what a decoder of contiguous fields can follow."""
    return not xor and not bank_xor and all(p.lo == 0 and p.hi is None
                                            for p in pieces_of(address_mapping))
