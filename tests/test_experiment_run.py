"""`membound run`: validation before running, parallel points, commit per point, resume after
SIGKILL, failed points, Dask clusters, and the CLI's errors. Uses the fake engine in
tests/fixtures/experiments/fake_engine.py (one test uses the real engine when it exists)."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sim.config.errors import ConfigError
from sim.experiment_cli import standalone
from sim.sweep import run_experiment, set_engine
from tests.config_helpers import line_of
from tests.fixtures.experiments import fake_engine as F

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "experiments"


@pytest.fixture(autouse=True)
def fake_engine():
    set_engine(F.__name__)
    yield
    set_engine(None)


def experiment(tmp_path: Path, sweep: str, workload: str = "", baseline: bool = True) -> Path:
    log = tmp_path / "ran.log"
    text = (f"name: t\nhardware: fake_small\n"
            f"workload: {{kind: fake, size: 100, log: '{log}'{workload}}}\n"
            + ("baseline: {hardware.memory.controllers_per_die: 1}\n" if baseline else "")
            + f"sweep:\n{sweep}")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


SWEEP = ("  hardware.memory.controllers_per_die: [1, 2]\n"
         "  workload.size: [100, 200, 300]\n")


def ran(tmp_path: Path) -> list[tuple[int, int, int]]:
    """(size, controllers, pid) of every point the engine finished, in order."""
    log = tmp_path / "ran.log"
    if not log.exists():
        return []
    return [tuple(int(x) for x in ln.split()) for ln in log.read_text().splitlines()]


def invoke(*args: object) -> Result:
    return CliRunner().invoke(standalone(), [str(a) for a in args])


def one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membound: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_in_process_stores_every_point_and_the_csv_mirrors_it(tmp_path):
    exp = experiment(tmp_path, SWEEP)
    out = tmp_path / "out"
    lines: list[str] = []
    s = run_experiment(exp, out, jobs=1, progress=False, report=False, echo=lines.append)
    assert (s.total, s.unique, s.skipped, s.ran, s.failed) == (6, 6, 0, 6, 0)
    assert lines == ["membound run: t, 6 points; running 6 in this process"]
    assert {(sz, c) for sz, c, _ in ran(tmp_path)} == {(sz, c) for c in (1, 2)
                                                      for sz in (100, 200, 300)}
    assert (out / "experiment.yaml").read_text() == exp.read_text()
    rows = read_csv(out / "results.csv")
    assert list(rows[0])[:6] == ["hardware.memory.controllers_per_die", "workload.size",
                                 "sim_time_ns", "speedup", "dram.bandwidth_gb_per_s",
                                 "dram.utilization"]
    for row in rows:
        c, size = int(row["hardware.memory.controllers_per_die"]), int(row["workload.size"])
        e, base = F.expected(size, c), F.expected(size, 1)
        assert float(row["sim_time_ns"]) == e["sim_time_ns"]
        assert float(row["speedup"]) == pytest.approx(base["sim_time_ns"] / e["sim_time_ns"])
        assert float(row["dram.bandwidth_gb_per_s"]) == pytest.approx(e["bw"])
        assert "checksum" not in row and row["status"] == "ok"  # not a headline: the store has it
    from sim.results import open_results

    rs = open_results(out)
    assert sorted(rs.value(r, "checksum") for r in rs.ok_rows) == \
        sorted(f"c{int(r['workload.size'])}" for r in rows)
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT count(*), min(status), max(status) FROM points").fetchone() \
            == (6, "ok", "ok")


def test_rerun_skips_finished_points_and_no_resume_runs_them_again(tmp_path):
    exp = experiment(tmp_path, SWEEP)
    out = tmp_path / "out"
    run_experiment(exp, out, jobs=1, progress=False, report=False, echo=lambda _: None)
    assert len(ran(tmp_path)) == 6
    lines: list[str] = []
    s = run_experiment(exp, out, jobs=1, progress=False, report=False, echo=lines.append)
    assert (s.skipped, s.ran) == (6, 0) and len(ran(tmp_path)) == 6
    assert lines == [f"membound run: t, 6 points, 6 already in {out / 'results.sqlite'}; "
                     "nothing to run"]
    # widen the sweep: only the new points run
    exp.write_text(exp.read_text().replace("[100, 200, 300]", "[100, 200, 300, 400]"))
    s = run_experiment(exp, out, jobs=1, progress=False, report=False, echo=lambda _: None)
    assert (s.skipped, s.ran) == (6, 2)
    assert sorted(ran(tmp_path)[6:]) == [(400, 1, os.getpid()), (400, 2, os.getpid())]
    assert len(read_csv(out / "results.csv")) == 8
    s = run_experiment(exp, out, jobs=1, resume=False, progress=False, report=False,
                       echo=lambda _: None)
    assert (s.skipped, s.ran) == (0, 8) and len(ran(tmp_path)) == 16


def test_points_run_in_parallel_worker_processes_and_a_failure_stops_no_other(tmp_path):
    exp = experiment(tmp_path, "  workload.size: {start: 100, stop: 800, step: 100}\n"
                               "  hardware.memory.controllers_per_die: [1]\n",
                     workload=", sleep_s: 0.1, fail_size: 300")
    out = tmp_path / "out"
    result = invoke("run", exp, "--out", out, "--jobs", 2, "--no-report")
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stderr.splitlines()[-1] == ("membound: point size=300, controllers_per_die=1 "
                                              "failed: RuntimeError: injected failure at "
                                              "size 300")
    assert "t: 100%" in result.stderr and "1 failed" in result.stderr  # the progress bar
    assert "8 points run (1 failed)" in result.output
    pids = {pid for _, _, pid in ran(tmp_path)}
    assert len(pids) == 2 and os.getpid() not in pids
    rows = {int(r["workload.size"]): r for r in read_csv(out / "results.csv")}
    assert rows[300]["status"] == "failed" and rows[300]["sim_time_ns"] == ""
    assert rows[300]["error"] == "RuntimeError: injected failure at size 300"
    assert all(rows[s]["status"] == "ok" for s in rows if s != 300)
    with sqlite3.connect(out / "results.sqlite") as db:
        detail = db.execute("SELECT detail FROM points WHERE status = 'failed'").fetchone()[0]
    assert "Traceback" in detail and "injected failure" in detail
    # a rerun retries the failed point only (and it fails again, deterministically)
    result = invoke("run", exp, "--out", out, "--jobs", 2, "--no-report", "--no-progress")
    assert result.exit_code == 1
    assert "8 points, 7 already in" in result.output
    assert len(ran(tmp_path)) == 7  # the failing point logs nothing


def test_typos_fail_before_any_point_runs(tmp_path):
    body = ("  workload.size: [100, 200]\n"
            "  hardware.memory.controlers_per_die: [1, 2]\n")
    exp = experiment(tmp_path, body, baseline=False)
    text = exp.read_text()
    out = tmp_path / "out"
    msg = one_line_error(invoke("run", exp, "--out", out))
    assert msg == (f"membound: {exp}:{line_of(text, 'controlers')}: "
                   "sweep.hardware.memory.controlers_per_die[0]: unknown hardware key 'memory.controlers_per_die' (did you mean "
                   "'memory.controllers_per_die'?)")
    assert not out.exists() and ran(tmp_path) == []
    # a bad value only in the last point (multi-line list): named by its own line
    exp = experiment(tmp_path, "  hardware.memory.controllers_per_die:\n    - 1\n    - 2\n"
                               "    - 0\n")
    text = exp.read_text()
    msg = one_line_error(invoke("run", exp, "--out", out))
    assert msg == (f"membound: {exp}:{line_of(text, '- 0')}: "
                   "sweep.hardware.memory.controllers_per_die[2]: must be a positive integer, "
                   "got 0")
    assert not out.exists() and ran(tmp_path) == []
    # a swept workload key the workload does not have
    exp = experiment(tmp_path, "  hardware.memory.controllers_per_die: [1]\n"
                               "  workload.sise: [1, 2]\n")
    text = exp.read_text()
    msg = one_line_error(invoke("run", exp, "--out", out))
    assert msg == (f"membound: {exp}:{line_of(text, 'sise')}: sweep.workload.sise[0]: unknown "
                   "key 'sise' (did you mean 'size'?)")
    # an unknown preset (a plain UserError from the engine) names the file and the point
    exp.write_text(text.replace("workload.sise: [1, 2]", "hardware.preset: [fake_big, "
                                                         "fake_smal]"))
    msg = one_line_error(invoke("run", exp, "--out", out))
    assert msg == (f"membound: {exp}: point 1 (controllers_per_die=1, preset=fake_smal): "
                   "unknown machine preset 'fake_smal' (did you mean 'fake_small'?); "
                   "available: fake_small, fake_big")
    assert not out.exists() and ran(tmp_path) == []
    # a mistake inside a preset file keeps its file:line and says which point hit it
    exp.write_text(text.replace("workload.sise: [1, 2]", "hardware.preset: [fake_big, "
                                                         "fake_broken]"))
    msg = one_line_error(invoke("run", exp, "--out", out))
    assert msg == ("membound: presets/fake_broken.yaml:3: memory.controllers_per_die: must be "
                   f"a positive integer, got 0 (point 1 of {exp}: controllers_per_die=1, "
                   "preset=fake_broken)")


def test_cli_usage_and_setup_errors(tmp_path):
    exp = experiment(tmp_path, SWEEP)
    msg = one_line_error(invoke("run", exp, "--jobs", 2, "--cluster", "tcp://127.0.0.1:1"))
    assert "--jobs sets local processes" in msg
    msg = one_line_error(invoke("run", tmp_path / "missing.yaml"))
    assert msg == f"membound: {tmp_path / 'missing.yaml'}: no such config file"
    set_engine("sim.no_such_engine_module")
    msg = one_line_error(invoke("run", exp, "--out", tmp_path / "o"))
    assert msg == "membound: the simulation engine 'sim.no_such_engine_module' is not installed"


def _store_rows(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return dict(con.execute("SELECT key, finished_at FROM points").fetchall())
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def test_sigkill_mid_run_loses_no_finished_point_and_repeats_none(tmp_path):
    exp = experiment(tmp_path, "  workload.size: {start: 100, stop: 1200, step: 100}\n"
                               "  hardware.memory.controllers_per_die: [1]\n",
                     workload=", sleep_s: 0.25")
    out = tmp_path / "out"
    db = out / "results.sqlite"
    script = ("import sys; from sim.sweep import set_engine; "
              f"set_engine({F.__name__!r}); "
              "from sim.experiment_cli import standalone; standalone()(sys.argv[1:])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "run", str(exp), "--out", str(out), "--jobs", "2",
         "--no-report", "--no-progress"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(_store_rows(db)) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no point committed in time"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its worker processes
        except ProcessLookupError:
            pass
    committed = _store_rows(db)
    assert 3 <= len(committed) < 12
    before = len(ran(tmp_path))
    s = run_experiment(exp, out, jobs=2, progress=False, report=False, echo=lambda _: None)
    assert s.skipped == len(committed) and s.ran == 12 - len(committed) and s.failed == 0
    final = _store_rows(db)
    assert len(final) == 12
    assert all(final[k] == v for k, v in committed.items())  # kept, never rewritten
    with sqlite3.connect(db) as con:
        sizes = {k: json_size(c) for k, c in con.execute("SELECT key, config FROM points")}
    rerun = [size for size, _, _ in ran(tmp_path)[before:]]
    assert sorted(rerun) == sorted(sizes[k] for k in final if k not in committed)
    assert not set(rerun) & {sizes[k] for k in committed}  # no finished point repeated
    assert [r["status"] for r in read_csv(out / "results.csv")] == ["ok"] * 12


def json_size(config: str) -> int:
    import json

    return json.loads(config)["workload"]["size"]


def test_points_run_on_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    exp = experiment(tmp_path, SWEEP)
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                                  dashboard_address=None) as cluster:
        lines: list[str] = []
        s = run_experiment(exp, out, cluster=cluster.scheduler_address, progress=False,
                           report=False, echo=lines.append)
    assert (s.ran, s.failed) == (6, 0)
    assert lines[0].endswith(f"running 6 on the Dask cluster at {cluster.scheduler_address}")
    assert len(ran(tmp_path)) == 6
    rows = read_csv(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 6
    assert float(rows[3]["sim_time_ns"]) == F.expected(100, 2)["sim_time_ns"]


def test_duplicate_points_run_once(tmp_path):
    # the fake engine leaves sleep_s out of the resolved configuration: one key, run once
    exp = experiment(tmp_path, "  hardware.memory.controllers_per_die: [1]\n"
                               "  workload.sleep_s: [0, 0.01]\n")
    s = run_experiment(exp, tmp_path / "out", jobs=1, progress=False, report=False,
                       echo=lambda _: None)
    assert (s.total, s.unique, s.ran) == (2, 1, 1)
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert len(rows) == 2 and rows[0]["sim_time_ns"] == rows[1]["sim_time_ns"]


def test_end_to_end_with_the_real_engine(tmp_path):
    pytest.importorskip("sim.point")
    from sim.config.machine import list_machine_presets

    if "cpu_baseline" not in list_machine_presets():
        pytest.skip("no cpu_baseline machine preset in hw_configs")
    set_engine(None)
    exp = tmp_path / "real.yaml"
    exp.write_text("""name: real
hardware: cpu_baseline
workload: {kind: synthetic, threads: 4, ops_per_thread: 200, pattern: random}
sweep:
  hardware.memory.controllers_per_die: [1, 2]
baseline: {hardware.memory.controllers_per_die: 1}
""")
    s = run_experiment(exp, tmp_path / "out", jobs=1, progress=False, report=False,
                       echo=lambda _: None)
    assert s.failed == 0, s.failures
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert float(rows[0]["speedup"]) == 1.0 and float(rows[1]["sim_time_ns"]) > 0
    with pytest.raises(ConfigError, match="controlers_per_die"):
        exp.write_text(exp.read_text().replace("controllers_per_die: [", "controlers_per_die: ["))
        run_experiment(exp, tmp_path / "out", jobs=1, progress=False, report=False)
