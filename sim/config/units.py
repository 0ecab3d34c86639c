"""Exact parsing of quantities with units ("0.625 ns", "4 MiB", "3200 MT/s").

Magnitudes are read as Fractions straight from the text and converted with a
pint registry whose own conversion factors are exact, so "0.625 ns" is exactly
625 ps and never 624.9999 ps. The registry is built from a short definition
list (not pint's default one) because the defaults read "T" as tesla and
"Gb" as gilbert, and we want only units that make sense for hardware.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

import pint


class UnitError(ValueError):
    """A value that is not a valid quantity of the expected kind (no file/line yet)."""


_DEFINITIONS = """
pico- = 1e-12 = p-
nano- = 1e-9 = n-
micro- = 1e-6 = u- = µ- = μ-
milli- = 1e-3 = m-
kilo- = 1e3 = k-
mega- = 1e6 = M-
giga- = 1e9 = G-
tera- = 1e12 = T-
kibi- = 2**10 = Ki-
mebi- = 2**20 = Mi-
gibi- = 2**30 = Gi-
tebi- = 2**40 = Ti-
second = [time] = s
hertz = 1 / second = Hz
byte = [information] = B
bit = byte / 8 = b
transfer = [transfers] = T
flop = [computation] = FLOP
"""

# number, then an optional unit that starts with a non-digit
_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?)\s*(\S.*?)?\s*$")


@cache
def _registry() -> pint.UnitRegistry:
    reg = pint.UnitRegistry(None, non_int_type=Fraction)
    for line in _DEFINITIONS.strip().splitlines():
        reg.define(line)
    return reg


def parse_quantity(
    text: Any, unit: str, *, kind: str = "", example: str = "", default_unit: str | None = None
) -> Fraction:
    """Exact magnitude of `text` expressed in `unit` (e.g. "ps", "B/s").

    `kind`/`example` only word the error ("a time", "0.625 ns"). A bare number
    is accepted only when `default_unit` is given. Raises UnitError.
    """
    kind = kind or f"a quantity in {unit}"
    example = example or f"1 {unit}"
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UnitError(f"expected {kind} such as '{example}', got {text!r}")
    if isinstance(text, float):
        text = repr(text)  # shortest round-trip decimal, then exact
    m = _QUANTITY.match(str(text))
    if not m:
        raise UnitError(f"expected {kind} such as '{example}', got {text!r}")
    magnitude = Fraction(m.group(1))
    unit_text = m.group(2)
    if unit_text is None:
        if default_unit is None:
            raise UnitError(f"{text!r} has no unit; expected {kind} such as '{example}'")
        unit_text = default_unit
    if unit_text.startswith("K") and unit_text[1:2] in ("B", "b"):
        raise UnitError(f"'{unit_text}' is ambiguous: write kB (1000 bytes) or KiB (1024 bytes)")
    reg = _registry()
    try:
        src = reg.parse_units(unit_text)
        return Fraction(reg.Quantity(magnitude, src).to(unit).magnitude)
    except pint.DimensionalityError:
        raise UnitError(f"'{text}' is not {kind}; expected e.g. '{example}'") from None
    except Exception:  # pint raises several types for a malformed unit string
        raise UnitError(f"unknown unit '{unit_text}' in {text!r}") from None


def _whole(value: Fraction, text: Any, unit: str) -> int:
    if value.denominator != 1:
        approx = Decimal(value.numerator) / Decimal(value.denominator)  # no float overflow
        raise UnitError(f"{text!r} is {approx:.6g} {unit}, not a whole number of {unit}")
    return int(value)


def parse_time_ps(text: Any) -> int:
    """Picoseconds in a time such as "0.625 ns" or "1 us"; must be a whole number of ps."""
    return _whole(parse_quantity(text, "ps", kind="a time", example="0.625 ns"), text, "ps")


def parse_bytes(text: Any) -> int:
    """Bytes in a size such as "4 MiB" or "32 GB" (= 32e9); a plain integer is bytes."""
    size = parse_quantity(text, "B", kind="a size", example="4 MiB", default_unit="B")
    return _whole(size, text, "B")


def parse_frequency_hz(text: Any) -> int:
    """Hertz in a frequency such as "1.2 GHz"; must be a whole number of Hz."""
    return _whole(parse_quantity(text, "Hz", kind="a frequency", example="1.2 GHz"), text, "Hz")


def parse_transfer_rate(text: Any) -> int:
    """Transfers per second per pin: "3200 MT/s", or a bit rate per pin "6.4 Gb/s"."""
    if isinstance(text, str) and "B" in text:
        # bytes per second is a bus bandwidth, not a per-pin rate: refuse rather than guess
        raise UnitError(f"expected a per-pin transfer rate such as '3200 MT/s' or '6.4 Gb/s' "
                        f"(bits, not bytes), got {text!r}")
    try:
        rate = parse_quantity(text, "T/s")
    except UnitError:
        try:
            rate = parse_quantity(text, "b/s")  # one bit per pin per transfer
        except UnitError:
            raise UnitError(
                f"expected a transfer rate such as '3200 MT/s' or '6.4 Gb/s', got {text!r}"
            ) from None
    return _whole(rate, text, "transfers/s")


def parse_bandwidth(text: Any) -> int:
    """Bytes per second in a bandwidth such as "25.6 GB/s" or "32 GiB/s"."""
    bw = parse_quantity(text, "B/s", kind="a bandwidth", example="25.6 GB/s")
    return _whole(bw, text, "B/s")


def parse_flop_rate(text: Any) -> int:
    """Floating-point operations per second in a rate such as "312 TFLOP/s"; must be whole.

    The datasheet spelling "312 TFLOPS" is read as TFLOP/s (a trailing S for "per second").
    """
    if isinstance(text, str) and text.rstrip().endswith("FLOPS"):
        text = text.rstrip()[:-1] + "/s"
    rate = parse_quantity(text, "FLOP/s", kind="a FLOP rate", example="312 TFLOP/s")
    return _whole(rate, text, "FLOP/s")


def period_ps(text: Any) -> int:
    """Clock period in ps from either a frequency ("1 GHz") or a period ("1 ns")."""
    try:
        ps = parse_quantity(text, "ps")
    except UnitError:
        try:
            hz = parse_quantity(text, "Hz")
        except UnitError:
            raise UnitError(f"expected a frequency ('1 GHz') or a period ('1 ns'), got {text!r}") from None
        if hz <= 0:
            raise UnitError(f"frequency must be positive, got {text!r}") from None
        ps = Fraction(10**12) / hz
    return _whole(ps, text, "ps")
