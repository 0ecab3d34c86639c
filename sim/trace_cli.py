"""`membound trace gen`: write a generated memory trace to a file.

The generators are the validation traces of workloads/validation_traces.py (seq, rand, idle),
so `membound trace gen rand -n 200000 -o rand.trace` writes exactly the `rand` trace the
reference simulators were run on (its SHA-256 is in shared/validation/README.md). sim/cli.py
adds the group with ``register(main)``; mistakes are UserErrors (one line, exit code 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sim.errors import UserError

if TYPE_CHECKING:
    import numpy as np

OUTPUT_FORMATS = ("dramsim3", "ramulator", "native")


def output_format(path: str, fmt: str | None) -> str:
    """The format to write: `fmt` if given, else native for a .npz name, else dramsim3.

    DRAMSim3's text format is the default because it is readable and keeps arrival clocks
    (the idle trace needs them; Ramulator's format has none).
    """
    if fmt is not None:
        return fmt
    name = path.lower().removesuffix(".gz")
    return "native" if name.endswith(".npz") else "dramsim3"


def generate(kind: str, requests: int | None = None, gap: int | None = None) -> np.ndarray:
    """The trace `kind` (seq, rand or idle) with `requests` requests (default: its defined size).

    `gap` (memory clocks between arrivals) applies to idle only.
    """
    from workloads.validation_traces import VALIDATION_TRACES, idle

    if kind not in VALIDATION_TRACES:
        raise UserError(f"unknown trace generator {kind!r}: expected one of "
                        f"{', '.join(VALIDATION_TRACES)}")
    if gap is not None and kind != "idle":
        raise UserError(f"--gap applies to the idle trace only, not {kind}")
    args = {} if requests is None else {"n": requests}
    if kind == "idle":
        return idle(**args) if gap is None else idle(**args, gap=gap)
    return VALIDATION_TRACES[kind](**args)


@click.group("trace")
def trace_group() -> None:
    """Generate memory traces (convert them with `membound convert`)."""


@trace_group.command("gen")
@click.argument("kind", type=click.Choice(("seq", "rand", "idle")))
@click.option("--requests", "-n", type=click.IntRange(min=0), default=None, metavar="N",
              help="Number of 64 B reads [default: 200,000 for seq and rand, 5,000 for idle].")
@click.option("--gap", type=click.IntRange(min=0), default=None, metavar="CLOCKS",
              help="idle only: memory clocks between arrivals [default: 500].")
@click.option("--out", "-o", "out_path", required=True, metavar="OUT",
              help="Output file (.gz compresses; .npz means native).")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None,
              help="Output format [default: native for .npz, else dramsim3].")
def gen_cmd(kind: str, requests: int | None, gap: int | None, out_path: str,
            fmt: str | None) -> None:
    """Write a generated trace of 64 B reads.

    \b
    seq   address i * 64, all arriving at clock 0
    rand  random.Random(1).randrange(2**24) * 64 in order (uniform over 1 GiB), arrival 0
    idle  the first N addresses of rand, request i arriving at memory clock i * gap
    """
    from workloads.traces import write_trace

    trace = generate(kind, requests, gap)
    fmt = output_format(out_path, fmt)
    write_trace(trace, out_path, fmt)
    click.echo(f"wrote {len(trace):,} requests to {out_path} ({fmt}, {kind})")


def register(group: click.Group) -> None:
    """Add the `trace` command group to a click group (sim.cli.main)."""
    group.add_command(trace_group)
