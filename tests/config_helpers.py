"""Helpers shared by the config tests: fixture variants and one-line error capture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sim.config.errors import ConfigError

FIX = Path(__file__).parent / "fixtures" / "config"


def line_of(text: str, snippet: str) -> int:
    """1-based line of the first line containing snippet (computed from the text, not the code)."""
    for i, line in enumerate(text.splitlines(), 1):
        if snippet in line:
            return i
    raise AssertionError(f"{snippet!r} not in text")


def write_variant(base: str, tmp_path: Path, old: str, new: str, name: str) -> tuple[Path, str]:
    """The base fixture text with one piece replaced, written to tmp_path/name."""
    assert old in base, "fixture changed under the test"
    text = base.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def one_line_error(load: Callable[[str], object], path: Path | str) -> str:
    """Load a config that must fail; return its message, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        load(str(path))
    msg = str(info.value)
    assert "\n" not in msg
    return msg
