"""`membound trace gen`: the generated files against independently computed contents."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result

from sim.cli import main
from workloads.traces import read_trace

# shared/validation/README.md: the `rand` trace (200,000 requests) written in DRAMSim3's
# format, one `0x<hex address> READ 0` line each, has this SHA-256. The reference simulators'
# results were produced on that file, so it pins the generator to them.
RAND_200K_SHA256 = "8cf56d3ba0a78adac3e87543b9112ddee0a33c4a36af8f1a40b5c0e577c561af"


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def user_error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membound: "), result.stderr
    return lines[0]


def test_rand_matches_the_validation_trace_checksum(tmp_path: Path) -> None:
    out = tmp_path / "rand.trace"
    result = run("trace", "gen", "rand", "-n", 200_000, "-o", out)
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == RAND_200K_SHA256
    assert "200,000 requests" in result.output


def test_seq_is_consecutive_64_byte_lines(tmp_path: Path) -> None:
    out = tmp_path / "seq.trace"
    assert run("trace", "gen", "seq", "-n", 4, "-o", out).exit_code == 0
    assert out.read_text() == "0x0 READ 0\n0x40 READ 0\n0x80 READ 0\n0xc0 READ 0\n"


def test_idle_arrivals_are_gap_apart_and_addresses_those_of_rand(tmp_path: Path) -> None:
    out = tmp_path / "idle.trace"
    assert run("trace", "gen", "idle", "-n", 3, "--gap", 7, "-o", out).exit_code == 0
    draw = random.Random(1).randrange
    expected = "".join(f"{draw(2**24) * 64:#x} READ {7 * i}\n" for i in range(3))
    assert out.read_text() == expected


def test_npz_name_writes_native_and_format_option_writes_ramulator(tmp_path: Path) -> None:
    assert run("trace", "gen", "seq", "-n", 3, "-o", tmp_path / "s.npz").exit_code == 0
    back = read_trace(tmp_path / "s.npz", "native")
    assert back["addr"].tolist() == [0, 64, 128]
    assert not back["is_write"].any() and not back["arrival"].any()
    ram = tmp_path / "s.ram"
    assert run("trace", "gen", "seq", "-n", 2, "--format", "ramulator", "-o", ram).exit_code == 0
    assert ram.read_text() == "LD 0x0\nLD 0x40\n"


def test_default_sizes_are_the_defined_ones(tmp_path: Path) -> None:
    out = tmp_path / "idle.npz"
    assert run("trace", "gen", "idle", "-o", out).exit_code == 0
    arrival = read_trace(out)["arrival"]
    assert len(arrival) == 5000 and np.array_equal(arrival, np.arange(5000) * 500)


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    line = user_error_line(run("trace", "gen", "seq", "--gap", 3, "-o", tmp_path / "x"))
    assert "--gap" in line and "idle" in line
    line = user_error_line(run("trace", "gen", "idle", "-n", 2, "--format", "ramulator",
                               "-o", tmp_path / "x"))
    assert "arrival" in line
    line = user_error_line(run("trace", "gen", "zipf", "-o", tmp_path / "x"))
    assert "zipf" in line
