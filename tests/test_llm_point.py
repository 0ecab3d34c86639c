"""LLM experiment points: bad input is one line with file:line and key (exit code 2), and the
published-results experiment lands within the tolerances written in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.config.errors import ConfigError
from sim.errors import UserError
from sim.published import compare
from sim.results import open_results
from sim.sweep import plan_experiment, run_experiment

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(textwrap.dedent(body))
    return p


def plan_error(tmp_path: Path, body: str) -> UserError:
    with pytest.raises(UserError) as e:
        plan_experiment(write(tmp_path, body))
    return e.value


ATTENTION = """\
    name: t
    hardware: a100
    workload:
      kind: attention
      algorithm: flash
      batch: 1
      heads: 4
      seq: 256
      head_dim: 64
    """

DECODE = """\
    name: t
    hardware: h100
    workload:
      kind: decode_attention
      model: llama-3-8b
      batch: 4
      context: 1024
    """


@pytest.mark.parametrize("line, fragment, key", [
    ("  sram: 256 B\n", "4*d", "workload.sram"),            # a tile that does not fit
    ("  head_dim: 0\n", "positive", "workload.head_dim"),    # zero size
    ("  batch: -3\n", "positive", "workload.batch"),          # negative size
    ("  algorithm: flsh\n", "did you mean 'flash'", "workload.algorithm"),
    ("  bogus: 1\n", "bogus", "workload.bogus"),
])
def test_attention_bad_input_names_file_line_and_key(tmp_path: Path, line: str, fragment: str,
                                                      key: str) -> None:
    body = textwrap.dedent(ATTENTION)
    name = line.split(":")[0].strip()
    body = "\n".join(x for x in body.splitlines() if x.strip().split(":")[0] != name) + "\n"
    err = plan_error(tmp_path, body + line)
    assert isinstance(err, ConfigError), err
    text = str(err)
    assert f"exp.yaml:{body.count(chr(10)) + 1}" in text and key in text and fragment in text


def test_heads_not_divisible_by_kv_heads(tmp_path: Path) -> None:
    err = plan_error(tmp_path, textwrap.dedent(DECODE) + "  kv_heads: 5\n")
    assert "exp.yaml:8" in str(err) and "workload.kv_heads" in str(err) and "32" in str(err)


def test_context_beyond_the_models_maximum(tmp_path: Path) -> None:
    err = str(plan_error(tmp_path, textwrap.dedent(DECODE).replace("1024", "9000")))
    assert "exp.yaml:" in err and "9000" in err and "8192" in err


def test_kv_that_does_not_fit_says_needed_and_available(tmp_path: Path) -> None:
    body = textwrap.dedent(DECODE).replace("batch: 4", "batch: 4000").replace("1024", "8192")
    err = str(plan_error(tmp_path, body))
    assert "exp.yaml:6" in err and "workload.batch" in err
    assert "GiB" in err and "needs" in err and "free after weights" in err


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    body = textwrap.dedent(DECODE).replace("llama-3-8b", "llama-3-70b")
    assert "more than the" in str(plan_error(tmp_path, body))


@pytest.mark.parametrize("old, new, fragment", [
    ("llama-3-8b", "llama-3-9b", "did you mean"),
    ("hardware: h100", "hardware: h10", "did you mean 'h100'"),
])
def test_unknown_model_or_device(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    err = str(plan_error(tmp_path, textwrap.dedent(DECODE).replace(old, new)))
    assert fragment in err


def test_cli_exit_code_2_and_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, textwrap.dedent(DECODE) + "  kv_heads: 5\n")
    r = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "o"),
                                  "--no-progress"])
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membound: ") and "Traceback" not in r.output


def test_whole_model_is_transfer_level_only(tmp_path: Path) -> None:
    body = """\
        name: t
        hardware: h100
        workload: {kind: llm, model: llama-3-8b, batch: 2, context: 128, level: request}
        """
    assert "transfer level" in str(plan_error(tmp_path, body))


def test_flashattention_io_within_published_tolerances(tmp_path: Path) -> None:
    """experiments/papers/flashattention_io.yaml: every toleranced value in its band."""
    exp_path = ROOT / "experiments" / "papers" / "flashattention_io.yaml"
    run_experiment(exp_path, tmp_path, jobs=1, progress=False, report=True)
    exp, _ = plan_experiment(exp_path)
    rows = compare(open_results(tmp_path), exp.published)
    checked = [c for c in rows if c.checked]
    assert len(checked) == 4
    for c in checked:
        assert c.within, (c.entry.where, c.entry.metric, c.entry.value, c.ours)
    report = (tmp_path / "report.md").read_text()
    assert "Published results beside ours" in report and "41.7" in report


def test_a_model_file_beside_the_experiment_runs(tmp_path: Path) -> None:
    """A model given by a relative path is found beside the experiment, at plan and run."""
    (tmp_path / "half.yaml").write_text(textwrap.dedent("""\
        extends: llama-3-8b
        name: llama-3-8b-half-depth
        source: "test: llama-3-8b with 16 layers"
        layers: 16
        """))
    path = write(tmp_path, textwrap.dedent(DECODE).replace("llama-3-8b", "half.yaml"))
    run_experiment(path, tmp_path / "out", jobs=1, progress=False, report=False)
    rows = open_results(tmp_path / "out").ok_rows
    assert len(rows) == 1
    # half the layers of llama-3-8b: half its KV bytes per token (128 KiB -> 64 KiB)
    assert rows[0].metrics()["kv_token_gb"] == pytest.approx(4 * 1024 * 65536 / 1e9)
