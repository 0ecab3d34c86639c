"""Run an experiment's points in parallel and commit each one to the results store.

    plan_experiment()  parse the YAML, expand the sweep, resolve every point through the engine
                       and check the plots' metrics (so a typo anywhere fails before anything
                       runs) and hash each point
    run_experiment()   skip the points already stored, run the rest in local processes
                       (ProcessPoolExecutor) or on a Dask cluster, commit each as it finishes,
                       then write results.csv (and, by default, the plots and report)

The engine is a module with `resolve_point(hardware, overrides, workload, seed)` and
`run_resolved(point)` (the contract in sim/point.py), and optionally `result_skeleton(point)`
(a point's result keys, to check plot metrics before running) and `sweep_warnings(points)`.
Its dotted path is the one place that
names it: `ENGINE`, replaced with set_engine() (tests use a fake). Workers receive the path
string and import it themselves, so the choice carries across processes and machines.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType
from typing import Any

from sim.config.errors import ConfigError
from sim.config.yamlfile import did_you_mean
from sim.errors import UserError
from sim.experiment import Axis, Experiment, NotSwept, PointSpec, load_experiment
from sim.results import (
    CSV_NAME,
    DB_NAME,
    PlanRow,
    ResultSet,
    ResultStore,
    Row,
    membound_version,
    point_key,
    to_json,
    write_atomic,
)

ENGINE = "sim.point"
_engine = ENGINE


def set_engine(module: str | None) -> None:
    """Use another engine module (dotted path; None restores sim.point)."""
    global _engine
    _engine = module or ENGINE


def engine_name() -> str:
    return _engine


def load_engine(name: str | None = None) -> ModuleType:
    name = name or _engine
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UserError(f"the simulation engine '{name}' is not installed") from None
        raise
    for fn in ("resolve_point", "run_resolved"):
        if not callable(getattr(mod, fn, None)):
            raise UserError(f"the simulation engine '{name}' has no {fn}()")
    return mod


@dataclass
class PlannedPoint:
    spec: PointSpec
    resolved: Any  # the engine's ResolvedPoint
    config: Any  # resolved.key(): JSON-serialisable
    key: str

    @property
    def label(self) -> str:
        return self.spec.label


def plan_experiment(path: str | Path, engine: ModuleType | None = None
                    ) -> tuple[Experiment, list[PlannedPoint]]:
    """Parse, expand and resolve every point, check the plots' metrics.

    Raises ConfigError/UserError before any point runs. The returned experiment may differ
    from the file's parse: a range on an integer key has its values rounded (Axis.int_values).
    """
    engine = engine or load_engine()
    try:
        exp = load_experiment(path)
    except NotSwept:
        # 'baseline: {k: ..}' with k misspelled in the sweep would suggest the typo: let the
        # engine judge the swept keys first, its error names the sweep line and the right key
        _resolve_all(load_experiment(path, references=False), engine)
        raise
    exp, planned = _resolve_all(exp, engine)
    check_plot_metrics(exp, planned, engine)
    return exp, planned


def _resolve_all(exp: Experiment, engine: ModuleType) -> tuple[Experiment, list[PlannedPoint]]:
    """Every point resolved; a range the engine finds on an integer key is rounded first."""
    while True:
        try:
            return exp, [_resolve(exp, spec, engine) for spec in exp.points()]
        except ConfigError as exc:
            axis = _integer_range(exp, exc)
            if axis is None:
                raise
            problem = axis.integer_error()
            if problem is not None:
                raise axis.entry.error(f"takes integers, but {problem}") from None
            exp = exp.with_integer_axis(axis.key)


def _integer_range(exp: Experiment, exc: ConfigError) -> Axis | None:
    """The range axis whose generated value `exc` refused for not being an integer."""
    if not exc.message.startswith("expected an integer, got number"):
        return None
    for a in exp.axes:
        if (a.entry.is_mapping and exc.path == a.entry.path and exc.line == a.entry.line
                and (exc.key_path == a.entry.where
                     or exc.key_path.endswith(a.key.split(".", 1)[1]))):
            return a
    return None


def _resolve(exp: Experiment, spec: PointSpec, engine: ModuleType) -> PlannedPoint:
    try:
        resolved = engine.resolve_point(spec.hardware, spec.overrides, spec.workload, spec.seed)
    except ConfigError as exc:
        if exc.path == str(exp.path) or not spec.params:
            raise
        # the mistake is in another file (a preset): say which point it broke
        raise ConfigError(exc.path, exc.line, exc.key_path,
                          f"{exc.message} (point {spec.index} of {exp.path}: "
                          f"{spec.label})") from None
    except UserError as exc:
        where = f"point {spec.index} ({spec.label})" if spec.params else "the point"
        raise UserError(f"{exp.path}: {where}: {exc}") from None
    config = resolved.key()
    return PlannedPoint(spec, resolved, config, point_key(config, membound_version()))


# plot kinds whose y is a result column (sim/plots.py checks the same when drawing)
Y_PLOTS = ("line", "bar", "heatmap")
MAX_COLUMNS_SHOWN = 30


def check_plot_metrics(exp: Experiment, planned: list[PlannedPoint], engine: ModuleType
                       ) -> None:
    """Each plot's y is a column the points will have (ConfigError at the plot otherwise).

    The engine's optional result_skeleton(point) gives a point's result keys without running
    it; when it has none (or returns None for some point) the check waits for the drawing.
    """
    specs = [p for p in exp.plots if p.kind in Y_PLOTS and p.y and p.node is not None]
    skeleton = getattr(engine, "result_skeleton", None)
    if not specs or skeleton is None:
        return
    rows = []
    for p in planned:
        result = skeleton(p.resolved)
        if result is None:
            return
        rows.append(Row(p.spec.index, p.key, p.spec.params, p.spec.group, p.spec.is_baseline,
                        "ok", result, None, p.config))
    rs = ResultSet(exp.name, exp.swept_keys, exp.baseline, exp.log_axes, "", {}, rows)
    cols = rs.columns()
    for spec in specs:
        y = spec.y
        assert y is not None
        if y in cols or (y.startswith("metrics.") and y[8:] in rs.metric_names()):
            continue
        shown = ", ".join(cols[:MAX_COLUMNS_SHOWN])
        if len(cols) > MAX_COLUMNS_SHOWN:
            shown += f", ... ({len(cols) - MAX_COLUMNS_SHOWN} more)"
        node = spec.field_node("y")
        assert node is not None
        raise node.error(f"unknown metric '{y}'{did_you_mean(y, cols)}; available: {shown}")


def plan_warnings(planned: list[PlannedPoint], engine: ModuleType) -> list[str]:
    """The engine's optional sweep_warnings(points): legal but probably unintended sweeps."""
    hook = getattr(engine, "sweep_warnings", None)
    return list(hook([p.resolved for p in planned])) if hook is not None else []


def check_cluster_address(address: str) -> None:
    """A Dask scheduler address that can be dialled (scheme, host, port); UserError if not.

    Checked before planning: a Client given a malformed address raises, then hangs 20 s in
    its finaliser and prints a traceback.
    """
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import get_backend
    except ImportError:
        raise UserError("--cluster needs dask.distributed: pip install "
                        "'dask[distributed]'") from None
    hint = "expected a scheduler address such as tcp://host:8786"
    try:
        scheme, loc = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            host, port = parse_host_port(loc)
            if not host or not 0 < int(port) < 65536:
                raise ValueError(f"bad host or port in {address!r}")
    except (ValueError, TypeError) as exc:
        raise UserError(f"--cluster {address!r}: {hint} ({' '.join(str(exc).split())})"
                        ) from None


# --------------------------------------------------------------------------- workers


def run_point(engine: str, resolved: Any) -> tuple[str, str | None, str | None, str | None,
                                                   float]:
    """Worker side: (status, result JSON, error message, traceback, wall seconds).

    Exceptions become a 'failed' outcome so one bad point never stops the others.
    """
    t0 = time.perf_counter()
    try:
        result = load_engine(engine).run_resolved(resolved)
        problem = _check_result(result)
        if problem:
            raise ValueError(f"engine result {problem}")
        return "ok", to_json(result), None, None, time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - recorded with the point, never lost
        msg = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        return ("failed", None, " ".join(msg.split()), traceback.format_exc(),
                time.perf_counter() - t0)


def _check_result(result: Any) -> str | None:
    if not isinstance(result, dict):
        return f"is a {type(result).__name__}, not a dict"
    t = result.get("sim_time_ns")
    if isinstance(t, bool) or not isinstance(t, int | float):
        return "has no numeric sim_time_ns"
    return None


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the driving process dies (e.g. SIGKILL)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


Outcome = tuple[str, str | None, str | None, str | None, float]


class _Serial:
    """--jobs 1: run in this process, one point per next()."""

    def __init__(self, engine: str) -> None:
        self.engine = engine

    def run(self, todo: list[PlannedPoint]) -> Iterator[tuple[PlannedPoint, Outcome]]:
        for p in todo:
            yield p, run_point(self.engine, p.resolved)

    def close(self) -> None:
        pass


class _Local:
    def __init__(self, engine: str, jobs: int) -> None:
        self.engine = engine
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                        initializer=_watch_parent, initargs=(os.getpid(),))
        self.pending: dict[Future, PlannedPoint] = {}

    def run(self, todo: list[PlannedPoint]) -> Iterator[tuple[PlannedPoint, Outcome]]:
        self.pending = {self.pool.submit(run_point, self.engine, p.resolved): p for p in todo}
        while self.pending:
            done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            for fut in done:
                p = self.pending.pop(fut)
                yield p, _outcome(fut)

    def close(self) -> None:
        for fut in self.pending:
            fut.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Dask:
    def __init__(self, engine: str, address: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise UserError("--cluster needs dask.distributed: pip install "
                            "'dask[distributed]'") from None
        self.engine = engine
        check_cluster_address(address)
        try:
            self.client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot connect to the Dask scheduler at {address}: "
                            f"{' '.join(str(exc).split()) or type(exc).__name__}") from None
        self.pending: dict[Any, PlannedPoint] = {}

    def run(self, todo: list[PlannedPoint]) -> Iterator[tuple[PlannedPoint, Outcome]]:
        from dask.distributed import as_completed

        token = uuid.uuid4().hex[:12]
        futures = [self.client.submit(run_point, self.engine, p.resolved, pure=False,
                                      key=f"membound-{token}-{i}-{p.key[:16]}")
                   for i, p in enumerate(todo)]
        self.pending = dict(zip(futures, todo, strict=True))
        for fut in as_completed(futures, loop=self.client.loop):
            p = self.pending.pop(fut)
            yield p, _outcome(fut)

    def close(self) -> None:
        if self.pending:
            self.client.cancel(list(self.pending))
        self.client.close()


def _outcome(fut: Any) -> Outcome:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a worker died or the cluster failed the task
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        return "failed", None, f"worker failed: {msg}", None, 0.0


# --------------------------------------------------------------------------- driver


@dataclass
class RunSummary:
    name: str
    out_dir: Path
    total: int  # points in the plan
    unique: int  # distinct resolved configurations
    skipped: int  # already in the store
    ran: int
    failed: int
    wall_s: float
    failures: list[tuple[str, str]] = field(default_factory=list)  # (label, error)
    outputs: list[Path] = field(default_factory=list)
    report_error: UserError | None = None  # a requested plot that could not be drawn


def run_experiment(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    jobs: int | None = None,
    cluster: str | None = None,
    resume: bool = True,
    progress: bool = True,
    report: bool = True,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
) -> RunSummary:
    """Plan, run what is not stored yet, commit each point, write results.csv (and report).

    warn receives each warning about the plan (default: 'membound: warning: ...' on stderr).
    """
    t0 = time.perf_counter()
    if cluster:
        check_cluster_address(cluster)
    engine = engine_name()
    mod = load_engine(engine)
    exp, planned = plan_experiment(path, mod)
    for message in plan_warnings(planned, mod):
        (warn or _stderr)(f"warning: {message}")
    out = Path(out_dir) if out_dir is not None else Path("reports") / exp.name
    store = ResultStore(out / DB_NAME)
    try:
        _copy_experiment(exp, out)
        meta = {"name": exp.name, "experiment_yaml": exp.text, "experiment_path": str(exp.path),
                "hardware": exp.hardware,
                "swept_keys": exp.swept_keys, "baseline": exp.baseline,
                "log_axes": exp.log_axes, "version": membound_version(), "engine": engine,
                "schema": "1"}
        store.set_plan(meta, [PlanRow(p.spec.index, p.key, p.spec.params, p.spec.group,
                                      p.spec.is_baseline) for p in planned])
        unique: dict[str, PlannedPoint] = {}
        for p in planned:
            unique.setdefault(p.key, p)
        done = store.finished_keys() if resume else set()
        todo = [p for k, p in unique.items() if k not in done]
        skipped = len(unique) - len(todo)
        head = f"membound run: {exp.name}, {len(planned)} points"
        if len(unique) != len(planned):
            head += f" ({len(unique)} distinct)"
        if skipped:
            head += f", {skipped} already in {out / DB_NAME}"
        if todo:
            echo(f"{head}; running {len(todo)} {_where(cluster, jobs, len(todo))}")
        else:
            echo(f"{head}; nothing to run")
        try:
            failures = _execute(store, todo, engine, jobs, cluster, progress, exp.name)
        except KeyboardInterrupt:
            n = len(store.finished_keys() & set(unique))
            echo(f"interrupted: {n} of {len(unique)} points are stored in {out / DB_NAME}; "
                 "run again to resume")
            raise
        summary = RunSummary(exp.name, out, len(planned), len(unique), skipped, len(todo),
                             len(failures), 0.0, failures)
    finally:
        try:  # the CSV mirrors whatever is stored, also after an interruption
            rs = store.load()
            csv_path = rs.write_csv(out / CSV_NAME)
        finally:
            store.close()
    summary.outputs.append(csv_path)
    if report:
        from sim.report import build_report

        try:
            summary.outputs += build_report(out, rs=rs, experiment=exp)
        except UserError as exc:  # results are stored; the caller reports this after them
            summary.report_error = exc
    summary.wall_s = time.perf_counter() - t0
    return summary


def _stderr(message: str) -> None:
    print(f"membound: {message}", file=sys.stderr)


def _where(cluster: str | None, jobs: int | None, n: int) -> str:
    if cluster:
        return f"on the Dask cluster at {cluster}"
    j = min(jobs or os.cpu_count() or 1, max(n, 1))
    return "in this process" if j == 1 else f"in {j} processes"


def _copy_experiment(exp: Experiment, out: Path) -> None:
    dest = out / "experiment.yaml"
    if dest.exists() and dest.resolve() == exp.path.resolve():
        return
    write_atomic(dest, exp.text)


def _execute(store: ResultStore, todo: list[PlannedPoint], engine: str, jobs: int | None,
             cluster: str | None, progress: bool, name: str) -> list[tuple[str, str]]:
    from tqdm import tqdm

    failures: list[tuple[str, str]] = []
    if not todo:
        return failures
    jobs = min(jobs or os.cpu_count() or 1, len(todo))
    if cluster:
        backend: _Serial | _Local | _Dask = _Dask(engine, cluster)
    elif jobs == 1:
        backend = _Serial(engine)
    else:
        backend = _Local(engine, jobs)
    bar = tqdm(total=len(todo), desc=name, unit="pt", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, mininterval=0.2, smoothing=0.1)
    bar.set_postfix_str("0 failed", refresh=False)
    try:
        for p, (status, result, error, detail, wall) in backend.run(todo):
            store.record(p.key, p.config, status, result=result, error=error, detail=detail,
                         wall_s=wall)
            if status != "ok":
                failures.append((p.label, error or "failed"))
                bar.set_postfix_str(f"{len(failures)} failed", refresh=False)
            bar.update(1)
    finally:
        bar.close()
        backend.close()
    return failures

