"""Plots drawn from the results store only (never from a simulation): matplotlib, Agg, no pyplot.

Every function takes a ResultSet (sim.results) and returns the matplotlib Figure, so callers
(and tests) can read the axes labels, titles, legends and plotted data; save_figure() writes
it as PNG and SVG. Failed or pending points are left out of every plot.

    line_plot      a metric vs a swept key, one line per value of `hue` (and of other axes)
    bar_plot       a metric (default: speedup vs baseline) per point, grouped by `hue`
    heatmap_plot   a metric as colour over two swept keys (x horizontal, hue vertical)
    roofline_plot  ops per DRAM byte vs achieved ops/s, log-log, with tier and compute ceilings
    timeline_plot  bandwidth over simulated time per tier, for one point
    peak_plot      achieved vs peak bandwidth per tier, for one point
    stalls_plot    stall breakdown (fraction of thread time) per point, stacked

`where` (a mapping swept key -> value) keeps only the matching points; timeline and peak
draw the first matching point (default: the first baseline point, else the first point).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from sim.config.yamlfile import did_you_mean  # noqa: E402
from sim.errors import UserError  # noqa: E402
from sim.experiment import PlotSpec, point_label, short_names  # noqa: E402
from sim.results import ResultSet, Row  # noqa: E402

# roofline: one colour per DRAM ceiling (its points share it); other tiers' ceilings neutral
ROOF_COLOURS = tuple(f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown",
                                          "pink", "olive", "cyan"))
OTHER_CEILING_COLOURS = ("dimgray", "darkcyan", "rosybrown", "darkkhaki", "slategray", "indigo")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
PLOT_FUNCS = ("line", "bar", "heatmap", "roofline", "timeline", "peak", "stalls", "breakdown")


class PlotError(UserError):
    """A plot request that cannot be drawn; `field` names the plot key at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- labels


SUFFIX_UNITS = (("_gb_per_s", "GB/s"), ("_per_s", "/s"), ("_ns", "ns"), ("_ps", "ps"),
                ("_us", "µs"), ("_ms", "ms"), ("_bytes", "B"), ("_b", "B"), ("_s", "s"),
                ("_rate", "fraction"), ("_fraction", "fraction"), ("_pct", "%"))
TIER_LABELS = {"bandwidth_gb_per_s": ("bandwidth", "GB/s"),
               "peak_gb_per_s": ("peak bandwidth", "GB/s"),
               "utilization": ("utilization", "fraction of peak"),
               "bytes_read": ("bytes read", "B"), "bytes_written": ("bytes written", "B")}


def axis_label(column: str, rs: ResultSet | None = None) -> str:
    """A column as an axis label with its unit: 'dram bandwidth (GB/s)'."""
    if column == "sim_time_ns":
        return "simulated time (ns)"
    if column == "speedup":
        return "speedup vs baseline (×)"
    if rs is not None and column in rs.swept_keys:
        return column
    head, _, rest = column.partition(".")
    if rest in TIER_LABELS and (rs is None or head in rs.tiers()):
        what, unit = TIER_LABELS[rest]
        return f"{head} {what} ({unit})"
    if head == "compute":
        return {"ops": "compute ops", "peak_ops_per_s": "peak compute (ops/s)",
                "ops_per_s": "achieved compute (ops/s)"}.get(rest, column)
    if head == "stalls" and rest:
        return f"{rest} stalls (fraction of thread time)"
    name = column[8:] if column.startswith("metrics.") else column
    for suffix, unit in SUFFIX_UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            if "_per_" in name and unit not in ("GB/s", "/s"):
                break  # 'bytes_per_ns' says its unit itself
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ") if "_per_" in name else name


def fmt(v: Any) -> str:
    """A value for tables and annotations: '10,100.00', '1.98', '1.500e+12', ints as they are."""
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
        return f"{v:.3e}"
    if abs(v) >= 100:
        return f"{v:,.2f}"
    return f"{v:.4g}"


# --------------------------------------------------------------------------- selection


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) != isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return value == wanted or str(value) == str(wanted)


def _check_swept(rs: ResultSet, key: str | None, field: str, what: str = "swept key") -> None:
    if key is not None and key not in rs.swept_keys:
        raise PlotError(f"'{key}' is not a {what}{did_you_mean(key, rs.swept_keys)}; swept keys: "
                        f"{', '.join(rs.swept_keys) or 'none'}", field)


def _check_metric(rs: ResultSet, column: str, field: str = "y") -> None:
    try:
        rs.check_column(column)
    except UserError as exc:
        raise PlotError(str(exc), field) from None


def matching(rs: ResultSet, where: dict[str, Any]) -> list[Row]:
    """The finished points whose swept values match `where` (possibly none)."""
    return [r for r in rs.ok_rows if all(_matches(r.params.get(k), v) for k, v in where.items())]


def select(rs: ResultSet, where: dict[str, Any] | None = None) -> list[Row]:
    """The finished points matching `where`."""
    where = where or {}
    for k in where:
        _check_swept(rs, k, "where")
    rows = matching(rs, where)
    if not rows:
        what = f" matching {point_label(where)}" if where else ""
        raise PlotError(f"no finished point{what} to plot", "where" if where else None)
    return rows


def one_row(rs: ResultSet, where: dict[str, Any] | None = None) -> Row:
    rows = select(rs, where)
    return next((r for r in rows if r.is_baseline), rows[0]) if not where else rows[0]


def _unique(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(_matches(v, u) and type(v) is type(u) for u in out):
            out.append(v)
    return out


def _numeric(values: Sequence[Any]) -> bool:
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                for v in values)


def powers_of_two(values: Sequence[Any]) -> bool:
    """Integer values that are all powers of two spanning at least a factor of four (thread,
    core, channel counts, batch sizes): a log2 axis spaces them evenly."""
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                             and v & (v - 1) == 0 for v in values):
        return False
    return max(values) >= 4 * min(values)


def _num(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return math.nan


def _varying(rs: ResultSet, rows: list[Row], exclude: Sequence[str | None]) -> list[str]:
    """Swept keys other than `exclude` that take more than one value among rows."""
    return [k for k in rs.swept_keys if k not in exclude
            and len(_unique([r.params.get(k) for r in rows])) > 1]


def _label(params: dict[str, Any], keys: Sequence[str]) -> str:
    """'preset=piuma, dataflow=smash, version=1'; keys whose value is null left out (a
    zipped sweep fills them for the points they do not apply to)."""
    names = short_names(list(keys))
    shown = [k for k in keys if params.get(k) is not None] or list(keys)
    return ", ".join(f"{names[k]}={params.get(k)}" for k in shown)


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def outside_legend(ax: Any, **kw: Any) -> Any:
    """The legend right of the axes (constrained layout makes room): it never hides a bar."""
    return ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), **kw)


def fit_titles(fig: Figure, attempts: int = 4) -> Figure:
    """Wrap (and, failing that, shrink) each axes title until it lies inside the figure.

    A title is centred over its axes, and constrained layout reserves height for it but not
    width: a title longer than the figure (a heatmap's axes are narrower than the figure
    because of the colour bar) would be clipped at the edges. Wrapping needs the laid-out
    positions, so the figure is drawn (without rendering) and checked again after each change.
    """
    for _ in range(attempts):
        fig.draw_without_rendering()
        renderer = fig._get_renderer()
        changed = False
        for ax in fig.axes:
            title = ax.title
            text = title.get_text()
            if not text:
                continue
            box = title.get_window_extent(renderer)
            centre = (box.x0 + box.x1) / 2
            room = 2 * min(centre - fig.bbox.x0, fig.bbox.x1 - centre) * 0.97
            if box.x0 >= fig.bbox.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1:
                continue
            lines = text.split("\n")
            widest = max(len(line) for line in lines)
            chars = max(8, int(widest * room / max(box.width, 1.0)))
            wrapped = "\n".join(textwrap.fill(line, chars, break_long_words=False)
                                 for line in lines)
            if wrapped != text:
                title.set_text(wrapped)
            else:  # a single word too long to wrap
                title.set_fontsize(title.get_fontsize() * max(0.5, room / box.width))
            changed = True
        if not changed:
            break
    return fig


# --------------------------------------------------------------------------- kinds


def line_plot(rs: ResultSet, x: str, y: str, hue: str | None = None,
              where: dict[str, Any] | None = None, title: str | None = None) -> Figure:
    """y vs swept key x; one line per value of hue (and per value of other varying keys)."""
    _check_swept(rs, x, "x")
    _check_swept(rs, hue, "hue")
    if hue == x:
        raise PlotError("hue must differ from x", "hue")
    _check_metric(rs, y)
    rows = select(rs, where)
    others = _varying(rs, rows, (x, hue))
    series_keys = ([hue] if hue else []) + others
    xs_all = _unique([r.params[x] for r in rows])
    numeric = _numeric(xs_all)
    fig = new_figure()
    ax = fig.add_subplot()
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(_label(r.params, series_keys), []).append(r)
    for name, members in groups.items():
        pts = [(r.params[x], _num(rs.value(r, y))) for r in members]
        pts = [(a, b) for a, b in pts if not math.isnan(b)]
        if numeric:
            pts.sort(key=lambda p: p[0])
            xd = [float(a) for a, _ in pts]
        else:
            pts.sort(key=lambda p: _index(xs_all, p[0]))
            xd = [float(_index(xs_all, a)) for a, _ in pts]
        ax.plot(xd, [b for _, b in pts], marker="o", label=name or y)
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all])
    elif (x in rs.log_axes and all(float(v) > 0 for v in xs_all)) or powers_of_two(xs_all):
        ax.set_xscale("log", base=2)
        if len(xs_all) <= 12:  # the swept values themselves as ticks, not 2^k
            ticks = sorted(float(v) for v in xs_all)
            ax.set_xticks(ticks, [fmt(v) for v in sorted(xs_all)])
            ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(axis_label(x, rs))
    ax.set_ylabel(axis_label(y, rs))
    ax.set_title(title or f"{axis_label(y, rs)} vs {x}" + _where_note(where))
    ax.grid(True, alpha=0.3)
    if series_keys:
        ax.legend(title=", ".join(short_names(series_keys).values()), fontsize="small")
    return fit_titles(fig)


def _index(values: list[Any], v: Any) -> int:
    return next(i for i, u in enumerate(values) if _matches(v, u))


def _where_note(where: dict[str, Any] | None) -> str:
    return f" ({point_label(where)})" if where else ""


def bar_plot(rs: ResultSet, x: str | None = None, y: str = "speedup", hue: str | None = None,
             where: dict[str, Any] | None = None, title: str | None = None) -> Figure:
    """One bar per point (grouped by hue); for speedup a dashed line marks the baseline (1×)."""
    _check_swept(rs, x, "x")
    _check_swept(rs, hue, "hue")
    if hue is not None and hue == x:
        raise PlotError("hue must differ from x", "hue")
    _check_metric(rs, y)
    rows = select(rs, where)
    cat_keys = ([x] if x else []) + _varying(rs, rows, (x, hue))
    cats = _unique([_cat_of(r, x, cat_keys, rs) for r in rows])
    hues = _unique([r.params[hue] for r in rows]) if hue else [None]
    fig = new_figure(8.0, 4.8)
    ax = fig.add_subplot()
    width = 0.8 / len(hues)
    pos = np.arange(len(cats), dtype=float)
    hue_name = short_names([hue])[hue] if hue else ""
    for j, hv in enumerate(hues):
        heights = np.full(len(cats), np.nan)
        for r in rows:
            if hue and not _matches(r.params[hue], hv):
                continue
            cat = _cat_of(r, x, cat_keys, rs)
            heights[cats.index(cat)] = _num(rs.value(r, y))
        label = f"{hue_name}={hv}" if hue else axis_label(y, rs)
        ax.bar(pos + (j - (len(hues) - 1) / 2) * width, heights, width, label=label)
    ax.set_xticks(pos, cats, rotation=30 if max(map(len, cats)) > 8 else 0,
                  ha="right" if max(map(len, cats)) > 8 else "center")
    if y == "speedup":
        ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8, label="baseline (1×)")
    ax.set_xlabel(x if x and len(cat_keys) == 1 else "point")
    ax.set_ylabel(axis_label(y, rs))
    ax.set_title(title or f"{axis_label(y, rs)} by {x or 'point'}" + _where_note(where))
    ax.grid(True, axis="y", alpha=0.3)
    outside_legend(ax, title=hue_name or None)
    return fit_titles(fig)


def _cat_of(r: Row, x: str | None, cat_keys: list[str], rs: ResultSet) -> str:
    if x and len(cat_keys) == 1:
        return str(r.params[x])
    if cat_keys:
        return _label(r.params, cat_keys)
    return point_label({k: r.params[k] for k in rs.swept_keys})


def heatmap_plot(rs: ResultSet, x: str, hue: str, y: str, where: dict[str, Any] | None = None,
                 title: str | None = None) -> Figure:
    """Colour = y over x (horizontal) and hue (vertical); other swept keys fixed (first value)."""
    _check_swept(rs, x, "x")
    _check_swept(rs, hue, "hue")
    if x == hue:
        raise PlotError("a heatmap needs two different swept keys (x and hue)", "hue")
    _check_metric(rs, y)
    rows = select(rs, where)
    fixed = dict(where or {})
    for k in _varying(rs, rows, (x, hue)):
        first = next((r for r in rows if r.is_baseline), rows[0])
        fixed[k] = first.params[k]
    rows = [r for r in rows if all(_matches(r.params.get(k), v) for k, v in fixed.items())]
    xv = _unique([r.params[x] for r in rows])
    hv = _unique([r.params[hue] for r in rows])
    grid = np.full((len(hv), len(xv)), np.nan)
    for r in rows:
        grid[_index(hv, r.params[hue]), _index(xv, r.params[x])] = _num(rs.value(r, y))
    fig = new_figure(max(5.0, 1.1 * len(xv) + 2.5), max(3.5, 0.6 * len(hv) + 2))
    ax = fig.add_subplot()
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xv)), [str(v) for v in xv])
    ax.set_yticks(range(len(hv)), [str(v) for v in hv])
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(hv)):
        for j in range(len(xv)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, fmt(float(grid[i, j])), ha="center", va="center", fontsize=8,
                        color="black" if grid[i, j] > mid else "white")
    fig.colorbar(im, ax=ax, label=axis_label(y, rs))
    ax.set_xlabel(axis_label(x, rs))
    ax.set_ylabel(axis_label(hue, rs))
    ax.set_title(title or f"{axis_label(y, rs)} over {short_names([x, hue])[x]} and "
                 f"{short_names([x, hue])[hue]}" + _where_note(fixed))
    return fit_titles(fig)


def dram_tier(tiers: dict[str, Any]) -> str | None:
    """The tier the roofline divides by: 'dram', else the first whose name says dram/hbm."""
    if "dram" in tiers:
        return "dram"
    return next((t for t in tiers if re.search("dram|hbm|ddr", t, re.I)), None)


def roofline_point(rs: ResultSet, r: Row) -> tuple[float, float] | None:
    """(ops per DRAM byte, achieved ops/s) of one point, or None when it has no such data."""
    res = r.result or {}
    ops = _num((res.get("compute") or {}).get("ops"))
    t = _num(res.get("sim_time_ns"))
    tier = dram_tier(r.tiers())
    if tier is None or not (ops > 0 and t > 0):
        return None
    d = r.tiers()[tier]
    nbytes = _num(d.get("bytes_read", 0)) + _num(d.get("bytes_written", 0))
    if not nbytes > 0:
        return None
    return ops / nbytes, ops / (t * 1e-9)


def roofline_plot(rs: ResultSet, hue: str | None = None, where: dict[str, Any] | None = None,
                  title: str | None = None) -> Figure:
    """Log-log roofline: one marker per point, each tier's bandwidth ceiling, compute ceilings.

    The x axis divides by DRAM bytes, so a point's roof is its own machine's DRAM ceiling:
    each DRAM ceiling has its own colour and the points under it take that colour (and the
    compute ceiling of those points too, when several machines are compared). When `hue`
    does not decide the DRAM ceiling (several machines per hue value), the hue value is the
    marker shape instead. Other tiers' ceilings are drawn dash-dotted in neutral colours.
    """
    _check_swept(rs, hue, "hue")
    rows = select(rs, where)
    pts = [(r, roofline_point(rs, r)) for r in rows]
    pts = [(r, p) for r, p in pts if p is not None]
    if not pts:
        raise PlotError("no finished point has compute ops, DRAM bytes and a simulated time "
                        "for a roofline")
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    roof_of: list[tuple[str, float] | None] = []  # each point's DRAM ceiling
    compute_of: list[float] = []
    others: dict[tuple[str, float], None] = {}
    for r, _ in pts:
        tiers = r.tiers()
        dram = dram_tier(tiers)
        bw = _num((tiers.get(dram) or {}).get("peak_gb_per_s")) if dram else math.nan
        roof_of.append((dram, bw) if dram and bw > 0 else None)
        for t, d in tiers.items():
            b = _num(d.get("peak_gb_per_s"))
            if t != dram and b > 0:
                others[(t, b)] = None
        compute_of.append(_num(((r.result or {}).get("compute") or {}).get("peak_ops_per_s")))
    roofs = sorted({rf for rf in roof_of if rf is not None}, key=lambda rf: (rf[1], rf[0]))
    colour = {rf: ROOF_COLOURS[i % len(ROOF_COLOURS)] for i, rf in enumerate(roofs)}
    peaks = list(dict.fromkeys(c for c in compute_of if c > 0))
    top = max(peaks) if peaks else max(p[1] for _, p in pts) * 2
    ois = [p[0] for _, p in pts]
    ridges = [top / (b * 1e9) for _, b in [*roofs, *others]]
    grid = np.geomspace(min([*ois, *ridges]) / 10, max([*ois, *ridges]) * 10, 200)
    for rf in roofs:  # capped by the compute peak of the machine the roof belongs to
        caps = [c for c, o in zip(compute_of, roof_of, strict=True) if o == rf and c > 0]
        cap = max(caps) if caps else top
        line = ax.plot(grid, np.minimum(grid * rf[1] * 1e9, cap), linestyle="--", linewidth=1.2,
                       color=colour[rf], label=f"{rf[0]} ceiling {rf[1]:.4g} GB/s")[0]
        line.set_gid(f"ceiling:{rf[0]}")
    for j, (tier, gbps) in enumerate(others):
        line = ax.plot(grid, np.minimum(grid * gbps * 1e9, top), linestyle="-.", linewidth=1,
                       color=OTHER_CEILING_COLOURS[j % len(OTHER_CEILING_COLOURS)],
                       label=f"{tier} ceiling {gbps:.4g} GB/s")[0]
        line.set_gid(f"ceiling:{tier}")
    for j, p in enumerate(peaks):
        owners = {o for c, o in zip(compute_of, roof_of, strict=True) if c == p}
        if len(peaks) == 1:
            c = "black"
        elif len(owners) == 1 and None not in owners:
            c = colour[next(iter(owners))]  # one machine's compute roof, in its colour
        else:
            c = OTHER_CEILING_COLOURS[(len(others) + j) % len(OTHER_CEILING_COLOURS)]
        line = ax.axhline(p, color=c, linestyle=":", linewidth=1.2,
                          label=f"compute ceiling {p:.3g} ops/s")
        line.set_gid("ceiling:compute")
    handles = list(ax.get_lines())
    groups: dict[str, list[int]] = {}
    for i, (r, _) in enumerate(pts):
        name = f"{short_names([hue])[hue]}={r.params[hue]}" if hue else "points"
        groups.setdefault(name, []).append(i)
    # colour alone tells groups apart when each group sits under one roof of its own
    group_roofs = [{roof_of[i] for i in members} for members in groups.values()]
    one_to_one = all(len(g) == 1 for g in group_roofs) and \
        len({next(iter(g)) for g in group_roofs}) == len(groups)
    for k, (name, members) in enumerate(groups.items()):
        marker = "o" if one_to_one else MARKERS[k % len(MARKERS)]
        by_roof: dict[tuple[str, float] | None, list[int]] = {}
        for i in members:
            by_roof.setdefault(roof_of[i], []).append(i)
        for rf, idx in by_roof.items():
            line = ax.plot([pts[i][1][0] for i in idx], [pts[i][1][1] for i in idx],
                           linestyle="none", marker=marker, markersize=7,
                           color=colour.get(rf, "0.5") if rf else "0.5",
                           markeredgecolor="black", label=name)[0]
            line.set_gid("points")
            if one_to_one:
                handles.append(line)
        if not one_to_one:
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=7,
                                  color="white", markeredgecolor="black", label=name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops / DRAM byte)")
    ax.set_ylabel("achieved performance (ops/s)")
    ax.set_title(title or "roofline" + _where_note(where))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fit_titles(fig)


def _time_unit(max_ns: float) -> tuple[str, float]:
    if max_ns < 1e4:
        return "ns", 1.0
    if max_ns < 1e7:
        return "µs", 1e3
    return "ms", 1e6


def timeline_plot(rs: ResultSet, where: dict[str, Any] | None = None,
                  title: str | None = None) -> Figure:
    """Bandwidth over simulated time (bin midpoints) for one point, one panel per series.

    Each series gets its own panel and y scale (shared time axis): the mesh can move ten
    times the DRAM's bytes, and on one axis the DRAM line would look flat. Series that never
    move a byte get no panel; the x label names them.
    """
    r = one_row(rs, where)
    tl = (r.result or {}).get("timeline") or {}
    series = tl.get("series") or {}
    bin_ns = _num(tl.get("bin_ns"))
    if not series or not bin_ns > 0:
        raise PlotError(f"point {point_label(r.params)} has no timeline")
    order = list(series)  # colours follow the stored order, so a tier keeps its colour
    shown = [k for k in order if any(_num(v) > 0 for v in series[k])]
    idle = [k for k in order if k not in shown]
    if not shown:
        raise PlotError(f"point {point_label(r.params)} moved no bytes on its timeline")
    n = max(len(v) for v in series.values())
    unit, scale = _time_unit(n * bin_ns)
    fig = new_figure(7.0, 1.3 + 1.5 * len(shown))
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    cmap = matplotlib.colormaps["tab10"]
    for ax, tier in zip(axes, shown, strict=True):
        vals = np.nan_to_num(np.asarray(series[tier], dtype=float))
        t = (np.arange(len(vals)) + 0.5) * bin_ns / scale
        ax.plot(t, vals, label=tier, color=cmap(order.index(tier) % cmap.N))
        ax.set_ylabel(f"{tier}\n(GB/s)")
        peak = _num((r.tiers().get(tier) or {}).get("peak_gb_per_s"))
        top = float(vals.max())
        if peak > 0:  # how far from its peak the tier runs
            ax.axhline(peak, color="0.4", linestyle="--", linewidth=0.8)
            ax.annotate(f"peak {peak:.4g}", (0.995, peak), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=7, color="0.3")
            top = max(top, peak)
        ax.set_ylim(0, top * 1.12)
        ax.grid(True, alpha=0.3)
    axes[0].set_xlim(0, n * bin_ns / scale)
    note = f"; no traffic: {', '.join(idle)}" if idle else ""
    axes[-1].set_xlabel(f"simulated time ({unit}){note}")
    axes[0].set_title(title or f"bandwidth over simulated time: {point_label(r.params)}")
    return fit_titles(fig)


def peak_plot(rs: ResultSet, where: dict[str, Any] | None = None,
              title: str | None = None) -> Figure:
    """Achieved and peak bandwidth per tier for one point, utilization written over the bars."""
    r = one_row(rs, where)
    tiers = r.tiers()
    if not tiers:
        raise PlotError(f"point {point_label(r.params)} has no tier statistics")
    names = list(tiers)
    achieved = [_num(tiers[t].get("bandwidth_gb_per_s")) for t in names]
    peak = [_num(tiers[t].get("peak_gb_per_s")) for t in names]
    fig = new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    pos = np.arange(len(names), dtype=float)
    bars = ax.bar(pos - 0.2, achieved, 0.4, label="achieved")
    ax.bar(pos + 0.2, peak, 0.4, label="peak", alpha=0.6)
    for b, t in zip(bars, names, strict=True):
        u = _num(tiers[t].get("utilization"))
        if not math.isnan(u):
            ax.annotate(f"{100 * u:.1f}%", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
    positive = [v for v in achieved + peak if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_xticks(pos, names)
    ax.set_xlabel("memory tier")
    ax.set_ylabel("bandwidth (GB/s)")
    ax.set_title(title or f"achieved vs peak bandwidth: {point_label(r.params)}")
    ax.grid(True, axis="y", alpha=0.3)
    outside_legend(ax)
    return fit_titles(fig)


# stacked-fraction plots: result key -> (what the fractions are of, legend title, default title)
BREAKDOWNS = {"stalls": ("fraction of thread time", "stall", "stall breakdown"),
              "breakdown": ("fraction of simulated time", "task", "where the time goes")}


def stalls_plot(rs: ResultSet, x: str | None = None, where: dict[str, Any] | None = None,
                title: str | None = None, key: str = "stalls") -> Figure:
    """Stacked fractions per point (one bar per point, one colour per category): the
    machine's stall breakdown (``stalls``) or a task graph's time breakdown (``breakdown``:
    each label's time alone, the overlap of several, idle; sim/llm/summary.py)."""
    _check_swept(rs, x, "x")
    ylabel, legend, default_title = BREAKDOWNS[key]
    rows = [r for r in select(rs, where) if (r.result or {}).get(key)]
    if not rows:
        raise PlotError(f"no finished point has {key} statistics")
    keys = ([x] if x else []) + _varying(rs, rows, (x,))
    cats = [_label(r.params, keys) if keys else "point" for r in rows]
    if x and len(keys) == 1:
        cats = [str(r.params[x]) for r in rows]
    names: dict[str, None] = {}
    for r in rows:  # categories in the engine's order; those zero everywhere left out
        names.update(dict.fromkeys(k for k, v in r.result[key].items() if _num(v) > 0))
    fig = new_figure(max(6.0, 0.6 * len(rows) + 4), 4.5)
    ax = fig.add_subplot()
    pos = np.arange(len(rows), dtype=float)
    bottom = np.zeros(len(rows))
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for i, name in enumerate(names):
        h = np.array([_num(r.result[key].get(name, 0.0)) for r in rows])
        h = np.nan_to_num(h)
        ax.bar(pos, h, 0.7, bottom=bottom, label=name, color=cmap(i % cmap.N))
        bottom += h
    ax.set_ylim(0, max(1.0, float(bottom.max()) * 1.02))
    long = max(map(len, cats)) > 8
    ax.set_xticks(pos, cats, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set_xlabel(x if x and len(keys) == 1 else "point")
    ax.set_ylabel(ylabel)
    ax.set_title(title or default_title + _where_note(where))
    handles, labels = ax.get_legend_handles_labels()  # legend top = stack top
    ax.legend(handles[::-1], labels[::-1], title=legend, fontsize="small", loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    return fit_titles(fig)


# --------------------------------------------------------------------------- specs, files


def draw(rs: ResultSet, spec: PlotSpec) -> Figure:
    """Draw one PlotSpec; errors point at its YAML entry when it came from a file."""
    try:
        return _draw(rs, spec)
    except PlotError as exc:
        node = spec.field_node(exc.field or "kind")
        if node is not None:
            raise node.error(str(exc)) from None
        raise


def _draw(rs: ResultSet, spec: PlotSpec) -> Figure:
    k, w, t = spec.kind, spec.where, spec.title
    if k == "line":
        if spec.x is None:
            raise PlotError("a line plot needs x (a swept key)", "x")
        return line_plot(rs, spec.x, spec.y or "sim_time_ns", spec.hue, w, t)
    if k == "bar":
        return bar_plot(rs, spec.x, spec.y or ("speedup" if rs.baseline else "sim_time_ns"),
                        spec.hue, w, t)
    if k == "heatmap":
        if spec.x is None or spec.hue is None:
            raise PlotError("a heatmap needs x and hue (two swept keys); y is the colour", "x")
        return heatmap_plot(rs, spec.x, spec.hue, spec.y or "sim_time_ns", w, t)
    if k == "roofline":
        return roofline_plot(rs, spec.hue, w, t)
    if k == "timeline":
        return timeline_plot(rs, w, t)
    if k == "peak":
        return peak_plot(rs, w, t)
    if k in BREAKDOWNS:
        return stalls_plot(rs, spec.x, w, t, key=k)
    raise PlotError(f"unknown plot kind '{k}'{did_you_mean(k, PLOT_FUNCS)}", "kind")


def plot_name(spec: PlotSpec, index: int | None = None) -> str:
    """A file name (no suffix): '00_line_sim_time_ns_vs_size_by_controllers_per_die'."""
    names = short_names([k for k in (spec.x, spec.hue) if k])
    parts = [spec.kind] + [p for p in (spec.y, spec.x and f"vs_{names[spec.x]}",
                                       spec.hue and f"by_{names[spec.hue]}") if p]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(parts)).strip("_")
    return f"{index:02d}_{name}" if index is not None else name


def flash_sweep_plot(sweeps: Sequence[dict[str, Any]]) -> Figure:
    """Sustained read bandwidth against request size, one line per queue depth, one panel
    per sweep (sim.memory.flash.bandwidth_sweep: through the link, inside the drive)."""
    fig = new_figure(width=5.5 * len(sweeps), height=4.0)
    axes = fig.subplots(1, len(sweeps), sharey=True, squeeze=False)[0]
    for ax, data in zip(axes, sweeps, strict=True):
        kib = [s / 1024 for s in data["sizes"]]
        for j, qd in enumerate(data["depths"]):
            gbs = [row[j] / 1e9 for row in data["read_bytes_per_s"]]
            ax.plot(kib, gbs, marker="o", label=f"QD {qd}")
        ax.axhline(data["limits_bytes_per_s"]["peak"] / 1e9, color="grey", ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("request size (KiB)")
        where = "through its link" if data["through_link"] else "inside the drive (no link)"
        ax.set_title(f"{data['memory']} {where}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("sustained random read (GB/s)")
    axes[-1].legend(fontsize="small")
    return fit_titles(fig)


def save_figure(fig: Figure, base: str | Path) -> list[Path]:
    """Write base.png and base.svg; return both paths."""
    base = Path(base)
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        out = []
        for ext, kw in ((".png", {"dpi": 120}), (".svg", {})):
            path = base.with_name(base.name + ext)
            fig.savefig(path, **kw)
            out.append(path)
    except OSError as exc:
        raise UserError(f"{base}: cannot write plot: {exc.strerror or exc}") from None
    return out
