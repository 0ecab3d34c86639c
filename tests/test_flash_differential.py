"""The numba flash kernel and the SimPy reference agree exactly on random small traces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.memory.flash import FlashSpec, simulate

CHUNKS = 8
CASES_PER_CHUNK = 25  # 200 random (configuration, trace) pairs in all

BASE = FlashSpec(name="random", channels=2, dies_per_channel=2, planes_per_die=2,
                 page_bytes=4096, pages_per_block=4, blocks_per_plane=4, t_read_ps=40_000,
                 t_prog_ps=300_000, t_erase_ps=0, channel_bytes_per_s=10**9,
                 channel_overhead_ps=0, controller_latency_ps=0, link_name="test",
                 link_bytes_per_s=4 * 10**9, link_latency_ps=0)


def random_spec(rng: np.random.Generator) -> FlashSpec:
    """Small geometries and few distinct round timings, so that many events tie."""
    return dataclasses.replace(
        BASE,
        channels=int(rng.choice([1, 2, 4])),
        dies_per_channel=int(rng.choice([1, 2])),
        planes_per_die=int(rng.choice([1, 2, 4])),
        page_bytes=int(rng.choice([512, 1024, 4096])),
        t_read_ps=int(rng.choice([1_000, 4_000, 40_000])),
        t_prog_ps=int(rng.choice([4_000, 10_000, 300_000])),
        # 512 B / 0.512 GB/s = 1000 ps exactly; 3 GB/s leaves remainders (rounded up)
        channel_bytes_per_s=int(rng.choice([512_000_000, 10**9, 3 * 10**9])),
        channel_overhead_ps=int(rng.choice([0, 0, 500])),
        controller_latency_ps=int(rng.choice([0, 1_000, 3_000])),
        link_bytes_per_s=int(rng.choice([512_000_000, 2 * 10**9, 7 * 10**9])),
        link_latency_ps=int(rng.choice([0, 700, 1_000])),
        # the controller's time per command: often none, else round values that tie with
        # arrivals, tR and transfers (1000 ps = 1e9 IOPS is a 512 B channel transfer)
        controller_read_ps=int(rng.choice([0, 0, 1_000, 4_000, 40_000])),
        controller_write_ps=int(rng.choice([0, 0, 1_000, 5_000, 100_000])),
    )


def random_trace(rng: np.random.Generator, spec: FlashSpec, n: int):
    """Addresses (some unaligned, some spanning pages), sizes, writes and tied arrivals."""
    page = spec.page_bytes
    sizes = rng.choice([1, page // 2, page, 2 * page + 3, 3 * page], n).astype(np.int64)
    top = spec.capacity_bytes - 3 * page - 3
    addr = rng.integers(0, top, n)
    aligned = rng.random(n) < 0.6
    addr[aligned] -= addr[aligned] % page
    is_write = rng.random(n) < 0.3
    arrival = np.sort(rng.choice([0, 0, 1_000, 5_000, 40_000, 100_000], n)).astype(np.int64)
    return addr.astype(np.uint64), sizes, is_write, arrival


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_kernel_matches_reference(chunk: int) -> None:
    rng = np.random.default_rng(4000 + chunk)
    for case in range(CASES_PER_CHUNK):
        spec = random_spec(rng)
        addr, sizes, is_write, arrival = random_trace(rng, spec, int(rng.integers(1, 60)))
        qd = int(rng.choice([0, 1, 2, 3, 8]))
        link = bool(rng.random() < 0.75)
        fast = simulate(spec, addr, sizes, is_write, arrival, queue_depth=qd, through_link=link)
        ref = simulate(spec, addr, sizes, is_write, arrival, queue_depth=qd, through_link=link,
                       engine="reference")
        where = f"chunk {chunk} case {case}: {spec}, QD {qd}, link {link}"
        for name in (f.name for f in dataclasses.fields(fast.raw)):
            assert np.array_equal(getattr(fast.raw, name), getattr(ref.raw, name)), (name, where)
        assert fast.summary == ref.summary, where


def test_random_cases_exercise_batches_ties_and_waiting() -> None:
    """The draw above really has multi-plane batches, closed-loop waits, commands queued at
    the controller (also in closed loop) and both link modes."""
    batched = waited = no_link = queued = queued_closed = 0
    for chunk in range(CHUNKS):
        rng = np.random.default_rng(4000 + chunk)
        for _ in range(CASES_PER_CHUNK):
            spec = random_spec(rng)
            addr, sizes, is_write, arrival = random_trace(rng, spec, int(rng.integers(1, 60)))
            qd = int(rng.choice([0, 1, 2, 3, 8]))
            link = bool(rng.random() < 0.75)
            res = simulate(spec, addr, sizes, is_write, arrival, queue_depth=qd, through_link=link)
            batched += int(res.raw.die_ops.sum() < len(res.units))
            waited += int(qd > 0 and bool(np.any(res.raw.issue > np.maximum(arrival, 0))))
            no_link += int(not link)
            behind = bool(np.any(res.raw.ctrl_start > res.raw.issue))
            queued += int(behind)
            queued_closed += int(behind and qd > 0)
    assert batched >= 20 and waited >= 20 and no_link >= 10, (batched, waited, no_link)
    assert queued >= 80 and queued_closed >= 50, (queued, queued_closed)
