"""`membound bench llm`: the transfer-level engine's speed on a model-scale task graph.

A plain click command; sim/cli.py adds it under its ``bench`` group with ``register(main)``.
"""

from __future__ import annotations

import click


@click.command("llm")
@click.option("--json", "json_out", metavar="OUT", default=None,
              help="Write the measurements as JSON.")
@click.option("--steps", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Decode steps.")
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Requests per step.")
@click.option("--reference-tasks", type=click.IntRange(min=0), default=20_000,
              show_default=True, help="Tasks run on the SimPy reference (0 skips it).")
def bench_llm_cmd(json_out: str | None, steps: int, batch: int, reference_tasks: int) -> None:
    """Tasks per wall second: numba kernel vs SimPy reference (llama-3-70b decode, h100)."""
    from sim.cli import write_json
    from sim.llm.bench import bench_llm, format_bench_llm

    result = bench_llm(steps, batch, reference_tasks)
    click.echo(format_bench_llm(result))
    if json_out:
        path = write_json(result, json_out)
        click.echo(f"wrote benchmark JSON to {path}")


def register(group: click.Group) -> None:
    """Add `llm` to the `bench` group of a click group (sim.cli.main)."""
    bench = group.commands.get("bench")
    if isinstance(bench, click.Group):
        bench.add_command(bench_llm_cmd)
