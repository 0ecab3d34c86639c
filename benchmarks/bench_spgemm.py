"""SMASH v1 on email-Enron A·A, end to end: read, generate, simulate, verify.

Usage: python benchmarks/bench_spgemm.py [--matrix NAME] [--version N] [--json OUT] (the same
as `membound bench spgemm`; the logic lives in sim.bench_spgemm).
"""

from __future__ import annotations

import sys

from sim.cli import main

if __name__ == "__main__":
    main(["bench", "spgemm", *sys.argv[1:]])
