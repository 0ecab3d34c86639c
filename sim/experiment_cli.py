"""`membound run`, `membound plot` and `membound report`: experiments, sweeps and their output.

The commands are plain click commands; sim/cli.py adds them to the `membound` group with
register(main). Errors are UserErrors (one line, exit code 2, handled by MemboundGroup).
`python -m sim.experiment_cli ...` runs them without sim/cli.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sim.experiment import PLOT_KINDS, PlotSpec, point_label
from sim.report_table import render_table

if TYPE_CHECKING:
    from sim.results import ResultSet

MAX_ROWS_SHOWN = 40
MAX_DETAILS_SHOWN = 3  # points whose full summary is printed
MAX_FAILURES_SHOWN = 10


def _cpu_help() -> str:
    return f"Local worker processes (default: os.cpu_count(), here {os.cpu_count()})."


@click.command("run")
@click.argument("experiment", metavar="EXPERIMENT.yaml")
@click.option("--out", "out_dir", metavar="DIR", default=None,
              help="Output directory (default: reports/<name>/).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help=_cpu_help())
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Run the points on a Dask distributed scheduler, e.g. tcp://host:8786.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Skip the points already finished in DIR/results.sqlite.")
@click.option("--report/--no-report", "make_report", default=True, show_default=True,
              help="Draw the plots and write report.md and report.html at the end.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show the progress bar (on stderr).")
@click.pass_context
def run_cmd(ctx: click.Context, experiment: str, out_dir: str | None, jobs: int | None,
            cluster: str | None, resume: bool, make_report: bool, progress: bool) -> None:
    """Run every point of an experiment (a sweep) and store, tabulate and plot the results.

    Each finished point is committed to DIR/results.sqlite at once; a rerun skips the points
    already there (failed points are retried), so an interrupted run loses nothing.
    """
    from sim.sweep import run_experiment

    if cluster and jobs:
        raise click.UsageError("--jobs sets local processes; with --cluster the Dask workers "
                               "decide the parallelism")
    from sim.paths import experiment_file

    summary = run_experiment(experiment_file(experiment), out_dir, jobs=jobs, cluster=cluster, resume=resume,
                             progress=progress, report=make_report, echo=click.echo,
                             warn=lambda m: click.echo(f"membound: {m}", err=True))
    from sim.results import open_results

    rs = open_results(summary.out_dir)
    click.echo("")
    click.echo(results_table(rs))
    details = [r for r in rs.ok_rows if (r.result or {}).get("summary")]
    if 0 < len(details) <= MAX_DETAILS_SHOWN:
        # few points: the full per-tier bandwidth and stall breakdown of each
        from sim.llm.text import format_llm_summary
        from sim.machine.summary import format_summary

        for r in details:
            label = ", ".join(f"{k}={v}" for k, v in r.params.items())
            click.echo("")
            if label:
                click.echo(f"[{label}]")
            s = r.result["summary"]
            click.echo(format_summary(s) if "machine" in s else format_llm_summary(s))
    skipped = f", {summary.skipped} reused from the store" if summary.skipped else ""
    click.echo(f"\n{summary.ran} points run ({summary.failed} failed){skipped} in "
               f"{summary.wall_s:.1f} s")
    shown = [p for p in summary.outputs if p.suffix in (".sqlite", ".csv", ".md", ".html")]
    n_plots = sum(1 for p in summary.outputs if p.suffix == ".png")
    files = ", ".join(str(p) for p in [summary.out_dir / "results.sqlite", *shown])
    click.echo(f"wrote {files}" + (f" and {n_plots} plots in {summary.out_dir / 'plots'}"
                                   if n_plots else ""))
    for label, error in summary.failures[:MAX_FAILURES_SHOWN]:
        click.echo(f"membound: point {label} failed: {error}", err=True)
    if len(summary.failures) > MAX_FAILURES_SHOWN:
        click.echo(f"membound: ... and {len(summary.failures) - MAX_FAILURES_SHOWN} more failed "
                   "points (see results.csv)", err=True)
    if summary.report_error is not None:
        raise summary.report_error
    if summary.failures:
        ctx.exit(1)


def results_table(rs: ResultSet, limit: int = MAX_ROWS_SHOWN) -> str:
    """The console summary: swept values, simulated time, speedup, status."""
    from sim.plots import fmt

    tiers = [t for t in ("dram", "scratchpad", "host")
             if any((r.tiers().get(t) or {}).get("bandwidth_gb_per_s") for r in rs.ok_rows)]
    headers = [*rs.swept_keys, "sim_time_ns", *[f"{t} GB/s" for t in tiers], "speedup",
               "status"]
    rows = []
    for r in rs.rows[:limit]:
        sp = r.speedup
        bw = [f"{(r.tiers().get(t) or {}).get('bandwidth_gb_per_s', 0):.2f}" if r.ok else "-"
              for t in tiers]
        rows.append((*[fmt(r.params.get(k)) for k in rs.swept_keys],
                     fmt(rs.value(r, "sim_time_ns")) or "-", *bw,
                     f"{sp:.3f}" if sp is not None else "-", r.status))
    text = render_table(headers, rows)
    if len(rs.rows) > limit:
        text += f"\n  ... {len(rs.rows) - limit} more rows in results.csv"
    return text


def parse_scalar(text: str) -> Any:
    """'12' -> 12, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_where(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got '{item}'", param_hint="--where")
        out[key.strip()] = parse_scalar(value.strip())
    return out


@click.command("plot")
@click.argument("out_dir", metavar="DIR")
@click.option("--x", "x", metavar="KEY", default=None, help="Swept key on the horizontal axis.")
@click.option("--y", "y", metavar="METRIC", default=None,
              help="Column to plot (sim_time_ns, speedup, dram.bandwidth_gb_per_s, a metric...).")
@click.option("--hue", metavar="KEY", default=None,
              help="Swept key: one line (bar group) per value; a heatmap's vertical axis.")
@click.option("--kind", type=click.Choice(PLOT_KINDS), default="line", show_default=True)
@click.option("--where", "where", multiple=True, metavar="KEY=VALUE",
              help="Keep only the points with this swept value (repeatable).")
@click.option("--title", default=None, help="Plot title.")
@click.option("--out", "out_base", metavar="BASE", default=None,
              help="Output file name without suffix (default: DIR/plots/<kind>_<y>_vs_<x>).")
def plot_cmd(out_dir: str, x: str | None, y: str | None, hue: str | None, kind: str,
             where: tuple[str, ...], title: str | None, out_base: str | None) -> None:
    """Draw one plot from the stored results of DIR (no simulation): PNG and SVG."""
    from sim.plots import draw, plot_name, save_figure
    from sim.results import open_results

    rs = open_results(out_dir)
    if kind in ("line", "heatmap") and x is None:
        raise click.UsageError(f"--kind {kind} needs --x KEY (a swept key: "
                               f"{', '.join(rs.swept_keys) or 'none'})")
    if kind == "heatmap" and hue is None:
        raise click.UsageError("--kind heatmap needs --hue KEY for its vertical axis "
                               "(--y is the colour)")
    if kind in ("line", "heatmap") and y is None:
        raise click.UsageError(f"--kind {kind} needs --y METRIC")
    spec = PlotSpec(kind, x, y, hue, parse_where(where), title)
    fig = draw(rs, spec)
    base = Path(out_base) if out_base else Path(out_dir) / "plots" / plot_name(spec)
    png, svg = save_figure(fig, base)
    click.echo(f"wrote {png} and {svg}" + (f" ({point_label(spec.where)})"
                                          if spec.where else ""))


@click.command("report")
@click.argument("out_dir", metavar="DIR")
def report_cmd(out_dir: str) -> None:
    """Rebuild results.csv, the plots, report.md and report.html of DIR from its store."""
    from sim.report import rebuild

    paths = rebuild(out_dir)
    n_plots = sum(1 for p in paths if p.suffix == ".png")
    docs = [str(p) for p in paths if p.suffix in (".csv", ".md", ".html")]
    click.echo(f"wrote {', '.join(docs)} and {n_plots} plots in {Path(out_dir) / 'plots'}")


COMMANDS = (run_cmd, plot_cmd, report_cmd)


def register(group: click.Group) -> None:
    """Add run, plot and report to a click group (sim.cli.main)."""
    for cmd in COMMANDS:
        group.add_command(cmd)


def standalone() -> click.Group:
    """A `membound`-like group holding only these commands (for python -m and tests)."""
    from sim.cli import MemboundGroup

    @click.group(cls=MemboundGroup, context_settings={"help_option_names": ["-h", "--help"]})
    def experiments() -> None:
        """membound experiments: run, plot, report."""

    register(experiments)
    return experiments


if __name__ == "__main__":
    standalone()()
