"""Plots read the stored results: the data, labels, titles and legends they draw, and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim import plots as P
from sim.config.errors import ConfigError
from sim.experiment import load_experiment
from sim.experiment_cli import standalone
from sim.results import PlanRow, ResultStore, open_results
from sim.sweep import run_experiment, set_engine
from tests.config_helpers import line_of
from tests.fixtures.experiments import fake_engine as F

FIX = Path(__file__).parent / "fixtures" / "experiments"
CTRL, SIZE = "hardware.memory.controllers_per_die", "workload.size"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plots") / "basic"
    set_engine(F.__name__)
    try:
        run_experiment(FIX / "basic.yaml", out, jobs=1, progress=False, report=False,
                       echo=lambda _: None)
    finally:
        set_engine(None)
    return out


@pytest.fixture(scope="module")
def rs(out):
    return open_results(out)


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_line_plot_one_line_per_hue_value(rs):
    fig = P.line_plot(rs, SIZE, "sim_time_ns", hue=CTRL)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "workload.size"
    assert ax.get_ylabel() == "simulated time (ns)"
    assert ax.get_title() == "simulated time (ns) vs workload.size"
    assert legend_texts(ax) == ["controllers_per_die=1", "controllers_per_die=2",
                                "controllers_per_die=4"]
    assert ax.get_legend().get_title().get_text() == "controllers_per_die"
    for line, c in zip(ax.get_lines(), (1, 2, 4), strict=True):
        assert list(line.get_xdata()) == [100, 200, 300]
        assert list(line.get_ydata()) == [F.expected(s, c)["sim_time_ns"] for s in (100, 200,
                                                                                     300)]
    # a metric of the workload, filtered by where
    fig = P.line_plot(rs, CTRL, "bytes_per_ns", where={SIZE: 200})
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 2, 4]
    assert list(line.get_ydata()) == pytest.approx([F.expected(200, c)["bw"] for c in (1, 2, 4)])
    assert ax.get_ylabel() == "bytes per ns"
    assert [P.axis_label(c) for c in ("edges_per_s", "latency_ns", "footprint_bytes", "nnz")] \
        == ["edges (/s)", "latency (ns)", "footprint (B)", "nnz"]
    assert ax.get_title().endswith("(size=200)")


def test_bar_plot_speedups_grouped_by_hue_with_baseline_line(rs):
    fig = P.bar_plot(rs, CTRL, "speedup", hue=SIZE)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "speedup vs baseline (×)"
    assert ax.get_xlabel() == CTRL
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert legend_texts(ax) == ["baseline (1×)", "size=100", "size=200", "size=300"]
    assert len(ax.containers) == 3
    for bars, s in zip(ax.containers, (100, 200, 300), strict=True):
        want = [F.expected(s, 1)["sim_time_ns"] / F.expected(s, c)["sim_time_ns"]
                for c in (1, 2, 4)]
        assert [b.get_height() for b in bars] == pytest.approx(want)
    (base,) = [ln for ln in ax.get_lines() if ln.get_label() == "baseline (1×)"]
    assert list(base.get_ydata()) == [1.0, 1.0]


def test_heatmap_grid_matches_the_stored_values(rs):
    fig = P.heatmap_plot(rs, SIZE, CTRL, "dram.bandwidth_gb_per_s")
    ax, cbar = fig.axes
    grid = np.asarray(ax.images[0].get_array())
    want = [[F.expected(s, c)["bw"] for s in (100, 200, 300)] for c in (1, 2, 4)]
    assert grid.shape == (3, 3) and np.allclose(grid, want)
    assert ax.get_xlabel() == SIZE and ax.get_ylabel() == CTRL
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "4"]
    assert cbar.get_ylabel() == "dram bandwidth (GB/s)"
    assert ax.get_title() == "dram bandwidth (GB/s) over size and controllers_per_die"
    assert ax.texts[0].get_text() == P.fmt(want[0][0])


def test_roofline_markers_and_ceilings(rs):
    fig = P.roofline_plot(rs, hue=CTRL)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "operational intensity (ops / DRAM byte)"
    assert ax.get_ylabel() == "achieved performance (ops/s)"
    points = [ln for ln in ax.get_lines() if ln.get_gid() == "points"]
    assert [p.get_label() for p in points] == ["controllers_per_die=1", "controllers_per_die=2",
                                               "controllers_per_die=4"]
    for p, c in zip(points, (1, 2, 4), strict=True):
        assert list(p.get_xdata()) == pytest.approx([1.0] * 3)  # ops / DRAM byte
        assert list(p.get_ydata()) == pytest.approx([F.expected(s, c)["ops_per_s"]
                                                     for s in (100, 200, 300)])
    ceilings = {ln.get_label(): ln for ln in ax.get_lines()
                if str(ln.get_gid()).startswith("ceiling")}
    assert set(ceilings) == {"dram ceiling 10 GB/s", "dram ceiling 20 GB/s",
                             "dram ceiling 40 GB/s", "scratchpad ceiling 1000 GB/s",
                             "compute ceiling 4e+10 ops/s"}
    dram10 = ceilings["dram ceiling 10 GB/s"]
    x, y = np.asarray(dram10.get_xdata()), np.asarray(dram10.get_ydata())
    assert np.allclose(y, np.minimum(x * 10e9, 4e10))  # slope = bandwidth, capped by compute
    assert list(ceilings["compute ceiling 4e+10 ops/s"].get_ydata()) == [4e10, 4e10]
    assert "dram ceiling 10 GB/s" in legend_texts(ax)


def test_roofline_each_dram_ceiling_has_its_own_colour_and_its_points_take_it(rs):
    from matplotlib.colors import to_rgba

    for hue in (CTRL, SIZE):  # CTRL decides the DRAM ceiling (10 GB/s per controller); SIZE not
        ax = P.roofline_plot(rs, hue=hue).axes[0]
        ceilings = [ln for ln in ax.get_lines() if str(ln.get_gid()).startswith("ceiling")]
        colours = [to_rgba(ln.get_color()) for ln in ceilings]
        assert len(set(colours)) == len(colours)  # no two ceilings alike
        dram = {ln.get_label(): to_rgba(ln.get_color()) for ln in ceilings
                if ln.get_gid() == "ceiling:dram"}
        seen = 0
        for line in (ln for ln in ax.get_lines() if ln.get_gid() == "points"):
            for y in line.get_ydata():
                (s, c), = [(s, c) for s in (100, 200, 300) for c in (1, 2, 4)
                           if F.expected(s, c)["ops_per_s"] == pytest.approx(y)]
                want = dram[f"dram ceiling {10 * c} GB/s"]
                assert to_rgba(line.get_color()) == want, (hue, s, c)
                seen += 1
        assert seen == 9
    # hue that does not decide the ceiling: one marker shape per size, legend says which
    ax = P.roofline_plot(rs, hue=SIZE).axes[0]
    shapes = {}
    for line in (ln for ln in ax.get_lines() if ln.get_gid() == "points"):
        shapes.setdefault(line.get_label(), set()).add(line.get_marker())
    assert all(len(v) == 1 for v in shapes.values())
    assert len({next(iter(v)) for v in shapes.values()}) == 3
    assert legend_texts(ax)[-3:] == ["size=100", "size=200", "size=300"]


def test_bar_legend_overlaps_no_bar(rs, tmp_path):
    # bars of one height fill the axes everywhere: a legend inside would cover some
    store = ResultStore(tmp_path / "results.sqlite")
    plan = []
    for i, (v, m) in enumerate((v, m) for v in "abcde" for m in range(6)):
        store.record(f"k{i}", {"i": i}, "ok", result={"sim_time_ns": 100.0})
        plan.append(PlanRow(i, f"k{i}", {"workload.variant": v, "workload.matrix": m}, "[]",
                            False))
    store.set_plan({"name": "t", "swept_keys": ["workload.variant", "workload.matrix"],
                    "baseline": {}, "experiment_yaml": ""}, plan)
    full = store.load()
    store.close()
    for fig in (P.bar_plot(full, "workload.variant", "sim_time_ns", hue="workload.matrix"),
                P.bar_plot(rs, CTRL, "speedup", hue=SIZE), P.bar_plot(rs, None, "sim_time_ns"),
                P.peak_plot(rs)):
        fig.draw_without_rendering()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        assert inside_figure(fig, ax.get_legend())
        for bar in ax.patches:
            box = bar.get_window_extent()
            if box.width and box.height:
                assert not legend.overlaps(box), bar


def test_power_of_two_counts_on_a_log2_axis(rs):
    ax = P.line_plot(rs, CTRL, "sim_time_ns", hue=SIZE).axes[0]  # controllers 1, 2, 4
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert list(ax.get_xticks()) == [1, 2, 4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert P.line_plot(rs, SIZE, "sim_time_ns").axes[0].get_xscale() == "linear"  # 100..300
    assert P.powers_of_two([4, 8, 16]) and P.powers_of_two([1, 64])
    assert not P.powers_of_two([2, 4]) and not P.powers_of_two([4, 6, 8])
    assert not P.powers_of_two([4.0, 8.0, 16.0]) and not P.powers_of_two([True, 4])


def test_timeline_one_panel_per_series_on_a_shared_time_axis(rs):
    fig = P.timeline_plot(rs, where={CTRL: 2, SIZE: 200})
    dram_ax, sp_ax = fig.axes
    e = F.expected(200, 2)
    assert dram_ax.get_ylabel() == "dram\n(GB/s)" and sp_ax.get_ylabel() == "scratchpad\n(GB/s)"
    assert sp_ax.get_xlabel() == "simulated time (µs)"
    assert dram_ax.get_title() == "bandwidth over simulated time: controllers_per_die=2, size=200"
    (dram,) = dram_ax.get_lines()[:1]
    b = e["sim_time_ns"] / 8
    assert list(dram.get_xdata()) == pytest.approx([(i + 0.5) * b / 1e3 for i in range(8)])
    assert list(dram.get_ydata()) == pytest.approx([e["bw"] * (i + 1) / 8 for i in range(8)])
    assert dram_ax.get_shared_x_axes().joined(dram_ax, sp_ax)
    # default: the first baseline point
    assert P.timeline_plot(rs).axes[0].get_title().endswith("controllers_per_die=1, size=100")


def tiny_store(tmp_path: Path, result: dict, yaml: str = "name: t\n") -> object:
    """A one-point store holding `result` (for plots of shapes the fake engine lacks)."""
    store = ResultStore(tmp_path / "results.sqlite")
    store.record("k", {"k": 1}, "ok", result=result)
    store.set_plan({"name": "t", "swept_keys": [], "baseline": {}, "experiment_yaml": yaml},
                   [PlanRow(0, "k", {}, "[]", False)])
    rs = store.load()
    store.close()
    return rs


def test_timeline_gives_a_small_series_its_own_scale_and_drops_empty_ones(tmp_path):
    dram = [30.0, 31.0, 32.0, 5.0]  # next to a mesh ten times busier, and an idle host
    rs = tiny_store(tmp_path, {"sim_time_ns": 400.0,
                               "tiers": {"dram": {"peak_gb_per_s": 35.0}},
                               "timeline": {"bin_ns": 100.0,
                                            "series": {"dram": dram, "host": [0.0] * 4,
                                                       "mesh": [300.0, 310.0, 320.0, 50.0]}}})
    fig = P.timeline_plot(rs)
    assert [ax.get_ylabel() for ax in fig.axes] == ["dram\n(GB/s)", "mesh\n(GB/s)"]
    dram_ax = fig.axes[0]
    # DRAM drawn against its own peak (35 GB/s), not the mesh's 320 GB/s
    assert max(dram) <= dram_ax.get_ylim()[1] < 2 * 35.0
    assert fig.axes[1].get_ylim()[1] >= 320.0
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["peak 35"]
    assert all(ax.get_legend() is None for ax in fig.axes)  # no legend entry for an idle series
    assert fig.axes[-1].get_xlabel() == "simulated time (ns); no traffic: host"
    with pytest.raises(P.PlotError, match="moved no bytes"):
        P.timeline_plot(tiny_store(tmp_path / "idle", {
            "sim_time_ns": 1.0, "timeline": {"bin_ns": 1.0, "series": {"dram": [0.0]}}}))


def inside_figure(fig, artist) -> bool:
    box, page = artist.get_window_extent(), fig.bbox
    return (page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5
            and page.y0 - 0.5 <= box.y0 and box.y1 <= page.y1 + 0.5)


def test_long_titles_are_wrapped_inside_the_figure(rs):
    long = "a title far longer than any figure is wide, " * 3
    figs = [P.heatmap_plot(rs, SIZE, CTRL, "dram.bandwidth_gb_per_s"),
            P.heatmap_plot(rs, SIZE, CTRL, "dram.bandwidth_gb_per_s", title=long),
            P.timeline_plot(rs, title=long),
            P.line_plot(rs, SIZE, "sim_time_ns", title=long),
            P.bar_plot(rs, CTRL, "speedup", hue=SIZE, title="x" * 200)]  # one unbreakable word
    for fig in figs:
        fig.draw_without_rendering()
        title = fig.axes[0].title
        assert inside_figure(fig, title), title.get_text()
    assert "\n" in figs[1].axes[0].get_title()
    assert figs[1].axes[0].get_title().replace("\n", " ").split() == long.split()


def test_peak_bars_per_tier(rs):
    fig = P.peak_plot(rs, where={CTRL: 4, SIZE: 100})
    ax = fig.axes[0]
    e = F.expected(100, 4)
    achieved, peak = ax.containers
    assert [b.get_height() for b in achieved] == pytest.approx([e["bw"], 2 * e["bw"]])
    assert [b.get_height() for b in peak] == [e["peak"], 1000.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dram", "scratchpad"]
    assert legend_texts(ax) == ["achieved", "peak"]
    assert ax.get_ylabel() == "bandwidth (GB/s)" and ax.get_xlabel() == "memory tier"
    assert ax.texts[0].get_text() == f"{100 * e['bw'] / e['peak']:.1f}%"


def test_stalls_stacked_per_point(rs):
    fig = P.stalls_plot(rs, x=SIZE, where={CTRL: 1})
    ax = fig.axes[0]
    assert ax.get_ylabel() == "fraction of thread time" and ax.get_xlabel() == SIZE
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "200", "300"]
    dram, compute, issue = ax.containers  # stacked in the engine's order
    assert [b.get_height() for b in dram] == [0.6] * 3
    assert [b.get_y() for b in compute] == pytest.approx([0.6] * 3)
    assert [b.get_y() + b.get_height() for b in issue] == pytest.approx([1.0] * 3)
    assert legend_texts(ax) == ["issue", "compute", "dram"]  # legend top = stack top


def test_errors_name_the_plot_entry_and_suggest(rs, tmp_path):
    with pytest.raises(P.PlotError, match="unknown metric 'sim_time' \\(did you mean "
                                          "'sim_time_ns'\\?\\)"):
        P.line_plot(rs, SIZE, "sim_time")
    with pytest.raises(P.PlotError, match="'workload.sise' is not a swept key \\(did you mean "
                                          "'workload.size'\\?\\)"):
        P.line_plot(rs, "workload.sise", "sim_time_ns")
    with pytest.raises(P.PlotError, match="no finished point matching size=999"):
        P.peak_plot(rs, where={SIZE: 999})
    text = (FIX / "basic.yaml").read_text().replace("y: sim_time_ns", "y: dram.bandwith")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    spec = load_experiment(path).plots[0]
    with pytest.raises(ConfigError) as info:
        P.draw(rs, spec)
    assert str(info.value).startswith(
        f"{path}:{line_of(text, 'dram.bandwith')}: plots[0].y: unknown metric 'dram.bandwith' "
        "(did you mean 'dram.bandwidth_gb_per_s'?)")


def test_save_figure_writes_png_and_svg(rs, tmp_path):
    png, svg = P.save_figure(P.line_plot(rs, SIZE, "speedup", hue=CTRL), tmp_path / "a" / "b")
    assert png.name == "b.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.name == "b.svg" and "<svg" in svg.read_text()[:1000]


def test_plot_command_draws_from_the_store(out):
    runner = CliRunner()
    res = runner.invoke(standalone(), ["plot", str(out), "--x", SIZE, "--y",
                                       "dram.utilization", "--hue", CTRL])
    assert res.exit_code == 0, res.output
    base = out / "plots" / "line_dram.utilization_vs_size_by_controllers_per_die"
    assert res.output.strip() == f"wrote {base}.png and {base}.svg"
    assert Path(f"{base}.png").exists() and Path(f"{base}.svg").exists()
    res = runner.invoke(standalone(), ["plot", str(out), "--kind", "roofline", "--out",
                                       str(out / "r")])
    assert res.exit_code == 0 and Path(f"{out / 'r'}.svg").exists()
    res = runner.invoke(standalone(), ["plot", str(out), "--x", SIZE, "--y", "speedupp"])
    assert res.exit_code == 2
    assert res.stderr.startswith("membound: unknown metric 'speedupp' (did you mean 'speedup'?)")
    assert len(res.stderr.splitlines()) == 1
    res = runner.invoke(standalone(), ["plot", str(out), "--kind", "heatmap", "--x", SIZE,
                                       "--y", "speedup"])
    assert res.exit_code == 2 and "--kind heatmap needs --hue KEY" in res.stderr
    res = runner.invoke(standalone(), ["plot", str(out.parent / "nothing"), "--x", SIZE])
    assert res.exit_code == 2 and "no results store here" in res.stderr


def test_flash_sweep_plot_draws_each_queue_depth_against_request_size():
    from sim.plots import flash_sweep_plot

    def sweep(through_link: bool, scale: float) -> dict:
        return {"memory": "toy", "through_link": through_link, "sizes": [4096, 65536],
                "depths": [1, 64], "limits_bytes_per_s": {"peak": 7e9},
                "read_bytes_per_s": [[1e8 * scale, 3e9 * scale], [9e8 * scale, 7e9 * scale]]}

    fig = flash_sweep_plot([sweep(True, 1.0), sweep(False, 1.5)])
    left, right = fig.axes
    assert "through its link" in left.get_title() and "inside" in right.get_title()
    qd64 = [ln for ln in right.get_lines() if ln.get_label() == "QD 64"][0]
    assert list(qd64.get_xdata()) == [4.0, 64.0]  # KiB
    assert list(qd64.get_ydata()) == pytest.approx([4.5, 10.5])  # GB/s of the inside sweep
