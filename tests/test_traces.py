"""Trace files: formats round-trip, errors name file and line, validation traces are as defined."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from sim.errors import UserError
from workloads.traces import (
    TRACE_DTYPE,
    TraceError,
    _parse_dramsim3_line,
    _parse_ramulator_line,
    _slow_parse,
    make_trace,
    read_trace,
    write_trace,
)
from workloads.validation_traces import (
    VALIDATION_TRACES,
    idle,
    rand,
    seq,
    validation_trace,
)

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
RAND_DRAMSIM3_SHA256 = "8cf56d3ba0a78adac3e87543b9112ddee0a33c4a36af8f1a40b5c0e577c561af"
DRAMSIM3_EXPECTED = "expected '<hex address> READ|WRITE <clock>'"
RAMULATOR_EXPECTED = "expected 'LD|ST <address>'"


def random_trace(n: int, seed: int, *, arrivals: str) -> np.ndarray:
    """A trace over the whole address range; arrivals 'zero', 'sorted' or 'any'."""
    rng = np.random.default_rng(seed)
    addr = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    addr[:3] = [0, 2**64 - 1, 0x1A2B40]
    arrival = {
        "zero": np.zeros(n, dtype=np.int64),
        "sorted": np.sort(rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)),
        "any": rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64),
    }[arrivals]
    return make_trace(addr, rng.random(n) < 0.3, arrival)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == TRACE_DTYPE
    assert got.shape == want.shape
    for field in TRACE_DTYPE.names:
        np.testing.assert_array_equal(got[field], want[field], err_msg=field)


def write_text(tmp_path: Path, text: str | bytes, name: str = "t.trace") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# --------------------------------------------------------------------------- round trips

ROUND_TRIPS = [("dramsim3", "sorted"), ("ramulator", "zero"), ("native", "any")]


@pytest.mark.parametrize(("fmt", "arrivals"), ROUND_TRIPS)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path: Path, fmt: str, arrivals: str, suffix: str) -> None:
    trace = random_trace(5000, seed=len(fmt), arrivals=arrivals)
    path = tmp_path / f"t.{fmt}{suffix}"
    write_trace(trace, path, fmt)
    assert_same(read_trace(path, fmt), trace)
    assert_same(read_trace(path), trace)  # inferred
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


@pytest.mark.parametrize(("fmt", "arrivals"), ROUND_TRIPS)
def test_round_trip_empty(tmp_path: Path, fmt: str, arrivals: str) -> None:
    path = tmp_path / f"empty.{fmt}"
    write_trace(make_trace([]), path, fmt)
    assert_same(read_trace(path, fmt), make_trace([]))


def test_dramsim3_text_is_exact(tmp_path: Path) -> None:
    trace = make_trace([0x1A2B40, 0, 2**64 - 1], [False, True, False], [120, 120, 121])
    path = tmp_path / "t.trace"
    write_trace(trace, path, "dramsim3")
    assert path.read_bytes() == b"0x1a2b40 READ 120\n0x0 WRITE 120\n0xffffffffffffffff READ 121\n"


def test_ramulator_text_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    write_trace(make_trace([0x1A2B40, 64], [False, True]), path, "ramulator")
    assert path.read_bytes() == b"LD 0x1a2b40\nST 0x40\n"


def test_gz_is_deterministic_and_readable_by_gzip(tmp_path: Path) -> None:
    trace = random_trace(100, seed=3, arrivals="sorted")
    write_trace(trace, tmp_path / "a.trace.gz", "dramsim3")
    write_trace(trace, tmp_path / "b.trace.gz", "dramsim3")
    write_trace(trace, tmp_path / "plain.trace", "dramsim3")
    compressed = (tmp_path / "a.trace.gz").read_bytes()
    assert compressed == (tmp_path / "b.trace.gz").read_bytes()
    assert compressed[4:8] == bytes(4)  # no timestamp in the header
    assert gzip.decompress(compressed) == (tmp_path / "plain.trace").read_bytes()


def forbid_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the vectorised parser refused a valid file")

    monkeypatch.setattr("workloads.traces._slow_parse", refuse)


@pytest.mark.parametrize(("fmt", "arrivals"), ROUND_TRIPS[:2])
def test_large_trace_round_trips_through_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, arrivals: str
) -> None:
    trace = random_trace(300_000, seed=9, arrivals=arrivals)
    path = tmp_path / "big.trace"
    write_trace(trace, path, fmt)
    forbid_line_by_line(monkeypatch)
    assert_same(read_trace(path), trace)


# --------------------------------------------------------------------------- fixtures, layout


def test_dramsim3_fixture_with_comments_blanks_aliases_and_odd_spacing() -> None:
    trace = read_trace(FIXTURES / "dramsim3_sample.trace")
    want = make_trace(
        [0x1A2B40, 0x1A2B80, 0xFF00, 0x40, 0x1000],
        [False, True, False, True, False],
        [0, 3, 3, 17, 18],
    )
    assert_same(trace, want)


def test_ramulator_fixture_with_crlf_and_decimal_addresses() -> None:
    trace = read_trace(FIXTURES / "ramulator_sample.trace")
    want = make_trace([0x1A2B40, 0x1A2B80, 4096, 0xFF00], [False, True, False, True])
    assert_same(trace, want)


@pytest.mark.parametrize("fixture", ["dramsim3_sample.trace", "ramulator_sample.trace"])
def test_fast_and_line_by_line_parsers_agree(fixture: str) -> None:
    path = FIXTURES / fixture
    parse_line = _parse_ramulator_line if fixture.startswith("ramulator") else _parse_dramsim3_line
    slow = _slow_parse(str(path), path.read_bytes(), parse_line, ordered=False)
    assert_same(read_trace(path), slow)


def test_messy_but_valid_large_file_matches_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    lines, clock = [], 0
    for i in range(20_000):
        clock += rng.randrange(3)
        sep = rng.choice([" ", "\t", "  "])
        addr = rng.choice(["0x{:x}", "0X{:X}", "{:x}"]).format(rng.randrange(2**40))
        lines.append(f"{addr}{sep}{rng.choice(['READ', 'WRITE', 'P_MEM_RD'])}{sep}{clock}")
        if i % 997 == 0:
            lines.append(rng.choice(["", "# comment", "   ", "\t# indented comment"]))
    data = ("\r\n".join(lines) + "\r\n").encode()
    path = write_text(tmp_path, data)
    slow = _slow_parse(str(path), data, _parse_dramsim3_line, ordered=True)
    assert slow.size == 20_000
    forbid_line_by_line(monkeypatch)
    assert_same(read_trace(path, "dramsim3"), slow)


def test_zero_padded_addresses_longer_than_16_digits_are_accepted(tmp_path: Path) -> None:
    path = write_text(tmp_path, "0x00000000000000000040 READ 0\n0x80 READ 1\n")
    assert read_trace(path)["addr"].tolist() == [0x40, 0x80]


def test_no_trailing_newline(tmp_path: Path) -> None:
    path = write_text(tmp_path, "0x40 READ 0\n0x80 WRITE 5")
    assert_same(read_trace(path), make_trace([0x40, 0x80], [False, True], [0, 5]))


# --------------------------------------------------------------------------- validation traces


def test_rand_written_as_dramsim3_matches_published_sha256(tmp_path: Path) -> None:
    path = tmp_path / "rand.trace"
    write_trace(rand(), path, "dramsim3")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == RAND_DRAMSIM3_SHA256


def test_rand_is_python_random_seed_1() -> None:
    draw = random.Random(1).randrange
    assert rand(1000)["addr"].tolist() == [draw(2**24) * 64 for _ in range(1000)]
    assert rand().size == 200_000
    assert not rand(10)["is_write"].any() and not rand(10)["arrival"].any()


def test_seq_and_idle_definitions() -> None:
    s = seq()
    assert s.size == 200_000
    assert s["addr"].tolist() == [i * 64 for i in range(200_000)]
    assert not s["is_write"].any() and not s["arrival"].any()
    i = idle()
    assert i.size == 5000
    assert_same(make_trace(i["addr"]), rand(5000))
    assert i["arrival"].tolist() == [k * 500 for k in range(5000)]
    assert idle(3, gap=7)["arrival"].tolist() == [0, 7, 14]


def test_validation_trace_by_name() -> None:
    assert set(VALIDATION_TRACES) == {"seq", "rand", "idle"}
    assert_same(validation_trace("idle"), idle())
    assert_same(validation_trace("seq"), seq())
    with pytest.raises(UserError, match="unknown validation trace 'mix'"):
        validation_trace("mix")


# --------------------------------------------------------------------------- inference


def test_sniffing_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    d = write_text(tmp_path, "\n# LD 0x40 would look like ramulator\n\n0x40 READ 0\n", "a.txt")
    r = write_text(tmp_path, "# 0x40 READ 0\n\nST 64\n", "b.txt")
    assert_same(read_trace(d), make_trace([0x40]))
    assert_same(read_trace(r), make_trace([64], [True]))


def test_native_is_sniffed_by_content_and_gz_by_magic(tmp_path: Path) -> None:
    trace = random_trace(50, seed=1, arrivals="any")
    write_trace(trace, tmp_path / "t.npz", "native")
    (tmp_path / "noext").write_bytes((tmp_path / "t.npz").read_bytes())
    assert_same(read_trace(tmp_path / "noext"), trace)
    write_trace(trace[:0], tmp_path / "z.trace", "dramsim3")
    sorted_trace = random_trace(50, seed=1, arrivals="sorted")
    write_trace(sorted_trace, tmp_path / "d.trace.gz", "dramsim3")
    (tmp_path / "d.bin").write_bytes((tmp_path / "d.trace.gz").read_bytes())
    assert_same(read_trace(tmp_path / "d.bin"), sorted_trace)


def test_unrecognisable_first_line_names_it(tmp_path: Path) -> None:
    path = write_text(tmp_path, "# header\n\nhello world how are you\n")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path)
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}:3: cannot tell the trace format")
    assert "hello world how are you" in message


# --------------------------------------------------------------------------- empty and missing


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  \n"])
@pytest.mark.parametrize("fmt", [None, "dramsim3", "ramulator"])
def test_empty_text_file_is_an_empty_trace(tmp_path: Path, text: str, fmt: str | None) -> None:
    trace = read_trace(write_text(tmp_path, text), fmt)
    assert trace.dtype == TRACE_DTYPE and trace.size == 0


def test_missing_file_is_one_line_user_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.trace"
    with pytest.raises(UserError) as excinfo:
        read_trace(path)
    assert one_line_error(excinfo) == f"{path}: no such trace file"


def test_directory_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as excinfo:
        read_trace(tmp_path)
    assert one_line_error(excinfo).startswith(f"{tmp_path}: ")


def test_unknown_format_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown trace format 'gem5'"):
        read_trace(write_text(tmp_path, "0x40 READ 0\n"), "gem5")
    with pytest.raises(UserError, match="unknown trace format 'gem5'"):
        write_trace(make_trace([0]), tmp_path / "x", "gem5")


# --------------------------------------------------------------------------- bad lines

HEAD = "# header\n0x40 READ 1\n\n"  # the bad line is line 4


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        ("0x80 READ", DRAMSIM3_EXPECTED),
        ("0x80 READ 5 7", DRAMSIM3_EXPECTED),
        ("0xZZ READ 5", "is not a hex number"),
        ("0x READ 5", "is not a hex number"),
        ("0x1_0 READ 5", "is not a hex number"),
        ("-0x80 READ 5", "address is negative"),
        ("0x10000000000000000 READ 5", "address does not fit in 64 bits"),
        ("0x80 FETCH 5", "unknown operation 'FETCH'"),
        ("0x80 READ 5.5", "clock '5.5' is not a non-negative decimal integer"),
        ("0x80 READ -5", "clock '-5' is not a non-negative decimal integer"),
        ("0x80 READ 0x5", "clock '0x5' is not a non-negative decimal integer"),
        ("0x80 READ 9223372036854775808", "clock does not fit in 64 bits"),
        ("0x80 READ 0", "arrival clock 0 is earlier than 1 on line 2"),
    ],
)
def test_bad_dramsim3_line_names_file_and_line(tmp_path: Path, line: str, phrase: str) -> None:
    path = write_text(tmp_path, HEAD + line + "\n0xc0 READ 9\n")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "dramsim3")
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}:4: ")
    assert phrase in message
    if "arrival clock" in phrase:
        assert "DRAMSim3 traces must be in arrival order" in message
    else:
        assert f"cannot parse trace line '{line}'" in message


def test_structural_error_message_is_exact(tmp_path: Path) -> None:
    path = write_text(tmp_path, "0x40 READ 0\nREAD 0x80\n")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "dramsim3")
    assert str(excinfo.value) == (
        f"{path}:2: cannot parse trace line 'READ 0x80': expected '<hex address> READ|WRITE <clock>'"
    )


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        ("LD", RAMULATOR_EXPECTED),
        ("LD 0x80 5", RAMULATOR_EXPECTED),
        ("LOAD 0x80", "unknown operation 'LOAD', expected LD or ST"),
        ("LD ff", "is not a hex number with 0x or a decimal number"),
        ("LD 12.5", "is not a hex number with 0x or a decimal number"),
        ("ST -64", "address is negative"),
        ("ST 18446744073709551616", "address does not fit in 64 bits"),
        ("ST 0x10000000000000000", "address does not fit in 64 bits"),
    ],
)
def test_bad_ramulator_line_names_file_and_line(tmp_path: Path, line: str, phrase: str) -> None:
    path = write_text(tmp_path, "# header\nLD 0x40\n\n" + line + "\nST 64\n")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path)
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}:4: cannot parse trace line '{line}': ")
    assert phrase in message


def test_ramulator_line_in_dramsim3_file_is_an_error(tmp_path: Path) -> None:
    path = write_text(tmp_path, "0x40 READ 0\nLD 0x80\n")
    with pytest.raises(TraceError, match=r":2: cannot parse trace line 'LD 0x80'"):
        read_trace(path)


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_bad_line_deep_in_large_file_is_found(tmp_path: Path, line_ending: str) -> None:
    lines = [f"{i * 64:#x} READ {i}" for i in range(100_000)]
    lines.insert(50, "# a comment shifts the line numbers")
    lines[77_777] = "0x40 REED 77777"
    path = write_text(tmp_path, line_ending.join(lines) + line_ending)
    with pytest.raises(TraceError) as excinfo:
        read_trace(path)
    assert one_line_error(excinfo).startswith(f"{path}:77778: cannot parse trace line '0x40 REED")


def test_bad_line_in_gz_file_names_the_gz_file(tmp_path: Path) -> None:
    path = tmp_path / "t.trace.gz"
    path.write_bytes(gzip.compress(b"0x40 READ 0\n0x80 READ x\n"))
    with pytest.raises(TraceError, match=rf"^{path}:2: .*clock 'x'"):
        read_trace(path)


def test_binary_garbage_gives_one_line_error(tmp_path: Path) -> None:
    path = write_text(tmp_path, bytes(range(256)) * 4)
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "dramsim3")
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}:1: ") and len(message) < 300


# --------------------------------------------------------------------------- corrupt files


def test_corrupt_npz_is_one_line_error(tmp_path: Path) -> None:
    write_trace(random_trace(1000, seed=2, arrivals="any"), tmp_path / "good.npz", "native")
    good = (tmp_path / "good.npz").read_bytes()
    for name, data in [("junk.npz", b"not a zip at all"), ("cut.npz", good[: len(good) // 2])]:
        path = write_text(tmp_path, data, name)
        with pytest.raises(TraceError) as excinfo:
            read_trace(path)
        assert one_line_error(excinfo).startswith(f"{path}: not a valid native trace")


def test_npz_with_wrong_contents(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    np.savez(path, addr=np.zeros(3, np.uint64), is_write=np.zeros(3, bool))
    with pytest.raises(TraceError, match="missing array.*arrival"):
        read_trace(path)
    np.savez(
        path,
        addr=np.zeros(3, np.uint64),
        is_write=np.zeros(3, bool),
        arrival=np.zeros(3, np.int64),
        version=np.int64(99),
    )
    with pytest.raises(TraceError, match="unsupported native trace version"):
        read_trace(path)
    np.savez(
        path,
        addr=np.zeros(3, np.float64),
        is_write=np.zeros(3, bool),
        arrival=np.zeros(3, np.int64),
        version=np.int64(1),
    )
    with pytest.raises(TraceError, match="'addr' is float64"):
        read_trace(path)


def test_corrupt_gzip_is_one_line_error(tmp_path: Path) -> None:
    data = gzip.compress(b"0x40 READ 0\n" * 1000)
    path = write_text(tmp_path, data[: len(data) // 2], "t.trace.gz")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path)
    assert one_line_error(excinfo).startswith(f"{path}: corrupt gzip file")


# --------------------------------------------------------------------------- writing


def test_ramulator_refuses_arrival_clocks(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no arrival clocks"):
        write_trace(idle(10), tmp_path / "t.trace", "ramulator")
    assert not (tmp_path / "t.trace").exists()


def test_dramsim3_refuses_out_of_order_arrivals(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="request 2 arrives at clock 3, before request 1"):
        write_trace(make_trace([0, 64, 128], arrival=[0, 5, 3]), tmp_path / "t", "dramsim3")


def test_write_to_missing_directory_is_user_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir.trace"
    with pytest.raises(UserError) as excinfo:
        write_trace(seq(3), path, "dramsim3")
    assert one_line_error(excinfo).startswith(f"{path}: cannot write trace file")


def test_write_rejects_non_trace_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="fields addr, is_write, arrival"):
        write_trace(np.arange(3), tmp_path / "t", "dramsim3")


def test_write_accepts_other_field_order(tmp_path: Path) -> None:
    other = np.zeros(2, dtype=[("arrival", np.int32), ("addr", np.int64), ("is_write", bool)])
    other["addr"] = [64, 128]
    other["arrival"] = [1, 2]
    write_trace(other, tmp_path / "t.npz", "native")
    assert_same(read_trace(tmp_path / "t.npz"), make_trace([64, 128], arrival=[1, 2]))
