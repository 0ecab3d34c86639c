"""The results store: point keys, commit per point, WAL, speedup groups and the CSV mirror."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3

import pytest

from sim.errors import UserError
from sim.results import PlanRow, ResultStore, open_results, point_key
from tests.fixtures.experiments import fake_engine as F


def result(size: int, controllers: int, **metrics) -> dict:
    r = F.run_resolved(F.FakePoint("fake_small", (("core.threads", 4),
                                                  ("memory.controllers_per_die", controllers),
                                                  ("memory.gb_per_controller", 10.0)),
                                   (("fail_size", None), ("intensity", 1.0), ("log", None),
                                    ("size", size), ("sleep_s", 0.0)), 0))
    r["metrics"].update(metrics)
    return r


def test_point_key_is_sha256_of_sorted_json_with_the_version():
    a = {"b": 1, "a": {"y": [1, 2], "x": "s"}}
    b = {"a": {"x": "s", "y": [1, 2]}, "b": 1}
    assert point_key(a, "1.0") == point_key(b, "1.0")
    canon = json.dumps({"config": a, "membound": "1.0"}, sort_keys=True, separators=(",", ":"))
    assert point_key(a, "1.0") == hashlib.sha256(canon.encode()).hexdigest()
    assert point_key(a, "1.1") != point_key(a, "1.0")
    assert point_key({**a, "b": 2}, "1.0") != point_key(a, "1.0")
    assert len(point_key(a)) == 64  # default: the installed membound version


def test_store_commits_each_point_at_once_in_wal_mode(tmp_path):
    db = tmp_path / "results.sqlite"
    store = ResultStore(db)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other = sqlite3.connect(db)
    store.record("k1", {"c": 1}, "ok", result=result(100, 1), wall_s=0.5)
    store.record("k2", {"c": 2}, "failed", error="RuntimeError: boom", detail="Traceback...")
    # visible at once from another connection: committed, not held in a transaction
    rows = dict(other.execute("SELECT key, status FROM points").fetchall())
    assert rows == {"k1": "ok", "k2": "failed"}
    assert store.finished_keys() == {"k1"}  # failed points are retried by a rerun
    store.record("k2", {"c": 2}, "ok", result=json.dumps(result(200, 1)))  # JSON text accepted
    assert store.finished_keys() == {"k1", "k2"}
    assert other.execute("SELECT count(*) FROM points").fetchone()[0] == 2
    store.close()
    other.close()


def make_store(tmp_path, outcomes: dict[tuple[int, int], dict | str | None]) -> ResultStore:
    """Plan over controllers x size with baseline controllers=1; outcome None = pending."""
    store = ResultStore(tmp_path / "results.sqlite")
    rows = []
    for i, ((c, s), out) in enumerate(outcomes.items()):
        key = f"key{c}-{s}"
        rows.append(PlanRow(i, key, {"hardware.ctrl": c, "workload.size": s},
                            json.dumps([["workload.size", s]]), c == 1))
        if isinstance(out, dict):
            store.record(key, {"k": key}, "ok", result=out)
        elif isinstance(out, str):
            store.record(key, {"k": key}, "failed", error=out)
    store.set_plan({"name": "t", "swept_keys": ["hardware.ctrl", "workload.size"],
                    "baseline": {"hardware.ctrl": 1}, "experiment_yaml": "name: t\n"}, rows)
    return store


def test_speedups_within_groups_and_the_csv_mirror(tmp_path):
    outcomes = {
        (1, 100): result(100, 1, sim_time_ns=7),  # metric named like a fixed column
        (2, 100): result(100, 2, sim_time_ns=7),
        (1, 200): "RuntimeError: baseline broke",  # its group gets no speedup
        (2, 200): result(200, 2, sim_time_ns=7),
        (4, 200): None,  # pending
    }
    with make_store(tmp_path, outcomes) as store:
        rs = store.load()
    assert [r.status for r in rs.rows] == ["ok", "ok", "failed", "ok", "pending"]
    e1, e2 = F.expected(100, 1), F.expected(100, 2)
    assert rs.rows[0].speedup == 1.0
    assert rs.rows[1].speedup == pytest.approx(e1["sim_time_ns"] / e2["sim_time_ns"])
    assert [r.speedup for r in rs.rows[2:]] == [None, None, None]
    cols = ["hardware.ctrl", "workload.size", "sim_time_ns", "speedup",
            "dram.bandwidth_gb_per_s", "dram.utilization", "scratchpad.bandwidth_gb_per_s",
            "scratchpad.utilization", "status", "error", "point"]
    assert rs.csv_columns() == cols  # the fake engine's own metrics stay in the store
    path = rs.write_csv(tmp_path / "results.csv")
    table = list(csv.reader(io.StringIO(path.read_text())))
    assert table[0] == cols
    assert len(table) == 6
    row = dict(zip(cols, table[2], strict=True))
    assert float(row["sim_time_ns"]) == e2["sim_time_ns"]
    assert float(row["speedup"]) == pytest.approx(e1["sim_time_ns"] / e2["sim_time_ns"])
    assert float(row["dram.bandwidth_gb_per_s"]) == pytest.approx(e2["bw"])
    assert float(row["dram.utilization"]) == pytest.approx(e2["bw"] / e2["peak"])
    assert row["status"] == "ok" and row["point"] == "key2-100"[:16]
    failed = dict(zip(cols, table[3], strict=True))
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: baseline broke"
    assert failed["sim_time_ns"] == failed["speedup"] == ""
    assert dict(zip(cols, table[5], strict=True))["status"] == "pending"
    # value() reaches every stored quantity by column name
    r = rs.rows[1]
    assert rs.value(r, "dram.peak_gb_per_s") == e2["peak"]
    assert rs.value(r, "compute.ops_per_s") == pytest.approx(e2["ops_per_s"])
    assert rs.value(r, "stalls.dram") == 0.6
    assert rs.value(r, "metrics.checksum") == "c100"
    with pytest.raises(UserError, match="unknown metric 'dram.bandwith_gb_per_s' \\(did you "
                                        "mean 'dram.bandwidth_gb_per_s'\\?\\)"):
        rs.check_column("dram.bandwith_gb_per_s")


def test_open_results_needs_a_store(tmp_path):
    with pytest.raises(UserError, match="no results store here"):
        open_results(tmp_path)


def test_csv_keeps_what_users_compare_and_the_store_keeps_the_rest(tmp_path):
    def busy(size: int, controllers: int) -> dict:
        r = result(size, controllers, **{"layout.a_ptr.base": 4096, "check.ok": True,
                                         "tokens_per_s": 12.5, "bytes_per_ns": 3.0})
        r["tiers"]["host"] = {"bytes_read": 0, "bytes_written": 0, "bandwidth_gb_per_s": 0.0,
                              "peak_gb_per_s": 16.0, "utilization": 0.0}  # never used
        return r

    store = make_store(tmp_path, {(1, 100): busy(100, 1), (2, 100): busy(100, 2)})
    plots = "plots:\n  - {kind: line, x: hardware.ctrl, y: bytes_per_ns}\n"
    store.db.execute("UPDATE meta SET value = ? WHERE key = 'experiment_yaml'",
                     (json.dumps("name: t\n" + plots),))
    rs = store.load()
    store.close()
    assert rs.csv_columns() == [
        "hardware.ctrl", "workload.size", "sim_time_ns", "speedup",
        "dram.bandwidth_gb_per_s", "dram.utilization", "scratchpad.bandwidth_gb_per_s",
        "scratchpad.utilization", "bytes_per_ns", "metrics.check.ok", "tokens_per_s", "status",
        "error", "point"]
    assert rs.plotted_columns() == ["bytes_per_ns"]
    # what the CSV leaves out is still stored and reachable by name
    r = rs.rows[0]
    assert rs.value(r, "metrics.layout.a_ptr.base") == 4096
    assert rs.value(r, "host.peak_gb_per_s") == 16.0
    assert rs.value(r, "checksum") == "c100"
