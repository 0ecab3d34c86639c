"""Install and first run: the wheel carries everything read at run time and finds it there,
`membound demo` is the quickstart sweep, and a numba compile announces itself once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.kernel_cache import NOTICE

REPO = Path(sim.__file__).resolve().parents[1]
# what a wheel is built from; everything else in the checkout stays out of the copy
SOURCES = ("sim", "workloads", "hw_configs", "experiments", "setup.cfg", "pyproject.toml",
           "MANIFEST.in", "README.md")
JUNK = ("__pycache__", "*.pyc", "*.nbi", "*.nbc")


def _files(root: Path, sub: str) -> set[str]:
    """Relative paths of the files under root/sub, caches left out."""
    return {p.relative_to(root).as_posix() for p in (root / sub).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".nbi", ".nbc")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources, offline (the venv's setuptools)."""
    if not (REPO / "setup.cfg").is_file():
        pytest.skip("not a source checkout")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns(*JUNK))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    out = base / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # setuptools warns when a data directory is not among the packages (it would be dropped)
    assert "absent from the `packages` configuration" not in proc.stderr, proc.stderr
    (whl,) = out.glob("membound-*.whl")
    return whl


def test_wheel_holds_every_module_preset_experiment_matrix_and_model(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f for f in _files(REPO, "sim") | _files(REPO, "workloads") if f.endswith(".py")}
    expected |= _files(REPO, "workloads/matrices") | _files(REPO, "workloads/models")
    expected |= {f"sim/_data/{f}" for f in _files(REPO, "hw_configs") | _files(REPO, "experiments")}
    missing = sorted(expected - names)
    assert not missing, ("missing from the wheel (a new directory must be listed in setup.cfg's "
                         f"packages, a new data file kind in MANIFEST.in): {missing[:10]}")
    assert "sim/_data/hw_configs/memory/ddr4_3200.yaml" in names  # the lookup's own example
    assert not any(n.startswith(("hw_configs/", "experiments/")) for n in names)  # no top level


def test_installed_copy_finds_its_presets_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = textwrap.dedent("""
        import sim, sim.paths
        from sim.config.machine import list_machine_presets, load_machine_config
        from sim.config.memory import PRESET_DIR, list_memory_presets, load_memory_config
        from sim.experiment import load_experiment
        from workloads.llm.models import MODEL_DIR
        from workloads.spgemm.matrices import MATRIX_DIR
        print(sim.__file__)
        print(PRESET_DIR, MODEL_DIR, MATRIX_DIR)
        print(load_memory_config("ddr4_3200").name, "piuma" in list_machine_presets(),
              load_machine_config("piuma").memory_preset, len(list_memory_presets()))
        print(load_experiment(sim.paths.shipped_experiment("quickstart")).name)
        print(sim.paths.experiment_file("experiments/quickstart.yaml"))
    """)
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    module, dirs, loaded, experiment, readme_path = proc.stdout.splitlines()
    assert Path(module).is_relative_to(site)  # the copy, not the checkout
    for d in dirs.split():
        assert Path(d).is_relative_to(site) and Path(d).is_dir(), d
    presets = {p.stem for p in (REPO / "hw_configs" / "memory").glob("*.yaml")}
    assert loaded.split()[:3] == ["ddr4_3200", "True", "piuma_ddr5_4400"]
    assert int(loaded.split()[3]) >= len(presets) - 2  # scratchpad presets are not DRAM presets
    assert experiment == "quickstart"
    # the README's `membound run experiments/quickstart.yaml`, outside any checkout
    assert Path(readme_path).is_relative_to(site) and Path(readme_path).is_file()


def test_demo_is_the_quickstart_sweep_and_make_demo_runs_it(monkeypatch, tmp_path) -> None:
    import sim.sweep
    from sim.cli import main
    from sim.errors import UserError

    seen = {}

    def stop(experiment, out_dir, **kwargs):  # record the call; the sweep itself is tested elsewhere
        seen.update(experiment=experiment, out_dir=out_dir, **kwargs)
        raise UserError("stopped by the test")

    monkeypatch.setattr(sim.sweep, "run_experiment", stop)
    result = CliRunner().invoke(main, ["demo", "--jobs", "1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "stopped by the test" in result.stderr
    assert Path(seen["experiment"]) == REPO / "experiments" / "quickstart.yaml"
    assert seen["out_dir"] == str(tmp_path) and seen["jobs"] == 1 and seen["resume"] is False
    recipe = (REPO / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    assert "membound demo" in recipe and "membound run" not in recipe
    help_text = CliRunner().invoke(main, ["--help"]).output
    assert "membound demo" in help_text and "trace gen" in help_text


KERNEL = """
from numba import njit

@njit(cache=True)
def twice(x):
    return 2 * x
"""


def _run_kernel(tmp_path: Path, module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / f"{module}.py").write_text(KERNEL)
    code = ("from sim.kernel_cache import install_notice; install_notice(); "
            f"import {module}; assert {module}.twice(21) == 42")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**env, "PYTHONPATH": str(tmp_path)})


def test_compile_notice_on_a_cold_cache_only_and_once_per_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEMBOUND_COMPILE_NOTICE"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    cold = _run_kernel(tmp_path, "k1", env)
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(NOTICE) == 1
    warm = _run_kernel(tmp_path, "k1", env)  # same kernel: loaded from the disk cache
    assert warm.returncode == 0 and NOTICE not in warm.stderr, warm.stderr
    # a worker of the same command (it inherits the token) compiling after the first did
    env["MEMBOUND_COMPILE_NOTICE"] = f"test-{os.getpid()}"
    try:
        first, second = _run_kernel(tmp_path, "k2", env), _run_kernel(tmp_path, "k3", env)
    finally:
        from sim.kernel_cache import _marker

        _marker(env["MEMBOUND_COMPILE_NOTICE"]).unlink(missing_ok=True)
    assert first.stderr.count(NOTICE) == 1 and NOTICE not in second.stderr, second.stderr
