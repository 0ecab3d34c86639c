"""The machine's DRAM controller against the detailed controller model (sim/memory/dram.py).

The machine serves each request when it arrives (open page, banks in arrival order, ACTs
and data bursts placed in calendars, no refresh); sim/memory/dram.py is the detailed
cycle model validated against DRAMSim3 and Ramulator 2. Saturated with 8-byte or 64-byte
reads on one channel, the two must agree on bandwidth within 20 % and on row-hit rate.
Measured (README, "Machine DRAM controller"): random +16 % (narrow PIUMA channel, no
refresh in the machine) and +6 % (DDR5 64 B); sequential +3 % and +8 %.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.config.machine import load_machine_config
from sim.config.memory import load_memory_config
from sim.engine import channel_capacity, run_machine
from sim.memory.dram import simulate
from workloads import ops as O

CASES = [("piuma", "piuma_ddr5_4400"), ("cpu_baseline", "ddr5_4800")]
N = 20000


def _one_channel_machine(name: str):
    spec = load_machine_config(name)
    return dataclasses.replace(spec, controllers_per_die=1,
                               controller_nodes=(spec.controller_nodes[0],))


@pytest.mark.parametrize("machine,memory", CASES)
@pytest.mark.parametrize("pattern", ["random", "sequential"])
def test_machine_controller_matches_detailed_model(machine, memory, pattern):
    cfg = load_memory_config(memory)
    spec = _one_channel_machine(machine)
    ab = spec.access_bytes
    assert ab == cfg.access_bytes
    threads, per_thread = min(spec.threads, 256), 100
    rng = np.random.default_rng(5)
    if pattern == "random":
        detailed_addr = rng.integers(0, cfg.capacity_bytes // ab, N) * ab
        lines = rng.integers(0, channel_capacity(spec) // ab, (threads, per_thread))
    else:
        detailed_addr = np.arange(N) * ab
        # thread s takes every threads-th access: together one sequential stream
        lines = np.arange(per_thread)[None, :] * threads + np.arange(threads)[:, None]
    res = simulate(cfg, detailed_addr.astype(np.uint64), np.zeros(N, bool), np.zeros(N, np.int64),
                   request_bytes=ab)
    detailed_per_channel = res.summary["bandwidth_gb_per_s"] / cfg.channels
    streams = [O.stream([O.load(int(x) * ab, ab, bypass=True) for x in row]) for row in lines]
    st = run_machine(spec, O.ArrayStreams(streams))
    machine_bw = st.dram_bytes_read.sum() / st.end_ps * 1e3
    assert machine_bw == pytest.approx(detailed_per_channel, rel=0.20)
    hit_rate = st.dram_row_hits.sum() / st.dram_accesses.sum()
    assert hit_rate == pytest.approx(res.summary["row_hit_rate"], abs=0.05)
