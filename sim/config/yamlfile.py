"""YAML loading that remembers where every value came from, plus `extends:`.

load_yaml() turns a file into a tree of Node objects: each Node holds a plain
value (dict of Nodes, list of Nodes, or a scalar), the file and line that
defined it, and its key path ("timing.tRCD"). Schemas read the tree with the
small helpers below, so every error they raise names file:line:key.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.config.errors import ConfigError
from sim.config.units import UnitError
from sim.errors import UserError

KeyPath = tuple[str | int, ...]


def format_key_path(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class Node:
    """A YAML value with its origin. value: dict[str, Node] | list[Node] | scalar."""

    value: Any
    path: str  # file that defined this value (after extends: the file that won)
    line: int  # 1-based line of the key (mapping entry) or of the item (list)
    key_path: KeyPath = ()

    @property
    def where(self) -> str:
        return format_key_path(self.key_path)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.path, self.line, self.where, message)

    def get(self, key: str) -> Node | None:
        return self.value.get(key) if self.is_mapping else None

    def __contains__(self, key: str) -> bool:
        return self.is_mapping and key in self.value

    def plain(self) -> Any:
        """The value as plain Python (dicts, lists, scalars), origins dropped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


# --- reading a single file ------------------------------------------------------------


def _scalar(value: Any, path: str, line: int, key_path: KeyPath) -> Any:
    # ruamel's round-trip loader returns subclasses (ScalarInt, ScalarFloat, ScalarBoolean
    # which is an int); normalise to builtins so isinstance checks mean what they say.
    if value is None or isinstance(value, str):
        return None if value is None else str(value)
    if type(value).__name__ == "ScalarBoolean" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    tag = getattr(getattr(value, "tag", None), "value", None)
    shown = f"tagged value {tag}" if tag else f"value of type {type(value).__name__}"
    raise ConfigError(path, line, format_key_path(key_path),
                      f"unsupported YAML {shown} (use a number, string, list or mapping)")


def _key_line(data: CommentedMap, key: Any) -> int:
    """1-based line of a key; keys pulled in by a YAML merge (<<: *anchor) live in the source map."""
    if key in data.lc.data:
        return data.lc.key(key)[0] + 1
    for source in getattr(data, merge_attrib, None) or []:
        source = source[1] if isinstance(source, tuple) else source  # older ruamel: (pos, map)
        if isinstance(source, CommentedMap) and key in source:
            return _key_line(source, key)
    return (data.lc.line or 0) + 1


def _to_node(data: Any, path: str, line: int, key_path: KeyPath) -> Node:
    if isinstance(data, CommentedMap):
        items: dict[str, Node] = {}
        for key, val in data.items():
            kline = _key_line(data, key)
            if not isinstance(key, str):
                raise ConfigError(path, kline, format_key_path(key_path),
                                  f"keys must be strings, got {key!r}")
            items[key] = _to_node(val, path, kline, (*key_path, key))
        return Node(items, path, line, key_path)
    if isinstance(data, CommentedSeq):
        out = []
        for i, val in enumerate(data):
            out.append(_to_node(val, path, data.lc.item(i)[0] + 1, (*key_path, i)))
        return Node(out, path, line, key_path)
    return Node(_scalar(data, path, line, key_path), path, line, key_path)


def read_yaml(path: str | Path) -> Node:
    """One file as a Node tree, without resolving `extends:`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read config file ({exc})") from None
    try:
        with warnings.catch_warnings():  # e.g. reused anchors: stay quiet, output is one line
            warnings.simplefilter("ignore")
            data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(str(path), line, "", f"invalid YAML: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(str(path), 1, "", f"YAML error: {exc}") from None
    if data is None:
        raise ConfigError(str(path), 1, "", "file is empty; expected a mapping of keys")
    if not isinstance(data, CommentedMap):
        raise ConfigError(str(path), 1, "", "expected a mapping of keys at the top level")
    return _to_node(data, str(path), 1, ())


# --- extends: -------------------------------------------------------------------------

# Given the parent key path and a key the child sets, the base keys it displaces
# (e.g. a child's tRCD displaces the base's nRCD, since only one may be given).
Replaces = Callable[[KeyPath, str], Iterable[str]]


def merge(base: Node, child: Node, replaces: Replaces | None = None) -> Node:
    """Deep-merge child over base: mappings merge, scalars and lists replace."""
    if not (base.is_mapping and child.is_mapping):
        return child
    out = dict(base.value)
    for key, val in child.value.items():
        if replaces is not None:
            for gone in replaces(child.key_path, key):
                if gone != key and gone not in child.value:  # a base's key, not the child's own
                    out.pop(gone, None)
        out[key] = merge(out[key], val, replaces) if key in out else val
    return Node(out, child.path, child.line, child.key_path)


def preset_names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def preset_kind(path: Path, preset_dir: Path) -> str:
    """The `kind:` of a preset file, "" when it has none or cannot be read (a broken preset
    is reported when it is loaded, not when presets are listed)."""
    try:
        node = load_yaml(path, preset_dir=preset_dir)
    except Exception:
        return ""
    kind = node.get("kind")
    return kind.value if kind is not None and isinstance(kind.value, str) else ""


def presets_of_kind(directory: Path, kind: str) -> list[str]:
    """Names of the presets in `directory` whose `kind:` is `kind`."""
    return [n for n in preset_names(directory)
            if preset_kind(directory / f"{n}.yaml", directory) == kind]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=5, cutoff=0.6)
    if not close:
        return ""
    # difflib's ratio favours long candidates ('nRCDD' -> 'nRCDRD'); prefer fewest edits, then
    # the shorter name, which is what a one-letter typo usually meant.
    best = min(close, key=lambda c: (_edits(word, c), len(c)))
    return f" (did you mean '{best}'?)"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (names are short, so the plain O(len^2) table is fine)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def is_file_ref(name: str) -> bool:
    """True when a config name is a file path rather than a bare preset name."""
    return "/" in name or "\\" in name or name.endswith((".yaml", ".yml"))


def resolve_preset(
    name: str, directory: Path, available: Callable[[], list[str]], what: str = "preset"
) -> Path:
    """Path of a bare preset name in `directory`, or a file path as given.

    `available` lists the presets to offer when the name is unknown.
    """
    if is_file_ref(name):
        return Path(name)
    path = directory / f"{name}.yaml"
    if not path.is_file():
        names = available()
        raise UserError(
            f"unknown {what} '{name}'{did_you_mean(name, names)}; "
            f"available: {', '.join(names) or 'none'} (in {directory})"
        )
    return path


def load_yaml(
    path: str | Path,
    *,
    preset_dir: Path | None = None,
    replaces: Replaces | None = None,
    _chain: Sequence[Path] = (),
) -> Node:
    """Load a file and resolve `extends:` recursively (the key is removed from the result).

    `extends: name` looks for name.yaml in preset_dir (default: the file's own
    directory); a value with a '/' or a .yaml suffix is a path relative to the file.
    """
    node = read_yaml(path)
    real = Path(path).resolve()
    chain = (*_chain, real)
    ext = node.value.pop("extends", None)
    if ext is None:
        return node
    if not isinstance(ext.value, str) or not ext.value.strip():
        raise ext.error("expected the name or relative path of a preset to extend")
    name = ext.value.strip()
    here = Path(path).parent
    if is_file_ref(name):
        base_path = here / name
        if not base_path.is_file():
            raise ext.error(f"no such file {base_path}")
    else:
        directory = preset_dir if preset_dir is not None else here
        base_path = directory / f"{name}.yaml"
        if not base_path.is_file():
            names = [n for n in preset_names(directory) if (directory / f"{n}.yaml").resolve() != real]
            raise ext.error(
                f"unknown preset '{name}'{did_you_mean(name, names)}; "
                f"available: {', '.join(names) or 'none'}"
            )
    if base_path.resolve() in chain:
        cycle = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise ext.error(f"extends cycle: {cycle}")
    base = load_yaml(base_path, preset_dir=preset_dir, replaces=replaces, _chain=chain)
    return merge(base, node, replaces)


# --- schema helpers -------------------------------------------------------------------


def check_keys(node: Node, allowed: Iterable[str]) -> None:
    """Reject keys not in `allowed`, suggesting the closest allowed key."""
    allowed = list(allowed)
    for key, val in node.value.items():
        if key not in allowed:
            raise val.error(f"unknown key '{key}'{did_you_mean(key, allowed)}")


def section(parent: Node, key: str, *, required: bool = True) -> Node | None:
    """A sub-mapping; None when absent and not required."""
    node = parent.get(key)
    if node is None:
        if required:
            raise missing(parent, key)
        return None
    if not node.is_mapping:
        raise node.error(f"expected a mapping of keys under '{key}'")
    return node


def missing(parent: Node, key: str, hint: str = "") -> ConfigError:
    """Error for a required key that is absent: points at the enclosing section's line."""
    where = format_key_path((*parent.key_path, key))
    return ConfigError(parent.path, parent.line, where, f"missing required key '{key}'{hint}")


def require(parent: Node, key: str) -> Node:
    node = parent.get(key)
    if node is None:
        raise missing(parent, key)
    return node


def as_int(node: Node, *, minimum: int | None = 1) -> int:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, int):
        raise node.error(f"expected an integer, got {_show(v)}")
    if minimum is not None and v < minimum:
        raise node.error(f"must be at least {minimum}, got {v}" if minimum != 1
                         else f"must be a positive integer, got {v}")
    return v


def as_power_of_two(node: Node) -> int:
    v = as_int(node)
    if v & (v - 1):
        raise node.error(f"must be a power of two (the address map splits it into bits), got {v}")
    return v


def as_str(node: Node) -> str:
    if not isinstance(node.value, str):
        raise node.error(f"expected a string, got {_show(node.value)}")
    return node.value


def as_bool(node: Node) -> bool:
    if not isinstance(node.value, bool):
        raise node.error(f"expected true or false, got {_show(node.value)}")
    return node.value


def as_number(node: Node) -> float | int:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise node.error(f"expected a number, got {_show(v)}")
    return v


def as_enum(node: Node, choices: Sequence[str]) -> str:
    v = node.value
    if not isinstance(v, str) or v not in choices:
        hint = did_you_mean(v, choices) if isinstance(v, str) else ""
        raise node.error(f"expected one of {', '.join(choices)}, got {_show(v)}{hint}")
    return v


def as_unit(node: Node, parse: Callable[[Any], int]) -> int:
    """Apply a units.py parser, turning its UnitError into a ConfigError at this node."""
    try:  # plain(): a list or mapping shows as [1, 2] in the message, not as Node objects
        return parse(node.plain())
    except UnitError as exc:
        raise node.error(str(exc)) from None


def as_positive_unit(node: Node, parse: Callable[[Any], int]) -> int:
    """as_unit, and the value must be > 0."""
    value = as_unit(node, parse)
    if value <= 0:
        raise node.error(f"must be positive, got {node.value!r}")
    return value


def _show(v: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            type(None): "nothing", dict: "mapping", list: "list"}.get(type(v), type(v).__name__)
    return kind if isinstance(v, dict | list) or v is None else f"{kind} {v!r}"
