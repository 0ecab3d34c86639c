"""`membound spgemm` (one SpGEMM point) and `membound bench spgemm` (its end-to-end speed).

Plain click commands; sim/cli.py adds them with ``register(main)``: ``spgemm`` to the
group itself, ``spgemm`` under its ``bench`` group. User mistakes (a bad matrix file, a
complex one, mismatched shapes, an unknown dataflow or version) are UserErrors: one line
``membound: ...`` and exit code 2 (MemboundGroup in sim/cli.py). A run whose C disagrees
with scipy exits with code 1. ``python -m sim.spgemm_cli ...`` runs them without sim/cli.py.
"""

from __future__ import annotations

import re
from typing import Any

import click

from sim.errors import UserError
from sim.experiment_cli import parse_scalar

GENERATOR_RE = re.compile(r"^(rmat|erdos_renyi|banded):(.*)$")


# --------------------------------------------------------------------------- helpers


def matrix_arg(text: str | None, option: str) -> Any:
    """A --matrix/--b value: a shipped name, a path, or GENERATOR:key=value,... (a dict)."""
    if text is None:
        return None
    m = GENERATOR_RE.match(text.strip())
    if m is None:
        return text
    spec: dict[str, Any] = {"generator": m.group(1)}
    for item in filter(None, (s.strip() for s in m.group(2).split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} {text!r}: expected GENERATOR:key=value,... "
                            f"(e.g. rmat:scale=10,seed=1), got the item {item!r}")
        spec[key.strip()] = parse_scalar(value.strip())
    return spec


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """--set KEY=VALUE items (VALUE read as YAML: 2, 4 MiB, [0, 5]) as hardware overrides."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from sim.config.machine import make_node

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. "
                            "network.calendar_slots=262144")
        try:
            value = YAML(typ="safe", pure=True).load(text)
        except YAMLError:
            raise UserError(f"--set {item!r}: the value is not valid YAML") from None
        out[key.strip()] = make_node(value, path="--set", line=1)
    return out


def spgemm_params(dataflow: str, version: int | None, matrix: str, b: str | None,
                  partition: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"dataflow": dataflow, "a": matrix_arg(matrix, "--matrix")}
    if version is not None:
        p["version"] = version
    if b is not None:
        p["b"] = matrix_arg(b, "--b")
    if partition is not None:
        p["partition"] = partition
    return p


def run_spgemm(machine: str, params: dict[str, Any],
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One SpGEMM point through sim.point: the result dict of run_resolved."""
    from sim.config.machine import load_machine_config
    from sim.point import ResolvedPoint, run_resolved
    from workloads.spgemm.common import parse_params

    parse_params(params)  # unknown partition etc.: one line before the machine loads
    spec = load_machine_config(machine, overrides or {})
    point = ResolvedPoint(hardware=machine, spec=spec, kind="spgemm", workload=params, seed=0)
    return run_resolved(point)


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:.3g}"


def format_spgemm(result: dict[str, Any]) -> str:
    """The SpGEMM metrics of a run_resolved result (flattened metrics) as text."""
    m = result["metrics"]
    t_s = result["sim_time_ns"] * 1e-9
    what = m["dataflow"] + (f" v{m['version']}" if m.get("version") is not None else "")
    mults, pp = m["multiplications"], m["partial_products_stored"]
    lines = [
        f"SpGEMM {what}: A {m['matrix_a']} ({m['nnz_a']:,} nonzeros) · "
        + ("B = A" if m["matrix_b"] == m["matrix_a"] and m["nnz_b"] == m["nnz_a"]
           else f"B {m['matrix_b']} ({m['nnz_b']:,} nonzeros)")
        + " -> C "
        f"{m['nnz_c_structural']:,} nonzeros; partition {m['partition']}, "
        f"{m['streams']} streams",
        f"  multiplications {mults:,}, flops {m['flops']:,} = "
        f"{m['flops'] / t_s / 1e9 if t_s else 0.0:.3f} GFLOP/s simulated",
        f"  DRAM requested: loads {m['dram_load_bytes']:,} B, stores {m['dram_store_bytes']:,} B,"
        f" atomics {m['dram_atomics']:,}; footprint {m['dram_footprint_bytes']:,} B",
        f"  redundant-fetch factor {m['redundant_fetch_factor']:.2f} (input elements fetched "
        f"{m['input_bytes_fetched']:,} B: A {m['input_bytes_fetched_a']:,}, B "
        f"{m['input_bytes_fetched_b']:,}; distinct {m['input_bytes_distinct']:,} B)",
        f"  partial products stored {pp:,}; atomics {m['atomics']:,} (scratchpad local "
        f"{m['sp_local_atomics']:,}, remote {m['sp_remote_atomics']:,}; DRAM "
        f"{m['dram_atomics']:,})",
        f"  hash probes {m['hash_probes']:,}, collisions {m['hash_collisions']:,}"
        + (f" ({m['hash_probes'] / mults:.2f} probes per product)" if m["hash_probes"] else "")
        + (f"; busiest scratchpad bank {m['sp_bank_atomics_max_over_mean']:.2f}x the mean "
           "bank's atomics" if m["sp_bank_atomics_max_over_mean"] else ""),
        f"  scratchpad bytes: local {m['sp_local_bytes']:,}, remote {m['sp_remote_bytes']:,}",
        f"  load imbalance {m['load_imbalance']:.2f} (ops per thread: max "
        f"{m['ops_per_thread_max']:,}, mean {m['ops_per_thread_mean']:,.0f}); "
        f"{m['ops']:,} ops: " + ", ".join(f"{k[len('ops_by_type.'):]} {_n(v)}"
                                         for k, v in m.items() if k.startswith("ops_by_type.")),
    ]
    if "windows" in m:
        lines.append(f"  SMASH table: {m['table_slots_per_core']:,} slots of {m['entry_bytes']}"
                     f" B per core in {m['fragments']} fragment(s), {m['windows']:,} windows")
    ok = m.get("check.ok")
    lines.append(f"  check against scipy: {'ok' if ok else 'FAILED'} (pattern equal "
                 f"{m.get('check.pattern_equal')}, rows written once "
                 f"{m.get('check.rows_written_once')}, max relative error "
                 f"{m.get('check.max_rel_err', float('nan')):.2e}, nnz {m.get('check.nnz')} vs "
                 f"scipy {m.get('check.nnz_scipy')})")
    return "\n".join(lines)


# --------------------------------------------------------------------------- commands


@click.command("spgemm")
@click.option("--machine", "-m", default="piuma", show_default=True, metavar="PRESET_OR_FILE",
              help="Machine preset (hw_configs/) or a machine YAML file.")
@click.option("--dataflow", "-d", required=True, metavar="NAME",
              help="inner, outer, rowwise or smash.")
@click.option("--version", "-v", "version", type=int, default=None, metavar="N",
              help="SMASH version: 1 atomic hashing, 2 tokens, 3 fragmented table "
                   "(smash only; default 1).")
@click.option("--matrix", "-a", required=True, metavar="NAME_OR_PATH",
              help="A: a shipped matrix (1138_bus, cage8, wiki-Vote, email-Enron), a .mtx or "
                   ".mtx.gz file, or a generator such as rmat:scale=10,seed=1.")
@click.option("--b", "b", default=None, metavar="NAME_OR_PATH",
              help="B (default: A, so C = A·A).")
@click.option("--partition", default=None, metavar="MODE",
              help="rows, nnz or dynamic (default rows).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Hardware override, e.g. --set network.calendar_slots=262144 (repeatable).")
@click.option("--json", "json_out", metavar="OUT", default=None,
              help="Also write the result (summary, metrics, check) as JSON.")
@click.pass_context
def spgemm_cmd(ctx: click.Context, machine: str, dataflow: str, version: int | None,
               matrix: str, b: str | None, partition: str | None, overrides: tuple[str, ...],
               json_out: str | None) -> None:
    """Simulate one SpGEMM C = A·B and print the machine summary and the SpGEMM metrics."""
    from sim.machine.summary import format_summary

    params = spgemm_params(dataflow, version, matrix, b, partition)
    result = run_spgemm(machine, params, parse_overrides(overrides))
    click.echo(format_summary(result["summary"]))
    click.echo(format_spgemm(result))
    if json_out:
        from sim.cli import write_json

        out = {"machine": machine, "overrides": list(overrides),
               "workload": {k: v for k, v in params.items()}, **result}
        path = write_json(out, json_out)
        click.echo(f"wrote {path}")
    if not result["metrics"].get("check.ok"):
        click.echo("membound: C differs from scipy's A @ B (see the check line above)",
                   err=True)
        ctx.exit(1)


@click.command("spgemm")
@click.option("--json", "json_out", metavar="OUT", default=None,
              help="Write the measurements as JSON (wall_s, peak_rss_mb, ops, ops_per_s, ...).")
@click.option("--matrix", default="email-Enron", show_default=True, metavar="NAME_OR_PATH",
              help="A (C = A·A).")
@click.option("--version", "version", type=int, default=1, show_default=True,
              help="SMASH version.")
@click.option("--dataflow", default="smash", show_default=True, metavar="NAME",
              help="inner, outer, rowwise or smash (--version applies to smash only).")
@click.option("--preset", default="piuma", show_default=True, help="Machine preset.")
@click.option("--partition", default=None, metavar="MODE", help="rows, nnz or dynamic.")
@click.option("--warmup/--no-warmup", default=True, show_default=True,
              help="Load or compile the kernels on a tiny matrix first (timed apart).")
def bench_spgemm_cmd(json_out: str | None, matrix: str, version: int, dataflow: str,
                     preset: str, partition: str | None, warmup: bool) -> None:
    """End-to-end SpGEMM on one core: read, generate, simulate, verify (wall s, peak RSS)."""
    from sim.bench_spgemm import bench_spgemm, format_bench_spgemm

    r = bench_spgemm(matrix_arg(matrix, "--matrix"), version, dataflow, preset, partition,
                     warmup=warmup)
    click.echo(format_bench_spgemm(r))
    if json_out:
        from sim.cli import write_json

        path = write_json(r, json_out)
        click.echo(f"wrote benchmark JSON to {path}")


def register(group: click.Group) -> None:
    """Add `spgemm` to a click group (sim.cli.main) and `spgemm` to its `bench` group."""
    group.add_command(spgemm_cmd)
    bench = group.commands.get("bench")
    if isinstance(bench, click.Group):
        bench.add_command(bench_spgemm_cmd)


def standalone() -> click.Group:
    """A `membound`-like group with `spgemm` and `bench spgemm` (for python -m and tests)."""
    from sim.cli import MemboundGroup

    @click.group(cls=MemboundGroup, context_settings={"help_option_names": ["-h", "--help"]})
    def membound() -> None:
        """membound SpGEMM commands: spgemm, bench spgemm."""

    @membound.group()
    def bench() -> None:
        """Measure the simulator's own speed."""

    register(membound)
    return membound


if __name__ == "__main__":
    standalone()()
