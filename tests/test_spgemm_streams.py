"""SpGEMM op streams: well-formed chunks, addresses inside the layout, hand-derived sequences,
determinism under any pull order, and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sim.errors import UserError
from workloads.ops import (
    ATOMIC,
    ATOMIC_ADD,
    ATOMIC_CAS,
    BARRIER,
    COMPUTE,
    DRAM,
    LOAD,
    OP_DTYPE,
    SCOPE_CORE,
    SCOPE_MACHINE,
    SP_LOCAL,
    SP_REMOTE,
    STORE,
)
from workloads.spgemm import SpgemmTarget, make_spgemm
from workloads.spgemm.emit import FLAG_POSTED
from workloads.spgemm.matrices import erdos_renyi, rmat

VARIANTS = [("inner", None), ("outer", None), ("rowwise", None), ("smash", 1), ("smash", 2),
            ("smash", 3)]
IDS = [f if v is None else f"{f}{v}" for f, v in VARIANTS]
LINE = 64


def source(flow, version, a, target, **params):
    prm = {"dataflow": flow, "a": a, **params}
    if version is not None:
        prm["version"] = version
    return make_spgemm(prm, target)


def pull_all(src, max_ops, order="seq", seed=0):
    """Every stream's ops, pulled in chunks of at most max_ops (checked), in some order."""
    out = [[] for _ in range(src.n_streams)]
    live = list(range(src.n_streams))
    rng = np.random.default_rng(seed)
    while live:
        s = live[rng.integers(len(live))] if order == "random" else live[0]
        c = src.next_chunk(s, max_ops)
        assert c.dtype == OP_DTYPE
        assert len(c) <= max_ops
        if len(c) == 0:
            live.remove(s)
            assert len(src.next_chunk(s, max_ops)) == 0  # an ended stream stays ended
        else:
            out[s].append(c.copy())
    return [np.concatenate(o) if o else np.zeros(0, OP_DTYPE) for o in out]


def region_of(layout, addr, size):
    for name, r in layout.items():
        if r["base"] <= addr and addr + size <= r["base"] + r["bytes"]:
            return name
    return None


# ----------------------------------------------------------------------------- well-formed
@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
def test_streams_well_formed(flow, version):
    t = SpgemmTarget(cores=3, threads_per_core=3, sp_bytes=4096, sp_banks=4)
    a = rmat(7, 5, seed=21)
    src, metrics = source(flow, version, a, t, partition="dynamic", chunk_ops=200)
    streams = pull_all(src, 37, order="random")
    layout = src.info["layout"]
    regions = sorted((r["base"], r["base"] + r["bytes"]) for r in layout.values())
    assert all(e0 <= b1 for (_, e0), (b1, _) in zip(regions, regions[1:], strict=False))
    assert all(b % 4096 == 0 for b, _ in regions)
    allowed = {LOAD, STORE, ATOMIC, COMPUTE, BARRIER}
    core_bars: dict[int, list] = {}
    for s, ops in enumerate(streams):
        core = s // t.threads_per_core
        assert set(np.unique(ops["op"])) <= allowed
        assert not ops["addr2"].any() and not ops["count"].any()
        assert not ops["stride"].any() and not ops["stride2"].any()
        memop = np.isin(ops["op"], [LOAD, STORE, ATOMIC])
        assert (ops["size"][memop] > 0).all() and (ops["size"][memop] <= LINE).all()
        assert (ops["handle"][ops["op"] != BARRIER] == 0).all()
        for o in ops[memop]:
            addr, size = int(o["addr"]), int(o["size"])
            assert addr // LINE == (addr + size - 1) // LINE, "a request crosses a line"
            if o["space"] == DRAM:
                name = region_of(layout, addr, size)
                assert name is not None, f"stream {s}: DRAM {addr}+{size} outside the layout"
                if o["op"] == ATOMIC:
                    assert name == "counters" and o["sub"] == ATOMIC_ADD
            else:
                assert o["space"] in (SP_LOCAL, SP_REMOTE) and flow == "smash"
                assert 0 <= addr and addr + size <= t.sp_bytes
                if o["space"] == SP_REMOTE:
                    assert 0 <= o["core"] < t.cores and o["core"] != core
                else:
                    assert o["core"] == 0
        at = ops[ops["op"] == ATOMIC]
        assert (at["size"] == 8).all() and (at["addr"] % 8 == 0).all()
        assert (ops["size"][ops["op"] == COMPUTE] > 0).all()
        bars = ops[ops["op"] == BARRIER]
        core_bars.setdefault(core, []).append(
            [(int(b["sub"]), int(b["handle"])) for b in bars])
    for seqs in core_bars.values():  # every thread of a core passes the same barriers
        assert all(q == seqs[0] for q in seqs)
    machine = [[b for b in q if b[0] == SCOPE_MACHINE] for qs in core_bars.values() for q in qs]
    assert all(q == machine[0] for q in machine)
    m = metrics()
    assert m["check"]["ok"]
    assert m["ops"] == sum(len(o) for o in streams)
    # the counters agree with the ops actually emitted
    allops = np.concatenate(streams)
    dram = allops[allops["space"] == DRAM]
    ld = int(dram["size"][dram["op"] == LOAD].sum())
    st = int(dram["size"][dram["op"] == STORE].sum())
    assert m["dram_load_bytes"] == ld and m["dram_store_bytes"] == st
    per = np.array([len(o) for o in streams], float)
    assert m["load_imbalance"] == pytest.approx(per.max() / per.mean())


def test_smash_uses_core_barriers_and_outer_a_machine_barrier():
    t = SpgemmTarget(cores=2, threads_per_core=2, sp_bytes=2048)
    a = erdos_renyi(40, avg_degree=4, seed=22)
    smash = pull_all(source("smash", 1, a, t)[0], 1000)
    outer = pull_all(source("outer", None, a, t)[0], 1000)
    sb = [o[o["op"] == BARRIER] for o in smash]
    assert all((b["sub"] == SCOPE_CORE).all() and len(b) >= 1 for b in sb)
    assert all(list(b["handle"]) == list(range(len(b))) for b in sb)  # window ids 0, 1, ...
    ob = [o[o["op"] == BARRIER] for o in outer]
    assert all(len(b) == 1 and b["sub"][0] == SCOPE_MACHINE for b in ob)


@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
def test_streams_independent_of_pull_order(flow, version):
    t = SpgemmTarget(cores=2, threads_per_core=3, sp_bytes=4096)
    a = rmat(7, 6, seed=23, values="signed")
    one = pull_all(source(flow, version, a, t, chunk_ops=64)[0], 1000)
    src, metrics = source(flow, version, a, t, chunk_ops=64)
    two = pull_all(src, 5, order="random", seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    assert metrics()["check"]["ok"]


def test_chunks_bounded_by_chunk_ops():
    t = SpgemmTarget(cores=1, threads_per_core=2, sp_bytes=8192)
    src, _ = source("rowwise", None, rmat(7, 8, seed=24), t, chunk_ops=100)
    sizes = []
    while True:
        c = src.next_chunk(0, 10_000)
        if not len(c):
            break
        sizes.append(len(c))
    assert max(sizes) <= 100 and len(sizes) > 3


def test_generators_yield_at_most_max_ops_and_park_nothing():
    t = SpgemmTarget(cores=2, threads_per_core=2, sp_bytes=8192)
    src, _ = source("smash", 1, rmat(7, 8, seed=26), t, chunk_ops=4096)
    for s in range(src.n_streams):
        assert 0 < len(src.next_chunk(s, 40)) <= 40
    assert all(left is None for left in src._left)


def test_metrics_before_pulling_generates_everything():
    t = SpgemmTarget(cores=1, threads_per_core=2, sp_bytes=8192)
    a = erdos_renyi(30, avg_degree=3, seed=25)
    _, m1 = source("smash", 2, a, t)
    src, m2 = source("smash", 2, a, t)
    streams = pull_all(src, 50)
    assert m1()["ops"] == m2()["ops"] == sum(len(s) for s in streams)


# ----------------------------------------------------------------------------- hand-derived
ONE = sp.csr_array(np.array([[2.0]]))
T1 = SpgemmTarget(cores=1, threads_per_core=1, sp_bytes=4096)


def ops_of(flow, version=None, a=ONE, **params):
    src, m = source(flow, version, a, T1, **params)
    (ops,) = pull_all(src, 1000)
    assert m()["check"]["ok"]
    base = {k: v["base"] for k, v in src.info["layout"].items()}
    return [(int(o["op"]), int(o["space"]), int(o["sub"]), int(o["size"]), int(o["addr"]))
            for o in ops], base


def test_rowwise_one_by_one_by_hand():
    ops, b = ops_of("rowwise")
    assert ops == [
        (LOAD, DRAM, 0, 16, b["a_ptr"]), (LOAD, DRAM, 0, 4, b["a_idx"]),
        (LOAD, DRAM, 0, 8, b["a_val"]), (LOAD, DRAM, 0, 16, b["b_ptr"]),
        (LOAD, DRAM, 0, 4, b["b_idx"]), (LOAD, DRAM, 0, 8, b["b_val"]),
        (COMPUTE, 0, 0, 1, 0),                                    # one multiply-add
        (LOAD, DRAM, 0, 16, b["spa"]), (STORE, DRAM, 0, 16, b["spa"]),  # first touch of j=0
        (STORE, DRAM, 0, 4, b["list"]), (LOAD, DRAM, 0, 4, b["list"]),  # list out and back
        (LOAD, DRAM, 0, 8, b["spa"] + 8),                         # the value, for C
        (STORE, DRAM, 0, 4, b["c_idx"]), (STORE, DRAM, 0, 8, b["c_val"]),
    ]


def test_smash_v1_one_by_one_by_hand():
    ops, b = ops_of("smash", 1)
    # region: ceil(1 / 0.5) = 2 slots of 16 B at scratchpad offset 0; home(0) = 0
    assert ops == [
        (LOAD, DRAM, 0, 16, b["a_ptr"]), (LOAD, DRAM, 0, 4, b["a_idx"]),
        (LOAD, DRAM, 0, 8, b["a_val"]), (LOAD, DRAM, 0, 16, b["b_ptr"]),
        (LOAD, DRAM, 0, 4, b["b_idx"]), (LOAD, DRAM, 0, 8, b["b_val"]),
        (COMPUTE, 0, 0, 3, 0),                                    # multiply-add + hash
        (ATOMIC, SP_LOCAL, ATOMIC_CAS, 8, 0),                      # claim the key slot
        (ATOMIC, SP_LOCAL, ATOMIC_ADD | FLAG_POSTED, 8, 8),        # add the value
        (LOAD, SP_LOCAL, 0, 32, 0), (STORE, SP_LOCAL, 0, 32, 0),   # read and clear the region
        (COMPUTE, 0, 0, 2, 0),                                    # scan 2 slots, sort 1 entry
        (STORE, DRAM, 0, 4, b["c_idx"]), (STORE, DRAM, 0, 8, b["c_val"]),
        (BARRIER, 0, SCOPE_CORE, 0, 0),
    ]
    ops2, _ = ops_of("smash", 1, posted_atomics=False)
    assert ops2[8] == (ATOMIC, SP_LOCAL, ATOMIC_ADD, 8, 8)


def test_smash_v2_one_by_one_by_hand():
    ops, b = ops_of("smash", 2)
    assert ops == [
        (LOAD, DRAM, 0, 16, b["a_ptr"]), (LOAD, DRAM, 0, 8, b["a_tok"]),
        (LOAD, DRAM, 0, 16, b["b_ptr"]), (LOAD, DRAM, 0, 8, b["b_tok"]),
        (COMPUTE, 0, 0, 3, 0),
        (ATOMIC, SP_LOCAL, ATOMIC_CAS, 8, 0),                      # token into an empty slot
        (LOAD, SP_LOCAL, 0, 16, 0), (STORE, SP_LOCAL, 0, 16, 0),
        (COMPUTE, 0, 0, 2, 0),
        (STORE, DRAM, 0, 8, b["c_tok"]),
        (BARRIER, 0, SCOPE_CORE, 0, 0),
    ]


def test_inner_one_by_one_by_hand():
    ops, b = ops_of("inner")
    assert ops == [
        (LOAD, DRAM, 0, 16, b["c_ptr"]), (LOAD, DRAM, 0, 16, b["a_ptr"]),
        (LOAD, DRAM, 0, 4, b["c_idx"]),                           # the coordinate
        (LOAD, DRAM, 0, 16, b["b_ptr"]),
        (LOAD, DRAM, 0, 4, b["a_idx"]), (LOAD, DRAM, 0, 4, b["b_idx"]),
        (LOAD, DRAM, 0, 8, b["a_val"]), (LOAD, DRAM, 0, 8, b["b_val"]),  # a match
        (COMPUTE, 0, 0, 2, 0),                                    # one compare, one mul-add
        (STORE, DRAM, 0, 8, b["c_val"]),
    ]


def test_outer_one_by_one_by_hand():
    ops, b = ops_of("outer")
    assert ops == [
        (LOAD, DRAM, 0, 16, b["a_ptr"]), (LOAD, DRAM, 0, 16, b["b_ptr"]),
        (LOAD, DRAM, 0, 4, b["a_idx"]), (LOAD, DRAM, 0, 8, b["a_val"]),
        (LOAD, DRAM, 0, 4, b["b_idx"]), (LOAD, DRAM, 0, 8, b["b_val"]),
        (COMPUTE, 0, 0, 1, 0),
        (STORE, DRAM, 0, 4, b["p_idx"]), (STORE, DRAM, 0, 8, b["p_val"]),
        (BARRIER, 0, SCOPE_MACHINE, 0, 0),
        (LOAD, DRAM, 0, 16, b["p_ptr"]), (LOAD, DRAM, 0, 16, b["c_ptr"]),
        (LOAD, DRAM, 0, 4, b["p_idx"]), (LOAD, DRAM, 0, 8, b["p_val"]),
        (COMPUTE, 0, 0, 1, 0),                                    # merge of one product
        (STORE, DRAM, 0, 4, b["c_idx"]), (STORE, DRAM, 0, 8, b["c_val"]),
    ]


def _home(j: int, r: int) -> int:
    return ((j * 2654435761) % 2**32) * r >> 32


def test_smash_collision_by_hand():
    # B(0,:) has two columns with the same home slot in a 4-slot region (2 products / 0.5)
    j1, j2 = next((x, y) for x in range(64) for y in range(x + 1, 64)
                  if _home(x, 4) == _home(y, 4) and _home(x, 4) < 3)
    a = sp.csr_array(([1.0], ([0], [0])), shape=(1, 1))
    b = sp.csr_array(([1.0, 1.0], ([0, 0], [j1, j2])), shape=(1, 64))
    src, m = make_spgemm({"dataflow": "smash", "version": 1, "a": a, "b": b}, T1)
    (ops,) = pull_all(src, 1000)
    h = _home(j1, 4)
    at = [(int(o["sub"]), int(o["addr"])) for o in ops[ops["op"] == ATOMIC]]
    assert at == [(ATOMIC_CAS, 16 * h), (ATOMIC_ADD | FLAG_POSTED, 16 * h + 8),
                  (ATOMIC_CAS, 16 * h), (ATOMIC_CAS, 16 * (h + 1)),
                  (ATOMIC_ADD | FLAG_POSTED, 16 * (h + 1) + 8)]
    assert m()["hash_probes"] == 3 and m()["hash_collisions"] == 1


def test_flag_posted_matches_machine_model():
    from sim.machine.model import FLAG_POSTED as MODEL_FLAG

    assert FLAG_POSTED == MODEL_FLAG


# ----------------------------------------------------------------------------- errors
def test_unknown_dataflow_lists_valid_ones():
    with pytest.raises(UserError, match="valid: inner, outer, rowwise, smash"):
        make_spgemm({"dataflow": "gustavson", "a": ONE}, T1)


def test_unknown_version_lists_valid_ones():
    with pytest.raises(UserError, match="valid: 1, 2, 3"):
        make_spgemm({"dataflow": "smash", "version": 4, "a": ONE}, T1)
    with pytest.raises(UserError, match="smash dataflow only"):
        make_spgemm({"dataflow": "inner", "version": 2, "a": ONE}, T1)


@pytest.mark.parametrize("params,match", [
    ({"partition": "static"}, "valid: rows, nnz, dynamic"),
    ({"grain": 0}, "grain"),
    ({"colour": 1}, "unknown SpGEMM parameter"),
    ({"costs": {"divide": 3}}, "costs"),
    ({"load_factor": 2.0}, "load_factor"),
])
def test_bad_parameters(params, match):
    with pytest.raises(UserError, match=match):
        make_spgemm({"dataflow": "rowwise", "a": ONE, **params}, T1)


def test_scratchpad_too_small_for_a_row():
    a = sp.csr_array(np.ones((1, 40)))
    b = sp.csr_array(np.eye(40))
    t = SpgemmTarget(cores=1, threads_per_core=1, sp_bytes=256)  # 16 slots of 16 B
    with pytest.raises(UserError, match="output row 0 has 40 entries"):
        make_spgemm({"dataflow": "smash", "a": a, "b": b}, t)


def test_layout_larger_than_dram_refused():
    t = SpgemmTarget(cores=1, threads_per_core=2, sp_bytes=4096, dram_bytes=10_000)
    with pytest.raises(UserError, match="DRAM layout needs"):
        make_spgemm({"dataflow": "outer", "a": erdos_renyi(50, avg_degree=4)}, t)


def test_bad_target():
    with pytest.raises(UserError, match="cores"):
        SpgemmTarget(cores=0, threads_per_core=1, sp_bytes=1024)
    with pytest.raises(UserError, match="line_bytes"):
        SpgemmTarget(cores=1, threads_per_core=1, sp_bytes=1024, line_bytes=48)
