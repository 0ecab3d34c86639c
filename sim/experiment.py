"""Experiment YAML: one hardware preset, one workload, a sweep over both, a baseline and plots.

```yaml
name: controllers                     # default: the file's stem; names reports/<name>/
hardware: piuma                       # a preset name or a path (relative to this file), or
# hardware: {preset: piuma, overrides: {memory.controllers_per_die: 2}}
workload: {kind: synthetic, size: 1000}
seed: 0                               # default 0
sweep:
  axes:                               # (the dotted keys may also sit directly under sweep:)
    hardware.memory.controllers_per_die: [1, 2, 4]
    workload.size: {start: 1000, stop: 4000, step: 1000}       # inclusive stop
    workload.stride: {log: true, start: 8, stop: 512, num: 4}  # 8, 32, 128, 512
    workload.batch: {start: 1, stop: 64, factor: 4}            # 1, 4, 16, 64
  zip:                                # groups of axes varied together (one grid dimension each)
    - {workload.m: [64, 128], workload.n: [32, 64]}
baseline: {hardware.memory.controllers_per_die: 1}
plots:
  - {kind: line, x: workload.size, y: sim_time_ns, hue: hardware.memory.controllers_per_die}
```

Points are the grid product of the dimensions (each independent axis, each zip group), the
first dimension varying slowest. A swept ``hardware.X`` becomes the hardware override ``X``
(``hardware.preset`` swaps the preset); a swept ``workload.X`` is set in the workload mapping.
Every swept value is a yamlfile Node pointing at its sweep entry, so the engine's errors about
it name the sweep line. The baseline selects, among the points sharing the values of every
dimension the baseline does not mention, the one that speedups are measured against.

Only parsing happens here; sim.sweep resolves every point through the engine before running.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config import yamlfile as y
from sim.config.errors import ConfigError
from sim.config.yamlfile import Node
from sim.errors import UserError
from sim.published import Published, parse_published

TOP_KEYS = ("name", "hardware", "workload", "sweep", "baseline", "seed", "plots", "published")
HARDWARE_KEYS = ("preset", "overrides")
SWEEP_KEYS = ("axes", "zip")
RANGE_KEYS = ("start", "stop", "step", "num", "factor", "log")
PLOT_KINDS = ("line", "bar", "heatmap", "roofline", "timeline", "peak", "stalls", "breakdown")
PLOT_KEYS = ("kind", "x", "y", "hue", "where", "title")
PREFIXES = ("hardware.", "workload.")
MAX_VALUES = 100_000  # per axis: a range that long is a typo, not an experiment
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Axis:
    """One swept key and its values; nodes[i] carries value i's file:line (for errors)."""

    key: str
    values: tuple[Any, ...]
    nodes: tuple[Node, ...]
    entry: Node
    log: bool = False  # generated with log spacing or a factor (plots use a log axis)
    # a range with integer ends whose values are not all integers: the values rounded to
    # integers, used when the engine finds that the key takes integers (sim.sweep)
    int_values: tuple[int, ...] | None = None

    def integer_error(self) -> str | None:
        """Why this axis cannot become integers (rounding repeats a value), else None."""
        if self.int_values is None:
            return "its ends are not both integers (write them as integers to round the values)"
        if len(set(self.int_values)) != len(self.int_values):
            shown = ", ".join(map(str, self.int_values))
            return (f"rounded to integers its values repeat ({shown}); use fewer values or a "
                    "wider range")
        return None


@dataclass(frozen=True)
class Dimension:
    """One independent dimension of the grid: a single axis, or a zip group of equal length."""

    axes: tuple[Axis, ...]

    def __len__(self) -> int:
        return len(self.axes[0].values)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)


@dataclass(frozen=True)
class PlotSpec:
    """A plot request. For heatmaps x and hue are the two axes and y the colour."""

    kind: str
    x: str | None = None
    y: str | None = None
    hue: str | None = None
    where: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    node: Node | None = None  # the plots[i] entry, for errors found when drawing

    def field_node(self, name: str) -> Node | None:
        if self.node is None:
            return None
        return self.node.get(name) or self.node


@dataclass
class PointSpec:
    """One point of the sweep before the engine resolves it."""

    index: int
    params: dict[str, Any]  # swept key -> plain value, in sweep order
    hardware: str
    overrides: dict[str, Node]
    workload: Node
    seed: int
    group: str  # JSON of the values of the dimensions the baseline does not mention
    is_baseline: bool
    value_nodes: dict[str, Node]  # swept key -> the node of its value here

    @property
    def label(self) -> str:
        return point_label(self.params)


@dataclass
class Experiment:
    name: str
    path: Path
    text: str
    hardware: str
    hardware_node: Node
    overrides: dict[str, Node]
    workload: Node
    dimensions: list[Dimension]
    baseline: dict[str, Any]
    baseline_node: Node | None
    seed: int
    plots: list[PlotSpec]
    plots_given: bool
    published: Published | None = None  # values from papers set beside ours (sim/published.py)

    @property
    def axes(self) -> list[Axis]:
        return [a for d in self.dimensions for a in d.axes]

    @property
    def swept_keys(self) -> list[str]:
        return [a.key for a in self.axes]

    @property
    def log_axes(self) -> list[str]:
        return [a.key for a in self.axes if a.log]

    def axis(self, key: str) -> Axis:
        for a in self.axes:
            if a.key == key:
                return a
        raise KeyError(key)

    def points(self) -> list[PointSpec]:
        """Every point of the grid, first dimension slowest."""
        base_dims = [i for i, d in enumerate(self.dimensions)
                     if any(k in self.baseline for k in d.keys)]
        out = []
        ranges = [range(len(d)) for d in self.dimensions]
        for index, combo in enumerate(itertools.product(*ranges)):
            params: dict[str, Any] = {}
            value_nodes: dict[str, Node] = {}
            for dim, i in zip(self.dimensions, combo, strict=True):
                for axis in dim.axes:
                    params[axis.key] = axis.values[i]
                    value_nodes[axis.key] = axis.nodes[i]
            hardware = self.hardware
            overrides = dict(self.overrides)
            workload = self.workload
            for key, node in value_nodes.items():
                rest = key.split(".", 1)[1]
                if key == "hardware.preset":
                    hardware = _preset_ref(node, self.path)
                elif key.startswith("hardware."):
                    overrides[rest] = node
                else:
                    workload = _set_in(workload, rest.split("."), node)
            group = json.dumps([[k, params[k]] for j, d in enumerate(self.dimensions)
                                if j not in base_dims for k in d.keys])
            is_base = bool(self.baseline) and all(
                _same(params[k], v) for k, v in self.baseline.items())
            out.append(PointSpec(index, params, hardware, overrides, workload, self.seed,
                                 group, is_base, value_nodes))
        return out

    def with_integer_axis(self, key: str) -> Experiment:
        """This experiment with range axis `key` rounded to integers (Axis.int_values)."""
        axis = self.axis(key)
        assert axis.int_values is not None and axis.integer_error() is None
        ints = axis.int_values
        nodes = tuple(Node(v, n.path, n.line, n.key_path)
                      for v, n in zip(ints, axis.nodes, strict=True))
        new = dataclasses.replace(axis, values=ints, nodes=nodes, int_values=None)
        dims = [Dimension(tuple(new if a.key == key else a for a in d.axes))
                for d in self.dimensions]
        baseline = dict(self.baseline)
        if key in baseline:  # a baseline value given as one of the unrounded values
            i = next(i for i, v in enumerate(axis.values) if _same(v, baseline[key]))
            baseline[key] = ints[i]
        return dataclasses.replace(self, dimensions=dims, baseline=baseline)


def point_label(params: dict[str, Any]) -> str:
    """'controllers_per_die=2, size=100' (short names unless two keys share their last part)."""
    if not params:
        return "(single point)"
    names = short_names(list(params))
    return ", ".join(f"{names[k]}={v}" for k, v in params.items())


def short_names(keys: list[str]) -> dict[str, str]:
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, str) == isinstance(b, str) \
        and isinstance(a, bool) == isinstance(b, bool)


# --------------------------------------------------------------------------- loading


class NotSwept(ConfigError):
    """A baseline, plot or `where:` key that no sweep entry has (sim.sweep first lets the
    engine check the swept keys: when the sweep holds the typo, that error is the useful one)."""


def load_experiment(path: str | Path, *, references: bool = True) -> Experiment:
    """Parse and check an experiment file (no engine involved). Raises ConfigError/UserError.

    references=False leaves out what refers to swept keys (baseline, plots, published).
    """
    path = Path(path)
    root = y.read_yaml(path)
    return experiment_from_node(root, path, path.read_text(encoding="utf-8"),
                                references=references)


def experiment_from_node(root: Node, path: Path, text: str, *,
                         references: bool = True) -> Experiment:
    y.check_keys(root, TOP_KEYS)
    name = _name(root, path)
    hardware, hardware_node, overrides = _hardware(root, path)
    workload = _workload(root)
    seed_node = root.get("seed")
    seed = y.as_int(seed_node, minimum=0) if seed_node is not None else 0
    dimensions = _sweep(root.get("sweep"))
    axes = {a.key: a for d in dimensions for a in d.axes}
    for key, node in overrides.items():
        if f"hardware.{key}" in axes:
            raise node.error(f"'{key}' is also swept (sweep entry hardware.{key} at line "
                             f"{axes['hardware.' + key].entry.line}); keep one of the two")
    for key, axis in axes.items():
        if key == "hardware.preset":
            for v, n in zip(axis.values, axis.nodes, strict=True):
                if not isinstance(v, str) or not v.strip():
                    raise n.error(f"expected a preset name or path, got {v!r}")
    baseline_node = root.get("baseline") if references else None
    baseline = _baseline(baseline_node, dimensions)
    plots_node = root.get("plots") if references else None
    plots = _plots(plots_node, list(axes), bool(baseline)) if references else []
    published = parse_published(root.get("published"), list(axes)) if references else None
    return Experiment(name, path, text, hardware, hardware_node, overrides, workload,
                      dimensions, baseline, baseline_node, seed, plots, plots_node is not None,
                      published)


def _name(root: Node, path: Path) -> str:
    node = root.get("name")
    if node is None:
        name = path.stem
        if not NAME_RE.match(name):
            raise y.missing(root, "name", f" (the file name '{path.stem}' cannot serve as one)")
        return name
    name = y.as_str(node).strip()
    if not NAME_RE.match(name):
        raise node.error(f"must be a simple name (letters, digits, '.', '_', '-'; it names the "
                         f"output directory reports/<name>/), got {node.value!r}")
    return name


def _preset_ref(node: Node, exp_path: Path) -> str:
    """A preset name as given; a file path relative to the experiment file made usable."""
    name = y.as_str(node).strip()
    if not name:
        raise node.error("expected a preset name or path, got an empty string")
    if y.is_file_ref(name) and not Path(name).is_absolute():
        return str(exp_path.parent / name)
    return name


def _hardware(root: Node, path: Path) -> tuple[str, Node, dict[str, Node]]:
    node = y.require(root, "hardware")
    if not node.is_mapping:
        if not isinstance(node.value, str):
            raise node.error("expected a preset name or path, or a mapping "
                             "{preset: NAME, overrides: {dotted.key: value}}")
        return _preset_ref(node, path), node, {}
    y.check_keys(node, HARDWARE_KEYS)
    preset = y.require(node, "preset")
    overrides: dict[str, Node] = {}
    over = y.section(node, "overrides", required=False)
    if over is not None:
        for key, val in over.value.items():
            if not key or key.startswith(".") or key.endswith(".") or ".." in key:
                raise val.error(f"malformed dotted key '{key}'")
            overrides[key] = val
    return _preset_ref(preset, path), preset, overrides


def _workload(root: Node) -> Node:
    node = y.require(root, "workload")
    if not node.is_mapping:
        raise node.error("expected a mapping with 'kind' and the workload's parameters")
    y.as_str(y.require(node, "kind"))
    return node


def _set_in(root: Node, parts: list[str], value: Node) -> Node:
    """A copy of `root` with the value at `parts` replaced (mappings created as needed)."""
    if not parts:
        return value
    if not root.is_mapping:
        where = y.format_key_path(root.key_path)
        raise value.error(f"cannot sweep inside {where}: it is a {_kind(root.value)}, "
                          "not a mapping")
    child = root.value.get(parts[0])
    if child is None:
        child = Node({}, value.path, value.line, (*root.key_path, parts[0]))
    new = dict(root.value)
    new[parts[0]] = _set_in(child, parts[1:], value)
    return Node(new, root.path, root.line, root.key_path)


def _kind(v: Any) -> str:
    return "list" if isinstance(v, list) else f"value {v!r}"


# --------------------------------------------------------------------------- sweep


def _sweep(node: Node | None) -> list[Dimension]:
    if node is None:
        return []
    if not node.is_mapping:
        raise node.error("expected a mapping of swept keys (hardware.X / workload.X) to values")
    dims: list[Dimension] = []
    seen: dict[str, Node] = {}

    def add(key: str, entry: Node, distinct: bool = True) -> Axis:
        _check_swept_key(key, entry)
        if key in seen:
            raise entry.error(f"'{key}' is swept twice (also at line {seen[key].line})")
        seen[key] = entry
        return _axis(key, entry, distinct)

    for key, entry in node.value.items():
        if key == "axes":
            axes = y.section(node, "axes")
            for k, e in axes.value.items():
                dims.append(Dimension((add(k, e),)))
        elif key == "zip":
            if not isinstance(entry.value, list) or not entry.value:
                raise entry.error("expected a list of groups, each a mapping of swept keys to "
                                  "value lists of one length")
            for group in entry.value:
                if not group.is_mapping or not group.value:
                    raise group.error("expected a mapping of swept keys to values")
                # an axis of a zip group may repeat a value; the group's tuples may not
                axes_ = tuple(add(k, e, False) for k, e in group.value.items())
                n = len(axes_[0].values)
                for a in axes_[1:]:
                    if len(a.values) != n:
                        raise a.entry.error(
                            f"zip group axes must have one length: {len(a.values)} values here, "
                            f"{n} for '{axes_[0].key}'")
                rows = list(zip(*(a.values for a in axes_), strict=True))
                for i, row in enumerate(rows):
                    for j in range(i):
                        if all(_same(u, v) for u, v in zip(rows[j], row, strict=True)):
                            raise axes_[0].nodes[i].error(
                                f"zip group entry {i} repeats entry {j}: "
                                + ", ".join(f"{a.key}={v!r}" for a, v in zip(axes_, row,
                                                                              strict=True)))
                dims.append(Dimension(axes_))
        elif "." in key:
            dims.append(Dimension((add(key, entry),)))
        else:
            raise entry.error(f"unknown key '{key}'{y.did_you_mean(key, SWEEP_KEYS)}; expected "
                              "'axes', 'zip' or a dotted key beginning with hardware. or workload.")
    return dims


def _check_swept_key(key: str, entry: Node) -> None:
    if key.startswith(PREFIXES) and ".." not in key and not key.endswith("."):
        return
    head = key.split(".", 1)[0]
    hint = y.did_you_mean(head, ("hardware", "workload"))
    raise entry.error(f"swept key '{key}' must begin with 'hardware.' or 'workload.'{hint}")


def _axis(key: str, entry: Node, distinct: bool = True) -> Axis:
    if isinstance(entry.value, list):
        if not entry.value:
            raise entry.error("expected at least one value")
        values = tuple(n.plain() for n in entry.value)
        for i, v in enumerate(values):
            for j in range(i if distinct else 0):
                if _same(values[j], v):
                    raise entry.value[i].error(f"value {v!r} appears twice")
        return Axis(key, values, tuple(entry.value), entry)
    if entry.is_mapping:
        values, log, ints = _range(entry)
        nodes = tuple(Node(v, entry.path, entry.line, entry.key_path) for v in values)
        return Axis(key, tuple(values), nodes, entry, log, ints)
    raise entry.error("expected a list of values, {start, stop, step}, {log: true, start, stop, "
                      "num} or {start, stop, factor}; got " + y._show(entry.value))


def _range(entry: Node) -> tuple[list[int | float], bool, tuple[int, ...] | None]:
    """(values, log spacing, the values rounded to integers or None: Axis.int_values)."""
    y.check_keys(entry, RANGE_KEYS)
    start = y.as_number(y.require(entry, "start"))
    stop_node = y.require(entry, "stop")
    stop = y.as_number(stop_node)
    log_node = entry.get("log")
    log = y.as_bool(log_node) if log_node is not None else False
    given = [k for k in ("step", "num", "factor") if k in entry]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise entry.error(f"give exactly one of step, num or factor (got {what})")
    kind = given[0]
    node = entry.value[kind]
    ints = all(isinstance(v, int) for v in (start, stop))
    int_ends = ints  # num and factor ranges between integers may be rounded (Axis.int_values)
    if kind == "step":
        if log:
            raise log_node.error("log spacing takes num or factor, not step")
        step = y.as_number(node)
        ints = ints and isinstance(step, int)
        if step == 0:
            raise node.error("step must not be zero")
        span = (stop - start) / step
        if span < 0:
            raise node.error(f"step {step} never reaches stop {stop} from start {start}")
        n = math.floor(span + 1e-9) + 1
        _check_count(entry, n)
        vals: list[Any] = [start + i * step for i in range(n)]
    elif kind == "num":
        n = y.as_int(node)
        _check_count(entry, n)
        if n == 1 and start != stop:
            raise node.error("num must be at least 2 when start and stop differ")
        if log:
            if start <= 0 or stop <= 0:
                raise entry.error("log spacing needs start and stop above zero")
            vals = [start * (stop / start) ** (i / (n - 1)) if n > 1 else start for i in range(n)]
        else:
            vals = [start + (stop - start) * i / (n - 1) if n > 1 else start for i in range(n)]
    else:
        factor = y.as_number(node)
        if factor <= 0 or factor == 1:
            raise node.error(f"factor must be above zero and not 1, got {factor}")
        if start <= 0 or stop <= 0:
            raise entry.error("a factor range needs start and stop above zero")
        if (stop - start) * (factor - 1) < 0:
            raise node.error(f"factor {factor} never reaches stop {stop} from start {start}")
        ints = ints and isinstance(factor, int)
        vals, v = [], start
        while (v <= stop * (1 + 1e-9)) if factor > 1 else (v >= stop * (1 - 1e-9)):
            vals.append(v)
            _check_count(entry, len(vals))
            v = v * factor
        log = True
    out = _tidy(vals, ints)
    rounded = None
    if int_ends and kind != "step" and not all(isinstance(v, int) for v in out):
        rounded = tuple(int(math.copysign(math.floor(abs(v) + 0.5), v)) for v in vals)
    return out, log, rounded


def _check_count(entry: Node, n: int) -> None:
    if n > MAX_VALUES:
        raise entry.error(f"range has more than {MAX_VALUES:,} values")


def _tidy(vals: list[Any], ints: bool) -> list[int | float]:
    """Integers when the ends are integers and every value is one; else 12 significant digits."""
    if ints and all(abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)) for v in vals):
        return [int(round(v)) for v in vals]
    return [float(f"{float(v):.12g}") for v in vals]


# --------------------------------------------------------------------------- baseline, plots


def _baseline(node: Node | None, dims: list[Dimension]) -> dict[str, Any]:
    if node is None:
        return {}
    if not node.is_mapping or not node.value:
        raise node.error("expected a mapping of swept keys to the baseline's values, "
                         "e.g. {hardware.memory.controllers_per_die: 1}")
    axes = {a.key: a for d in dims for a in d.axes}
    if not axes:
        raise node.error("a baseline needs a sweep: it picks one value of a swept key")
    out: dict[str, Any] = {}
    for key, val in node.value.items():
        if key not in axes:
            raise _not_swept(val, f"'{key}' is not swept{y.did_you_mean(key, axes)}; swept "
                             f"keys: {', '.join(axes)}")
        v = val.plain()
        if not any(_same(v, a) for a in axes[key].values):
            raise val.error(f"{v!r} is not among the swept values of {key}: "
                            f"{', '.join(repr(a) for a in axes[key].values)}")
        out[key] = v
    for d in dims:
        mentioned = [k for k in d.keys if k in out]
        if len(mentioned) > 1 and not any(
                all(_same(d.axes[d.keys.index(k)].values[i], out[k]) for k in mentioned)
                for i in range(len(d))):
            raise node.error(f"no point of the zip group has {', '.join(mentioned)} = "
                             f"{', '.join(repr(out[k]) for k in mentioned)} together")
    return out


def _plots(node: Node | None, swept: list[str], baseline: bool) -> list[PlotSpec]:
    if node is None:
        return default_plots(swept, baseline)
    if not isinstance(node.value, list):
        raise node.error("expected a list of plots, e.g. - {kind: line, x: KEY, y: METRIC}")
    out = []
    for item in node.value:
        if not item.is_mapping:
            raise item.error("expected a mapping {kind: ..., x: ..., y: ..., hue: ...}")
        y.check_keys(item, PLOT_KEYS)
        kind = y.as_enum(y.require(item, "kind"), PLOT_KINDS)
        vals: dict[str, str | None] = {}
        for k in ("x", "y", "hue", "title"):
            vals[k] = y.as_str(item.value[k]) if k in item else None
        for k in ("x", "hue"):
            if vals[k] is not None and vals[k] not in swept:
                raise _not_swept(
                    item.value[k],
                    f"'{vals[k]}' is not a swept key{y.did_you_mean(vals[k], swept)}; swept keys: "
                    f"{', '.join(swept) or 'none'}")
        where = where_of(item.get("where"), swept)
        spec = PlotSpec(kind, vals["x"], vals["y"], vals["hue"], where, vals["title"], item)
        out.append(_fill_plot_defaults(spec, swept, baseline))
    return out


def where_of(node: Node | None, swept: list[str]) -> dict[str, Any]:
    """A `where:` mapping (plots, published values): swept keys to plain values."""
    if node is None:
        return {}
    if not node.is_mapping:
        raise node.error("expected a mapping of swept keys to values")
    for key, val in node.value.items():
        if key not in swept:
            raise _not_swept(val, f"'{key}' is not a swept key{y.did_you_mean(key, swept)}")
    return {k: v.plain() for k, v in node.value.items()}


def _fill_plot_defaults(spec: PlotSpec, swept: list[str], baseline: bool) -> PlotSpec:
    """Missing x / hue / y filled in where the kind needs them."""
    kind, x, hue, y_ = spec.kind, spec.x, spec.hue, spec.y
    if kind == "line" and x is None:
        if not swept:
            raise _plot_error(spec, "x", "a line plot needs a swept key for x, and nothing is "
                              "swept")
        x = swept[0]
    if kind == "heatmap":
        free = [k for k in swept if k not in (x, hue)]
        if x is None and free:
            x = free.pop(0)
        if hue is None and free:
            hue = free.pop(0)
        if x is None or hue is None or x == hue:
            raise _plot_error(spec, "hue", "a heatmap needs two different swept keys: x "
                              "(horizontal) and hue (vertical); y is the colour")
    if kind in ("line", "bar") and x is not None and x == hue:
        raise _plot_error(spec, "hue", "hue must be another swept key than x")
    if kind in ("line", "bar", "heatmap") and y_ is None:
        y_ = "speedup" if kind == "bar" and baseline else "sim_time_ns"
    return PlotSpec(kind, x, y_, hue, spec.where, spec.title, spec.node)


def _not_swept(node: Node, message: str) -> NotSwept:
    return NotSwept(node.path, node.line, node.where, message)


def _plot_error(spec: PlotSpec, fieldname: str, message: str) -> UserError:
    node = spec.field_node(fieldname)
    return node.error(message) if node is not None else UserError(message)


def default_plots(swept: list[str], baseline: bool) -> list[PlotSpec]:
    """The plots drawn when an experiment lists none."""
    out: list[PlotSpec] = []
    if swept:
        hue = swept[1] if len(swept) > 1 else None
        out.append(PlotSpec("line", swept[0], "sim_time_ns", hue))
        if baseline:
            out.append(PlotSpec("bar", swept[0], "speedup", hue))
        if len(swept) >= 2:
            out.append(PlotSpec("heatmap", swept[0], "speedup" if baseline else "sim_time_ns",
                                swept[1]))
    out += [PlotSpec("roofline", hue=swept[0] if swept else None), PlotSpec("timeline"),
            PlotSpec("peak"), PlotSpec("stalls")]
    return out
