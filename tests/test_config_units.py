"""Exact unit parsing (sim.config.units) and the one-line ConfigError format."""

import pytest

from sim.config.errors import ConfigError
from sim.config.units import (
    UnitError,
    parse_bandwidth,
    parse_bytes,
    parse_frequency_hz,
    parse_time_ps,
    parse_transfer_rate,
    period_ps,
)
from sim.errors import UserError


@pytest.mark.parametrize(
    "text, ps",
    [
        ("0.625 ns", 625),
        ("14.16ns", 14160),
        ("1 us", 1_000_000),
        ("1 µs", 1_000_000),
        ("7.8 us", 7_800_000),
        ("0.1 ns", 100),  # 0.1 is not exact in binary floating point
        ("0.3 ns", 300),  # 0.3 * 1000 == 300.00000000000006 in floats
        ("13.75 ns", 13750),
        ("1e3 ps", 1000),
        ("2 ms", 2_000_000_000),
        ("1 s", 10**12),
        (" 45.75  ns ", 45750),
    ],
)
def test_time_is_exact(text, ps):
    value = parse_time_ps(text)
    assert value == ps
    assert type(value) is int


@pytest.mark.parametrize("text", ["0.0001 ns", "2.5 ps", "0.8333 ns"])
def test_time_must_be_whole_picoseconds(text):
    with pytest.raises(UnitError, match="whole number"):
        parse_time_ps(text)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("5", "no unit"),
        (5, "no unit"),
        (0.625, "no unit"),
        ("3 GHz", "not a time"),
        ("4 MiB", "not a time"),
        ("3 m", "unknown unit"),
        ("3 furlongs", "unknown unit"),
        ("ns", "expected a time"),
        ("", "expected a time"),
        (None, "expected a time"),
        (True, "expected a time"),
        (["1 ns"], "expected a time"),
    ],
)
def test_time_errors(value, fragment):
    with pytest.raises(UnitError, match=fragment):
        parse_time_ps(value)


def test_unit_error_is_value_error():
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    "value, nbytes",
    [
        ("4 MiB", 4 * 2**20),
        ("64 B", 64),
        ("8 KiB", 8192),
        ("32 GB", 32 * 10**9),
        ("1 kB", 1000),
        ("2 GiB", 2 * 2**30),
        ("1 Mb", 125_000),  # megabit
        (4096, 4096),
        ("4096", 4096),
        ("1.5 KiB", 1536),
    ],
)
def test_bytes(value, nbytes):
    assert parse_bytes(value) == nbytes


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("1 KB", "ambiguous"),
        ("0.5 B", "whole number"),
        ("4 ns", "not a size"),
        (4.5, "whole number"),
        ("four MiB", "expected a size"),
    ],
)
def test_bytes_errors(value, fragment):
    with pytest.raises(UnitError, match=fragment):
        parse_bytes(value)


def test_frequency():
    assert parse_frequency_hz("1.2 GHz") == 1_200_000_000
    assert parse_frequency_hz("800 MHz") == 800_000_000
    with pytest.raises(UnitError, match="not a frequency"):
        parse_frequency_hz("1 ns")
    with pytest.raises(UnitError, match="no unit"):
        parse_frequency_hz("1000")


def test_transfer_rate():
    assert parse_transfer_rate("3200 MT/s") == 3_200_000_000
    assert parse_transfer_rate("6.4 Gb/s") == 6_400_000_000  # per pin: one bit per transfer
    assert parse_transfer_rate("2.133 GT/s") == 2_133_000_000
    with pytest.raises(UnitError, match="not bytes"):
        parse_transfer_rate("25.6 GB/s")
    with pytest.raises(UnitError, match="transfer rate"):
        parse_transfer_rate("3200 MHz")


def test_bandwidth():
    assert parse_bandwidth("25.6 GB/s") == 25_600_000_000
    assert parse_bandwidth("32 GiB/s") == 32 * 2**30
    assert parse_bandwidth("6.4 Gb/s") == 800_000_000
    with pytest.raises(UnitError, match="not a bandwidth"):
        parse_bandwidth("25.6 GB")


def test_period_from_frequency_or_time():
    assert period_ps("1 GHz") == 1000
    assert period_ps("1.25 GHz") == 800
    assert period_ps("1 ns") == 1000
    with pytest.raises(UnitError, match="whole number"):
        period_ps("1.5 GHz")  # 666.67 ps
    with pytest.raises(UnitError, match="frequency"):
        period_ps("1 MiB")


def test_config_error_format():
    err = ConfigError("hw/a.yaml", 7, "timing.nCL", "expected an integer")
    assert str(err) == "hw/a.yaml:7: timing.nCL: expected an integer"
    assert isinstance(err, UserError)
    assert err.exit_code == 2
    assert (err.path, err.line, err.key_path) == ("hw/a.yaml", 7, "timing.nCL")


def test_config_error_is_one_line():
    err = ConfigError("a.yaml", 1, "x", "first\nsecond")
    assert "\n" not in str(err)
    assert str(err) == "a.yaml:1: x: first second"
