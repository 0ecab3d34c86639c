"""DIR/report.md and a self-contained DIR/report.html, rebuilt from the results store alone.

Sections: the experiment (name, file, sweep, baseline, its YAML), a hardware summary (preset,
overrides, each tier's peak bandwidth, compute peak, the baseline point's resolved
configuration), the results table, the speedup table, failed points, and the plots (PNG and
SVG under DIR/plots/; the HTML embeds the PNGs as base64). Both documents come from one list of
blocks, so they always say the same thing.
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.experiment import Experiment, default_plots, load_experiment, point_label
from sim.results import CSV_NAME, ResultSet, Row, open_results, write_atomic

PLOTS_DIR = "plots"


@dataclass
class Block:
    kind: str  # h1 h2 p code table img details
    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    path: str = ""  # img: relative to the report


def rebuild(out_dir: str | Path) -> list[Path]:
    """`membound report DIR`: results.csv, plots and the report, from the store only."""
    out = Path(out_dir)
    rs = open_results(out)
    paths = [rs.write_csv(out / CSV_NAME)]
    return paths + build_report(out, rs=rs)


def build_report(out_dir: str | Path, *, rs: ResultSet | None = None,
                 experiment: Experiment | None = None) -> list[Path]:
    """Draw the plots and write report.md and report.html; return the files written.

    Plots come from the experiment's `plots:` (default set when it lists none). A plot the
    experiment asked for that cannot be drawn (say, an unknown metric) is reported in the
    documents and raised as its ConfigError after everything else is written.
    """
    from sim import plots as P

    out = Path(out_dir)
    rs = rs if rs is not None else open_results(out)
    exp = experiment if experiment is not None else _stored_experiment(out)
    given = exp is not None and exp.plots_given
    specs = exp.plots if exp is not None and given else default_plots(rs.swept_keys,
                                                                      bool(rs.baseline))
    plot_dir = out / PLOTS_DIR
    for old in list(plot_dir.glob("[0-9][0-9]_*.png")) + list(plot_dir.glob("[0-9][0-9]_*.svg")):
        old.unlink(missing_ok=True)
    written: list[Path] = []
    images: list[tuple[str, Path]] = []
    notes: list[str] = []
    first_error: UserError | None = None
    for i, spec in enumerate(specs):
        try:
            fig = P.draw(rs, spec)
        except UserError as exc:
            if given and first_error is None:
                first_error = exc
            notes.append(f"plot {i} ({spec.kind}) not drawn: {exc}")
            continue
        files = P.save_figure(fig, plot_dir / P.plot_name(spec, i))
        written += files
        title = fig.axes[0].get_title() if fig.axes else spec.kind
        images.append((title, files[0]))
    blocks = report_blocks(rs, exp, images, notes, out)
    written.append(write_atomic(out / "report.md", to_markdown(blocks)))
    written.append(write_atomic(out / "report.html", to_html(blocks, rs.name, out)))
    if first_error is not None:
        raise first_error
    return written


def _stored_experiment(out: Path) -> Experiment | None:
    path = out / "experiment.yaml"
    if not path.is_file():
        return None
    return load_experiment(path)


# --------------------------------------------------------------------------- content


def report_blocks(rs: ResultSet, exp: Experiment | None, images: list[tuple[str, Path]],
                  notes: list[str], out: Path) -> list[Block]:
    from sim.plots import fmt

    counts: dict[str, int] = {}
    for r in rs.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    b: list[Block] = [
        Block("h1", f"Experiment {rs.name}"),
        Block("p", f"membound {rs.meta.get('version', '?')}, engine {rs.meta.get('engine', '?')}"
                   f"; {len(rs.rows)} points ({status}); report written "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S')}."),
        Block("h2", "Experiment"),
    ]
    lines = [f"file: {rs.meta.get('experiment_path', '?')}"]
    if exp is not None:
        lines.append(f"seed: {exp.seed}")
        for d in exp.dimensions:
            zipped = " (zipped)" if len(d.axes) > 1 else ""
            for a in d.axes:
                lines.append(f"swept {a.key}{zipped}: {', '.join(map(str, a.values))}")
    else:
        lines += [f"swept: {k}" for k in rs.swept_keys]
    if rs.baseline:
        lines.append(f"baseline: {point_label(rs.baseline)} (speedup = baseline simulated time "
                     "/ simulated time, within each combination of the other swept keys)")
    b.append(Block("p", "\n".join(lines)))
    b.append(Block("code", rs.experiment_yaml.rstrip("\n"), path="yaml"))

    b.append(Block("h2", "Hardware"))
    if exp is not None:
        hw = [f"preset: {rs.meta.get('hardware', exp.hardware)}"]
        hw += [f"override {k}: {v.plain()}" for k, v in exp.overrides.items()]
        hw += [f"swept {k}" for k in exp.swept_keys if k.startswith("hardware.")]
        b.append(Block("p", "\n".join(hw)))
    tier_rows = []
    for t in rs.tiers():
        peaks = sorted({float(r.tiers()[t]["peak_gb_per_s"]) for r in rs.ok_rows
                        if t in r.tiers() and isinstance(r.tiers()[t].get("peak_gb_per_s"),
                                                         int | float)})
        tier_rows.append((t, ", ".join(fmt(p) for p in peaks) or "-"))
    comp = sorted({float(c) for r in rs.ok_rows
                   if isinstance(c := ((r.result or {}).get("compute") or {}).get(
                       "peak_ops_per_s"), int | float)})
    if comp:
        tier_rows.append(("compute (ops/s)", ", ".join(fmt(c) for c in comp)))
    if tier_rows:
        b.append(Block("table", headers=("tier", "peak bandwidth (GB/s)"),
                       rows=tuple(tier_rows)))
    ref = next((r for r in rs.rows if r.is_baseline and r.config is not None),
               next((r for r in rs.rows if r.config is not None), None))
    if ref is not None:
        b.append(configuration_block(rs, exp, ref))

    b.append(Block("h2", "Results"))
    b.append(Block("p", f"One row per point, as in {CSV_NAME}. Times in ns, bandwidth in GB/s, "
                        "utilization as a fraction of the tier's peak."))
    cols = [c for c in rs.csv_columns() if c not in ("error", "point")]
    b.append(Block("table", headers=tuple(cols),
                   rows=tuple(tuple(_speedup(v) if c == "speedup" else fmt(v)
                                    for v, c in zip(row, rs.csv_columns(), strict=True)
                                    if c in cols) for row in rs.csv_rows())))

    if exp is not None and exp.published is not None:
        b += published_blocks(rs, exp)

    if rs.baseline:
        b.append(Block("h2", "Speedup vs baseline"))
        rows = []
        for r in rs.rows:
            base = rs.baseline_row(r.group)
            rows.append((*[fmt(r.params.get(k)) for k in rs.swept_keys],
                         fmt(rs.value(r, "sim_time_ns")),
                         fmt(rs.value(base, "sim_time_ns")) if base else "",
                         _speedup(r.speedup)))
        b.append(Block("table", headers=(*rs.swept_keys, "sim time (ns)",
                                         "baseline sim time (ns)", "speedup (×)"),
                       rows=tuple(rows)))

    failed = [r for r in rs.rows if r.status == "failed"]
    pending = [r for r in rs.rows if r.status == "pending"]
    if failed or pending:
        b.append(Block("h2", "Failed and pending points"))
        b.append(Block("table", headers=("point", "status", "error"),
                       rows=tuple((point_label(r.params), r.status, r.error or "")
                                  for r in failed + pending)))

    b.append(Block("h2", "Plots"))
    for title, path in images:
        b.append(Block("img", title, path=str(path.relative_to(out))))
    for n in notes:
        b.append(Block("p", n))
    return b


def configuration_block(rs: ResultSet, exp: Experiment | None, ref: Row) -> Block:
    """One point's configuration in the keys an experiment sets and sweeps.

    The keys are those of the preset file (after `extends:`) with the experiment's overrides
    and the point's swept values applied, values as written ("1 GHz"), file paths relative to
    the experiment. When the preset cannot be read any more, the configuration stored with
    the point (the engine's internal names) is shown instead, and says so.
    """
    from sim.plots import fmt

    label = point_label(ref.params)
    exp_dir = Path(str(rs.meta.get("experiment_path") or ".")).parent
    if exp is not None:
        try:
            flat = user_configuration(exp, ref.index, exp_dir)
        except (UserError, IndexError, OSError) as exc:
            note = f"; the preset could not be read now ({exc}), so the stored values follow"
        else:
            return Block("details", f"configuration of point {label} ({len(flat)} values, in "
                                    "the keys an experiment sets: the preset as on disk now, "
                                    "after extends, overrides and swept values)",
                         headers=("key", "value"), rows=tuple((k, fmt(v)) for k, v in flat))
    else:
        note = ""
    flat = _flatten(ref.config)
    return Block("details", f"configuration of point {label} as stored with the point "
                            f"(internal names of the engine; {len(flat)} values{note})",
                 headers=("key", "value"), rows=tuple((k, fmt(v)) for k, v in flat))


def user_configuration(exp: Experiment, index: int, exp_dir: Path) -> list[tuple[str, Any]]:
    """(dotted key as an experiment writes it, value) for point `index` of the experiment."""
    from sim.config import yamlfile as y
    from sim.llm.point import LLM_KINDS

    point = exp.points()[index]
    kind_node = point.workload.get("kind")
    if kind_node is not None and kind_node.value in LLM_KINDS:
        from sim.config.xpu import XPU_DIR as preset_dir
    else:
        from sim.config.machine import MACHINE_DIR as preset_dir
    path = y.resolve_preset(point.hardware, preset_dir, lambda: [], "hardware preset")
    tree = y.load_yaml(path, preset_dir=preset_dir).plain()
    for key, node in point.overrides.items():
        _set_dotted(tree, key.split("."), node.plain())
    for internal in ("name", "kind"):  # the preset's own name and file kind, not settings
        tree.pop(internal, None)

    def shown(v: Any) -> Any:
        if isinstance(v, str) and y.is_file_ref(v) and Path(v).is_absolute():
            return os.path.relpath(v, exp_dir.resolve())
        return v

    rows = [("hardware.preset", shown(point.hardware))]
    rows += _flatten(tree, "hardware", sort=False)
    rows += _flatten(point.workload.plain(), "workload", sort=False)
    rows.append(("seed", point.seed))
    return [(k, shown(v)) for k, v in rows]


def _set_dotted(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    for p in parts[:-1]:
        if not isinstance(tree.get(p), dict):
            tree[p] = {}
        tree = tree[p]
    old = tree.get(parts[-1])
    tree[parts[-1]] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) \
        else value


def published_blocks(rs: ResultSet, exp: Experiment) -> list[Block]:
    """Published values beside ours, with the difference and, where given, the tolerance."""
    from sim.plots import fmt
    from sim.published import compare

    assert exp.published is not None
    rows = []
    for c in compare(rs, exp.published):
        diff = c.difference
        verdict = {None: "shown", True: "within", False: "OUTSIDE"}[c.within]
        tol = f"±{c.entry.tolerance:.0%}" if c.checked else "-"
        rows.append((point_label(c.entry.where) if c.entry.where else "(all)", c.entry.metric,
                     fmt(c.entry.value), fmt(c.ours) if c.ours is not None else "missing",
                     f"{diff:+.1%}" if diff is not None else "-", tol, verdict, c.entry.note))
    return [Block("h2", "Published results beside ours"),
            Block("p", f"Source: {exp.published.source}. Difference = (ours - published) / "
                       "published; a tolerance marks a value this experiment is checked "
                       "against (tests), the others are shown for comparison."),
            Block("table", headers=("point", "metric", "published", "ours", "difference",
                                    "tolerance", "verdict", "note"), rows=tuple(rows))]


def _speedup(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, int | float) else "-"


def _flatten(data: Any, prefix: str = "", sort: bool = True) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for k in sorted(data, key=str) if sort else data:
            out += _flatten(data[k], f"{prefix}.{k}" if prefix else str(k), sort)
        return out
    if isinstance(data, list) and len(data) > 16:
        return [(prefix, f"[{len(data)} values]")]
    if isinstance(data, list):
        return [(prefix, json.dumps(data))]
    return [(prefix, data)]


# --------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    from sim.report_table import render_markdown

    return render_markdown([_md_cell(h) for h in headers],
                           [[_md_cell(c) for c in r] for r in rows])


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for bl in blocks:
        if bl.kind == "h1":
            out.append(f"# {bl.text}")
        elif bl.kind == "h2":
            out.append(f"## {bl.text}")
        elif bl.kind == "p":
            lines = bl.text.split("\n")
            out.append("\n".join(f"- {x}" for x in lines) if len(lines) > 1 else bl.text)
        elif bl.kind == "code":
            out.append(f"```{bl.path}\n{bl.text}\n```")
        elif bl.kind == "table":
            out.append(_md_table(bl.headers, bl.rows))
        elif bl.kind == "details":
            out.append(f"<details><summary>{html.escape(bl.text)}</summary>\n\n"
                       f"{_md_table(bl.headers, bl.rows)}\n\n</details>")
        elif bl.kind == "img":
            out.append(f"![{bl.text}]({bl.path})\n\n"
                       f"[{Path(bl.path).with_suffix('.svg').name}]"
                       f"({Path(bl.path).with_suffix('.svg').as_posix()})")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
       color: #222; }
.table-scroll { max-width: 100%; overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { overflow-wrap: anywhere; min-width: 5em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
"""


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _html_table(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = "".join(f'<td class="num">{html.escape(c)}</td>' if _is_number(c)
                        else f"<td>{html.escape(c)}</td>" for c in r)
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def to_html(blocks: list[Block], title: str, out: Path) -> str:
    """One HTML file: styles inline, images embedded as base64 PNG."""
    parts = []
    for bl in blocks:
        t = html.escape(bl.text)
        if bl.kind in ("h1", "h2"):
            parts.append(f"<{bl.kind}>{t}</{bl.kind}>")
        elif bl.kind == "p":
            lines = [html.escape(x) for x in bl.text.split("\n")]
            parts.append("<ul>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"
                         if len(lines) > 1 else f"<p>{t}</p>")
        elif bl.kind == "code":
            parts.append(f"<pre><code>{t}</code></pre>")
        elif bl.kind == "table":
            parts.append(_html_table(bl.headers, bl.rows))
        elif bl.kind == "details":
            parts.append(f"<details><summary>{t}</summary>"
                         f"{_html_table(bl.headers, bl.rows)}</details>")
        elif bl.kind == "img":
            data = base64.b64encode((out / bl.path).read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{t}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{t}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>membound: {html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>\n" + "\n".join(parts) + "\n</body></html>\n")

