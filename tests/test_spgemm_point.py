"""The spgemm workload kind through sim.point and the experiment runner, and `membound spgemm`.

Resolve errors name the file, line and key; a small machine (piuma cut to 2 cores of 9
threads by hardware overrides) runs every dataflow on a generated matrix with C checked
against scipy and the workload's counters agreeing with the engine's; the command line
turns every bad input into one line and exit code 2.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner, Result

from sim.config.errors import ConfigError
from sim.config.machine import make_node
from sim.config.yamlfile import Node, read_yaml
from sim.point import resolve_point, run_resolved
from sim.spgemm_cli import register, standalone
from tests.config_helpers import line_of
from workloads.spgemm.matrices import generate

SMALL_HW = {"core.cores_per_die": 2, "network.core_nodes": [0, 5], "core.mtp": 2,
            "core.threads_per_mtp": 4, "core.stp": 1}  # 2 cores x 9 threads
SMALL_SET = ["--set", "core.cores_per_die=2", "--set", "network.core_nodes=[0, 5]",
             "--set", "core.mtp=2", "--set", "core.threads_per_mtp=4", "--set", "core.stp=1"]
RMAT = {"generator": "rmat", "scale": 7, "edge_factor": 6, "seed": 3}
VARIANTS = [("inner", None), ("outer", None), ("rowwise", None), ("smash", 1), ("smash", 2),
            ("smash", 3)]
IDS = [f if v is None else f"{f}{v}" for f, v in VARIANTS]


def small_overrides() -> dict[str, Node]:
    return {k: make_node(v) for k, v in SMALL_HW.items()}


def workload_node(tmp_path: Path, body: str) -> tuple[Node, Path, str]:
    """The `workload:` mapping of a YAML file holding `body` (its lines indented under it)."""
    text = "workload:\n" + "".join(f"  {ln}\n" for ln in body.strip().splitlines())
    path = tmp_path / "point.yaml"
    path.write_text(text)
    return read_yaml(path).value["workload"], path, text


# --------------------------------------------------------------------------- resolve errors


@pytest.mark.parametrize("body,snippet,key,fragments", [
    ("kind: spgemm\na: 1138_bus\ndataflow: rowwize", "rowwize", "workload.dataflow",
     ["inner, outer, rowwise, smash", "'rowwize'"]),
    ("kind: spgemm\na: 1138_bus\ndataflow: smash\nversion: 4", "version", "workload.version",
     ["(1, 2, 3)", "4"]),
    ("kind: spgemm\na: 1138_bus\ndataflow: smash\nverison: 2", "verison", "workload.verison",
     ["unknown key 'verison'", "did you mean 'version'"]),
    ("kind: spgemm\na: 1138_bus\ndataflow: smash\npartition: columns", "partition",
     "workload.partition", ["unknown partition 'columns'", "rows, nnz, dynamic"]),
])
def test_resolve_errors_name_file_line_and_key(tmp_path, body, snippet, key, fragments):
    node, path, text = workload_node(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        resolve_point("piuma", None, node)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line_of(text, snippet) if key != 'workload' else 1}: "
                          f"{key}: "), msg
    for f in fragments:
        assert f in msg, (f, msg)


def test_experiment_with_a_bad_swept_version_fails_before_running(tmp_path):
    from sim.sweep import plan_experiment

    text = ("name: bad\nhardware: piuma\n"
            "workload: {kind: spgemm, dataflow: smash, a: 1138_bus}\n"
            "sweep:\n  workload.version: [1, 5]\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        plan_experiment(path)
    assert str(info.value).startswith(f"{path}:{line_of(text, '[1, 5]')}: "), str(info.value)
    assert "SMASH version" in str(info.value)


# --------------------------------------------------------------------------- runs


def multiplications(a: sp.csr_array) -> int:
    """sum over k of nnz(A(:,k)) * nnz(A(k,:)), from scipy's structure alone."""
    return int(np.dot(np.diff(sp.csc_array(a).indptr), np.diff(sp.csr_array(a).indptr)))


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    out = {}
    for (flow, version), name in zip(VARIANTS, IDS, strict=True):
        wl = {"kind": "spgemm", "dataflow": flow, "a": RMAT}
        if version is not None:
            wl["version"] = version
        point = resolve_point("piuma", small_overrides(), make_node(wl))
        assert point.spec.threads == 18
        out[name] = run_resolved(point)
    return out


@pytest.mark.parametrize("name", IDS)
def test_small_run_checks_ok_and_counters_agree_with_the_engine(runs, name):
    r = runs[name]
    m = r["metrics"]
    a = generate(RMAT)
    nnz_c = sp.csr_array(abs(a) @ abs(a)).nnz
    assert m["check.ok"] is True and m["check.pattern_equal"] and m["check.rows_written_once"]
    assert m["streams"] == 18 and r["summary"]["threads"] == 18
    assert m["multiplications"] == multiplications(a)
    assert m["nnz_c_structural"] == nnz_c
    assert m["flops"] == 2 * m["multiplications"] - nnz_c
    # the workload's op and atomic counts are the engine's
    assert r["compute"]["ops"] == r["summary"]["ops"] == m["ops"]
    assert r["summary"]["atomics"]["scratchpad"] == m["sp_local_atomics"] + m["sp_remote_atomics"]
    assert r["summary"]["atomics"]["dram"] == m["dram_atomics"]
    assert r["sim_time_ns"] > 0
    assert r["tiers"]["dram"]["bytes_read"] > 0 and r["tiers"]["dram"]["bytes_written"] > 0
    assert 0 < r["tiers"]["dram"]["bandwidth_gb_per_s"] <= r["tiers"]["dram"]["peak_gb_per_s"]
    assert sum(r["stalls"].values()) == pytest.approx(1.0)
    assert m["load_imbalance"] >= 1.0
    assert m["redundant_fetch_factor"] >= 1.0
    assert m["hash_probes"] == (m["multiplications"] + m["hash_collisions"]
                                if name.startswith("smash") else 0)


def test_small_runs_differ_the_way_the_dataflows_do(runs):
    rf = {k: v["metrics"]["redundant_fetch_factor"] for k, v in runs.items()}
    pp = {k: v["metrics"]["partial_products_stored"] for k, v in runs.items()}
    at = {k: v["metrics"]["atomics"] for k, v in runs.items()}
    mults = runs["inner"]["metrics"]["multiplications"]
    # inner re-reads B's columns per output row; outer reads inputs about once (B(k,:) once
    # per tile of 16 elements of A(:,k))
    assert rf["outer"] < 1.5 < rf["rowwise"] < rf["inner"]
    assert rf["smash1"] == rf["rowwise"]  # the same row-wise walk of A and B
    assert pp["inner"] == 0 and pp["outer"] == pp["rowwise"] == pp["smash1"] == mults
    assert at["inner"] == at["outer"] == at["rowwise"] == 0
    assert at["smash1"] > at["smash2"] > 0  # v1: CAS + fetch-add, v2: one CAS on a miss
    m3 = runs["smash3"]["metrics"]
    assert m3["sp_remote_atomics"] > 0 and m3["fragments"] == 2  # spread over both cores
    assert runs["smash2"]["metrics"]["sp_remote_atomics"] == 0


def test_experiment_stores_the_spgemm_metrics_and_speedups(tmp_path):
    from sim.sweep import run_experiment

    hw = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in SMALL_HW.items())
    text = (f"name: sg\nhardware:\n  preset: piuma\n  overrides:\n{hw}"
            "workload: {kind: spgemm, a: {generator: rmat, scale: 6, seed: 1}}\n"
            "sweep:\n  workload.dataflow: [rowwise, outer]\n"
            "baseline: {workload.dataflow: rowwise}\n"
            "plots:\n  - {kind: bar, y: redundant_fetch_factor}\n")
    path = tmp_path / "sg.yaml"
    path.write_text(text)
    summary = run_experiment(path, tmp_path / "out", jobs=1, progress=False, report=False)
    assert summary.ran == 2 and summary.failed == 0
    with open(tmp_path / "out" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["workload.dataflow"] for r in rows] == ["rowwise", "outer"]
    assert rows[0]["speedup"] == "1.0"
    assert float(rows[1]["speedup"]) > 0
    for r in rows:
        assert r["metrics.check.ok"] == "true"
        assert float(r["redundant_fetch_factor"]) >= 1.0
        assert float(r["load_imbalance"]) >= 1.0


# --------------------------------------------------------------------------- command line


def invoke(*args: object) -> Result:
    return CliRunner().invoke(standalone(), [str(a) for a in args])


def assert_user_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("membound: "), lines[0]
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


MTX_HEAD = "%%MatrixMarket matrix coordinate real general\n"


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    good = MTX_HEAD + "3 3 4\n1 1 1.0\n2 2 2.0\n3 1 0.5\n3 3 1.5\n"
    files = {
        "complex.mtx": "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 2.0\n",
        "short.mtx": MTX_HEAD + "3 3 4\n1 1 1.0\n2 2 2.0\n",
        "garbage.mtx": MTX_HEAD + "3 3 2\n1 1 one\n2 2 2.0\n",
        "outside.mtx": MTX_HEAD + "3 3 2\n1 1 1.0\n7 2 2.0\n",
    }
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / name
        out[name].write_text(text)
    out["cut.mtx.gz"] = tmp_path / "cut.mtx.gz"
    out["cut.mtx.gz"].write_bytes(gzip.compress(good.encode())[:-12])
    out["noise.mtx.gz"] = tmp_path / "noise.mtx.gz"
    out["noise.mtx.gz"].write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(7, 200)))
    return out


@pytest.mark.parametrize("args,fragments", [
    (["--dataflow", "gustavson", "--matrix", "1138_bus"],
     ["unknown SpGEMM dataflow 'gustavson'", "inner, outer, rowwise, smash"]),
    (["--dataflow", "smash", "--version", "4", "--matrix", "1138_bus"],
     ["unknown SMASH version 4", "1, 2, 3"]),
    (["--dataflow", "rowwise", "--version", "2", "--matrix", "1138_bus"],
     ["'version' applies to the smash dataflow only"]),
    (["--dataflow", "smash", "--version", "two", "--matrix", "1138_bus"],
     ["'two' is not a valid integer"]),
    (["--dataflow", "smash", "--partition", "columns", "--matrix", "1138_bus"],
     ["unknown partition 'columns'"]),
    (["--dataflow", "smash", "--matrix", "1138_bus", "--b", "cage8"],
     ["cannot multiply A 1138_bus (1138x1138) by B cage8 (1015x1015)"]),
    (["--dataflow", "smash", "--matrix", "enron"], ["neither a file nor a shipped matrix",
                                                     "email-Enron"]),
    (["--dataflow", "smash", "--matrix", "rmat:scale"], ["expected GENERATOR:key=value"]),
    (["--dataflow", "smash", "--matrix", "1138_bus", "--machine", "piumaa"],
     ["unknown machine preset 'piumaa'"]),
    (["--dataflow", "smash", "--matrix", "1138_bus", "--set", "core.corse=2"],
     ["--set:1: core.corse", "unknown key 'corse'"]),
])
def test_cli_usage_errors_are_one_line_exit_2(args, fragments):
    assert_user_error(invoke("spgemm", *args), *fragments)


@pytest.mark.parametrize("name,fragments", [
    ("complex.mtx", ["complex Matrix Market matrices are not supported"]),
    ("short.mtx", ["corrupt or truncated"]),
    ("garbage.mtx", ["corrupt or truncated"]),
    ("outside.mtx", ["corrupt or truncated"]),
    ("cut.mtx.gz", ["cut.mtx.gz"]),
    ("noise.mtx.gz", ["noise.mtx.gz"]),
    ("missing.mtx", ["no such matrix file"]),
])
def test_cli_bad_matrix_files_are_one_line_exit_2(bad_files, tmp_path, name, fragments):
    path = bad_files.get(name, tmp_path / name)
    line = assert_user_error(invoke("spgemm", "--dataflow", "smash", "--matrix", path),
                             *fragments)
    assert str(path) in line
    # the same file as B
    assert_user_error(invoke("spgemm", "--dataflow", "smash", "--matrix", "1138_bus", "--b",
                             path), *fragments)


def test_cli_runs_a_point_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    res = invoke("spgemm", "--dataflow", "smash", "--version", "3", "--matrix",
                 "rmat:scale=6,seed=2", "--partition", "dynamic", *SMALL_SET, "--json", out)
    assert res.exit_code == 0, (res.output, res.stderr)
    text = res.output
    for f in ("machine piuma:", "thread time:", "SpGEMM smash v3", "redundant-fetch factor",
              "partial products stored", "hash probes", "load imbalance",
              "check against scipy: ok", "partition dynamic"):
        assert f in text, f
    data = json.loads(out.read_text())
    assert data["workload"]["dataflow"] == "smash" and data["workload"]["version"] == 3
    assert data["metrics"]["check.ok"] is True and data["metrics"]["grabs"] > 0
    assert data["summary"]["threads"] == 18 and data["sim_time_ns"] > 0


def test_bench_spgemm_json_keys(tmp_path):
    out = tmp_path / "b.json"
    res = invoke("bench", "spgemm", "--matrix", "rmat:scale=6,seed=1", "--version", "2",
                 "--no-warmup", "--json", out)
    assert res.exit_code == 0, (res.output, res.stderr)
    assert "end to end" in res.output and "check against scipy: ok" in res.output
    data = json.loads(out.read_text())
    for key in ("wall_s", "peak_rss_mb", "ops", "ops_per_s", "read_s", "setup_s",
                "generate_simulate_s", "verify_s", "sim_time_ns"):
        assert isinstance(data[key], int | float) and data[key] >= 0, key
    assert data["ops"] > 0 and data["check_ok"] is True and data["version"] == 2
    assert data["wall_s"] == pytest.approx(data["read_s"] + data["setup_s"]
                                           + data["generate_simulate_s"] + data["verify_s"])


def test_register_adds_both_commands():
    import click

    @click.group()
    def g() -> None:
        pass

    @g.group()
    def bench() -> None:
        pass

    register(g)
    assert "spgemm" in g.commands and "spgemm" in bench.commands
