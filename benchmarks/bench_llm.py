"""Transfer-level engine on 1,000 decode steps of llama-3-70b at batch 64 on an h100.

Usage: python benchmarks/bench_llm.py [--steps N] [--batch B] [--reference-tasks M]
[--json OUT] (the same as `membound bench llm`; the logic lives in sim.llm.bench).
"""

from __future__ import annotations

import sys

from sim.cli import main

if __name__ == "__main__":
    main(["bench", "llm", *sys.argv[1:]])
