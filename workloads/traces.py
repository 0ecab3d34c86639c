"""Memory-trace files: read and write DRAMSim3, Ramulator 2 and membound's native format.

A trace is a numpy structured array of dtype :data:`TRACE_DTYPE`, one element per 64 B request,
in issue order. ``arrival`` is the earliest memory clock at which the request may enter the
controller (0 = as soon as the controller accepts it).

Formats
-------
``dramsim3``
    Text lines ``0x1a2b40 READ 120``: hex address (``0x`` optional), ``READ`` / ``WRITE``
    (aliases ``P_MEM_RD`` / ``P_MEM_WR``), arrival clock in decimal. Lines must be in arrival
    order, as DRAMSim3 requires.
``ramulator``
    Ramulator 2 ``LoadStoreTrace`` lines ``LD 0x1a2b40`` / ``ST 0x1a2b40``; the address is hex
    with ``0x`` or decimal. There is no arrival clock: every request has arrival 0.
``native``
    ``.npz`` with arrays ``addr``, ``is_write``, ``arrival`` and ``version``; loads back
    bit-identical.

In text formats blank lines and lines whose first non-blank character is ``#`` are skipped.
Gzip-compressed files are read transparently (detected by content), and written when the
path ends in ``.gz``. Every problem with a file is a :class:`TraceError` (or, for a missing
file, a :class:`~sim.errors.UserError`) whose message is one line naming the file and line.

Reading is vectorised: the whole file is parsed with numpy over its bytes. Only when that
fast parse refuses the file does a plain line-by-line pass run, which is the specification
of the formats: it either finds the first bad line and names it, or returns the trace.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from sim.errors import UserError

__all__ = [
    "FORMATS",
    "NATIVE_VERSION",
    "TRACE_DTYPE",
    "TraceError",
    "make_trace",
    "read_trace",
    "write_trace",
]

TRACE_DTYPE = np.dtype([("addr", np.uint64), ("is_write", np.bool_), ("arrival", np.int64)])
FORMATS = ("dramsim3", "ramulator", "native")
NATIVE_VERSION = 1

PathLike = str | os.PathLike[str]

_DRAMSIM3_EXPECTED = "expected '<hex address> READ|WRITE <clock>'"
_RAMULATOR_EXPECTED = "expected 'LD|ST <address>'"
_DRAMSIM3_READS = (b"READ", b"P_MEM_RD", b"read")
_DRAMSIM3_WRITES = (b"WRITE", b"P_MEM_WR", b"write")
_RAMULATOR_READS = (b"LD",)
_RAMULATOR_WRITES = (b"ST",)
_U64_MAX = 2**64 - 1
_I64_MAX = 2**63 - 1
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_SHOWN = 80


class TraceError(UserError):
    """A trace file that cannot be read or written; str() is one line naming file and line."""


# --------------------------------------------------------------------------- construction


def make_trace(
    addr: np.ndarray | list[int],
    is_write: np.ndarray | list[bool] | None = None,
    arrival: np.ndarray | list[int] | None = None,
) -> np.ndarray:
    """Build a trace from column arrays; missing ``is_write`` means reads, missing ``arrival`` 0."""
    addr = np.asarray(addr, dtype=np.uint64).reshape(-1)
    trace = np.zeros(addr.size, dtype=TRACE_DTYPE)
    trace["addr"] = addr
    if is_write is not None:
        trace["is_write"] = np.asarray(is_write, dtype=np.bool_).reshape(-1)
    if arrival is not None:
        trace["arrival"] = np.asarray(arrival, dtype=np.int64).reshape(-1)
    return trace


def _as_trace(trace: np.ndarray) -> np.ndarray:
    """Check that ``trace`` has the trace fields and return it as a 1-D TRACE_DTYPE array."""
    trace = np.asarray(trace)
    names = trace.dtype.names or ()
    missing = [f for f in TRACE_DTYPE.names if f not in names]
    if missing or trace.ndim != 1:
        raise TypeError(
            f"a trace must be a 1-D structured array with fields addr, is_write, arrival; "
            f"got dtype {trace.dtype} with shape {trace.shape}"
        )
    if trace.dtype == TRACE_DTYPE:
        return trace
    return make_trace(trace["addr"], trace["is_write"], trace["arrival"])


# --------------------------------------------------------------------------- public API


def read_trace(path: PathLike, fmt: str | None = None) -> np.ndarray:
    """Read a trace file; ``fmt`` is one of :data:`FORMATS`, or None to infer it.

    Inference: a ``.npz`` name (before any ``.gz``) or zip content means native; otherwise the
    first line that is neither blank nor a comment decides between dramsim3 and ramulator.
    """
    _check_format(fmt, allow_none=True)
    name = str(path)
    data = _read_bytes(path)
    if fmt is None:
        fmt = _infer_format(name, data)
    if fmt == "native":
        return _read_native(name, data)
    return _TEXT_READERS[fmt](name, data)


def write_trace(trace: np.ndarray, path: PathLike, fmt: str) -> None:
    """Write ``trace`` to ``path`` in format ``fmt``; a path ending in ``.gz`` is gzip-compressed.

    The file is written to a temporary name and renamed into place, so a reader never sees a
    partial file.
    """
    _check_format(fmt, allow_none=False)
    trace = _as_trace(trace)
    name = str(path)
    if fmt == "native":
        data = _native_bytes(trace)
    else:
        data = _TEXT_WRITERS[fmt](name, trace)
    if name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    _write_bytes(path, data)


# --------------------------------------------------------------------------- files


def _check_format(fmt: str | None, *, allow_none: bool) -> None:
    if fmt is None and allow_none:
        return
    if fmt not in FORMATS:
        raise UserError(f"unknown trace format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _read_bytes(path: PathLike) -> bytes:
    """The file's bytes, gunzipped if they are gzip data."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UserError(f"{path}: no such trace file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a trace file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read trace file: {e.strerror or e}") from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise TraceError(f"{path}: corrupt gzip file: {_one_line(str(e))}") from None
    return data


def _write_bytes(path: PathLike, data: bytes) -> None:
    tmp = Path(f"{path}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write trace file: {e.strerror or e}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shown(raw: bytes) -> str:
    """A trace line as it may appear inside a one-line message."""
    text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
    text = text.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _line_error(path: str, lineno: int, raw: bytes, reason: str) -> TraceError:
    return TraceError(f"{path}:{lineno}: cannot parse trace line '{_shown(raw)}': {reason}")


# --------------------------------------------------------------------------- format inference


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, line) pairs, produced lazily so that a look at the head stays cheap."""
    start, lineno = 0, 1
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            end = len(data)
        yield lineno, data[start:end]
        start, lineno = end + 1, lineno + 1


def _is_comment_or_blank(tokens: list[bytes]) -> bool:
    return not tokens or tokens[0].startswith(b"#")


def _infer_format(path: str, data: bytes) -> str:
    lower = path.lower().removesuffix(".gz")
    if lower.endswith(".npz") or data.startswith(_ZIP_MAGIC):
        return "native"
    for lineno, raw in _lines(data):
        tokens = raw.split()
        if _is_comment_or_blank(tokens):
            continue
        if tokens[0] in _RAMULATOR_READS + _RAMULATOR_WRITES:
            return "ramulator"
        if len(tokens) == 3 or (
            len(tokens) > 1 and tokens[1] in _DRAMSIM3_READS + _DRAMSIM3_WRITES
        ):
            return "dramsim3"
        raise TraceError(
            f"{path}:{lineno}: cannot tell the trace format from line '{_shown(raw)}': "
            f"{_DRAMSIM3_EXPECTED} (DRAMSim3) or {_RAMULATOR_EXPECTED} (Ramulator)"
        )
    return "dramsim3"  # no data lines: an empty trace in any text format


# --------------------------------------------------------------------------- slow, exact parsing

_HEX_RE = re.compile(rb"(?:0[xX])?[0-9a-fA-F]+")
_PREFIXED_HEX_RE = re.compile(rb"0[xX][0-9a-fA-F]+")
_DEC_RE = re.compile(rb"[0-9]+")
_NEGATIVE_RE = re.compile(rb"-(?:0[xX])?[0-9a-fA-F]+")


def _address(token: bytes, hex_only: bool) -> int | str:
    """The address ``token`` denotes, or the reason it is not one."""
    if _NEGATIVE_RE.fullmatch(token):
        return "address is negative"
    if hex_only and _HEX_RE.fullmatch(token):
        value = int(token, 16)
    elif not hex_only and _PREFIXED_HEX_RE.fullmatch(token):
        value = int(token, 16)
    elif not hex_only and _DEC_RE.fullmatch(token):
        value = int(token)
    else:
        kind = "hex number" if hex_only else "hex number with 0x or a decimal number"
        return f"address '{_shown(token)}' is not a {kind}"
    if value > _U64_MAX:
        return "address does not fit in 64 bits"
    return value


def _clock(token: bytes) -> int | str:
    """The arrival clock ``token`` denotes, or the reason it is not one."""
    if not _DEC_RE.fullmatch(token):
        return f"clock '{_shown(token)}' is not a non-negative decimal integer"
    value = int(token)
    if value > _I64_MAX:
        return "clock does not fit in 64 bits"
    return value


def _parse_dramsim3_line(tokens: list[bytes]) -> tuple[int, bool, int] | str:
    if len(tokens) != 3:
        return _DRAMSIM3_EXPECTED
    addr = _address(tokens[0], hex_only=True)
    if isinstance(addr, str):
        return addr
    op = tokens[1]
    if op not in _DRAMSIM3_READS + _DRAMSIM3_WRITES:
        return f"unknown operation '{_shown(op)}', expected READ, WRITE, P_MEM_RD or P_MEM_WR"
    clock = _clock(tokens[2])
    if isinstance(clock, str):
        return clock
    return addr, op in _DRAMSIM3_WRITES, clock


def _parse_ramulator_line(tokens: list[bytes]) -> tuple[int, bool, int] | str:
    if len(tokens) != 2:
        return _RAMULATOR_EXPECTED
    op = tokens[0]
    if op not in _RAMULATOR_READS + _RAMULATOR_WRITES:
        return f"unknown operation '{_shown(op)}', expected LD or ST"
    addr = _address(tokens[1], hex_only=False)
    if isinstance(addr, str):
        return addr
    return addr, op in _RAMULATOR_WRITES, 0


LineParser = Callable[[list[bytes]], "tuple[int, bool, int] | str"]


def _slow_parse(path: str, data: bytes, parse_line: LineParser, ordered: bool) -> np.ndarray:
    """Parse line by line; raise a TraceError naming the first bad line, else return the trace."""
    addrs: list[int] = []
    writes: list[bool] = []
    clocks: list[int] = []
    prev_clock, prev_lineno = 0, 0
    for lineno, raw in _lines(data):
        tokens = raw.split()
        if _is_comment_or_blank(tokens):
            continue
        parsed = parse_line(tokens)
        if isinstance(parsed, str):
            raise _line_error(path, lineno, raw, parsed)
        addr, is_write, clock = parsed
        if ordered and clock < prev_clock:
            raise TraceError(
                f"{path}:{lineno}: arrival clock {clock} is earlier than {prev_clock} on line "
                f"{prev_lineno}: DRAMSim3 traces must be in arrival order"
            )
        prev_clock, prev_lineno = clock, lineno
        addrs.append(addr)
        writes.append(is_write)
        clocks.append(clock)
    return make_trace(addrs, writes, clocks)


# --------------------------------------------------------------------------- fast parsing

_BAD_DIGIT = 255
_HEX_TABLE = np.full(256, _BAD_DIGIT, dtype=np.uint8)
_DEC_TABLE = np.full(256, _BAD_DIGIT, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_TABLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_TABLE[_c] = 10 + _i
for _i, _c in enumerate(b"0123456789"):
    _DEC_TABLE[_c] = _i
_CHUNK = 1 << 16  # rows per step of the vectorised parse, so temporaries stay in cache
_PAD = 32  # blank bytes around the text, so fixed-width gathers never leave the buffer
_OP_WIDTH = 8


class _Refused(Exception):
    """The fast parser does not accept this input; the exact line-by-line parser decides."""


def _fast_fields(buf: np.ndarray, ncols: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start, end) offsets in ``buf`` of each of ``ncols`` fields per line of the text.

    ``buf`` is the text with _PAD bytes of padding on each side. Accepts only the canonical
    layout: '\\n' line ends, one space between fields, no blank lines, no leading or
    trailing blanks.
    """
    text = buf[_PAD:-_PAD]
    ends = np.flatnonzero(text == ord("\n"))
    if text[-1] != ord("\n"):
        ends = np.append(ends, text.size)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    spaces = np.flatnonzero(text == ord(" "))
    if spaces.size != (ncols - 1) * ends.size:
        raise _Refused
    spaces = spaces.reshape(ends.size, ncols - 1)
    bounds = np.concatenate([starts[:, None] - 1, spaces, ends[:, None]], axis=1)
    if np.any(np.diff(bounds, axis=1) < 2):  # an empty field, or a space outside its line
        raise _Refused
    bounds += _PAD
    return [(bounds[:, j] + 1, bounds[:, j + 1]) for j in range(ncols)]


def _fast_number(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray, table: np.ndarray, max_digits: int
) -> np.ndarray:
    """Digits buf[start:end] as uint64 in the base of ``table``; refuse bad or too many digits.

    ``buf`` must have at least ``max_digits`` bytes of padding before the first field.
    """
    length = end - start
    if length.size == 0:
        return np.zeros(0, dtype=np.uint64)
    width = int(length.max())
    if width > max_digits or length.min() < 1:
        raise _Refused
    base = 16 if table is _HEX_TABLE else 10
    weights = np.array([base**k for k in range(width)], dtype=np.uint64)
    offsets = np.arange(1, width + 1)
    value = np.empty(start.size, dtype=np.uint64)
    for lo in range(0, start.size, _CHUNK):
        hi = lo + _CHUNK
        digits = table[buf[end[lo:hi, None] - offsets]]  # right-aligned, units first
        digits[offsets > length[lo:hi, None]] = 0
        if digits.max() == _BAD_DIGIT:
            raise _Refused
        value[lo:hi] = digits.astype(np.uint64) @ weights
    return value


def _fast_hex(buf: np.ndarray, start: np.ndarray, end: np.ndarray, prefix: str) -> np.ndarray:
    """Hex numbers; ``prefix`` is 'optional' or 'required' for a leading 0x / 0X."""
    last = buf.size - 1
    has_prefix = (
        (end - start > 2)
        & (buf[np.minimum(start, last)] == ord("0"))
        & ((buf[np.minimum(start + 1, last)] | 0x20) == ord("x"))
    )
    if prefix == "required" and not np.all(has_prefix):
        raise _Refused
    return _fast_number(buf, start + 2 * has_prefix, end, _HEX_TABLE, 16)


def _fast_op_is_write(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray, reads: tuple, writes: tuple
) -> np.ndarray:
    """Whether each operation token is a write; refuse unknown tokens.

    Each token of at most 8 bytes is read as one little-endian uint64, zero-padded.
    """
    length = end - start
    if length.size and length.max() > _OP_WIDTH:
        raise _Refused
    offsets = np.arange(_OP_WIDTH)
    key = np.empty(start.size, dtype=np.uint64)
    for lo in range(0, start.size, _CHUNK):
        hi = lo + _CHUNK
        chars = buf[start[lo:hi, None] + offsets]
        chars[offsets >= length[lo:hi, None]] = 0
        key[lo:hi] = chars.view("<u8")[:, 0]

    def keys(names: tuple) -> np.ndarray:
        return np.array([int.from_bytes(n, "little") for n in names], dtype=np.uint64)

    is_write = np.isin(key, keys(writes))
    if not np.all(is_write | np.isin(key, keys(reads))):
        raise _Refused
    return is_write


def _fast_dramsim3(buf: np.ndarray) -> np.ndarray:
    (a0, a1), (o0, o1), (c0, c1) = _fast_fields(buf, 3)
    addr = _fast_hex(buf, a0, a1, prefix="optional")
    is_write = _fast_op_is_write(buf, o0, o1, _DRAMSIM3_READS, _DRAMSIM3_WRITES)
    clocks = _fast_number(buf, c0, c1, _DEC_TABLE, 19)
    if clocks.size and clocks.max() > _I64_MAX:
        raise _Refused
    arrival = clocks.astype(np.int64)
    if np.any(arrival[1:] < arrival[:-1]):
        raise _Refused
    return make_trace(addr, is_write, arrival)


def _fast_ramulator(buf: np.ndarray) -> np.ndarray:
    (o0, o1), (a0, a1) = _fast_fields(buf, 2)
    is_write = _fast_op_is_write(buf, o0, o1, _RAMULATOR_READS, _RAMULATOR_WRITES)
    length = a1 - a0
    last = buf.size - 1
    is_hex = (
        (length > 2)
        & (buf[np.minimum(a0, last)] == ord("0"))
        & ((buf[np.minimum(a0 + 1, last)] | 0x20) == ord("x"))
    )
    addr = np.empty(a0.size, dtype=np.uint64)
    addr[is_hex] = _fast_hex(buf, a0[is_hex], a1[is_hex], prefix="required")
    addr[~is_hex] = _fast_number(buf, a0[~is_hex], a1[~is_hex], _DEC_TABLE, 19)
    return make_trace(addr, is_write)


_BLANKS_TO_SPACE = bytes.maketrans(b"\t\r\x0b\x0c", b"    ")


def _replace_all(data: bytes, old: bytes, new: bytes) -> bytes:
    while old in data:
        data = data.replace(old, new)
    return data


def _drop_comment_lines(data: bytes) -> bytes:
    """Remove the lines that start with '#' from text whose lines have no leading blanks."""
    pieces, pos = [], 0
    if data.startswith(b"#"):
        pos = data.find(b"\n") + 1 or len(data)
    while (hit := data.find(b"\n#", pos)) >= 0:
        pieces.append(data[pos : hit + 1])
        pos = data.find(b"\n", hit + 1) + 1 or len(data)
    pieces.append(data[pos:])
    return b"".join(pieces)


_NOT_CANONICAL = (b"  ", b" \n", b"\n ", b"\n\n", b"\r", b"\t", b"#", b"\x0b", b"\x0c")


def _is_canonical(data: bytes) -> bool:
    """Whether ``data`` is surely in the fast parser's layout (each test is one memchr-speed scan)."""
    return not data.startswith((b" ", b"\n")) and not any(s in data for s in _NOT_CANONICAL)


def _canonical(data: bytes) -> bytes:
    """``data`` rewritten to the fast parser's layout (line numbers are not preserved).

    Only bytes.replace / translate passes, which run at memory speed.
    """
    data = _replace_all(data.translate(_BLANKS_TO_SPACE), b"  ", b" ")
    data = data.replace(b" \n", b"\n").replace(b"\n ", b"\n").removeprefix(b" ")
    if b"#" in data:
        data = _drop_comment_lines(data)
    return _replace_all(data, b"\n\n", b"\n").removeprefix(b"\n").removesuffix(b" ")


def _padded(text: bytes) -> np.ndarray:
    padding = np.full(_PAD, ord(" "), dtype=np.uint8)
    return np.concatenate([padding, np.frombuffer(text, dtype=np.uint8), padding])


def _read_text(
    path: str,
    data: bytes,
    fast: Callable[[np.ndarray], np.ndarray],
    parse_line: LineParser,
    ordered: bool,
) -> np.ndarray:
    text = data if _is_canonical(data) else _canonical(data)
    if not text or text.isspace():
        return make_trace([])
    try:
        return fast(_padded(text))
    except _Refused:
        pass
    return _slow_parse(path, data, parse_line, ordered)


def _read_dramsim3(path: str, data: bytes) -> np.ndarray:
    return _read_text(path, data, _fast_dramsim3, _parse_dramsim3_line, ordered=True)


def _read_ramulator(path: str, data: bytes) -> np.ndarray:
    return _read_text(path, data, _fast_ramulator, _parse_ramulator_line, ordered=False)


# --------------------------------------------------------------------------- text writers


def _write_dramsim3(path: str, trace: np.ndarray) -> bytes:
    arrival = trace["arrival"]
    if arrival.size and arrival.min() < 0:
        raise TraceError(f"{path}: cannot write a negative arrival clock in DRAMSim3 format")
    if np.any(arrival[1:] < arrival[:-1]):
        i = int(np.flatnonzero(arrival[1:] < arrival[:-1])[0]) + 1
        raise TraceError(
            f"{path}: request {i} arrives at clock {arrival[i]}, before request {i - 1} "
            f"({arrival[i - 1]}): DRAMSim3 traces must be in arrival order"
        )
    ops = ("READ", "WRITE")
    lines = [
        f"{a:#x} {ops[w]} {c}\n"
        for a, w, c in zip(
            trace["addr"].tolist(), trace["is_write"].tolist(), arrival.tolist(), strict=True
        )
    ]
    return "".join(lines).encode("ascii")


def _write_ramulator(path: str, trace: np.ndarray) -> bytes:
    if np.any(trace["arrival"] != 0):
        raise TraceError(
            f"{path}: the Ramulator LoadStoreTrace format has no arrival clocks and this trace "
            "has non-zero ones; write it as dramsim3 or native instead"
        )
    ops = ("LD", "ST")
    lines = [
        f"{ops[w]} {a:#x}\n"
        for a, w in zip(trace["addr"].tolist(), trace["is_write"].tolist(), strict=True)
    ]
    return "".join(lines).encode("ascii")


_TEXT_READERS = {"dramsim3": _read_dramsim3, "ramulator": _read_ramulator}
_TEXT_WRITERS = {"dramsim3": _write_dramsim3, "ramulator": _write_ramulator}


# --------------------------------------------------------------------------- native (.npz)


def _native_bytes(trace: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(
        out,
        addr=trace["addr"],
        is_write=trace["is_write"],
        arrival=trace["arrival"],
        version=np.int64(NATIVE_VERSION),
    )
    return out.getvalue()


def _read_native(path: str, data: bytes) -> np.ndarray:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zlib.error) as e:
        raise TraceError(
            f"{path}: not a valid native trace (.npz): {_one_line(str(e)) or type(e).__name__}"
        ) from None
    return _native_trace(path, arrays)


def _native_trace(path: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    missing = [k for k in ("version", *TRACE_DTYPE.names) if k not in arrays]
    if missing:
        raise TraceError(f"{path}: not a native trace: missing array(s) {', '.join(missing)}")
    version = arrays["version"]
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != NATIVE_VERSION:
        raise TraceError(
            f"{path}: unsupported native trace version {version!r}; "
            f"this membound reads version {NATIVE_VERSION}"
        )
    trace = np.empty(arrays["addr"].size, dtype=TRACE_DTYPE)
    for field in TRACE_DTYPE.names:
        column = arrays[field]
        want = TRACE_DTYPE[field]
        if column.dtype != want or column.ndim != 1 or column.size != trace.size:
            raise TraceError(
                f"{path}: native trace array '{field}' is {column.dtype}{list(column.shape)}, "
                f"expected {want}[{trace.size}]"
            )
        trace[field] = column
    return trace
