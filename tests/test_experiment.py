"""Experiment YAML: sweeps (lists, ranges, zip), baseline groups, plots, and file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.config.errors import ConfigError
from sim.errors import UserError
from sim.experiment import load_experiment
from tests.config_helpers import line_of

FIX = Path(__file__).parent / "fixtures" / "experiments"

HEAD = """name: t
hardware: fake_small
workload: {kind: fake, size: 100}
"""


def write(tmp_path: Path, body: str, head: str = HEAD) -> tuple[Path, str]:
    text = head + body
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path, text


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def values(tmp_path: Path, spec: str) -> tuple:
    path, _ = write(tmp_path, f"sweep:\n  workload.size: {spec}\n")
    return load_experiment(path).axis("workload.size").values


def test_basic_fixture_grid_order_params_and_baseline_groups():
    exp = load_experiment(FIX / "basic.yaml")
    assert exp.name == "basic" and exp.seed == 3 and exp.hardware == "fake_small"
    assert exp.swept_keys == ["hardware.memory.controllers_per_die", "workload.size"]
    pts = exp.points()
    assert [(p.params["hardware.memory.controllers_per_die"], p.params["workload.size"])
            for p in pts] == [(c, s) for c in (1, 2, 4) for s in (100, 200, 300)]
    assert [p.index for p in pts] == list(range(9))
    assert [p.is_baseline for p in pts] == [True] * 3 + [False] * 6
    # groups are the values of the axes the baseline does not mention
    assert [json.loads(p.group) for p in pts[:3]] == [[["workload.size", s]]
                                                      for s in (100, 200, 300)]
    assert pts[4].group == pts[1].group == pts[7].group
    # a swept hardware key becomes an override Node at the sweep entry's line
    text = (FIX / "basic.yaml").read_text()
    node = pts[4].overrides["memory.controllers_per_die"]
    assert node.value == 2 and node.line == line_of(text, "controllers_per_die: [1, 2, 4]")
    # a swept workload key is set inside the workload mapping, pointing at its sweep entry
    size = pts[4].workload.value["size"]
    assert size.value == 200 and size.line == line_of(text, "workload.size: {start")
    assert pts[4].workload.value["kind"].value == "fake"
    assert exp.workload.value["size"].value == 100  # the experiment's own tree is not mutated
    assert pts[0].label == "controllers_per_die=1, size=100"


@pytest.mark.parametrize("spec, expected", [
    ("{start: 100, stop: 300, step: 100}", (100, 200, 300)),  # inclusive stop
    ("{start: 100, stop: 350, step: 100}", (100, 200, 300)),
    ("{start: 10, stop: 0, step: -5}", (10, 5, 0)),
    ("{start: 0.1, stop: 0.3, step: 0.1}", (0.1, 0.2, 0.3)),
    ("{log: true, start: 1, stop: 1024, num: 11}", tuple(2 ** i for i in range(11))),
    ("{log: true, start: 1, stop: 100, num: 3}", (1, 10, 100)),
    ("{log: true, start: 1, stop: 8, num: 3}", (1.0, 2.82842712475, 8.0)),
    ("{start: 1, stop: 64, factor: 4}", (1, 4, 16, 64)),
    ("{start: 1, stop: 100, factor: 4}", (1, 4, 16, 64)),
    ("{start: 64, stop: 1, factor: 0.5}", (64.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0)),
    ("{start: 0, stop: 1, num: 5}", (0.0, 0.25, 0.5, 0.75, 1.0)),
    ("[3, 1, 2]", (3, 1, 2)),
    ("[a, b]", ("a", "b")),
])
def test_sweep_value_forms(tmp_path, spec, expected):
    got = values(tmp_path, spec)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_log_and_factor_axes_are_marked_log(tmp_path):
    path, _ = write(tmp_path, "sweep:\n  workload.size: {start: 1, stop: 8, factor: 2}\n"
                              "  workload.intensity: {log: true, start: 1, stop: 4, num: 3}\n"
                              "  hardware.core.threads: [1, 2]\n")
    assert load_experiment(path).log_axes == ["workload.size", "workload.intensity"]


def test_zip_groups_vary_together_and_form_one_dimension(tmp_path):
    path, _ = write(tmp_path, """sweep:
  axes:
    hardware.memory.controllers_per_die: [1, 2]
  zip:
    - {workload.size: [100, 200, 300], workload.intensity: [0.5, 1.0, 2.0]}
baseline: {workload.size: 100, workload.intensity: 0.5}
""")
    exp = load_experiment(path)
    assert len(exp.dimensions) == 2 and exp.dimensions[1].keys == ("workload.size",
                                                                   "workload.intensity")
    pts = exp.points()
    assert len(pts) == 6
    assert [(p.params["workload.size"], p.params["workload.intensity"]) for p in pts[:3]] == \
        [(100, 0.5), (200, 1.0), (300, 2.0)]
    # groups by the controllers axis; the zip group is the baseline's dimension
    assert [p.is_baseline for p in pts] == [True, False, False, True, False, False]
    assert len({p.group for p in pts}) == 2


def test_hardware_mapping_with_overrides_and_swept_preset(tmp_path):
    head = """hardware:
  preset: fake_small
  overrides: {core.threads: 8}
workload: {kind: fake, size: 100}
sweep:
  hardware.preset: [fake_small, fake_big]
"""
    path, text = write(tmp_path, "", head)
    exp = load_experiment(path)
    assert exp.name == "exp"  # default: the file's stem
    pts = exp.points()
    assert [p.hardware for p in pts] == ["fake_small", "fake_big"]
    assert pts[1].overrides["core.threads"].value == 8
    assert pts[1].overrides["core.threads"].line == line_of(text, "core.threads: 8")


def test_hardware_file_path_is_relative_to_the_experiment(tmp_path):
    path, _ = write(tmp_path, "", "hardware: machines/m.yaml\nworkload: {kind: fake}\n")
    assert load_experiment(path).hardware == str(tmp_path / "machines" / "m.yaml")


def test_no_sweep_is_one_point_and_default_plots(tmp_path):
    path, _ = write(tmp_path, "")
    exp = load_experiment(path)
    assert [p.params for p in exp.points()] == [{}]
    assert not exp.plots_given
    assert [p.kind for p in exp.plots] == ["roofline", "timeline", "peak", "stalls"]


def test_plot_specs_and_defaults_filled_in(tmp_path):
    path, _ = write(tmp_path, """sweep:
  hardware.memory.controllers_per_die: [1, 2]
  workload.size: [100, 200]
plots:
  - {kind: line}
  - {kind: heatmap, y: speedup}
  - {kind: timeline, where: {workload.size: 200}, title: One}
""")
    exp = load_experiment(path)
    line, heat, tl = exp.plots
    assert (line.x, line.y, line.hue) == ("hardware.memory.controllers_per_die", "sim_time_ns",
                                          None)
    assert (heat.x, heat.hue, heat.y) == ("hardware.memory.controllers_per_die",
                                          "workload.size", "speedup")
    assert tl.where == {"workload.size": 200} and tl.title == "One"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("body, snippet, fragments", [
    ("sweeep: {}\n", "sweeep", ["sweeep: unknown key 'sweeep' (did you mean 'sweep'?)"]),
    ("sweep:\n  hardwre.memory.x: [1, 2]\n", "hardwre",
     ["sweep.hardwre.memory.x: swept key 'hardwre.memory.x' must begin with 'hardware.' or "
      "'workload.' (did you mean 'hardware'?)"]),
    ("sweep:\n  axis: {workload.size: [1]}\n", "axis:",
     ["sweep.axis: unknown key 'axis' (did you mean 'axes'?)"]),
    ("sweep:\n  zip:\n    - {workload.size: [1, 2], workload.intensity: [1]}\n", "- {work",
     ["sweep.zip[0].workload.intensity: zip group axes must have one length: 1 values here, 2"]),
    ("sweep:\n  workload.size: [1, 2]\nbaseline: {workload.sise: 1}\n", "baseline:",
     ["baseline.workload.sise: 'workload.sise' is not swept (did you mean 'workload.size'?)"]),
    ("sweep:\n  workload.size: [1, 2]\nbaseline: {workload.size: 3}\n", "baseline:",
     ["baseline.workload.size: 3 is not among the swept values of workload.size: 1, 2"]),
    ("baseline: {workload.size: 3}\n", "baseline:", ["baseline: a baseline needs a sweep"]),
    ("sweep:\n  workload.size: {start: 5, stop: 1, step: 2}\n", "workload.size",
     ["sweep.workload.size.step: step 2 never reaches stop 1 from start 5"]),
    ("sweep:\n  workload.size: {start: 1, stop: 5}\n", "workload.size",
     ["sweep.workload.size: give exactly one of step, num or factor (got none)"]),
    ("sweep:\n  workload.size: {start: 1, stop: 5, stepp: 1}\n", "workload.size",
     ["sweep.workload.size.stepp: unknown key 'stepp' (did you mean 'step'?)"]),
    ("sweep:\n  workload.size: {log: true, start: 0, stop: 5, num: 3}\n", "workload.size",
     ["sweep.workload.size: log spacing needs start and stop above zero"]),
    ("sweep:\n  workload.size: {start: 1, stop: 5, factor: 1}\n", "workload.size",
     ["sweep.workload.size.factor: factor must be above zero and not 1"]),
    ("sweep:\n  workload.size: 7\n", "workload.size",
     ["sweep.workload.size: expected a list of values, {start, stop, step}"]),
    ("sweep:\n  workload.size: [1, 2,\n    1]\n", "    1]", ["value 1 appears twice"]),
    ("sweep:\n  workload.size: [1]\n  axes: {workload.size: [2]}\n", "axes:",
     ["sweep.axes.workload.size: 'workload.size' is swept twice (also at line"]),
    ("plots:\n  - {kind: lines}\n", "kind: lines",
     ["plots[0].kind: expected one of line, bar, heatmap, roofline, timeline, peak, stalls, breakdown, "
      "got string 'lines' (did you mean 'line'?)"]),
    ("sweep:\n  workload.size: [1, 2]\nplots:\n  - {kind: line, x: workload.sise}\n",
     "x: workload.sise", ["plots[0].x: 'workload.sise' is not a swept key (did you mean "
                          "'workload.size'?)"]),
    ("plots:\n  - {kind: line, colour: red}\n", "colour",
     ["plots[0].colour: unknown key 'colour'"]),
    ("sweep:\n  workload.size: [1, 2]\nplots:\n  - {kind: heatmap}\n", "kind: heatmap",
     ["a heatmap needs two different swept keys"]),
    ("seed: -1\n", "seed", ["seed: must be at least 0, got -1"]),
])
def test_errors_name_file_line_and_key(tmp_path, body, snippet, fragments):
    path, text = write(tmp_path, body)
    msg = error_of(path)
    assert msg.startswith(f"{path}:{line_of(text, snippet.splitlines()[0])}: "), msg
    for f in fragments:
        assert f in msg, (f, msg)


def test_top_level_errors(tmp_path):
    path, text = write(tmp_path, "", "name: 'a b'\nhardware: fake_small\nworkload: {kind: f}\n")
    assert "name: must be a simple name" in error_of(path)
    path, text = write(tmp_path, "", "hardware: fake_small\n")
    assert error_of(path) == f"{path}:1: workload: missing required key 'workload'"
    path, text = write(tmp_path, "", "hardware: fake_small\nworkload: {size: 1}\n")
    assert error_of(path) == f"{path}:2: workload.kind: missing required key 'kind'"
    path, text = write(tmp_path, "", "hardware: {overrides: {a: 1}}\nworkload: {kind: f}\n")
    assert error_of(path) == f"{path}:1: hardware.preset: missing required key 'preset'"
    path, text = write(tmp_path, "sweep:\n  hardware.core.threads: [1, 2]\n",
                       "hardware: {preset: p, overrides: {core.threads: 4}}\n"
                       "workload: {kind: f}\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}:1: hardware.overrides.core.threads: 'core.threads' is also "
                          "swept (sweep entry hardware.core.threads at line 4)"), msg


def test_missing_file_and_bad_yaml_are_one_line_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such config file"):
        load_experiment(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsweep: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_experiment(bad)
