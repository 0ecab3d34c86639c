"""`membound calibrate`: measure and store a memory preset's bandwidth per access shape.

A plain click command; sim/cli.py adds it with ``register(main)``. The table is written
to hw_configs/memory/calibration/<preset>.yaml (or --out) and printed. Mistakes (an
unknown preset, --out with several presets) are UserErrors: one line, exit code 2.
"""

from __future__ import annotations

import time

import click

from sim.errors import UserError
from sim.memory.calibration import (
    DEFAULT_REQUESTS_PER_POINT,
    DEFAULT_SEED,
    CalibrationTable,
    calibrate,
    calibrated_presets,
    save_calibration,
)
from sim.report_table import render_table


def _size(nbytes: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    return f"{nbytes} B"


def table_rows(table: CalibrationTable) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: chunk, GB/s (1e9 B/s) per read fraction (reads first), mean read
    latency of the read-only column when there is one."""
    order = sorted(range(len(table.read_fractions)), key=lambda j: -table.read_fractions[j])
    headers = ["chunk"] + [f"GB/s at {table.read_fractions[j]:g} read" for j in order]
    top = order[0] if table.read_fractions[order[0]] > 0 else None
    if top is not None:
        headers.append(f"read latency (ns) at {table.read_fractions[top]:g} read")
    rows = []
    for i, c in enumerate(table.chunks):
        row = [_size(c)] + [f"{table.bytes_per_s[i, j] / 1e9:.1f}" for j in order]
        if top is not None:
            row.append(f"{table.read_latency_ps[i, top] / 1000:.1f}")
        rows.append(row)
    return headers, rows


@click.command("calibrate")
@click.option("--memory", "-m", "memories", multiple=True, metavar="PRESET",
              help="Memory preset to calibrate (repeatable).")
@click.option("--all", "all_tables", is_flag=True,
              help="Regenerate every table in hw_configs/memory/calibration.")
@click.option("--requests", type=click.IntRange(min=1), default=DEFAULT_REQUESTS_PER_POINT,
              show_default=True, metavar="N", help="Requests per (chunk, read fraction) point.")
@click.option("--seed", type=click.IntRange(min=0), default=DEFAULT_SEED, show_default=True,
              help="Seed of the random run addresses.")
@click.option("--out", default=None, metavar="FILE",
              help="Write the table here instead of beside the preset (one preset only).")
def calibrate_cmd(memories: tuple[str, ...], all_tables: bool, requests: int, seed: int,
                  out: str | None) -> None:
    """Measure a memory preset's achievable bandwidth per access shape on the request-level
    DRAM model and store it for the transfer-level engine."""
    names = list(dict.fromkeys([*memories, *(calibrated_presets() if all_tables else [])]))
    if not names:
        raise UserError("give --memory PRESET or --all")
    if out is not None and len(names) > 1:
        raise UserError(f"--out takes one preset, got {len(names)}: {', '.join(names)}")
    for k, name in enumerate(names):
        start = time.perf_counter()
        table = calibrate(name, requests_per_point=requests, seed=seed)
        wall = time.perf_counter() - start
        path = save_calibration(table, out)
        if k:
            click.echo("")
        click.echo(f"membound calibrate: {table.preset}, one device, peak "
                   f"{table.peak_bytes_per_s / 1e9:.1f} GB/s, {requests:,} requests per point, "
                   f"seed {seed} ({wall:.1f} s)\n")
        click.echo(render_table(*table_rows(table)))
        click.echo(f"\nwrote {path}")


def register(group: click.Group) -> None:
    """Add `calibrate` to a click group (sim.cli.main)."""
    group.add_command(calibrate_cmd)
