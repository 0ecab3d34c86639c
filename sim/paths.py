"""Where the shipped data directories (hw_configs/, experiments/) are found.

In a source checkout (and an editable install) they sit beside the `sim` package, at the top
of the repository. A wheel cannot install top-level data directories without claiming
top-level names in site-packages (`experiments` is a common one), so setup.cfg ships them
inside the package, as sim/_data/hw_configs and sim/_data/experiments (its package_dir
lines map them there). The installed copy is looked for first: beside an installed `sim`
lies site-packages, where a directory of the same name may belong to someone else.
"""

from __future__ import annotations

from pathlib import Path

import sim

DATA_DIRS = ("hw_configs", "experiments")

_PACKAGE = Path(sim.__file__).resolve().parent
INSTALLED_ROOT = _PACKAGE / "_data"  # a wheel's copy (see setup.cfg)
SOURCE_ROOT = _PACKAGE.parent  # the repository, in a checkout


def data_root() -> Path:
    """The directory holding hw_configs/ and experiments/ (installed copy, else the checkout)."""
    return INSTALLED_ROOT if (INSTALLED_ROOT / "hw_configs").is_dir() else SOURCE_ROOT


def data_dir(name: str) -> Path:
    """The shipped data directory `name` ('hw_configs' or 'experiments')."""
    if name not in DATA_DIRS:
        raise ValueError(f"unknown data directory {name!r}: expected one of {DATA_DIRS}")
    return data_root() / name


def shipped_experiment(name: str) -> Path:
    """experiments/<name>.yaml as shipped (e.g. 'quickstart')."""
    return data_dir("experiments") / f"{name}.yaml"


def experiment_file(path: str) -> Path:
    """``path`` as given, or, when it does not exist and names a shipped experiment as the
    README does ("experiments/quickstart.yaml"), the shipped copy: an installed membound
    runs the README's commands from any directory."""
    given = Path(path)
    if given.exists() or given.is_absolute() or not given.parts or \
            given.parts[0] != "experiments":
        return given
    shipped = data_dir("experiments").joinpath(*given.parts[1:])
    return shipped if shipped.is_file() else given
