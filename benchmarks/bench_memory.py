"""DRAM timing model: numba fast path vs SimPy reference on uniformly random 64 B reads.

Usage: python benchmarks/bench_memory.py [--requests N] [--reference-requests M] [--json OUT]
(the same as `membound bench memory`; the logic lives in sim.bench).
"""

from __future__ import annotations

import sys

from sim.cli import main

if __name__ == "__main__":
    main(["bench", "memory", *sys.argv[1:]])
