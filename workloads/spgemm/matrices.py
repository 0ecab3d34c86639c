"""SpGEMM inputs: Matrix Market files, the shipped real matrices and seeded generators.

Every matrix comes out canonical: a ``scipy.sparse.csr_array`` of float64 with int32 column
indices, sorted within rows, duplicates summed and zeros removed.

Reading rules (``read_matrix``)
    * ``.mtx`` and ``.mtx.gz`` (gzip detected by scipy), coordinate or array format.
    * Fields ``real``, ``integer`` (converted to float64) and ``pattern`` (every entry 1.0).
      ``complex`` is refused with a one-line ``UserError`` naming the file.
    * Symmetry ``general`` as stored; ``symmetric`` and ``skew-symmetric`` are mirrored (the
      upper triangle is the lower one's mirror, negated for skew).
    * Explicit zeros are dropped: entries stored as 0, and entries whose duplicates sum to
      exactly 0 (Matrix Market leaves duplicates undefined; like scipy we sum them). In a
      pattern file duplicates collapse to one entry of value 1.0.
    * Missing, truncated or corrupt files (bad gzip stream, missing banner, too few or too many
      entries, bad numbers, indices out of range) raise one-line ``UserError`` naming the file.

Generators (all seeded with ``numpy.random.default_rng(seed)``; same arguments, same matrix)
    ``rmat``         R-MAT (Chakrabarti, Zhan, Faloutsos, SDM 2004): 2**scale vertices,
                     edge_factor * 2**scale edges drawn by recursive quadrant choice with
                     probabilities a, b, c, d; duplicate edges merged.
    ``erdos_renyi``  G(n, m) with m = round(density * n * n) distinct positions, uniformly
                     drawn (density, or avg_degree = density * n).
    ``banded``       every (i, j) with |i - j| <= bandwidth.
    Values: ``uniform`` (default, uniform in [0.5, 1.5)), ``signed`` (uniform in [-1, 1),
    exercises cancellation) or ``ones``.

``resolve(spec)`` turns a parameter into a matrix: a shipped name (``SHIPPED``), a path, a
generator dict ``{"generator": "rmat", "scale": 10, ...}``, or a scipy/numpy matrix.
"""

from __future__ import annotations

import inspect
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import scipy.sparse as sp

from sim.config.yamlfile import did_you_mean
from sim.errors import UserError

MATRIX_DIR = Path(__file__).resolve().parent.parent / "matrices"
VALUE_KINDS = ("uniform", "signed", "ones")
GENERATORS = ("rmat", "erdos_renyi", "banded")
_READ_ERRORS = (ValueError, OSError, EOFError, zlib.error, IndexError, OverflowError,
                TypeError, UnicodeDecodeError)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def canonical(m: Any, what: str = "matrix") -> sp.csr_array:
    """A canonical float64 CSR copy of any scipy sparse matrix or 2-D array."""
    if sp.issparse(m):
        if np.iscomplexobj(m.data):
            raise UserError(f"{what}: complex matrices are not supported")
        c = sp.csr_array(m, dtype=np.float64, copy=True)
    else:
        a = np.asarray(m)
        if a.ndim != 2:
            raise UserError(f"{what}: expected a 2-D matrix, got shape {a.shape}")
        if np.iscomplexobj(a):
            raise UserError(f"{what}: complex matrices are not supported")
        c = sp.csr_array(a.astype(np.float64))
    if min(c.shape) == 0:
        raise UserError(f"{what}: has no rows or no columns (shape {c.shape})")
    if max(c.shape) >= 2**31 - 1:
        raise UserError(f"{what}: dimensions {c.shape} exceed 32-bit indices")
    c.sum_duplicates()
    c.eliminate_zeros()
    c.sort_indices()
    if not np.all(np.isfinite(c.data)):
        raise UserError(f"{what}: contains non-finite values (inf or nan)")
    c.indices = c.indices.astype(np.int32, copy=False)
    c.indptr = c.indptr.astype(np.int64, copy=False)
    return c


def read_matrix(path: str | Path) -> sp.csr_array:
    """Read a Matrix Market file (.mtx or .mtx.gz) under the rules in the module docstring."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such matrix file")
    try:
        rows, cols, _entries, _fmt, field, symmetry = scipy.io.mminfo(p)
    except _READ_ERRORS as e:
        raise UserError(f"{p}: not a readable Matrix Market file: {_one_line(e)}") from None
    if field == "complex" or symmetry == "hermitian":
        raise UserError(f"{p}: complex Matrix Market matrices are not supported "
                        f"(field '{field}'); only real, integer and pattern")
    try:
        m = scipy.io.mmread(p)
    except _READ_ERRORS as e:
        raise UserError(f"{p}: corrupt or truncated Matrix Market file: {_one_line(e)}") from None
    if m.shape != (rows, cols):
        raise UserError(f"{p}: size line says {rows}x{cols}, data has {m.shape}")
    c = canonical(m, str(p))
    if field == "pattern":
        c.data[:] = 1.0
    return c


# ----------------------------------------------------------------------------- shipped
def shipped() -> dict[str, Path]:
    """The real matrices shipped in workloads/matrices, by name (file name without .mtx.gz)."""
    return {f.name[:-len(".mtx.gz")]: f for f in sorted(MATRIX_DIR.glob("*.mtx.gz"))}


# ----------------------------------------------------------------------------- generators
def _values(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(0.5, 1.5, n)
    if kind == "signed":
        v = rng.uniform(-1.0, 1.0, n)
        v[v == 0.0] = 0.5
        return v
    if kind == "ones":
        return np.ones(n)
    raise UserError(f"unknown values kind {kind!r}; valid: {', '.join(VALUE_KINDS)}")


def _from_coords(n_rows: int, n_cols: int, r: np.ndarray, c: np.ndarray,
                 rng: np.random.Generator, values: str) -> sp.csr_array:
    key = np.unique(r.astype(np.int64) * n_cols + c.astype(np.int64))
    rows, cols = np.divmod(key, n_cols)
    m = sp.csr_array((_values(rng, len(key), values), (rows, cols)), shape=(n_rows, n_cols))
    return canonical(m)


def _int(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (
            hi is not None and v > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise UserError(f"{name} must be an integer {rng}, got {v!r}")
    return int(v)


def rmat(scale: int, edge_factor: float = 16, a: float = 0.57, b: float = 0.19,
         c: float = 0.19, d: float = 0.05, seed: int = 0, values: str = "uniform"
         ) -> sp.csr_array:
    """R-MAT graph with 2**scale vertices and about edge_factor * 2**scale distinct edges."""
    scale = _int("rmat scale", scale, 1, 30)
    probs = np.array([a, b, c, d], dtype=np.float64)
    if np.any(probs < 0) or abs(probs.sum() - 1.0) > 1e-9:
        raise UserError(f"rmat probabilities a, b, c, d must be >= 0 and sum to 1, got "
                        f"{a}, {b}, {c}, {d}")
    if not edge_factor > 0:
        raise UserError(f"rmat edge_factor must be > 0, got {edge_factor!r}")
    n = 1 << scale
    m = int(round(edge_factor * n))
    rng = np.random.default_rng(seed)
    rows = np.zeros(m, np.int64)
    cols = np.zeros(m, np.int64)
    cum = np.cumsum(probs)
    for _ in range(scale):
        q = np.searchsorted(cum[:3], rng.random(m), side="right")  # 0..3: a, b, c, d
        rows = 2 * rows + (q >= 2)
        cols = 2 * cols + (q % 2)
    return _from_coords(n, n, rows, cols, rng, values)


def erdos_renyi(n: int, density: float | None = None, avg_degree: float | None = None,
                seed: int = 0, values: str = "uniform") -> sp.csr_array:
    """G(n, m) random matrix: m = round(density * n**2) distinct uniformly drawn positions."""
    n = _int("erdos_renyi n", n, 1)
    if (density is None) == (avg_degree is None):
        raise UserError("erdos_renyi needs exactly one of density or avg_degree")
    dens = float(density) if density is not None else float(avg_degree) / n
    if not 0.0 <= dens <= 1.0:
        raise UserError(f"erdos_renyi density must be in [0, 1], got {dens}")
    rng = np.random.default_rng(seed)
    m = int(round(dens * n * n))
    key = rng.choice(n * n, size=m, replace=False) if m else np.zeros(0, np.int64)
    return _from_coords(n, n, key // n, key % n, rng, values)


def banded(n: int, bandwidth: int, seed: int = 0, values: str = "uniform") -> sp.csr_array:
    """Band matrix: every (i, j) with |i - j| <= bandwidth."""
    n = _int("banded n", n, 1)
    bw = _int("banded bandwidth", bandwidth, 0)
    rng = np.random.default_rng(seed)
    offs = np.arange(-bw, bw + 1)
    r = np.repeat(np.arange(n), len(offs))
    c = r + np.tile(offs, n)
    keep = (c >= 0) & (c < n)
    return _from_coords(n, n, r[keep], c[keep], rng, values)


_GEN_FUNCS = {"rmat": rmat, "erdos_renyi": erdos_renyi, "banded": banded}


def generate(spec: dict) -> sp.csr_array:
    """A generated matrix from ``{"generator": name, **arguments}``."""
    args = dict(spec)
    kind = args.pop("generator")
    if kind in ("er", "erdos-renyi"):
        kind = "erdos_renyi"
    if kind not in _GEN_FUNCS:
        raise UserError(f"unknown matrix generator {kind!r}; valid: {', '.join(GENERATORS)}")
    try:
        return _GEN_FUNCS[kind](**args)
    except TypeError as e:
        raise UserError(f"generator {kind}: {_one_line(e)}") from None


def _named(spec: str | Path, what: str) -> tuple[Path, str]:
    """(file, label) of a shipped name or a path; UserError naming what is wrong otherwise."""
    s = str(spec)
    name = s[:-len(".mtx.gz")] if s.endswith(".mtx.gz") else s
    ships = shipped()
    if name in ships:
        return ships[name], name
    p = Path(s)
    if p.is_file():
        return p, p.name
    if p.suffix in (".mtx", ".gz") or "/" in s or "\\" in s:
        raise UserError(f"matrix {what}: {p}: no such matrix file")
    raise UserError(f"matrix {what}: {s!r} is neither a file nor a shipped matrix"
                    f"{did_you_mean(name, ships)}; shipped: {', '.join(ships) or 'none'}")


def _generator(spec: dict, what: str) -> tuple[str, Any]:
    """(generator name, its function) of a generator dict, arguments checked by name."""
    if "generator" not in spec:
        raise UserError(f"matrix {what}: a dict needs a 'generator' key "
                        f"({', '.join(GENERATORS)})")
    kind = spec["generator"]
    kind = "erdos_renyi" if kind in ("er", "erdos-renyi") else kind
    if kind not in _GEN_FUNCS:
        hint = did_you_mean(kind, GENERATORS) if isinstance(kind, str) else ""
        raise UserError(f"matrix {what}: unknown generator {kind!r}{hint}; valid: "
                        f"{', '.join(GENERATORS)}")
    func = _GEN_FUNCS[kind]
    args = {k: v for k, v in spec.items() if k != "generator"}
    try:
        inspect.signature(func).bind(**args)
    except TypeError as e:
        names = [n for n in inspect.signature(func).parameters]
        bad = next((k for k in args if k not in names), None)
        hint = did_you_mean(bad, names) if bad else ""
        raise UserError(f"matrix {what}: generator {kind}: {_one_line(e)}{hint}; its "
                        f"arguments: {', '.join(names)}") from None
    return kind, func


def matrix_shape(spec: Any, what: str = "A") -> tuple[int, int]:
    """A matrix parameter's shape without building it (a file's header, a generator's size).

    Checks what ``resolve`` would refuse early: a missing file, an unknown shipped name
    (with the closest shipped one), an unknown generator or argument, a bad size.
    """
    if isinstance(spec, (str, Path)):
        p, _label = _named(spec, what)
        try:
            rows, cols, *_ = scipy.io.mminfo(p)
        except _READ_ERRORS as e:
            raise UserError(f"{p}: not a readable Matrix Market file: {_one_line(e)}") from None
        return int(rows), int(cols)
    if isinstance(spec, dict):
        kind, _func = _generator(spec, what)
        if kind == "rmat":
            n = 1 << _int(f"matrix {what}: rmat scale", spec.get("scale"), 1, 30)
        else:
            n = _int(f"matrix {what}: {kind} n", spec.get("n"), 1)
        return n, n
    if sp.issparse(spec) or isinstance(spec, np.ndarray):
        if spec.ndim != 2:
            raise UserError(f"matrix {what}: expected a 2-D matrix, got shape {spec.shape}")
        return int(spec.shape[0]), int(spec.shape[1])
    raise UserError(f"matrix {what}: expected a shipped name, a path, a generator dict or a "
                    f"matrix, got {type(spec).__name__}")


def label_of(spec: Any) -> str:
    """How a matrix parameter is named in metrics and messages."""
    if isinstance(spec, (str, Path)):
        s = str(spec)
        name = s[:-len(".mtx.gz")] if s.endswith(".mtx.gz") else s
        return name if name in shipped() else Path(s).name
    if isinstance(spec, dict):
        args = ",".join(f"{k}={v}" for k, v in spec.items() if k != "generator")
        return f"{spec.get('generator')}({args})"
    shape = getattr(spec, "shape", ("?", "?"))
    return f"<{shape[0]}x{shape[1]} matrix>"


def resolve(spec: Any, what: str = "A") -> tuple[sp.csr_array, str]:
    """(matrix, label) from a parameter value: shipped name, path, generator dict or matrix."""
    if isinstance(spec, (str, Path)):
        p, label = _named(spec, what)
        return read_matrix(p), label
    if isinstance(spec, dict):
        _generator(spec, what)
        return generate(spec), label_of(spec)
    if sp.issparse(spec) or isinstance(spec, np.ndarray):
        return canonical(spec, f"matrix {what}"), label_of(spec)
    raise UserError(f"matrix {what}: expected a shipped name, a path, a generator dict or a "
                    f"matrix, got {type(spec).__name__}")


def check_shapes(a: Any, b: Any, a_label: str, b_label: str) -> None:
    """A·B is defined: a and b are matrices or (rows, columns) shapes."""
    sa = a if isinstance(a, tuple) else a.shape
    sb = b if isinstance(b, tuple) else b.shape
    if sa[1] != sb[0]:
        raise UserError(f"cannot multiply A {a_label} ({sa[0]}x{sa[1]}) by B "
                        f"{b_label} ({sb[0]}x{sb[1]}): A has {sa[1]} columns, "
                        f"B has {sb[0]} rows")
