"""The `membound` command line.

Every user mistake (a UserError from config, trace or model code, or a click usage error) ends
as one line `membound: <message>` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sim.errors import UserError

TRACE_FORMATS = ("native", "dramsim3", "ramulator")
ENGINES = ("fast", "reference")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"membound: {_one_line(message)}", err=True)
    sys.exit(code)


class MemboundGroup(click.Group):
    """A click group whose errors are one line on stderr with exit code 2."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name or "membound", complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())  # a bare `membound` or `membound bench`: help, no error
            rv = 0
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + hint)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except UserError as exc:
            _fail(str(exc), exc.exit_code)
        except click.Abort:
            _fail("interrupted", 130)
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return rv


def _json_default(obj: object) -> object:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_json(data: object, path: str | Path) -> Path:
    """Write `data` as indented JSON to `path` (parent directories created); return the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    except OSError as exc:
        raise UserError(f"{path}: cannot write JSON: {exc.strerror or exc}") from None
    return path


@click.group(cls=MemboundGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """membound: a simulator of memory-bound accelerators.

    Start with `membound demo` (the quickstart sweep that `make demo` runs), `membound
    presets`, or `membound trace gen rand -n 20000 -o rand.trace` followed by `membound
    replay -m ddr4_3200 -t rand.trace`.
    """


# --------------------------------------------------------------------------- replay


def replay_summary(memory: str, trace_path: str, fmt: str | None = None,
                   requests_per_clock: int | None = None, request_bytes: int | None = None,
                   wrap: bool = False, engine: str = "fast", queue_depth: int | None = None,
                   through_link: bool = True, epoch: str | None = None,
                   command_trace: str | None = None, workers: int = 1) -> dict:
    """Load a memory preset (or file) and a trace file, replay it, return the summary dict.

    DRAM runs keep the command log (command counts, ACTs per bank, energy): `epoch` (clocks,
    or a time such as '1 us') adds per-epoch statistics, `command_trace` writes the log as
    text. Energy comes from the preset's power: section; without one, `energy` is None and
    `energy_note` says why. `workers` > 1 replays the channels in that many processes,
    with identical results (sim/memory/dram_parallel.py).

    A flash preset (hw_configs/storage, `kind: flash`) replays on the flash SSD model: the
    trace's arrival column is in ns there, requests are `request_bytes` (default 4096),
    and queue_depth (default 0: by arrival) bounds the requests outstanding.
    """
    from sim.config.storage import is_flash_preset
    from workloads.traces import read_trace

    if is_flash_preset(memory):
        for given, option in ((epoch is not None, "--epoch"),
                              (command_trace is not None, "--command-trace"),
                              (workers > 1, "--workers")):
            if given:
                raise UserError(f"{option} applies to DRAM presets only; {memory} is a flash preset")
        return _flash_replay_summary(memory, trace_path, fmt, requests_per_clock,
                                     request_bytes, wrap, engine, queue_depth, through_link)
    from sim.config.memory import load_memory_config
    from sim.memory import dram_stats
    from sim.memory.dram import simulate
    from sim.memory.dram_power import replay_energy

    for given, option in ((queue_depth is not None, "--queue-depth"),
                          (not through_link, "--internal")):
        if given:
            raise UserError(f"{option} applies to flash presets only; {memory} is a DRAM preset")
    cfg = _load_dram_or_say_flash(memory, load_memory_config)
    trace = read_trace(trace_path, fmt)
    if engine == "reference":
        _require_reference()
    res = simulate(cfg, trace["addr"], trace["is_write"], trace["arrival"],
                   requests_per_clock=requests_per_clock,
                   request_bytes=64 if request_bytes is None else request_bytes,
                   engine=engine, wrap=wrap, with_log=True, source=str(trace_path),
                   workers=workers)
    summary = res.summary
    if epoch is not None:
        summary["epochs"] = dram_stats.epoch_stats(res, dram_stats.parse_epoch(epoch, cfg.tck_ps))
    summary["energy"], note = replay_energy(res)
    if note:
        summary["energy_note"] = note
    if command_trace is not None:
        dram_stats.write_command_trace(res, command_trace)
    return summary


def _load_dram_or_say_flash(memory: str, load: Callable[[str], Any]) -> Any:
    """The DRAM preset; an unknown name also offers the flash presets."""
    from sim.config.storage import list_flash
    from sim.config.yamlfile import did_you_mean, is_file_ref

    try:
        return load(memory)
    except UserError as exc:
        flash = list_flash()
        if is_file_ref(memory) or not str(exc).startswith("unknown memory preset") or not flash:
            raise
        hint = did_you_mean(memory, flash)
        raise UserError(f"{exc}; flash presets{hint.replace(' (did', ' (or did')}: "
                        f"{', '.join(flash)}") from None


def _flash_replay_summary(memory: str, trace_path: str, fmt: str | None,
                          requests_per_clock: int | None, request_bytes: int | None,
                          wrap: bool, engine: str, queue_depth: int | None,
                          through_link: bool) -> dict:
    from sim.memory.flash import load_flash, simulate
    from workloads.traces import read_trace

    if requests_per_clock is not None:
        raise UserError("--requests-per-clock applies to DRAM presets only; "
                        f"{memory} is a flash preset (use --queue-depth)")
    spec = load_flash(memory)
    trace = read_trace(trace_path, fmt)
    arrival_ns = trace["arrival"].astype("int64")
    if len(arrival_ns) and int(arrival_ns.max()) > (1 << 60) // 1000:
        raise UserError(f"{trace_path}: arrival times beyond 2**60 ps are not supported")
    res = simulate(spec, trace["addr"], 4096 if request_bytes is None else request_bytes,
                   trace["is_write"], arrival_ns * 1000, queue_depth=queue_depth or 0,
                   through_link=through_link, engine=engine, wrap=wrap,
                   source=str(trace_path))
    return res.summary


def _require_reference() -> None:
    try:
        import sim.reference.dram  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "sim.reference.dram":
            raise UserError("the reference engine (sim/reference/dram.py) is not installed yet; "
                            "use --engine fast") from None
        raise


@main.command()
@click.option("--memory", "-m", required=True, metavar="PRESET_OR_FILE",
              help="Memory preset name (see `membound presets`), flash SSD preset "
                   "(hw_configs/storage) or a YAML file.")
@click.option("--trace", "-t", "trace_path", default=None, metavar="FILE",
              help="Trace file to replay (required unless --sweep).")
@click.option("--format", "fmt", type=click.Choice(TRACE_FORMATS), default=None,
              help="Trace format (default: inferred from the file).")
@click.option("--requests-per-clock", type=click.IntRange(min=1), default=None, metavar="K",
              help="DRAM: requests the front end admits per memory clock (default: the preset's).")
@click.option("--request-bytes", type=click.IntRange(min=1), default=None,
              help="Bytes per trace request [default: 64 for DRAM, 4096 for flash].")
@click.option("--wrap", is_flag=True, help="Fold addresses beyond the capacity instead of failing.")
@click.option("--engine", type=click.Choice(ENGINES), default="fast", show_default=True,
              help="fast: numba kernel; reference: the SimPy specification (slow).")
@click.option("--queue-depth", "--qd", "queue_depth", type=click.IntRange(min=0), default=None,
              metavar="QD", help="Flash: at most QD requests outstanding (closed loop); "
                                 "0 (default) issues by the trace's arrival times (ns).")
@click.option("--internal", is_flag=True,
              help="Flash: leave the host link out (the data stays in the drive).")
@click.option("--sweep", is_flag=True,
              help="Flash: no trace; print sustained random-read bandwidth for request sizes "
                   "4 KiB-1 MiB x queue depths 1-256.")
@click.option("--epoch", default=None, metavar="CLOCKS|TIME",
              help="DRAM: also report statistics per epoch of this many clocks, or of a time "
                   "such as '1 us'.")
@click.option("--command-trace", default=None, metavar="FILE",
              help="DRAM: write every issued command (clock, command, channel, rank, bank "
                   "group, bank, row) to FILE.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="N", help="DRAM: replay the channels in N processes (identical results; "
                                "faster only while no queue fills, see README).")
@click.option("--plot", "plot_out", metavar="BASE", default=None,
              help="Flash --sweep: also draw BASE.png and BASE.svg, through the link and "
                   "inside the drive.")
@click.option("--json", "json_out", metavar="OUT", default=None, help="Also write the summary as JSON.")
def replay(memory: str, trace_path: str | None, fmt: str | None, requests_per_clock: int | None,
           request_bytes: int | None, wrap: bool, engine: str, queue_depth: int | None,
           internal: bool, sweep: bool, epoch: str | None, command_trace: str | None,
           workers: int, plot_out: str | None, json_out: str | None) -> None:
    """Replay a memory trace on one DRAM/HBM or flash SSD configuration and report its statistics."""
    from sim.report_table import summary_table

    if sweep:
        _flash_sweep(memory, trace_path, internal, json_out, plot_out)
        return
    if plot_out:
        raise click.UsageError("--plot draws a flash --sweep")
    if trace_path is None:
        raise click.UsageError("Missing option '--trace' / '-t'.")
    summary = replay_summary(memory, trace_path, fmt, requests_per_clock, request_bytes, wrap,
                             engine, queue_depth, not internal, epoch, command_trace, workers)
    title = (f"membound replay: {summary.get('memory', memory)}, trace {trace_path} "
             f"({summary['requests']:,} requests, engine {engine})")
    if summary.get("kind") == "flash":
        from sim.memory.flash import summary_table as flash_table

        click.echo(flash_table(summary, title))
    else:
        from sim.memory.dram_stats import stats_table

        click.echo(summary_table(summary, title) + "\n\n" + stats_table(summary))
        if command_trace:
            click.echo(f"\nwrote {sum(summary['commands'].values()):,} commands to {command_trace}")
    if json_out:
        path = write_json(summary, json_out)
        click.echo(f"\nwrote summary JSON to {path}")


def _flash_sweep(memory: str, trace_path: str | None, internal: bool, json_out: str | None,
                 plot_out: str | None = None) -> None:
    """`replay --sweep`: the bandwidth against request size and queue depth of a flash preset."""
    from sim.config.storage import is_flash_preset
    from sim.memory.flash import bandwidth_sweep, load_flash, sweep_table

    if trace_path is not None:
        raise UserError("--sweep generates random reads; give either --sweep or --trace")
    if not is_flash_preset(memory):
        from sim.config.memory import list_memory_presets

        if memory not in list_memory_presets() and not Path(memory).is_file():
            load_flash(memory)  # an unknown name: the flash loader lists the flash presets
        raise UserError(f"--sweep applies to flash presets only; {memory} is not one")
    spec = load_flash(memory)
    data = bandwidth_sweep(spec, through_link=not internal)
    where = "inside the drive, link left out" if internal else f"through {spec.link_name}"
    click.echo(sweep_table(data, f"membound replay --sweep: {spec.name}, sustained random-read "
                                 f"bandwidth (GB/s), {where}"))
    if json_out:
        path = write_json(data, json_out)
        click.echo(f"\nwrote sweep JSON to {path}")
    if plot_out:
        from sim.plots import flash_sweep_plot, save_figure

        other = bandwidth_sweep(spec, through_link=internal)  # the other side of the link
        pair = [data, other] if not internal else [other, data]
        paths = save_figure(flash_sweep_plot(pair), plot_out)
        click.echo(f"\nwrote {', '.join(str(p) for p in paths)}")


# --------------------------------------------------------------------------- convert


@main.command()
@click.option("--trace", "-t", "trace_path", required=True, metavar="IN", help="Trace file to read.")
@click.option("--to", "to_fmt", required=True, type=click.Choice(TRACE_FORMATS), help="Output format.")
@click.option("--out", "-o", "out_path", required=True, metavar="OUT",
              help="Output file (.gz suffix compresses text formats).")
@click.option("--format", "fmt", type=click.Choice(TRACE_FORMATS), default=None,
              help="Input format (default: inferred from the file).")
def convert(trace_path: str, to_fmt: str, out_path: str, fmt: str | None) -> None:
    """Convert a trace between the native, DRAMSim3 and Ramulator formats."""
    from workloads.traces import read_trace, write_trace

    trace = read_trace(trace_path, fmt)
    write_trace(trace, out_path, to_fmt)
    click.echo(f"wrote {len(trace):,} requests to {out_path} ({to_fmt})")


# --------------------------------------------------------------------------- presets


@main.command()
def presets() -> None:
    """List the memory, machine, xPU and model presets."""
    from sim.config.machine import list_machine_presets, load_machine_config
    from sim.config.memory import PRESET_DIR, list_memory_presets, load_memory_config
    from sim.engine import channel_capacity
    from sim.report_table import render_table

    problems: list[str] = []

    def table(names: list[str], load: Callable[[str], Any],
              row: Callable[[Any], tuple[str, ...]], headers: tuple[str, ...]) -> str:
        rows = []
        for name in names:
            try:
                rows.append((name, *row(load(name))))
            except UserError as exc:  # listed anyway; the problem is printed below
                rows.append((name, "?", *["-"] * (len(headers) - 3), "(cannot load, see below)"))
                problems.append(str(exc))
        return render_table(headers, rows)

    click.echo(f"memory presets in {PRESET_DIR}\n")
    click.echo(table(
        list_memory_presets(), load_memory_config,
        lambda c: (c.standard, f"{c.peak_bytes_per_s / 1e9:.1f}", str(c.scheduled_channels),
                   f"{c.capacity_bytes / 2**30:g}", c.follows or "-"),
        ("name", "standard", "peak (GB/s)", "channels", "capacity (GiB)", "follows")))
    click.echo(f"\nmachine presets in {PRESET_DIR.parent}\n")
    click.echo(table(
        list_machine_presets(), load_machine_config,
        lambda m: (f"{m.dies} x {m.cores_per_die}", str(m.threads_per_core), m.memory_preset,
                   f"{m.dram_peak_bytes_per_s() / 1e9:.1f}",
                   f"{channel_capacity(m) * m.controllers / 2**30:g}"),
        ("name", "dies x cores", "threads/core", "memory", "DRAM peak (GB/s)", "DRAM (GiB)")))
    from sim.llm.presets import presets_tables

    click.echo("")
    click.echo(presets_tables())
    for p in problems:
        click.echo(f"membound: {_one_line(p)}", err=True)


# --------------------------------------------------------------------------- bench


@main.group()
def bench() -> None:
    """Measure the simulator's own speed."""


@bench.command("memory")
@click.option("--json", "json_out", metavar="OUT", default=None, help="Write the measurements as JSON.")
@click.option("--requests", type=click.IntRange(min=1), default=5_000_000, show_default=True,
              help="Requests replayed on the fast path in each case (random, 2:1 mix, sequential).")
@click.option("--reference-requests", type=click.IntRange(min=0), default=50_000, show_default=True,
              help="Random requests replayed on the SimPy reference (0 skips it).")
@click.option("--preset", default="ddr4_3200", show_default=True, help="Memory preset.")
@click.option("--channels", is_flag=True,
              help="Instead: one replay on all channels, serially and with the channels on all "
                   "cores (preset hbm3 unless given; see sim/bench_channels.py).")
def bench_memory_cmd(json_out: str | None, requests: int, reference_requests: int, preset: str,
                     channels: bool = False) -> None:
    """Simulated requests per wall second: numba fast path (random reads, a 2:1 read/write
    mix, sequential reads) vs SimPy reference (random reads)."""
    if channels:
        from click.core import ParameterSource

        from sim.bench_channels import bench_channels, format_bench_channels

        given = click.get_current_context().get_parameter_source("preset")
        result = bench_channels(requests, preset if given != ParameterSource.DEFAULT else "hbm3",
                                log=lambda msg: click.echo(msg, err=True))
        click.echo(format_bench_channels(result))
        if json_out:
            click.echo(f"wrote benchmark JSON to {write_json(result, json_out)}")
        return
    from sim.bench import bench_memory, format_bench

    result = bench_memory(requests, reference_requests, preset,
                          log=lambda msg: click.echo(msg, err=True))
    click.echo(format_bench(result))
    if json_out:
        path = write_json(result, json_out)
        click.echo(f"wrote benchmark JSON to {path}")


@bench.command("machine")
@click.option("--json", "json_out", metavar="OUT", default=None, help="Write the measurements as JSON.")
@click.option("--preset", default="piuma", show_default=True, help="Machine preset.")
@click.option("--ops-per-thread", type=click.IntRange(min=1), default=4000, show_default=True,
              help="Ops per thread on the fast path.")
@click.option("--reference-ops-per-thread", type=click.IntRange(min=0), default=40,
              show_default=True, help="Ops per thread on the SimPy reference (0 skips it).")
def bench_machine_cmd(json_out: str | None, preset: str, ops_per_thread: int,
                      reference_ops_per_thread: int) -> None:
    """Simulated ops per wall second on a PIUMA die: numba fast path vs SimPy reference."""
    from sim.bench_machine import bench_machine, format_bench_machine

    result = bench_machine(ops_per_thread, reference_ops_per_thread, preset)
    click.echo(format_bench_machine(result))
    if json_out:
        path = write_json(result, json_out)
        click.echo(f"wrote benchmark JSON to {path}")


# --------------------------------------------------------------------------- demo


@main.command()
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="Output directory (default: reports/quickstart/).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help="Local worker processes (default: os.cpu_count()).")
@click.pass_context
def demo(ctx: click.Context, out_dir: str | None, jobs: int | None) -> None:
    """Run the quickstart experiment (what `make demo` runs) and write its report.

    A PIUMA die's DRAM bandwidth and speedup against DRAM channels x threads per pipeline
    (9 points): `membound run` on the shipped experiments/quickstart.yaml, simulated afresh.
    """
    from sim.experiment_cli import run_cmd
    from sim.paths import shipped_experiment

    ctx.invoke(run_cmd, experiment=str(shipped_experiment("quickstart")), out_dir=out_dir,
               jobs=jobs, resume=False)


# membound run | plot | report (the experiment runner)
from sim.experiment_cli import register as _register_experiment_commands  # noqa: E402

_register_experiment_commands(main)

# membound spgemm | bench spgemm
from sim.spgemm_cli import register as _register_spgemm_commands  # noqa: E402

_register_spgemm_commands(main)

# membound calibrate (achievable bandwidth per access shape, for the transfer level)
from sim.calibrate_cli import register as _register_calibrate_command  # noqa: E402

_register_calibrate_command(main)

# membound bench llm
from sim.llm.cli import register as _register_llm_commands  # noqa: E402

_register_llm_commands(main)

# membound trace gen
from sim.trace_cli import register as _register_trace_commands  # noqa: E402

_register_trace_commands(main)

# One line on stderr when numba compiles the kernels (a cold cache). At import, not in main():
# `membound run`'s spawned workers re-import this module as __mp_main__ and compile there.
from sim.kernel_cache import install_notice as _install_compile_notice  # noqa: E402

_install_compile_notice()

if __name__ == "__main__":
    main()
