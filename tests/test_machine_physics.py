"""Physics of the machine model: latency-bound, bandwidth-bound, Little's law, conservation.

Expected values come from the machine's parameters (hop counts, DRAM timings) or from
the op streams themselves, never from a run of the engine.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.config.machine import load_machine_config
from sim.engine import channel_capacity, run_machine
from sim.machine.stats import timeline_row
from sim.machine.summary import link_classes
from workloads import ops as O
from workloads.ops import ArrayStreams
from workloads.synthetic import SyntheticWorkload


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@pytest.fixture(scope="module")
def piuma():
    return load_machine_config("piuma")


def _one_controller(spec):
    return dataclasses.replace(spec, controllers_per_die=1, controller_nodes=(1,))


def test_dependent_random_loads_run_at_one_over_latency(piuma):
    """One thread, dependent random 8 B loads: throughput = 1 / idle latency (within 5 %)."""
    spec = _one_controller(piuma)
    rng = np.random.default_rng(3)
    n = 2000
    cap = channel_capacity(spec)
    addrs = rng.integers(0, cap // 8, n) * 8
    streams = [O.stream([O.load(int(a), 8, bypass=True) for a in addrs])]
    st = run_machine(spec, ArrayStreams(streams))
    # idle latency from the parameters: core node 0 -> controller node 1 is one mesh hop
    cyc, tck = spec.cycle_ps, spec.tck_ps
    hop = lambda nbytes: _ceil(nbytes, spec.link_bytes) - 1 + spec.hop_latency  # noqa: E731
    req = hop(spec.header_bytes) * cyc
    resp = hop(spec.header_bytes + 8) * cyc
    # random rows: nearly every access is a row conflict (PRE, ACT, RD)
    dram = (spec.controller_latency + spec.RP + spec.RCD + spec.CL + spec.BURST) * tck
    latency = req + dram + resp
    achieved = n / (st.end_ps * 1e-12)
    assert achieved == pytest.approx(1 / (latency * 1e-12), rel=0.05)
    assert st.dram_row_hits.sum() < n * 0.01


def _random_load_run(spec, threads: int, ops: int = 300):
    w = SyntheticWorkload(threads=threads, ops_per_thread=ops, pattern="random",
                          footprint=channel_capacity(spec) * spec.controllers, load=1.0,
                          seed=threads)
    return run_machine(spec, w.source())


def test_bandwidth_grows_with_threads_obeys_littles_law_and_stays_under_peak(piuma):
    spec = dataclasses.replace(piuma, controllers_per_die=4, controller_nodes=(1, 3, 4, 6))
    peak = spec.dram_peak_bytes_per_s()
    bws = []
    for threads in (1, 4, 16, 64, 256, 528):
        st = _random_load_run(spec, threads)
        seconds = st.end_ps * 1e-12
        loads = st.load_count.sum()
        bw = st.dram_bytes_read.sum() / seconds
        # Little's law: loads in flight = throughput x mean latency; each thread always
        # has one load outstanding (it issues the next the cycle after the last returns)
        latency = st.load_latency_ps.sum() / loads * 1e-12
        in_flight = loads / seconds * latency
        assert in_flight == pytest.approx(threads, rel=0.05), threads
        assert bw <= peak
        bws.append(bw)
    # more threads: more bandwidth until the memory saturates (never much less)
    for a, b in zip(bws, bws[1:], strict=False):
        assert b >= 0.95 * a
    assert bws[3] > 8 * bws[0]  # far from saturation, 64 threads do much more than one
    assert bws[-1] > 0.3 * peak  # and the full die gets near the memory's limit


def test_bytes_issued_equal_bytes_served_in_every_tier(piuma):
    spec = dataclasses.replace(piuma, dies=2)
    rng = np.random.default_rng(11)
    cap = channel_capacity(spec) * spec.controllers
    want = {"dram_r": 0, "dram_w": 0, "sp_r": 0, "sp_w": 0, "host_r": 0, "host_w": 0}
    streams = []
    for _s in range(0, spec.threads, 37):
        ops = []
        for _ in range(40):
            k = int(rng.integers(8))
            size = int(rng.choice([8, 16, 64]))
            a = int(rng.integers(0, cap // 64)) * 64
            spa = int(rng.integers(0, spec.sp_size // 64)) * 64
            if k == 0:
                ops.append(O.load(a, size, bypass=True))
                want["dram_r"] += size
            elif k == 1:
                ops.append(O.store(a, size))
                want["dram_w"] += size
            elif k == 2:
                ops.append(O.atomic(a))
                want["dram_r"] += 8
                want["dram_w"] += 8
            elif k == 3:
                ops.append(O.load(spa, size, O.SP_REMOTE, int(rng.integers(spec.cores))))
                want["sp_r"] += size
            elif k == 4:
                ops.append(O.store(spa, size, O.SP_LOCAL))
                want["sp_w"] += size
            elif k == 5:
                ops.append(O.load(a, size, O.HOST))
                want["host_r"] += size
            elif k == 6:
                ops.append(O.store(a, size, O.HOST))
                want["host_w"] += size
            else:
                # DRAM -> scratchpad DMA of 3 elements of 40 B (gather with a 100 B stride)
                ops.append(O.dma(O.DRAM, a, O.SP_LOCAL, spa, 40, 0, count=3, stride=100))
                ops.append(O.wait(0))
                want["dram_r"] += 120
                want["sp_w"] += 120
        streams.append(O.stream(ops))
    padded = [O.stream([])] * spec.threads
    for i, s in enumerate(range(0, spec.threads, 37)):
        padded[s] = streams[i]
    st = run_machine(spec, ArrayStreams(padded))
    assert st.dram_bytes_read.sum() == want["dram_r"]
    assert st.dram_bytes_written.sum() == want["dram_w"]
    assert st.sp_bytes_read.sum() == want["sp_r"]
    assert st.sp_bytes_written.sum() == want["sp_w"]
    assert st.host_bytes_read.sum() == want["host_r"]
    assert st.host_bytes_written.sum() == want["host_w"]
    # every byte also lands in its timeline exactly once
    assert st.timeline[:spec.controllers].sum() == want["dram_r"] + want["dram_w"]
    assert st.timeline[timeline_row(spec, "scratchpad")].sum() == want["sp_r"] + want["sp_w"]
    assert st.timeline[timeline_row(spec, "host")].sum() == want["host_r"] + want["host_w"]
    mesh = link_classes(spec)["mesh"]
    assert st.timeline[timeline_row(spec, "mesh")].sum() == st.link_bytes[mesh].sum()
