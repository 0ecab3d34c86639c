"""Behaviour of the DRAM model that follows from the timing rules, checked by hand."""

import dataclasses

import numpy as np
import pytest

from sim.config.memory import load_memory_config
from sim.errors import UserError
from sim.memory.dram import make_accesses, simulate


def one(cfg, addrs, arrivals=None, writes=None, **kw):
    addrs = np.array(addrs, np.uint64)
    n = len(addrs)
    arr = np.zeros(n, np.int64) if arrivals is None else np.array(arrivals, np.int64)
    w = np.zeros(n, bool) if writes is None else np.array(writes, bool)
    return simulate(cfg, addrs, w, arr, **kw)


def addr_of(cfg, **fields) -> int:
    """Byte address of the given fields, built from the mapping string by hand."""
    bits = cfg.field_bits
    x = 0
    for name in cfg.controller.address_mapping:  # MSB to LSB
        x = (x << bits[name]) | fields.get(name, 0)
    return x * cfg.access_bytes


def test_decode_follows_the_mapping_string() -> None:
    cfg = load_memory_config("ramulator2_ddr4_3200")  # ro-ba-bg-ra-co-ch
    a = addr_of(cfg, ro=5, ba=2, bg=3, ra=1, co=7)
    acc = make_accesses(cfg, np.array([a], np.uint64), np.zeros(1, bool), np.zeros(1, np.int64))
    assert (acc.rank[0], acc.bankgroup[0], acc.row[0]) == (1, 3, 5)
    assert acc.bank[0] == (1 * cfg.bank_groups + 3) * cfg.banks_per_group + 2
    # consecutive 64 B lines walk the column field, staying in one bank
    lines = np.arange(4, dtype=np.uint64) * 64
    acc = make_accesses(cfg, lines, np.zeros(4, bool), np.zeros(4, np.int64))
    assert len(set(acc.bank.tolist())) == 1


def test_hbm_request_splits_into_pseudo_channel_accesses() -> None:
    cfg = load_memory_config("ramulator2_hbm2")  # 32 B accesses, channel bits lowest
    acc = make_accesses(cfg, np.array([0], np.uint64), np.zeros(1, bool), np.zeros(1, np.int64))
    assert len(acc) == 2 and acc.request.tolist() == [0, 0]
    assert acc.controller.tolist() == [0, 1]


@pytest.mark.parametrize("preset,overhead", [("dramsim3_ddr4_3200", 2), ("ramulator2_ddr4_3200", 1)])
def test_unloaded_read_latency_is_rcd_cl_burst_plus_admission(preset: str, overhead: int) -> None:
    cfg = load_memory_config(preset)
    cfg = dataclasses.replace(cfg, controller=dataclasses.replace(cfg.controller, refresh="none"))
    t = cfg.timing
    res = one(cfg, [addr_of(cfg, ro=3)])
    clocks = overhead + t.RCD_RD + t.CL + t.BURST  # bank_queues: admit, move, then ACT
    assert res.summary["read_latency_ns"]["mean"] == pytest.approx(clocks * cfg.tck_ps / 1000)
    assert res.summary["row_miss_rate"] == 1.0


def test_row_conflict_adds_precharge_and_activate() -> None:
    cfg = load_memory_config("ramulator2_ddr4_3200")
    cfg = dataclasses.replace(cfg, controller=dataclasses.replace(cfg.controller, refresh="none"))
    t = cfg.timing
    a, b = addr_of(cfg, ro=1), addr_of(cfg, ro=2)  # same bank, different rows
    res = one(cfg, [a, b], arrivals=[0, 1000])
    col = res.raw.col
    # the second read waits tRP after the PRE, then tRCD after its ACT
    assert col[1] - 1000 == 1 + t.RP + t.RCD_RD  # PRE on the next clock
    assert res.summary["row_conflict_rate"] == 0.5
    hit = one(cfg, [a, a + 64], arrivals=[0, 1000])
    assert hit.raw.col[1] - 1000 == 1 and hit.summary["row_hit_rate"] == 0.5


def test_closed_page_turns_conflicts_into_misses() -> None:
    cfg = load_memory_config("ramulator2_ddr4_3200")
    closed = dataclasses.replace(cfg, controller=dataclasses.replace(cfg.controller, page_policy="closed"))
    rows = [addr_of(cfg, ro=r) for r in range(1, 6)]
    arr = [i * 500 for i in range(5)]
    assert one(cfg, rows, arr).summary["row_conflict_rate"] == pytest.approx(0.8)
    s = one(closed, rows, arr).summary
    assert s["row_conflict_rate"] == 0 and s["row_miss_rate"] == 1


@pytest.mark.parametrize("preset", ["ddr4_3200", "hbm2", "ddr5_4800", "hbm3"])
def test_bytes_are_conserved_and_bandwidth_stays_below_peak(preset: str) -> None:
    cfg = load_memory_config(preset)
    rng = np.random.default_rng(3)
    n = 20_000
    addr = rng.integers(0, cfg.capacity_bytes // 64, n).astype(np.uint64) * np.uint64(64)
    w = rng.random(n) < 0.3
    s = simulate(cfg, addr, w, np.zeros(n, np.int64)).summary
    assert s["bytes_read"] == 64 * int((~w).sum()) and s["bytes_written"] == 64 * int(w.sum())
    assert 0 < s["bandwidth_gb_per_s"] <= s["peak_gb_per_s"]
    assert sum(s["per_channel_gb_per_s"]) == pytest.approx(s["bandwidth_gb_per_s"], rel=1e-9)
    parts = s["latency_breakdown_ns"]
    assert sum(parts.values()) == pytest.approx(s["read_latency_ns"]["mean"], rel=0.02)


def test_sequential_stream_approaches_peak_with_bank_group_bits_low() -> None:
    cfg = load_memory_config("ddr4_3200")  # ro-ra-ba-co-bg-ch: lines alternate bank groups
    n = 50_000
    s = simulate(cfg, np.arange(n, dtype=np.uint64) * np.uint64(64), np.zeros(n, bool),
                 np.zeros(n, np.int64)).summary
    assert s["utilization"] > 0.9


def test_narrow_accesses_cost_a_full_burst() -> None:
    cfg = load_memory_config("ddr4_3200")
    n = 20_000
    addr = np.arange(n, dtype=np.uint64) * np.uint64(64)
    wide = simulate(cfg, addr, np.zeros(n, bool), np.zeros(n, np.int64)).summary
    narrow = simulate(cfg, addr, np.zeros(n, bool), np.zeros(n, np.int64), request_bytes=8).summary
    assert narrow["sim_time_ns"] == wide["sim_time_ns"]  # same bursts on the bus
    assert narrow["bandwidth_gb_per_s"] == pytest.approx(wide["bandwidth_gb_per_s"] / 8)


def test_empty_trace_gives_zero_statistics() -> None:
    s = one(load_memory_config("ddr4_3200"), []).summary
    assert s["requests"] == 0 and s["bandwidth_gb_per_s"] == 0 and s["sim_time_ns"] == 0


def test_address_beyond_capacity_is_an_error_unless_wrapped() -> None:
    cfg = load_memory_config("ddr4_3200")
    with pytest.raises(UserError, match="beyond"):
        one(cfg, [cfg.capacity_bytes])
    assert one(cfg, [cfg.capacity_bytes], wrap=True).summary["requests"] == 1


def test_refresh_costs_bandwidth() -> None:
    cfg = load_memory_config("dramsim3_ddr4_3200")
    no_ref = dataclasses.replace(cfg, controller=dataclasses.replace(cfg.controller, refresh="none"))
    rng = np.random.default_rng(0)
    addr = rng.integers(0, cfg.capacity_bytes // 64, 30_000).astype(np.uint64) * np.uint64(64)
    z = np.zeros(len(addr), np.int64)
    with_ref = simulate(cfg, addr, z.astype(bool), z).summary
    without = simulate(no_ref, addr, z.astype(bool), z).summary
    assert with_ref["bandwidth_gb_per_s"] < without["bandwidth_gb_per_s"]
    assert with_ref["latency_breakdown_ns"]["refresh"] > 0 == without["latency_breakdown_ns"]["refresh"]
