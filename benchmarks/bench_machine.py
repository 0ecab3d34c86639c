"""PIUMA machine engine: numba fast path vs SimPy reference on random 8 B loads and compute.

Usage: python benchmarks/bench_machine.py [--ops-per-thread N] [--reference-ops-per-thread M]
[--json OUT] (the same as `membound bench machine`; the logic lives in sim.bench_machine).
"""

from __future__ import annotations

import sys

from sim.cli import main

if __name__ == "__main__":
    main(["bench", "machine", *sys.argv[1:]])
