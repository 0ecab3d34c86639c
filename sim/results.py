"""The results store: DIR/results.sqlite, one row per point, and its CSV mirror.

Tables
    points  one row per point ever run here, keyed by the SHA-256 of its fully resolved
            configuration and the membound version (see point_key): status 'ok' or 'failed',
            the engine's result as JSON, the error message and traceback of a failure.
    plan    the current experiment's points in sweep order: swept values, baseline group,
            whether the point is its group's baseline, and the key of its row in `points`.
    meta    name, experiment YAML, swept keys, baseline, log-spaced axes, version.

The sweep commits each point as it finishes (WAL journal, synchronous=FULL), so a run killed
at any moment keeps every finished point, and the next run skips them. Only the process that
drives the sweep writes; workers return results to it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.config.yamlfile import did_you_mean
from sim.errors import UserError

DB_NAME = "results.sqlite"
CSV_NAME = "results.csv"
SCHEMA_VERSION = "1"
TIER_FIELDS = ("bandwidth_gb_per_s", "peak_gb_per_s", "utilization", "bytes_read",
               "bytes_written")
CSV_TAIL = ("status", "error", "point")
# The metrics results.csv carries, beside the swept keys, simulated time, speedup, each busy
# tier's bandwidth and utilization and whatever the experiment's plots show: the numbers
# people compare across points. Every other stored quantity (layout addresses, per-op-type
# counts, correctness checks, ...) stays in results.sqlite, reachable by ResultSet.value(),
# by plots and by `sqlite3` (README, "Results").
HEADLINE_METRICS = (
    # request-level machine (sim/point.py)
    "threads", "mean_load_latency_ns", "issue_utilization", "dram_row_hit_rate",
    "atomics_per_s",
    # SpGEMM (workloads/spgemm); check.ok: the product matched scipy's
    "flops", "nnz_c_structural", "redundant_fetch_factor", "load_imbalance", "check.ok",
    # LLM task graphs (sim/llm)
    "runtime_ms", "time_per_step_ms", "tokens_per_s", "tflop_per_s", "hbm_gb",
    "intensity_flop_per_byte", "max_batch", "kv_utilisation", "switch_ms",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    result TEXT,
    error TEXT,
    detail TEXT,
    wall_s REAL,
    version TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plan (
    idx INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    params TEXT NOT NULL,
    grp TEXT NOT NULL,
    is_baseline INTEGER NOT NULL
);
"""


def membound_version() -> str:
    try:
        return metadata.version("membound")
    except metadata.PackageNotFoundError:
        return "unknown"


def point_key(config: Any, version: str | None = None) -> str:
    """SHA-256 (hex) of the resolved configuration and the membound version, keys sorted."""
    text = json.dumps({"config": config, "membound": version or membound_version()},
                      sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(obj: object) -> object:
    if hasattr(obj, "item") and not hasattr(obj, "__len__"):
        return obj.item()  # numpy scalar
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


def to_json(data: Any, sort_keys: bool = False) -> str:
    """JSON text (numpy values converted); key order kept unless sort_keys."""
    return json.dumps(data, sort_keys=sort_keys, default=_json_default, allow_nan=True)


@dataclass
class PlanRow:
    index: int
    key: str
    params: dict[str, Any]
    group: str
    is_baseline: bool


class ResultStore:
    """DIR/results.sqlite. Open one per process; the sweep's driver is the only writer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"{self.path}: cannot open the results store: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing

    def set_plan(self, meta: dict[str, Any], rows: Sequence[PlanRow]) -> None:
        """Replace the metadata and the plan (one transaction)."""
        with self._tx():
            for k, v in meta.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, to_json(v)))
            self.db.execute("DELETE FROM plan")
            self.db.executemany(
                "INSERT INTO plan VALUES (?, ?, ?, ?, ?)",
                [(r.index, r.key, to_json(r.params), r.group, int(r.is_baseline)) for r in rows])

    def record(self, key: str, config: Any, status: str, result: dict | str | None = None,
               error: str | None = None, detail: str | None = None,
               wall_s: float | None = None, version: str | None = None) -> None:
        """Store one finished point and commit at once (result: a dict or its JSON text)."""
        when = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, to_json(config, sort_keys=True), status,
                 result if result is None or isinstance(result, str) else to_json(result),
                 error, detail, wall_s, version or membound_version(), when))

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)

    # -- reading

    def finished_keys(self) -> set[str]:
        """Keys of the points that finished successfully (failed points are retried)."""
        return {r[0] for r in self.db.execute("SELECT key FROM points WHERE status = 'ok'")}

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def load(self) -> ResultSet:
        meta = self.meta()
        rows = []
        q = ("SELECT plan.idx, plan.key, plan.params, plan.grp, plan.is_baseline, points.status, "
             "points.result, points.error, points.config FROM plan LEFT JOIN points "
             "ON plan.key = points.key ORDER BY plan.idx")
        for idx, key, params, grp, base, status, result, error, config in self.db.execute(q):
            rows.append(Row(idx, key, json.loads(params), grp, bool(base), status or "pending",
                            json.loads(result) if result else None, error,
                            json.loads(config) if config else None))
        return ResultSet(meta.get("name", ""), meta.get("swept_keys", []),
                         meta.get("baseline", {}), meta.get("log_axes", []),
                         meta.get("experiment_yaml", ""), meta, rows)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def open_results(out_dir: str | Path) -> ResultSet:
    """The stored results of DIR (a directory holding results.sqlite, or the file itself)."""
    path = Path(out_dir)
    db = path if path.suffix == ".sqlite" else path / DB_NAME
    if not db.is_file():
        raise UserError(f"{db}: no results store here (run `membound run EXPERIMENT.yaml "
                        f"--out {path}` first)")
    with ResultStore(db) as store:
        rs = store.load()
    if not rs.rows:
        raise UserError(f"{db}: the store holds no experiment plan")
    return rs


# --------------------------------------------------------------------------- reading results


@dataclass
class Row:
    """One point of the plan with its stored outcome (status 'pending' when not run yet)."""

    index: int
    key: str
    params: dict[str, Any]
    group: str
    is_baseline: bool
    status: str
    result: dict[str, Any] | None
    error: str | None
    config: Any
    speedup: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.result is not None

    def tiers(self) -> dict[str, dict[str, Any]]:
        return (self.result or {}).get("tiers") or {}

    def metrics(self) -> dict[str, Any]:
        return (self.result or {}).get("metrics") or {}


@dataclass
class ResultSet:
    name: str
    swept_keys: list[str]
    baseline: dict[str, Any]
    log_axes: list[str]
    experiment_yaml: str
    meta: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._speedups()

    def _speedups(self) -> None:
        base = {r.group: r for r in self.rows if r.is_baseline}
        for r in self.rows:
            b = base.get(r.group)
            t, bt = self.value(r, "sim_time_ns"), b and self.value(b, "sim_time_ns")
            ok = b is not None and r.ok and b.ok and _num(t) and _num(bt) and t > 0
            r.speedup = bt / t if ok else None

    @property
    def ok_rows(self) -> list[Row]:
        return [r for r in self.rows if r.ok]

    def tiers(self) -> list[str]:
        return _union(r.tiers() for r in self.rows)

    def metric_names(self) -> list[str]:
        return _union(r.metrics() for r in self.rows)

    def stall_names(self) -> list[str]:
        return _union((r.result or {}).get("stalls") or {} for r in self.rows)

    def baseline_row(self, group: str) -> Row | None:
        return next((r for r in self.rows if r.is_baseline and r.group == group), None)

    def columns(self) -> list[str]:
        """Every column value() understands (for suggestions)."""
        cols = [*self.swept_keys, "sim_time_ns", "speedup"]
        for t in self.tiers():
            cols += [f"{t}.{f}" for f in TIER_FIELDS]
        cols += ["compute.ops", "compute.peak_ops_per_s", "compute.ops_per_s"]
        cols += [f"stalls.{s}" for s in self.stall_names()]
        cols += [self.metric_column(m) for m in self.metric_names()]
        return cols

    def metric_column(self, name: str) -> str:
        """A metric's column: its own name unless that collides with a fixed column."""
        fixed = {*self.swept_keys, "sim_time_ns", "speedup", *CSV_TAIL}
        fixed |= {f"{t}.{f}" for t in self.tiers() for f in TIER_FIELDS}
        return f"metrics.{name}" if name in fixed or "." in name else name

    def check_column(self, column: str, what: str = "metric") -> None:
        cols = self.columns()
        if column not in cols and not (column.startswith("metrics.")
                                       and column[8:] in self.metric_names()):
            raise UserError(f"unknown {what} '{column}'{did_you_mean(column, cols)}; "
                            f"available: {', '.join(cols)}")

    def value(self, row: Row, column: str) -> Any:
        """The value of a column for one point (None when absent or the point failed)."""
        if column in row.params:
            return row.params[column]
        if column == "speedup":
            return row.speedup
        res = row.result or {}
        if column == "sim_time_ns":
            return res.get("sim_time_ns")
        metrics = row.metrics()
        if column.startswith("metrics."):
            return metrics.get(column[8:])
        head, _, rest = column.partition(".")
        if head == "compute" and rest:
            comp = res.get("compute") or {}
            if rest == "ops_per_s":
                t, ops = res.get("sim_time_ns"), comp.get("ops")
                return ops / (t * 1e-9) if _num(t) and _num(ops) and t > 0 else None
            return comp.get(rest)
        if head == "stalls" and rest:
            return (res.get("stalls") or {}).get(rest)
        tiers = row.tiers()
        if head in tiers and rest:
            return tiers[head].get(rest)
        return metrics.get(column)

    # -- CSV

    def csv_columns(self) -> list[str]:
        """Swept keys, sim_time_ns, speedup, bandwidth and utilization of each tier that moved
        a byte, the headline metrics (HEADLINE_METRICS) and the columns the experiment plots,
        then status, error and point. The rest of a result stays in the store."""
        cols = [*self.swept_keys, "sim_time_ns", "speedup"]
        for t in self.tiers():
            if self._moved_bytes(t):
                cols += [f"{t}.bandwidth_gb_per_s", f"{t}.utilization"]
        plotted = [c for c in self.plotted_columns() if c not in cols]
        for m in self.metric_names():
            col = self.metric_column(m)
            if m in HEADLINE_METRICS or col in plotted or m in plotted:
                cols.append(col)
        known = set(self.columns())
        cols += [c for c in plotted if c not in cols and c in known]
        return [*cols, *CSV_TAIL]

    def _moved_bytes(self, tier: str) -> bool:
        """Whether any finished point moved data through `tier` (idle tiers stay out of the
        CSV); True when no point has finished, so a pending sweep keeps its columns."""
        done = [r.tiers().get(tier) for r in self.ok_rows]
        if not done:
            return True
        return any(_num(v) and v > 0 for d in done if d
                   for f, v in d.items() if f in ("bytes_read", "bytes_written",
                                                 "bandwidth_gb_per_s"))

    def plotted_columns(self) -> list[str]:
        """The `y` of each plot in the stored experiment YAML (the metrics it is about)."""
        text = self.experiment_yaml
        if not text:
            return []
        try:
            from ruamel.yaml import YAML

            doc = YAML(typ="safe", pure=True).load(text)
        except Exception:  # a copy that does not parse names no plots; the run checked it
            return []
        plots = doc.get("plots") if isinstance(doc, dict) else None
        out: list[str] = []
        for p in plots if isinstance(plots, list) else []:
            y = p.get("y") if isinstance(p, dict) else None
            if isinstance(y, str) and y not in out:
                out.append(y)
        return out

    def csv_rows(self) -> list[list[Any]]:
        cols = self.csv_columns()
        out = []
        for r in self.rows:
            tail = {"status": r.status, "error": r.error or "", "point": r.key[:16]}
            out.append([tail[c] if c in tail else self.value(r, c) for c in cols])
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.csv_columns())
        for row in self.csv_rows():
            w.writerow(["" if v is None else _csv_cell(v) for v in row])
        return buf.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        return write_atomic(Path(path), self.to_csv())


def _csv_cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return v


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write via a temporary file and rename, so readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _union(dicts: Iterable[dict]) -> list[str]:
    out: dict[str, None] = {}
    for d in dicts:
        for k in d:
            out.setdefault(k, None)
    return list(out)
