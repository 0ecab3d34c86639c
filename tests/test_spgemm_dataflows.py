"""SpGEMM dataflows: C verified against scipy, counts against independent formulas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from workloads.spgemm import SpgemmTarget, make_spgemm
from workloads.spgemm.check import verify
from workloads.spgemm.matrices import banded, erdos_renyi, rmat

VARIANTS = [("inner", None), ("outer", None), ("rowwise", None), ("smash", 1), ("smash", 2),
            ("smash", 3)]
IDS = [f if v is None else f"{f}{v}" for f, v in VARIANTS]
TARGET = SpgemmTarget(cores=3, threads_per_core=4, sp_bytes=8192, sp_banks=8)
# MANIFEST.md (workloads/matrices), pattern of A·A: independent of this code
CAGE8_NNZ_AA, CAGE8_FLOPS_AA = 55_175, 129_443
BUS_NNZ_AA, BUS_FLOPS_AA = 11_142, 18_138


def run(flow, version, a, b=None, target=TARGET, **params):
    prm = {"dataflow": flow, "a": a, **params}
    if b is not None:
        prm["b"] = b
    if version is not None:
        prm["version"] = version
    src, metrics = make_spgemm(prm, target)
    return src, metrics()


def multiplications(a, b) -> int:
    """sum over k of nnz(A(:,k)) * nnz(B(k,:)), from scipy's structure."""
    a, b = sp.csc_array(a), sp.csr_array(b)
    return int(np.dot(np.diff(a.indptr), np.diff(b.indptr)))


def random_rect(rows, cols, density, seed):
    rng = np.random.default_rng(seed)
    m = sp.random_array((rows, cols), density=density, rng=rng, format="csr")
    m.data = rng.uniform(-2, 2, m.nnz)
    return m


SMALL = {
    "er_signed": lambda: erdos_renyi(60, avg_degree=4, seed=1, values="signed"),
    "rmat": lambda: rmat(7, 6, seed=2),
    "banded": lambda: banded(50, 3, seed=3),
}


@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
@pytest.mark.parametrize("partition", ["rows", "nnz", "dynamic"])
@pytest.mark.parametrize("mat", sorted(SMALL))
def test_generated_matrices_match_scipy(flow, version, partition, mat):
    a = SMALL[mat]()
    _, m = run(flow, version, a, partition=partition)
    assert m["check"]["ok"], m["check"]
    assert m["check"]["pattern_equal"] and m["check"]["max_rel_err"] <= 1e-9
    assert m["multiplications"] == multiplications(a, a)
    assert m["nnz_c_structural"] == sp.csr_array(abs(a) @ abs(a)).nnz


@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
def test_rectangular_a_times_different_b(flow, version):
    a = random_rect(40, 25, 0.1, 4)
    b = random_rect(25, 33, 0.12, 5)
    a.data[a.indptr[7]:a.indptr[8]] = 0  # an empty row of A and an empty row of B
    b.data[b.indptr[3]:b.indptr[4]] = 0
    a.eliminate_zeros()
    b.eliminate_zeros()
    _, m = run(flow, version, a, b, partition="nnz")
    assert m["check"]["ok"], m["check"]
    assert m["shape_a"] == [40, 25] and m["shape_b"] == [25, 33]
    assert m["multiplications"] == multiplications(a, b)


@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
def test_cancellation_dropped_like_scipy(flow, version):
    a = sp.csr_array(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 0.0]]))
    b = sp.csr_array(np.array([[1.0, 0.0], [-1.0, 3.0], [0.5, 0.0]]))
    # C = [[0, 3], [-1.5, 6], [0, 0]]: C(0,0) cancels to exactly 0
    _, m = run(flow, version, a, b)
    assert m["check"]["ok"], m["check"]
    assert m["nnz_c_structural"] == 4 and m["check"]["nnz"] == 3


@pytest.mark.parametrize("flow,version", VARIANTS, ids=IDS)
def test_shipped_real_matrix_cage8(flow, version):
    _, m = run(flow, version, "cage8",
               target=SpgemmTarget(cores=2, threads_per_core=8, sp_bytes=64 << 10))
    assert m["check"]["ok"], m["check"]
    assert m["multiplications"] == CAGE8_FLOPS_AA
    assert m["nnz_c_structural"] == CAGE8_NNZ_AA == m["check"]["nnz"]
    assert m["flops"] == 2 * CAGE8_FLOPS_AA - CAGE8_NNZ_AA


@pytest.mark.parametrize("flow,version", [("inner", None), ("smash", 1)], ids=["inner", "smash1"])
def test_shipped_symmetric_matrix_1138_bus(flow, version):
    _, m = run(flow, version, "1138_bus", partition="dynamic")
    assert m["check"]["ok"], m["check"]
    assert m["multiplications"] == BUS_FLOPS_AA
    assert m["nnz_c_structural"] == BUS_NNZ_AA


def test_check_detects_wrong_results():
    src, m = run("smash", 1, erdos_renyi(40, avg_degree=3, seed=9))
    assert m["check"]["ok"]
    p = src.prob
    good = verify(p, src.c_idx, src.c_val, src.c_done, 0)
    assert good["ok"]
    val = src.c_val.copy()
    val[5] *= 1 + 1e-7
    assert not verify(p, src.c_idx, val, src.c_done, 0)["ok"]
    idx = src.c_idx.copy()
    idx[0] = (idx[0] + 1) % p.n_cols
    bad = verify(p, idx, src.c_val, src.c_done, 0)
    assert not bad["ok"] and not bad["pattern_equal"]
    # a value off by less than the tolerance passes and reports its error
    val = src.c_val.copy()
    val[5] *= 1 + 1e-12
    near = verify(p, src.c_idx, val, src.c_done, 0)
    assert near["ok"] and 0 < near["max_rel_err"] <= 1e-9
    # an entry of ours that is exactly 0.0 is dropped: a missing entry names its row
    val = src.c_val.copy()
    row = int(np.searchsorted(p.c_ptr, 7, side="right") - 1)
    val[7] = 0.0
    miss = verify(p, src.c_idx, val, src.c_done, 0)
    assert not miss["ok"] and miss["first_bad_row"] == row and miss["nnz"] == good["nnz"] - 1
    done = src.c_done.copy()
    done[3] = 2
    assert not verify(p, src.c_idx, src.c_val, done, 0)["ok"]
    assert not verify(p, src.c_idx, src.c_val, src.c_done, 1)["ok"]


def test_redundant_fetch_inner_above_outer_on_rmat():
    a = rmat(8, 8, seed=11)
    _, inner = run("inner", None, a)
    _, outer = run("outer", None, a)
    _, row = run("rowwise", None, a)
    assert inner["check"]["ok"] and outer["check"]["ok"]
    assert inner["redundant_fetch_factor"] > 2 * outer["redundant_fetch_factor"]
    # row-wise fetches A once and B(k,:) once per A(i,k): (nnz(A) + mults) elements of 12 B
    want = (a.nnz + multiplications(a, a)) / (2 * a.nnz)
    assert row["redundant_fetch_factor"] == pytest.approx(want)
    # outer with a register tile wider than any column fetches every element it needs once:
    # A(:,k) and B(k,:) for each k where both are non-empty
    _, once = run("outer", None, a, outer_tile=10_000)
    na = np.diff(sp.csc_array(a).indptr)
    nb = np.diff(a.indptr)
    both = (na > 0) & (nb > 0)
    assert once["redundant_fetch_factor"] == pytest.approx((na[both].sum() + nb[both].sum())
                                                           / (2 * a.nnz))


def test_outer_stores_every_partial_product_inner_none():
    a = rmat(7, 6, seed=12)
    mults = multiplications(a, a)
    _, outer = run("outer", None, a)
    _, inner = run("inner", None, a)
    _, smash = run("smash", 1, a)
    assert outer["partial_products_stored"] == mults
    assert smash["partial_products_stored"] == mults
    assert inner["partial_products_stored"] == 0
    assert inner["atomics"] == outer["atomics"] == 0


def test_tokens_save_bytes_and_windows():
    a = rmat(8, 8, seed=13)
    t = SpgemmTarget(cores=2, threads_per_core=4, sp_bytes=16 << 10)
    _, v1 = run("smash", 1, a, target=t)
    _, v2 = run("smash", 2, a, target=t)
    assert v1["check"]["ok"] and v2["check"]["ok"]
    assert v2["dram_bytes_requested"] < v1["dram_bytes_requested"]
    assert v2["sp_local_bytes"] < v1["sp_local_bytes"]
    assert v2["windows"] < v1["windows"]
    assert v2["atomics"] < v1["atomics"]
    # v1: one CAS per probe and one fetch-add per product
    assert v1["atomics"] == v1["hash_probes"] + v1["multiplications"]
    # v2: one CAS per probe, and a second CAS for every product whose column was present
    assert v2["atomics"] == (v2["hash_probes"] + v2["multiplications"]
                             - v2["nnz_c_structural"])


def test_fragments_spread_atomics_over_scratchpads():
    a = rmat(8, 10, seed=14)
    t = SpgemmTarget(cores=4, threads_per_core=2, sp_bytes=32 << 10)
    _, v2 = run("smash", 2, a, target=t)
    _, v3 = run("smash", 3, a, target=t, fragments=4)
    assert v2["sp_remote_atomics"] == 0 and v3["sp_remote_atomics"] > 0
    assert v3["fragments"] == 4 and v2["fragments"] == 1
    assert v3["check"]["ok"]
    # four fragments: about three quarters of the atomics go to other cores' scratchpads
    share = v3["sp_remote_atomics"] / (v3["sp_remote_atomics"] + v3["sp_local_atomics"])
    assert 0.6 < share < 0.9


def _home(j: int, r: int) -> int:
    return ((j * 2654435761) % 2**32) * r >> 32


def test_probe_counts_follow_documented_linear_probing():
    a = erdos_renyi(80, avg_degree=6, seed=15)
    _, m = run("smash", 1, a, load_factor=0.9)
    # re-derive: region R = ceil(min(mults_i, ncols) / 0.9), home h(j), linear probing, inserts
    # in product order; probes = slots inspected per product
    csr = sp.csr_array(a)
    probes = 0
    for i in range(csr.shape[0]):
        cols = [int(j) for k in csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
                for j in csr.indices[csr.indptr[k]:csr.indptr[k + 1]]]
        if not cols:
            continue
        r = int(np.ceil(min(len(cols), csr.shape[1]) / 0.9))
        table = [-1] * r
        for j in cols:
            s = _home(j, r)
            probes += 1
            while table[s] not in (-1, j):
                s = (s + 1) % r
                probes += 1
            table[s] = j
    assert m["hash_probes"] == probes
    assert m["hash_collisions"] == probes - m["multiplications"]


def test_dynamic_grabs_one_atomic_each_plus_final():
    a = erdos_renyi(50, avg_degree=3, seed=16)
    t = SpgemmTarget(cores=2, threads_per_core=3, sp_bytes=8192)
    _, m = run("rowwise", None, a, target=t, partition="dynamic", grain=4)
    assert m["grabs"] == m["dram_atomics"] == -(-50 // 4) + 6
    _, st = run("rowwise", None, a, target=t, partition="rows")
    assert st["grabs"] == st["dram_atomics"] == 0


def test_load_imbalance_rows_vs_nnz_on_power_law():
    a = rmat(9, 8, seed=17)
    _, rows = run("rowwise", None, a, partition="rows")
    _, nnz = run("rowwise", None, a, partition="nnz")
    _, dyn = run("rowwise", None, a, partition="dynamic", grain=2)
    assert rows["load_imbalance"] > nnz["load_imbalance"]
    assert dyn["load_imbalance"] < rows["load_imbalance"]
    assert rows["load_imbalance"] == pytest.approx(rows["ops_per_thread_max"]
                                                   / rows["ops_per_thread_mean"])
