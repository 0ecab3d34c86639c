"""The numba kernels' first compile: say so when it happens, or do it ahead of time.

The kernels are `@njit(cache=True)`: the first use compiles them (about a minute on two
cores) and stores machine code in the on-disk cache; later runs load it in a fraction of a
second. A first run would otherwise sit silent for that minute.

- ``install_notice()`` registers a listener for numba's ``numba:compile`` event, which numba
  fires only when it really compiles (a cache hit does not). The first compile prints one line
  to stderr; a warm run prints nothing. It is one line per command, not per process: the
  driving process puts a token in the environment, the sweep's worker processes inherit it,
  and only the process that creates the token's marker file first prints.
- ``warm_up()`` compiles what `make demo` and `membound replay` need (the DRAM replay kernel
  and the machine kernel) by running tiny cases; `python -m sim.kernel_cache` runs it, and the
  Makefile does so while setting up the environment.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import time
from pathlib import Path

NOTICE = "membound: compiling simulation kernels (first run only, about a minute)..."
_TOKEN_ENV = "MEMBOUND_COMPILE_NOTICE"

_installed = False
_announced = False


def _marker(token: str) -> Path:
    return Path(tempfile.gettempdir()) / f"membound-compile-notice-{token}"


def _first_in_command() -> bool:
    """True in exactly one process of a command: the one that creates the marker file."""
    token = os.environ.get(_TOKEN_ENV)
    if not token:
        return True
    try:
        os.close(os.open(_marker(token), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # no writable temp dir: rather twice than never
        return True
    return True


def _announce() -> None:
    global _announced
    if _announced:
        return
    _announced = True
    # The process's own stderr, not sys.stderr: a caller that captures a command's output
    # (click's CliRunner in tests) must not find this line among the command's messages.
    out = sys.__stderr__
    if out is not None and _first_in_command():
        # "\r" first: the driving process may be drawing a progress bar on this line
        out.write("\r" + NOTICE + "\n")
        out.flush()


def install_notice() -> None:
    """Print NOTICE on stderr when numba starts compiling, at most once per command."""
    global _installed
    if _installed:
        return
    _installed = True
    if _TOKEN_ENV not in os.environ:  # the driving process; workers inherit its token
        token = f"{os.getpid()}-{time.time_ns()}"
        os.environ[_TOKEN_ENV] = token
        atexit.register(_marker(token).unlink, missing_ok=True)
    from numba.core import event

    class _CompileListener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            _announce()

        def on_end(self, ev: event.Event) -> None:
            pass

    event.register("numba:compile", _CompileListener())


def warm_up() -> None:
    """Compile (or load from the cache) the DRAM replay and machine kernels on tiny cases."""
    import numpy as np

    from sim.config.machine import load_machine_config
    from sim.config.memory import load_memory_config
    from sim.engine import run_machine
    from sim.memory.dram import simulate
    from workloads.synthetic import SyntheticWorkload
    from workloads.validation_traces import seq

    trace = seq(64)
    simulate(load_memory_config("ddr4_3200"), trace["addr"], trace["is_write"], trace["arrival"])
    # the machine preset and workload of experiments/quickstart.yaml, two ops per thread
    spec = load_machine_config("piuma")
    src = SyntheticWorkload(threads=spec.threads, ops_per_thread=2, pattern="random",
                            footprint=1 << 30, access_bytes=8, load=1.0, compute=1.0,
                            compute_cycles=4, seed=1).source()
    from workloads.ops import ArrayStreams

    streams = ArrayStreams([np.array(src.next_chunk(s, 1 << 16)).copy()
                            for s in range(src.n_streams)])
    run_machine(spec, streams)


if __name__ == "__main__":
    t0 = time.perf_counter()
    install_notice()
    warm_up()
    print(f"simulation kernels ready ({time.perf_counter() - t0:.0f} s)")
