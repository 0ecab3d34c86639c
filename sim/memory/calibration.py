"""Achievable bandwidth of a memory preset per access shape, measured on the request-level model.

The transfer-level engine (sim/transfer) never assumes a datasheet's peak: it asks a
``CalibrationTable`` what one device of a preset sustains for a given access shape, and
the table comes from running the request-level DRAM model (sim/memory/dram.py, fast path)
on synthetic traces of that shape.

One calibration point (chunk C bytes, read fraction f) replays on ONE device of the preset:
  * runs of C contiguous bytes; each run starts at a uniformly random C-aligned address in
    the device's capacity (numpy Generator seeded by (seed, C, f), so one point can be
    regenerated alone and gives the same number);
  * a run is requests of the preset's access size (bus width x burst) in address order;
  * runs are reads or writes, interleaved so that after every run the number of reads so
    far is floor(runs * f) (Bresenham), i.e. exactly the fraction f of the runs, evenly spread;
  * enough runs for at least ``requests_per_point`` requests (at least one run);
  * every request arrives at clock 0, so the front end admits them as fast as the
    controller's queues accept: the device is saturated and the result is the bandwidth
    it achieves for that shape.
Measured: bytes per second sustained (all bytes / simulated time to the last data beat,
integer) and the mean read latency (admission to last data beat, integer ps; saturated,
so it includes queueing: it is not the unloaded latency).

Interpolation (``CalibrationTable.bandwidth``): bilinear, linear in log2(chunk) between the
two neighbouring table chunks and linear in the read fraction between the two neighbouring
table fractions; a chunk or fraction outside the table is clamped to its nearest end (a
chunk below the smallest takes the smallest chunk's value, above the largest the largest's).
The result is rounded to the nearest integer byte per second.

Storage: hw_configs/memory/calibration/<preset>.yaml beside the preset, with the
provenance (regenerating command, membound version, git commit, model, trace parameters,
seed, date) and a hash of the resolved DramConfig: ``load_calibration`` refuses a table
whose hash no longer matches the preset (stale) and names the command that regenerates it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import subprocess
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from sim.config import yamlfile as y
from sim.config.memory import PRESET_DIR, load_memory_config
from sim.errors import UserError
from sim.memory.dram import simulate
from sim.memory.dram_config import DramConfig
from workloads.traces import make_trace

DEFAULT_CHUNKS = tuple(64 << k for k in range(15))  # 64 B, 128 B, ..., 1 MiB
DEFAULT_READ_FRACTIONS = (1.0, 0.5, 0.0)
DEFAULT_REQUESTS_PER_POINT = 1 << 19  # 16 MiB of 32 B accesses: several tREFI of a stack
DEFAULT_SEED = 1
CALIBRATION_DIR_NAME = "calibration"
MODEL = "sim/memory/dram.py simulate(engine='fast') (numba kernel sim/kernels/dram.py)"
# DramConfig fields that cite or locate the preset but do not change its timing
_NOT_HASHED = ("path", "source", "follows")


@dataclass(frozen=True)
class CalibrationPoint:
    chunk_bytes: int
    read_fraction: float
    bytes_per_s: int
    read_latency_ps: int | None  # None when the point has no reads
    requests: int


@dataclass
class CalibrationTable:
    """Sustained bytes/s of one device of ``preset`` per (chunk, read fraction)."""

    preset: str
    preset_hash: str
    peak_bytes_per_s: int  # the preset's bus peak (all channels, every burst slot)
    access_bytes: int
    chunks: tuple[int, ...]  # ascending
    read_fractions: tuple[float, ...]  # ascending
    bytes_per_s: np.ndarray  # int64 [len(chunks), len(read_fractions)]
    read_latency_ps: np.ndarray  # int64, -1 where a point has no reads
    provenance: dict = field(default_factory=dict)
    preset_file: str = ""  # the preset YAML it was made from (not stored: it is the table's neighbour)

    def __post_init__(self) -> None:
        c, f = list(self.chunks), list(self.read_fractions)
        if not c or c != sorted(set(c)) or c[0] <= 0:
            raise ValueError("calibration chunks must be positive and strictly ascending")
        if not f or f != sorted(set(f)) or f[0] < 0 or f[-1] > 1:
            raise ValueError("read fractions must be strictly ascending within [0, 1]")
        if self.bytes_per_s.shape != (len(c), len(f)):
            raise ValueError("bytes_per_s must be chunks x read_fractions")

    def bandwidth(self, chunk_bytes: int, read_fraction: float) -> int:
        """Bytes/s for this access shape (rule in the module docstring)."""
        i, wc = _bracket([math.log2(c) for c in self.chunks], math.log2(max(chunk_bytes, 1)))
        j, wf = _bracket(list(self.read_fractions), float(read_fraction))
        bw = self.bytes_per_s.astype(float)

        def at(a: int) -> float:  # interpolate in the fraction within chunk row a
            return bw[a, j] if wf == 0.0 else (1 - wf) * bw[a, j] + wf * bw[a, j + 1]

        v = at(i) if wc == 0.0 else (1 - wc) * at(i) + wc * at(i + 1)
        return int(round(v))

    def point(self, chunk_bytes: int, read_fraction: float) -> CalibrationPoint:
        """A measured point of the table (KeyError if it is not one)."""
        try:
            i, j = self.chunks.index(chunk_bytes), self.read_fractions.index(read_fraction)
        except ValueError:
            raise KeyError((chunk_bytes, read_fraction)) from None
        lat = int(self.read_latency_ps[i, j])
        return CalibrationPoint(chunk_bytes, read_fraction, int(self.bytes_per_s[i, j]),
                                None if lat < 0 else lat, 0)


def _bracket(xs: list[float], x: float) -> tuple[int, float]:
    """(i, w): x lies between xs[i] and xs[i+1] at weight w in [0, 1); clamped at the ends."""
    if x <= xs[0] or len(xs) == 1:
        return 0, 0.0
    if x >= xs[-1]:
        return len(xs) - 1, 0.0
    i = bisect_right(xs, x) - 1
    return i, (x - xs[i]) / (xs[i + 1] - xs[i])


# --------------------------------------------------------------------------- measuring


def preset_hash(cfg: DramConfig) -> str:
    """SHA-256 of the resolved configuration's timing-relevant fields (not path or citations)."""
    d = dataclasses.asdict(cfg)
    for key in _NOT_HASHED:
        d.pop(key, None)
    if not d["controller"]["xor"]:  # added later: a preset without it hashes as it always did
        del d["controller"]["xor"]
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def peak_bytes_per_s(cfg: DramConfig) -> int:
    """One access per burst on every scheduled channel, in integer bytes/s (rounded down)."""
    return cfg.scheduled_channels * cfg.access_bytes * 10**12 // (cfg.timing.BURST * cfg.tck_ps)


def shape_trace(cfg: DramConfig, chunk_bytes: int, read_fraction: float, requests: int,
                seed: int) -> np.ndarray:
    """The saturated trace of one calibration point (see the module docstring)."""
    access = cfg.access_bytes
    if chunk_bytes < access or chunk_bytes % access:
        raise UserError(f"calibration chunk {chunk_bytes} B is not a multiple of the "
                        f"{access} B access of {cfg.name}")
    if chunk_bytes > cfg.capacity_bytes:
        raise UserError(f"calibration chunk {chunk_bytes} B exceeds the "
                        f"{cfg.capacity_bytes} B capacity of {cfg.name}")
    if not 0.0 <= read_fraction <= 1.0:
        raise UserError(f"read fraction must be within [0, 1], got {read_fraction}")
    per_run = chunk_bytes // access
    runs = max(1, -(-requests // per_run))
    # seeded by the point itself, so a point regenerated alone draws the same addresses
    rng = np.random.default_rng([seed, chunk_bytes, round(read_fraction * 10**6)])
    starts = rng.integers(0, cfg.capacity_bytes // chunk_bytes, runs, dtype=np.int64) * chunk_bytes
    addr = (starts[:, None] + np.arange(per_run, dtype=np.int64)[None, :] * access).ravel()
    frac = Fraction(read_fraction).limit_denominator(10**6)
    k = np.arange(runs + 1, dtype=np.int64)
    reads_so_far = k * frac.numerator // frac.denominator
    run_is_write = np.diff(reads_so_far) == 0
    is_write = np.repeat(run_is_write, per_run)
    return make_trace(addr, is_write, np.zeros(len(addr), np.int64))


def measure_point(cfg: DramConfig, chunk_bytes: int, read_fraction: float, requests: int,
                  seed: int) -> CalibrationPoint:
    """Replay one shape on one device; its sustained bytes/s and mean read latency."""
    trace = shape_trace(cfg, chunk_bytes, read_fraction, requests, seed)
    res = simulate(cfg, trace["addr"], trace["is_write"], trace["arrival"],
                   request_bytes=cfg.access_bytes, source=f"calibration of {cfg.name}")
    end_ps = res.raw.end_clk * cfg.tck_ps
    nbytes = len(trace) * cfg.access_bytes
    bw = nbytes * 10**12 // end_ps
    has_reads = bool(np.count_nonzero(~trace["is_write"]))
    lat = round(res.summary["read_latency_ns"]["mean"] * 1000) if has_reads else None
    return CalibrationPoint(chunk_bytes, float(read_fraction), int(bw), lat, len(trace))


def calibrate(preset: str, *, chunks: Sequence[int] = DEFAULT_CHUNKS,
              read_fractions: Sequence[float] = DEFAULT_READ_FRACTIONS,
              requests_per_point: int = DEFAULT_REQUESTS_PER_POINT,
              seed: int = DEFAULT_SEED) -> CalibrationTable:
    """Measure every (chunk, read fraction) of ``preset`` (a name or a YAML path)."""
    if requests_per_point < 1:
        raise UserError(f"requests per point must be at least 1, got {requests_per_point}")
    if seed < 0:
        raise UserError(f"the calibration seed must be >= 0, got {seed}")
    cfg = load_memory_config(preset)
    cs = tuple(sorted(set(int(c) for c in chunks)))
    fs = tuple(sorted(set(float(f) for f in read_fractions)))
    bw = np.zeros((len(cs), len(fs)), np.int64)
    lat = np.full((len(cs), len(fs)), -1, np.int64)
    for i, c in enumerate(cs):
        for j, f in enumerate(fs):
            p = measure_point(cfg, c, f, requests_per_point, seed)
            bw[i, j] = p.bytes_per_s
            lat[i, j] = -1 if p.read_latency_ps is None else p.read_latency_ps
    name = _preset_key(preset)
    provenance = {
        "command": f"membound calibrate --memory {name}"
                   + ("" if requests_per_point == DEFAULT_REQUESTS_PER_POINT
                      else f" --requests {requests_per_point}")
                   + ("" if seed == DEFAULT_SEED else f" --seed {seed}"),
        "membound_version": _membound_version(),
        "git_commit": _git_commit(),
        "model": MODEL,
        "preset_file": _relative(cfg.path),
        "trace": {
            "device": "one device (stack or DIMM) of the preset",
            "request_bytes": cfg.access_bytes,
            "requests_per_point": requests_per_point,
            "runs": "chunk contiguous bytes from a uniform random chunk-aligned address",
            "read_write": "runs interleaved, reads so far = floor(runs x read_fraction)",
            "arrival": "all at clock 0 (saturated: admitted as fast as the queues accept)",
        },
        "seed": seed,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return CalibrationTable(cfg.name, preset_hash(cfg), peak_bytes_per_s(cfg), cfg.access_bytes,
                            cs, fs, bw, lat, provenance, preset_file=str(cfg.path))


def _membound_version() -> str:
    from sim.results import membound_version

    return membound_version()


def _git_commit() -> str:
    """HEAD of the source tree (+ '-dirty' with uncommitted changes), or 'unknown'.

    The tables themselves are left out of the check: regenerating several rewrites them
    one after another, and that alone must not mark the later ones dirty."""
    root = PRESET_DIR.parents[1]
    tables = (PRESET_DIR / CALIBRATION_DIR_NAME).relative_to(root)
    exclude = [f":(exclude){tables}"]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", ".", *exclude],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _relative(path: str) -> str:
    p = Path(path).resolve()
    try:
        return str(p.relative_to(PRESET_DIR.parents[1]))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------- storage


def _preset_key(preset: str) -> str:
    return Path(preset).stem if y.is_file_ref(preset) else preset


def calibration_path(preset: str) -> Path:
    """hw_configs/memory/calibration/<preset>.yaml (beside a preset given as a file)."""
    if y.is_file_ref(preset):
        p = Path(preset)
        return p.parent / CALIBRATION_DIR_NAME / f"{p.stem}.yaml"
    return PRESET_DIR / CALIBRATION_DIR_NAME / f"{preset}.yaml"


def calibrated_presets() -> list[str]:
    """Presets of hw_configs/memory that have a calibration table."""
    return y.preset_names(PRESET_DIR / CALIBRATION_DIR_NAME)


def table_yaml(table: CalibrationTable) -> str:
    """The stored form: a header comment, scalars, provenance, then one line per point."""
    lines = [
        f"# Achievable bandwidth of one {table.preset} device per access shape, measured on the",
        "# request-level DRAM model (sim/memory/calibration.py). Generated: do not edit;",
        f"# regenerate with `{table.provenance.get('command', 'membound calibrate')}`.",
        f"preset: {table.preset}",
        f"preset_hash: {table.preset_hash}",
        f"peak_bytes_per_s: {table.peak_bytes_per_s}",
        f"access_bytes: {table.access_bytes}",
        "provenance:",
    ]
    for key, value in table.provenance.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines += [f"    {k}: {json.dumps(v)}" for k, v in value.items()]
        else:
            lines.append(f"  {key}: {json.dumps(value)}")
    lines.append(f"read_fractions: [{', '.join(repr(f) for f in table.read_fractions)}]")
    lines.append("points:  # bytes_per_s sustained; read_latency_ps mean, saturated (null: no reads)")
    for i, c in enumerate(table.chunks):
        for j, f in enumerate(table.read_fractions):
            lat = int(table.read_latency_ps[i, j])
            lines.append(f"  - {{chunk_bytes: {c}, read_fraction: {f!r}, "
                         f"bytes_per_s: {int(table.bytes_per_s[i, j])}, "
                         f"read_latency_ps: {'null' if lat < 0 else lat}}}")
    return "\n".join(lines) + "\n"


def save_calibration(table: CalibrationTable, path: str | Path | None = None) -> Path:
    """Write ``table`` to ``path``, by default beside the preset file it was made from."""
    if path is None:
        path = calibration_path(table.preset_file or table.preset)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(table_yaml(table))
    except OSError as exc:
        raise UserError(f"{path}: cannot write the calibration table: {exc.strerror or exc}") from None
    return path


def read_calibration(path: str | Path) -> CalibrationTable:
    """Parse a stored table (no staleness check); malformed files raise ConfigError."""
    root = y.load_yaml(path)
    y.check_keys(root, ("preset", "preset_hash", "peak_bytes_per_s", "access_bytes",
                        "provenance", "read_fractions", "points"))
    fr_node = y.require(root, "read_fractions")
    if not isinstance(fr_node.value, list) or not fr_node.value:
        raise fr_node.error("expected a non-empty list of read fractions")
    fractions = tuple(float(y.as_number(n)) for n in fr_node.value)
    pts = y.require(root, "points")
    if not isinstance(pts.value, list) or not pts.value:
        raise pts.error("expected a non-empty list of points")
    cells: dict[tuple[int, float], tuple[int, int]] = {}
    for node in pts.value:
        if not node.is_mapping:
            raise node.error("expected a mapping {chunk_bytes, read_fraction, bytes_per_s, ...}")
        y.check_keys(node, ("chunk_bytes", "read_fraction", "bytes_per_s", "read_latency_ps"))
        c = y.as_int(y.require(node, "chunk_bytes"))
        f = float(y.as_number(y.require(node, "read_fraction")))
        if f not in fractions:
            raise node.value["read_fraction"].error(f"{f} is not one of read_fractions {list(fractions)}")
        lat_node = node.get("read_latency_ps")
        lat = -1 if lat_node is None or lat_node.value is None else y.as_int(lat_node, minimum=0)
        cells[(c, f)] = (y.as_int(y.require(node, "bytes_per_s")), lat)
    chunks = tuple(sorted({c for c, _ in cells}))
    fs = tuple(sorted(fractions))
    for c in chunks:
        for f in fs:
            if (c, f) not in cells:
                raise pts.error(f"no point for chunk_bytes {c}, read_fraction {f}: "
                                "the table must be a full grid")
    bw = np.array([[cells[(c, f)][0] for f in fs] for c in chunks], np.int64)
    lat = np.array([[cells[(c, f)][1] for f in fs] for c in chunks], np.int64)
    prov = root.get("provenance")
    return CalibrationTable(
        preset=y.as_str(y.require(root, "preset")),
        preset_hash=y.as_str(y.require(root, "preset_hash")),
        peak_bytes_per_s=y.as_int(y.require(root, "peak_bytes_per_s")),
        access_bytes=y.as_int(y.require(root, "access_bytes")),
        chunks=chunks, read_fractions=fs, bytes_per_s=bw, read_latency_ps=lat,
        provenance=_plain(prov) if prov is not None else {},
    )


def _plain(node: y.Node) -> object:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def load_calibration(preset: str) -> CalibrationTable:
    """The stored table of ``preset``; UserError if it is missing or stale."""
    key = _preset_key(preset)
    cfg = load_memory_config(preset)  # an unknown preset fails here, with its own message
    path = calibration_path(preset)
    command = f"membound calibrate --memory {preset}"
    if not path.is_file():
        raise UserError(f"no calibration table for memory preset '{key}' ({path}); "
                        f"generate it with `{command}`")
    table = read_calibration(path)
    table.preset_file = str(cfg.path)
    if table.preset_hash != preset_hash(cfg):
        raise UserError(f"{path}: calibration table is stale: memory preset '{key}' has changed "
                        f"since it was generated; regenerate it with `{command}`")
    return table
