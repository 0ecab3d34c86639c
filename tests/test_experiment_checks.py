"""Every point of an experiment is checked before any point runs (issue 13, part 2).

Each mistake must end as one line `membound: file:line: key: ...` with exit code 2 from
`membound run`, and nothing may be stored (the output directory is never created). Expected
lines are found in the YAML text itself (tests.config_helpers.line_of), expected numbers are
worked out by hand or from the presets' own YAML values.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from click.testing import CliRunner, Result

from sim.config.memory import load_memory_config
from sim.errors import UserError
from sim.experiment_cli import standalone
from sim.point import result_skeleton, run_resolved
from sim.results import ResultSet, Row
from sim.sweep import load_engine, plan_experiment, plan_warnings, run_experiment
from tests.config_helpers import line_of
from workloads.synthetic import SyntheticWorkload

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "workload: {kind: synthetic, total_ops: 100}\n"


def write(tmp_path: Path, body: str, name: str = "exp.yaml") -> tuple[Path, str]:
    text = "name: t\nhardware: piuma\n" + body
    path = tmp_path / name
    path.write_text(text)
    return path, text


def run_cli(tmp_path: Path, path: Path, *extra: str) -> Result:
    out = tmp_path / "out"
    return CliRunner().invoke(standalone(), ["run", str(path), "--out", str(out),
                                             "--no-progress", "-j", "1", *extra])


def fails_before_running(tmp_path: Path, path: Path, text: str, snippet: str, key: str,
                         *fragments: str) -> str:
    """`membound run` exits 2 with one line naming file, the snippet's line and key."""
    res = run_cli(tmp_path, path)
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.stderr
    want = f"membound: {path}:{line_of(text, snippet)}: {key}: "
    assert lines[0].startswith(want), (want, lines[0])
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert not (tmp_path / "out").exists(), "something was stored before the check"
    return lines[0]


# --------------------------------------------------------------------------- SpGEMM matrices


def test_a_matrix_file_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope.mtx"
    path, text = write(tmp_path, f"workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                                 f"  a: {missing}\n")
    fails_before_running(tmp_path, path, text, "nope.mtx", "workload.a", "no such matrix file",
                         str(missing))


def test_a_misspelled_shipped_matrix_suggests_the_shipped_one(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                                 "  a: 1138_bus\nsweep:\n  workload.a: [cage8, email-Enrn]\n")
    msg = fails_before_running(tmp_path, path, text, "email-Enrn", "sweep.workload.a[1]",
                               "'email-Enrn'", "did you mean 'email-Enron'?")
    shipped = sorted(p.name[:-len(".mtx.gz")] for p in (ROOT / "workloads/matrices")
                     .glob("*.mtx.gz"))
    assert f"shipped: {', '.join(shipped)}" in msg


def test_a_missing_a(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: smash\n")
    fails_before_running(tmp_path, path, text, "workload:", "workload.a",
                         "missing required key 'a'")


def test_shapes_that_cannot_be_multiplied(tmp_path):
    # 1138_bus is 1138 x 1138 and cage8 1015 x 1015 (the Matrix Market size lines)
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                                 "  a: 1138_bus\nsweep:\n  workload.b: [1138_bus, cage8]\n")
    fails_before_running(tmp_path, path, text, "workload.b:", "sweep.workload.b[1]",
                         "cannot multiply A 1138_bus (1138x1138) by B cage8 (1015x1015)")


def test_generated_shapes_are_checked_without_generating(tmp_path):
    # rmat scale 20 would take a while to generate; its 2**20 rows are known from the scale
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                                 "  a: {generator: banded, n: 64, bandwidth: 1}\n"
                                 "  b: {generator: rmat, scale: 20}\n")
    fails_before_running(tmp_path, path, text, "  b:", "workload.b",
                         "(64x64) by B rmat(scale=20) (1048576x1048576)")


def test_a_misspelled_generator_argument(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                                 "  a: {generator: banded, n: 64, bandwith: 1}\n")
    fails_before_running(tmp_path, path, text, "  a:", "workload.a",
                         "did you mean 'bandwidth'?")


def test_version_on_a_dataflow_other_than_smash(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: inner\n"
                                 "  a: 1138_bus\n  version: 2\n")
    fails_before_running(tmp_path, path, text, "version: 2", "workload.version",
                         "smash dataflow only", "'inner'")


def test_a_misspelled_spgemm_key_is_named_at_its_line(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: smash\n"
                                 "  a: 1138_bus\n  verison: 2\n")
    fails_before_running(tmp_path, path, text, "verison", "workload.verison",
                         "did you mean 'version'?")


def test_a_relative_matrix_path_is_found_beside_the_experiment(tmp_path, monkeypatch):
    m = sp.random(20, 20, density=0.2, random_state=np.random.default_rng(1), format="coo")
    scipy.io.mmwrite(tmp_path / "small.mtx", m)
    path, _ = write(tmp_path, "workload:\n  kind: spgemm\n  dataflow: rowwise\n"
                              "  a: small.mtx\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _, planned = plan_experiment(path)
    assert planned[0].resolved.workload["a"] == str(tmp_path / "small.mtx")


@pytest.mark.parametrize("name", ["smash_spgemm.yaml", "quickstart.yaml"])
def test_shipped_experiments_still_plan(name):
    exp, planned = plan_experiment(ROOT / "experiments" / name)
    assert len(planned) == math.prod(len(d) for d in exp.dimensions)


# --------------------------------------------------------------------------- synthetic sizes


def test_a_negative_footprint(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: synthetic\n  total_ops: 100\n"
                                 "  footprint: -4 KiB\n")
    fails_before_running(tmp_path, path, text, "footprint", "workload.footprint",
                         "must be positive")


def test_a_negative_access_size_names_the_access_not_the_footprint(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: synthetic\n  total_ops: 100\n"
                                 "  footprint: 1 MiB\n  access: -8\n")
    msg = fails_before_running(tmp_path, path, text, "access: -8", "workload.access",
                               "must be positive")
    assert "footprint" not in msg


def test_a_footprint_smaller_than_one_access(tmp_path):
    path, text = write(tmp_path, "workload:\n  kind: synthetic\n  total_ops: 100\n"
                                 "  footprint: 4 B\n  access: 8 B\n")
    fails_before_running(tmp_path, path, text, "footprint: 4 B", "workload.footprint",
                         "4 B", "8 B")


def test_the_workload_itself_names_the_access_size():
    with pytest.raises(UserError) as info:
        SyntheticWorkload(threads=1, ops_per_thread=1, access_bytes=0)
    assert "access size" in str(info.value) and "footprint" not in str(info.value)


def test_a_list_where_a_size_belongs_shows_the_list_not_internals(tmp_path):
    path, text = write(tmp_path, SYNTH + "sweep:\n  workload.footprint: [[1, 2], 4 MiB]\n")
    msg = fails_before_running(tmp_path, path, text, "workload.footprint",
                               "sweep.workload.footprint[0]", "expected a size such as '4 MiB'",
                               "[1, 2]")
    assert "Node(" not in msg


# --------------------------------------------------------------------------- plot metrics


def test_a_misspelled_plot_metric(tmp_path):
    path, text = write(tmp_path, SYNTH + "sweep:\n  workload.total_ops: [100, 200]\n"
                                         "plots:\n  - {kind: line, x: workload.total_ops, "
                                         "y: dram.bandwith_gb_per_s}\n")
    fails_before_running(tmp_path, path, text, "kind: line", "plots[0].y",
                         "unknown metric 'dram.bandwith_gb_per_s'",
                         "did you mean 'dram.bandwidth_gb_per_s'?")


def test_a_misspelled_spgemm_metric_and_a_right_one(tmp_path):
    body = ("workload: {kind: spgemm, dataflow: smash, a: {generator: banded, n: 8, "
            "bandwidth: 1}}\nsweep:\n  workload.version: [1, 3]\nplots:\n"
            "  - {kind: bar, x: workload.version, y: hash_probes}\n"
            "  - {kind: bar, x: workload.version, y: redundant_fetch_factr}\n")
    path, text = write(tmp_path, body)
    fails_before_running(tmp_path, path, text, "redundant_fetch_factr", "plots[1].y",
                         "did you mean 'redundant_fetch_factor'?")


def columns(result: dict) -> list[str]:
    rs = ResultSet("t", [], {}, [], "", {}, [Row(0, "k", {}, "", False, "ok", result, None,
                                                 None)])
    return rs.columns()


@pytest.mark.parametrize("workload", [
    "{kind: synthetic, total_ops: 2000, mix: {load: 1, compute: 1}}",
    "{kind: spgemm, dataflow: smash, version: 2, a: {generator: banded, n: 16, bandwidth: 2}}",
])
def test_the_skeleton_has_the_columns_a_real_run_has(tmp_path, workload):
    path, _ = write(tmp_path, f"workload: {workload}\n")
    _, planned = plan_experiment(path)
    point = planned[0].resolved
    assert columns(result_skeleton(point)) == columns(run_resolved(point))


# --------------------------------------------------------------------------- swept keys


def test_a_swept_key_typo_is_reported_at_the_sweep_not_suggested(tmp_path):
    path, text = write(tmp_path, SYNTH + "sweep:\n  hardware.memory.controlers_per_die: [4, 8]\n"
                                         "baseline: {hardware.memory.controllers_per_die: 4}\n")
    msg = fails_before_running(tmp_path, path, text, "controlers_per_die: [4",
                               "memory.controlers_per_die", "did you mean 'controllers_per_die'")
    assert "did you mean 'hardware.memory.controlers_per_die'" not in msg


def test_a_swept_key_typo_named_right_by_a_plot(tmp_path):
    path, text = write(tmp_path, SYNTH + "sweep:\n  workload.total_opz: [100, 200]\n"
                                         "plots:\n  - {kind: line, x: workload.total_ops}\n")
    fails_before_running(tmp_path, path, text, "total_opz", "sweep.workload.total_opz[0]",
                         "did you mean 'total_ops'")


def test_a_baseline_typo_still_suggests_the_swept_key(tmp_path):
    path, text = write(tmp_path, SYNTH + "sweep:\n  hardware.memory.controllers_per_die: [4, 8]\n"
                                         "baseline: {hardware.memory.controlers_per_die: 4}\n")
    fails_before_running(tmp_path, path, text, "baseline:",
                         "baseline.hardware.memory.controlers_per_die",
                         "did you mean 'hardware.memory.controllers_per_die'")


# --------------------------------------------------------------------------- integer ranges


def test_a_log_range_on_an_integer_key_gives_integers(tmp_path):
    # 100 * (1000 / 100) ** 0.5 = 316.23 -> 316; total_ops takes integers
    path, _ = write(tmp_path, SYNTH + "sweep:\n  workload.total_ops: "
                                      "{log: true, start: 100, stop: 1000, num: 3}\n")
    exp, planned = plan_experiment(path)
    assert [p.spec.params["workload.total_ops"] for p in planned] == [100, 316, 1000]
    assert all(type(p.spec.params["workload.total_ops"]) is int for p in planned)
    assert exp.log_axes == ["workload.total_ops"]


def test_a_log_range_on_an_integer_hardware_key(tmp_path):
    # 1 * 8 ** 0.5 = 2.83 -> 3 controllers
    path, _ = write(tmp_path, SYNTH + "sweep:\n  hardware.memory.controllers_per_die: "
                                      "{log: true, start: 1, stop: 8, num: 3}\n"
                                      "baseline: {hardware.memory.controllers_per_die: 8}\n")
    _, planned = plan_experiment(path)
    assert [p.resolved.spec.controllers_per_die for p in planned] == [1, 3, 8]
    assert [p.spec.is_baseline for p in planned] == [False, False, True]


def test_a_log_range_on_a_number_key_keeps_its_fractions(tmp_path):
    path, _ = write(tmp_path, SYNTH + "sweep:\n  workload.mix.load: "
                                      "{log: true, start: 1, stop: 8, num: 3}\n")
    _, planned = plan_experiment(path)
    got = [p.spec.params["workload.mix.load"] for p in planned]
    assert got == pytest.approx([1.0, 2 * math.sqrt(2), 8.0])


def test_an_integer_range_that_rounds_to_repeats_is_refused(tmp_path):
    # 2 ** (i / 4) for i = 0..4: 1, 1.19, 1.41, 1.68, 2 -> 1, 1, 1, 2, 2
    path, text = write(tmp_path, SYNTH + "sweep:\n  hardware.memory.controllers_per_die: "
                                         "{log: true, start: 1, stop: 2, num: 5}\n")
    fails_before_running(tmp_path, path, text, "controllers_per_die:",
                         "sweep.hardware.memory.controllers_per_die", "takes integers",
                         "1, 1, 1, 2, 2")


# --------------------------------------------------------------------------- --cluster


def test_a_bad_cluster_address_fails_at_once_in_one_line(tmp_path):
    path, _ = write(tmp_path, SYNTH)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "sim.experiment_cli", "run", str(path),
                          "--out", str(tmp_path / "out"), "--cluster", "bogus"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    took = time.perf_counter() - t0
    assert res.returncode == 2, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "--cluster 'bogus'" in lines[0], res.stderr
    assert "tcp://host:8786" in lines[0]
    assert took < 10, took  # a Dask Client given it waits 20 s in its finaliser
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- memory presets


def channels(preset: str) -> int:
    m = load_memory_config(preset)
    return m.channels * m.pseudo_channels


def test_sweeping_memory_presets_warns_that_the_controller_count_stays(tmp_path):
    assert channels("ddr5_4800") != channels("hbm3")  # otherwise nothing to warn about
    path, _ = write(tmp_path, SYNTH + "sweep:\n  hardware.memory.preset: [ddr5_4800, hbm3]\n")
    _, planned = plan_experiment(path)
    (warning,) = plan_warnings(planned, load_engine())
    piuma = planned[0].resolved.spec.controllers_per_die
    for text in (f"its {piuma} controllers", f"ddr5_4800 {channels('ddr5_4800')}",
                 f"hbm3 {channels('hbm3')}", "zip hardware.memory.controllers_per_die"):
        assert text in warning, (text, warning)
    warned: list[str] = []
    run_experiment(path, tmp_path / "out", jobs=1, progress=False, report=False,
                   echo=lambda m: None, warn=warned.append)
    assert warned == [f"warning: {warning}"]


def test_memory_presets_zipped_with_their_controllers_do_not_warn(tmp_path):
    path, _ = write(tmp_path, SYNTH + "sweep:\n  zip:\n    - hardware.memory.preset: "
                                      "[ddr5_4800, hbm3]\n"
                                      "      hardware.memory.controllers_per_die: [2, 32]\n")
    _, planned = plan_experiment(path)
    assert plan_warnings(planned, load_engine()) == []


LLM = ("name: t\nhardware: h100_tiers\nworkload: {kind: llm, model: llama-3-8b, batch: 2, "
       "context: 512, steps: 3, placement: {kv: host, prefetch: true}}\n")


def test_a_misspelled_llm_metric_is_found_before_running(tmp_path):
    text = LLM + ("sweep:\n  workload.batch: [2, 4]\nplots:\n"
                  "  - {kind: bar, x: workload.batch, y: metrics.share.atention}\n")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    fails_before_running(tmp_path, path, text, "kind: bar", "plots[0].y",
                         "did you mean 'metrics.share.attention'?")


def test_the_llm_skeleton_has_the_columns_a_real_run_has(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(LLM)
    _, planned = plan_experiment(path)
    point = planned[0].resolved
    cols = columns(result_skeleton(point))
    assert cols == columns(run_resolved(point))
    assert "metrics.share.kv_prefetch" in cols  # the labels of this placement's graph
