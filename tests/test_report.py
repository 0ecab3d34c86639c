"""report.md and the self-contained report.html, written by `run` and rebuilt by `report`."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.experiment_cli import standalone
from sim.sweep import set_engine
from tests.config_helpers import line_of
from tests.fixtures.experiments import fake_engine as F

FIX = Path(__file__).parent / "fixtures" / "experiments"


@pytest.fixture(autouse=True)
def fake_engine():
    set_engine(F.__name__)
    yield
    set_engine(None)


def invoke(*args: object):
    return CliRunner().invoke(standalone(), [str(a) for a in args])


def test_run_writes_csv_plots_and_both_reports_and_report_rebuilds_them(tmp_path):
    out = tmp_path / "basic"
    res = invoke("run", FIX / "basic.yaml", "--out", out, "--jobs", 1)
    assert res.exit_code == 0, (res.output, res.exception)
    assert res.output.splitlines()[0] == "membound run: basic, 9 points; running 9 in this process"
    assert ("  hardware.memory.controllers_per_die  workload.size  sim_time_ns  dram GB/s  "
            "scratchpad GB/s  speedup  status") in res.output
    # the fake engine: 10 GB/s x controllers dram (bytes / time), twice that in scratchpads
    assert ("                                    4            300     7,600.00      39.47"
            "            78.95    3.961  ok") in res.output
    assert f"wrote {out}/results.sqlite, {out}/results.csv, {out}/report.md, {out}/report.html " \
           f"and 7 plots in {out}/plots" in res.output

    md = (out / "report.md").read_text()
    for heading in ("# Experiment basic", "## Experiment", "## Hardware", "## Results",
                    "## Speedup vs baseline", "## Plots"):
        assert f"\n{heading}\n" in f"\n{md}", heading
    assert "Failed and pending" not in md
    assert "```yaml\n" + (FIX / "basic.yaml").read_text().rstrip("\n") + "\n```" in md
    assert "- swept workload.size: 100, 200, 300" in md
    assert "- baseline: controllers_per_die=1" in md
    assert "| dram | 10, 20, 40 |" in md and "| compute (ops/s) | 4.000e+10 |" in md
    assert "| 4 | 300 | 7,600.00 | 3.961 | 39.47 |" in md  # results table
    assert "| 4 | 300 | 7,600.00 | 30,100.00 | 3.961 |" in md  # speedup table
    images = re.findall(r"!\[([^\]]*)\]\((plots/[^)]+\.png)\)", md)
    assert len(images) == 7
    assert images[0] == ("simulated time (ns) vs workload.size",
                         "plots/00_line_sim_time_ns_vs_size_by_controllers_per_die.png")
    for _, rel in images:
        assert (out / rel).is_file() and (out / rel).with_suffix(".svg").is_file()

    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 7
    assert base64.b64decode(embedded[0]) == (out / images[0][1]).read_bytes()
    assert not re.search(r'src="(?!data:)', page)  # nothing outside the file
    assert "<h2>Speedup vs baseline</h2>" in page
    assert '<td class="num">7,600.00</td>' in page
    # every table scrolls inside its own box instead of widening the page
    assert page.count("<table>") >= 4
    assert page.count("<table>") == page.count('<div class="table-scroll"><table>')
    rule = re.search(r"\.table-scroll \{([^}]*)\}", page)
    assert rule and "overflow-x: auto" in rule.group(1) and "max-width: 100%" in rule.group(1)
    # the fake engine's presets are no files: the stored configuration is shown, labelled so
    assert "as stored with the point (internal names of the engine" in md

    # `membound report DIR` rebuilds everything from the store alone
    for p in [out / "report.md", out / "report.html", out / "results.csv",
              *(out / "plots").iterdir()]:
        p.unlink()
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    assert res.output.strip() == (f"wrote {out}/results.csv, {out}/report.md, "
                                  f"{out}/report.html and 7 plots in {out}/plots")
    strip = lambda t: re.sub(r"report written [^.]+\.", "", t)  # noqa: E731
    assert strip((out / "report.md").read_text()) == strip(md)
    assert len(list((out / "plots").glob("*.png"))) == 7


def test_a_plot_that_cannot_be_drawn_fails_after_the_results_are_stored(tmp_path):
    text = """name: bad_plot
hardware: fake_small
workload: {kind: fake, size: 100, fail_size: 200}
sweep:
  workload.size: [100, 200, 300]
plots:
  - {kind: line, x: workload.size, y: dram.bandwith}
"""
    exp = tmp_path / "exp.yaml"
    exp.write_text(text)
    out = tmp_path / "out"
    res = invoke("run", exp, "--out", out, "--jobs", 1, "--no-progress")
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert lines[0] == ("membound: point size=200 failed: RuntimeError: injected failure at "
                        "size 200")
    assert lines[-1] == (f"membound: {exp}:{line_of(text, 'bandwith')}: plots[0].y: unknown "
                         "metric 'dram.bandwith' (did you mean 'dram.bandwidth_gb_per_s'?); "
                         "available: " + lines[-1].split("available: ")[1])
    assert (out / "results.csv").read_text().count("\n") == 4
    md = (out / "report.md").read_text()
    assert "## Failed and pending points" in md
    assert "| size=200 | failed | RuntimeError: injected failure at size 200 |" in md
    assert "plot 0 (line) not drawn" in md
    # the report command says the same, pointing at the stored copy of the experiment
    res = invoke("report", out)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"membound: {out / 'experiment.yaml'}:"
                                 f"{line_of(text, 'bandwith')}: plots[0].y: unknown metric")


def test_configuration_in_the_keys_of_the_experiment_with_paths_relative_to_it(tmp_path):
    from ruamel.yaml import YAML

    from sim.config.machine import MACHINE_DIR
    from sim.experiment import load_experiment
    from sim.report import user_configuration

    hw = tmp_path / "hw"
    hw.mkdir()
    (hw / "mine.yaml").write_text("extends: piuma\ncore: {clock: 2 GHz}\n")
    memory = (MACHINE_DIR / "memory" / "piuma_ddr5_4400.yaml").resolve()
    (tmp_path / "exps").mkdir()
    exp_file = tmp_path / "exps" / "exp.yaml"
    exp_file.write_text(f"""name: t
hardware:
  preset: ../hw/mine.yaml
  overrides: {{memory.preset: {memory}}}
workload: {{kind: synthetic, pattern: random, total_ops: 1000, footprint: 1 MiB, access: 8 B}}
sweep:
  hardware.core.threads_per_mtp: [4, 8]
""")
    exp = load_experiment(exp_file.resolve())
    flat = dict(user_configuration(exp, 1, exp_file.resolve().parent))
    piuma = YAML(typ="safe").load((MACHINE_DIR / "piuma.yaml").read_text())
    assert flat["hardware.preset"] == "../hw/mine.yaml"
    assert flat["hardware.memory.preset"] == os.path.relpath(memory, exp_file.resolve().parent)
    assert flat["hardware.core.threads_per_mtp"] == 8  # the point's swept value
    assert flat["hardware.core.clock"] == "2 GHz"  # the child preset's, as written
    assert flat["hardware.memory.controllers_per_die"] == piuma["memory"]["controllers_per_die"]
    assert flat["hardware.network.mesh.link_bandwidth"] == \
        piuma["network"]["mesh"]["link_bandwidth"]
    assert flat["workload.footprint"] == "1 MiB" and flat["workload.total_ops"] == 1000
    assert flat["seed"] == 0
    # every key is one a user can write under hardware: / workload: (no engine internals)
    assert "hardware.tck_ps" not in flat and not any("extra" in k for k in flat)
    assert not any(isinstance(v, str) and v.startswith("/") for v in flat.values())
