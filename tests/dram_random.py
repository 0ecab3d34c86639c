"""Random DRAM configurations and traces shared by the differential and checker tests."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.config.memory import list_memory_presets, load_memory_config
from sim.memory.dram_config import DramConfig

PRESETS = [p for p in list_memory_presets()]


def random_config(rng: np.random.Generator, preset: str, small_queues: bool = True) -> DramConfig:
    """A preset with its controller structure, policies and queue depths drawn at random."""
    cfg = load_memory_config(preset)
    c = dataclasses.replace(
        cfg.controller,
        structure=str(rng.choice(["bank_queues", "fr_fcfs"])),
        page_policy=str(rng.choice(["open", "closed"])),
        refresh=str(rng.choice(["rank_staggered", "all_bank", "none"])),
        command_queues=str(rng.choice(["per_bank", "per_rank"])),
        bank_xor=bool(rng.random() < 0.3),
        row_hit_cap=int(rng.integers(0, 5)),
    )
    if small_queues:  # small queues make every full-queue and drain path happen often
        c = dataclasses.replace(
            c, read_queue=int(rng.integers(1, 9)), write_queue=int(rng.integers(2, 9)),
            bank_queue=int(rng.integers(1, 5)), write_drain_low=1,
            write_drain_high=int(rng.integers(1, 4)),
        )
    # short refresh intervals so that short traces see many refreshes
    t = dataclasses.replace(cfg.timing, REFI=int(rng.integers(300, 2000)),
                            RFC=int(rng.integers(20, 150)))
    return dataclasses.replace(cfg, controller=c, timing=t)


def random_trace(rng: np.random.Generator, cfg: DramConfig, n: int):
    """Addresses with random, sequential or hot-spot locality, a read/write mix and gaps."""
    lines = cfg.capacity_bytes // 64
    kind = rng.choice(["random", "sequential", "hot"])
    if kind == "random":
        addr = rng.integers(0, lines, n) * 64
    elif kind == "sequential":
        addr = (rng.integers(0, lines - n) + np.arange(n)) * 64
    else:
        hot = rng.integers(0, lines - 4, 8)
        addr = (rng.choice(hot, n) + rng.integers(0, 4, n)) * 64
    is_write = rng.random(n) < rng.choice([0.0, 0.3, 0.7])
    gaps = rng.integers(0, int(rng.choice([1, 3, 40])), n)
    arrival = np.cumsum(gaps) * int(rng.choice([0, 1]))
    return addr.astype(np.uint64), is_write, arrival.astype(np.int64)
