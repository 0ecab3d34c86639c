"""SpGEMM inputs: Matrix Market reading rules, errors that name the file, seeded generators."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from sim.errors import UserError
from workloads.spgemm import SpgemmTarget, make_spgemm
from workloads.spgemm.matrices import (
    MATRIX_DIR,
    banded,
    erdos_renyi,
    read_matrix,
    resolve,
    rmat,
    shipped,
)

TARGET = SpgemmTarget(cores=1, threads_per_core=2, sp_bytes=4096)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def manifest_rows() -> dict[str, dict[str, int]]:
    """rows, cols, nnz, nnz(A·A), flops(A·A) of each shipped matrix, from MANIFEST.md."""
    out = {}
    for line in (MATRIX_DIR / "MANIFEST.md").read_text().splitlines():
        m = re.match(r"\| `([^`]+)\.mtx\.gz` \| [^|]+ \|([^|]+)\|([^|]+)\|([^|]+)\|[^|]+\|"
                     r"[^|]+\|([^|]+)\|([^|]+)\|", line)
        if m:
            nums = [int(x.strip().replace(",", "")) for x in m.groups()[1:]]
            out[m.group(1)] = dict(zip(("rows", "cols", "nnz", "nnz_aa", "flops_aa"), nums,
                                       strict=True))
    return out


# ----------------------------------------------------------------------------- reading rules
def test_general_real_as_stored(tmp_path):
    p = write(tmp_path, "g.mtx", "%%MatrixMarket matrix coordinate real general\n"
              "3 2 3\n1 1 1.5\n3 2 -2\n2 1 4e0\n")
    m = read_matrix(p)
    assert m.shape == (3, 2)
    assert m.toarray().tolist() == [[1.5, 0], [4.0, 0], [0, -2.0]]
    assert m.indices.dtype == np.int32 and m.data.dtype == np.float64


def test_symmetric_mirrored_and_pattern_is_one(tmp_path):
    p = write(tmp_path, "s.mtx.gz", "%%MatrixMarket matrix coordinate pattern symmetric\n"
              "3 3 3\n1 1\n3 1\n3 2\n")
    m = read_matrix(p)
    assert m.toarray().tolist() == [[1, 0, 1], [0, 0, 1], [1, 1, 0]]


def test_skew_symmetric_negated_mirror(tmp_path):
    p = write(tmp_path, "k.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n"
              "2 2 1\n2 1 5\n")
    assert read_matrix(p).toarray().tolist() == [[0, -5.0], [5.0, 0]]


def test_integer_field_becomes_float(tmp_path):
    p = write(tmp_path, "i.mtx", "%%MatrixMarket matrix coordinate integer general\n"
              "2 2 2\n1 2 7\n2 1 -3\n")
    m = read_matrix(p)
    assert m.dtype == np.float64 and m.toarray().tolist() == [[0, 7.0], [-3.0, 0]]


def test_explicit_zeros_and_cancelling_duplicates_dropped(tmp_path):
    p = write(tmp_path, "z.mtx", "%%MatrixMarket matrix coordinate real general\n"
              "2 2 5\n1 1 0.0\n1 2 2\n1 2 -2\n2 2 1\n2 1 1\n")
    m = read_matrix(p)
    assert m.nnz == 2
    assert m.toarray().tolist() == [[0, 0], [1.0, 1.0]]


def test_pattern_duplicates_collapse(tmp_path):
    p = write(tmp_path, "d.mtx", "%%MatrixMarket matrix coordinate pattern general\n"
              "2 2 3\n1 1\n1 1\n2 2\n")
    m = read_matrix(p)
    assert m.nnz == 2 and m.toarray().tolist() == [[1, 0], [0, 1]]


def test_array_format(tmp_path):
    p = write(tmp_path, "a.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n0\n0\n3\n")
    m = read_matrix(p)
    assert m.nnz == 2 and m.toarray().tolist() == [[1, 0], [0, 3]]


# ----------------------------------------------------------------------------- errors
def one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


def test_complex_refused(tmp_path):
    p = write(tmp_path, "c.mtx", "%%MatrixMarket matrix coordinate complex general\n"
              "2 2 1\n1 1 1.0 2.0\n")
    with pytest.raises(UserError) as e:
        read_matrix(p)
    assert "complex" in one_line_naming(e, p)


def test_complex_refused_through_make_spgemm(tmp_path):
    p = write(tmp_path, "h.mtx.gz", "%%MatrixMarket matrix coordinate complex hermitian\n"
              "2 2 1\n2 1 1 1\n")
    with pytest.raises(UserError) as e:
        make_spgemm({"dataflow": "rowwise", "a": str(p)}, TARGET)
    assert "complex" in one_line_naming(e, p)


def test_truncated_text_file(tmp_path):
    p = write(tmp_path, "t.mtx", "%%MatrixMarket matrix coordinate real general\n"
              "3 3 4\n1 1 1\n2 2 1\n")
    with pytest.raises(UserError) as e:
        read_matrix(p)
    one_line_naming(e, p)


def test_truncated_gzip_file(tmp_path):
    full = gzip.compress(("%%MatrixMarket matrix coordinate real general\n100 100 400\n"
                          + "".join(f"{i % 100 + 1} {i * 7 % 100 + 1} {i}.5\n"
                                    for i in range(400))).encode())
    p = tmp_path / "t.mtx.gz"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(UserError) as e:
        read_matrix(p)
    one_line_naming(e, p)


def test_corrupt_gzip_stream(tmp_path):
    raw = bytearray((MATRIX_DIR / "cage8.mtx.gz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p = tmp_path / "bad.mtx.gz"
    p.write_bytes(bytes(raw))
    with pytest.raises(UserError) as e:
        read_matrix(p)
    one_line_naming(e, p)


@pytest.mark.parametrize("text", [
    "",
    "hello\n1 2 3\n",
    "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n3 1 2.0\n",
    "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1.0\n2 1 2.0\n",
    "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n1 x 2.0\n",
])
def test_malformed_files(tmp_path, text):
    p = write(tmp_path, "m.mtx", text)
    with pytest.raises(UserError) as e:
        read_matrix(p)
    one_line_naming(e, p)


def test_missing_file_and_unknown_name(tmp_path):
    p = tmp_path / "nope.mtx"
    with pytest.raises(UserError) as e:
        read_matrix(p)
    one_line_naming(e, p)
    with pytest.raises(UserError, match="shipped: .*email-Enron"):
        resolve("no-such-matrix")


def test_empty_dimension_refused():
    with pytest.raises(UserError, match="no rows or no columns"):
        make_spgemm({"dataflow": "rowwise", "a": np.zeros((0, 4))}, TARGET)


def test_shape_mismatch():
    a = np.ones((3, 4))
    b = np.ones((3, 4))
    with pytest.raises(UserError, match=r"A has 4 columns, B has 3 rows"):
        make_spgemm({"dataflow": "inner", "a": a, "b": b}, TARGET)


# ----------------------------------------------------------------------------- shipped data
def test_shipped_matrices_match_manifest():
    rows = manifest_rows()
    assert set(rows) == set(shipped()) == {"1138_bus", "cage8", "wiki-Vote", "email-Enron"}
    for name in ("1138_bus", "cage8", "wiki-Vote"):
        m = read_matrix(shipped()[name])
        assert m.shape == (rows[name]["rows"], rows[name]["cols"])
        assert m.nnz == rows[name]["nnz"]
    total = sum(f.stat().st_size for f in shipped().values())
    assert total < 4 << 20


# ----------------------------------------------------------------------------- generators
def test_rmat_seeded_and_skewed():
    a = rmat(9, 8, seed=5)
    b = rmat(9, 8, seed=5)
    c = rmat(9, 8, seed=6)
    assert a.shape == (512, 512)
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    assert 0.5 * 8 * 512 < a.nnz <= 8 * 512  # duplicates merged
    deg = np.diff(a.indptr)
    assert deg.max() > 8 * deg.mean()  # power law: hubs far above the mean
    # a=0.57 > d=0.05: the first quadrant is much denser than the last
    d = a.toarray() != 0
    assert d[:256, :256].sum() > 5 * d[256:, 256:].sum()


def test_rmat_bad_probabilities():
    with pytest.raises(UserError, match="sum to 1"):
        rmat(4, a=0.5, b=0.5, c=0.5, d=0.0)


def test_erdos_renyi_exact_count_and_degree():
    m = erdos_renyi(200, density=0.05, seed=1)
    assert m.nnz == 2000
    assert erdos_renyi(200, avg_degree=10, seed=1).nnz == 2000
    assert (erdos_renyi(50, density=0.1, seed=2) != erdos_renyi(50, density=0.1, seed=2)).nnz == 0
    with pytest.raises(UserError, match="exactly one"):
        erdos_renyi(10)


def test_banded_pattern():
    m = banded(6, 1, values="ones")
    want = [[1 if abs(i - j) <= 1 else 0 for j in range(6)] for i in range(6)]
    assert m.toarray().tolist() == want


def test_generator_dict_and_unknown_generator():
    m, label = resolve({"generator": "banded", "n": 5, "bandwidth": 0})
    assert m.nnz == 5 and "banded" in label
    with pytest.raises(UserError, match="valid: rmat, erdos_renyi, banded"):
        resolve({"generator": "kronecker"})
    with pytest.raises(UserError, match="generator banded"):
        resolve({"generator": "banded", "n": 5, "width": 2})
