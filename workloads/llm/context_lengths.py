"""Per-request context lengths of a decode batch: fixed, drawn from a seeded distribution,
or read from a CSV file.

A context length counts the tokens a request attends to at this decode step, the token
being generated included (its K and V are appended to the cache before attention reads
it). Every function returns a 1-D int64 numpy array, one entry per request, and is
deterministic: same arguments and seed, same array.

Distributions:

- ``uniform``: integers uniform on [min, max], both ends included.
- ``lognormal``: a lognormal truncated to [min, max] whose *truncated* mean is the given
  mean (``mu`` is solved for it; ``sigma`` is the shape: the spread of log-lengths). A
  heavy right tail like real chat-length distributions, without values beyond the limit.
  Samples are rounded to the nearest integer, so the sample mean approaches the target as
  the batch grows but does not equal it exactly.

``context_lengths(spec, ...)`` reads the same choices from a YAML-friendly dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from sim.errors import UserError

KINDS = ("fixed", "uniform", "lognormal", "csv")


def fixed_contexts(batch: int, length: int) -> np.ndarray:
    """``batch`` requests, each with ``length`` tokens of context."""
    _positive("batch", batch)
    _positive("context length", length)
    return np.full(batch, length, np.int64)


def uniform_contexts(batch: int, low: int, high: int, *, seed: int = 0) -> np.ndarray:
    """Integers uniform on [low, high] (both included), from a seeded numpy Generator."""
    _positive("batch", batch)
    _positive("min", low)
    if high < low:
        raise UserError(f"context lengths: max ({high}) is below min ({low})")
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, size=batch, endpoint=True, dtype=np.int64)


def lognormal_contexts(batch: int, mean: float, *, high: int, low: int = 1,
                       sigma: float = 1.0, seed: int = 0) -> np.ndarray:
    """A lognormal truncated to [low, high] with truncated mean ``mean`` (see module doc)."""
    _positive("batch", batch)
    _positive("min", low)
    if high < low:
        raise UserError(f"context lengths: max ({high}) is below min ({low})")
    if not sigma > 0 or not math.isfinite(sigma):
        raise UserError(f"context lengths: sigma must be a positive number, got {sigma}")
    if not low < mean < high:
        raise UserError(f"context lengths: a truncated lognormal needs min < mean < max, "
                        f"got min {low}, mean {mean}, max {high}")
    a, b = math.log(low), math.log(high)
    mu = _solve_mu(mean, a, b, sigma)
    rng = np.random.default_rng(seed)
    # inverse-CDF sampling of the normal truncated to [(a - mu)/s, (b - mu)/s]
    lo, hi = (a - mu) / sigma, (b - mu) / sigma
    u = rng.random(batch)
    if lo > 0:  # upper tail: work with survival probabilities to keep precision
        z = -ndtri(ndtr(-lo) - u * (ndtr(-lo) - ndtr(-hi)))
    else:
        z = ndtri(ndtr(lo) + u * (ndtr(hi) - ndtr(lo)))
    x = np.exp(mu + sigma * np.clip(z, lo, hi))
    return np.clip(np.rint(x), low, high).astype(np.int64)


def _normal_mass(lo: float, hi: float) -> float:
    """P(lo <= Z <= hi) for a standard normal Z, accurate in either tail."""
    return float(ndtr(-lo) - ndtr(-hi)) if lo > 0 else float(ndtr(hi) - ndtr(lo))


def _truncated_mean(mu: float, a: float, b: float, s: float) -> float:
    """E[exp(Y) | a <= Y <= b] for Y ~ N(mu, s^2)."""
    lo, hi = (a - mu) / s, (b - mu) / s
    den = _normal_mass(lo, hi)
    if den <= 0.0:
        return math.exp(a) if mu < a else math.exp(b)
    return math.exp(mu + s * s / 2) * _normal_mass(lo - s, hi - s) / den


def _solve_mu(mean: float, a: float, b: float, s: float) -> float:
    """The mu whose truncated mean is ``mean`` (it rises monotonically with mu)."""
    lo, hi = a - 40 * s, b + 40 * s
    for _ in range(200):
        mid = (lo + hi) / 2
        if _truncated_mean(mid, a, b, s) < mean:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def contexts_from_csv(path: str | Path) -> np.ndarray:
    """Lengths from a one-column CSV file (an optional non-numeric header on line 1).

    Blank lines and lines starting with '#' are skipped. A bad line raises UserError naming
    ``file:line``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such context-length file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a CSV file of lengths") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read context-length file: {e}") from None
    lengths: list[int] = []
    header_line = _first_content_line(text)  # only the first content line may be a header
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 1:
            raise UserError(f"{path}:{lineno}: expected one column (a context length), "
                            f"got {len(cells)}: '{_shown(line)}'")
        cell = cells[0]
        try:
            value = int(cell)
        except ValueError:
            if lineno == header_line:
                continue  # a header such as "context_len"
            raise UserError(f"{path}:{lineno}: expected a whole number of tokens, "
                            f"got '{_shown(cell)}'") from None
        if value < 1:
            raise UserError(f"{path}:{lineno}: a context length must be at least 1 token, "
                            f"got {value}")
        lengths.append(value)
    if not lengths:
        raise UserError(f"{path}: no context lengths in the file")
    return np.array(lengths, np.int64)


def _first_content_line(text: str) -> int:
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            return lineno
    return 0


def check_max_context(contexts: np.ndarray, max_len: int, *, what: str = "the model") -> None:
    """UserError naming the first request whose context exceeds ``max_len``."""
    over = np.flatnonzero(np.asarray(contexts) > max_len)
    if len(over):
        i = int(over[0])
        more = f" ({len(over) - 1} more requests too)" if len(over) > 1 else ""
        raise UserError(f"request {i} has a context of {int(contexts[i])} tokens, beyond "
                        f"{what}'s maximum of {max_len}{more}")


def context_lengths(spec: Mapping[str, Any] | int, *, batch: int | None = None,
                    max_len: int | None = None, seed: int = 0,
                    base_dir: str | Path | None = None,
                    where: str = "contexts") -> np.ndarray:
    """Context lengths from a YAML-friendly spec, checked against ``max_len``.

    ``spec`` is an int (every request that long) or a dict with ``kind``:
    ``{kind: fixed, length}``, ``{kind: uniform, min, max}``,
    ``{kind: lognormal, mean, sigma (default 1.0), min (default 1), max (default max_len)}``,
    ``{kind: csv, path}`` (relative to ``base_dir``; ``batch`` None: one request per line;
    else the first ``batch`` lines). ``seed`` (or the spec's own ``seed`` key) seeds the
    distributions. ``where`` prefixes error messages.
    """
    if isinstance(spec, bool):
        raise UserError(f"{where}: expected a length or a mapping with 'kind', got {spec!r}")
    if isinstance(spec, int):
        spec = {"kind": "fixed", "length": spec}
    if not isinstance(spec, Mapping):
        raise UserError(f"{where}: expected a length or a mapping with 'kind', got {spec!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise UserError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    allowed = {"fixed": ("length",), "uniform": ("min", "max"),
               "lognormal": ("mean", "sigma", "min", "max"), "csv": ("path",)}[kind]
    for key in spec:
        if key not in ("kind", "seed", *allowed):
            raise UserError(f"{where}.{key}: unknown key for kind {kind} "
                            f"(expected {', '.join(allowed)})")
    seed = _int(spec, "seed", where, seed, minimum=0)
    if kind == "csv":
        if "path" not in spec:
            raise UserError(f"{where}.path: missing (the CSV file of context lengths)")
        p = Path(str(spec["path"]))
        if base_dir is not None and not p.is_absolute():
            p = Path(base_dir) / p
        out = contexts_from_csv(p)
        if batch is not None:
            if len(out) < batch:
                raise UserError(f"{p}: holds {len(out)} context lengths, the batch needs "
                                f"{batch}")
            out = out[:batch]
    else:
        if batch is None:
            raise UserError(f"{where}: a {kind} distribution needs a batch size")
        if kind == "fixed":
            out = fixed_contexts(batch, _int(spec, "length", where))
        elif kind == "uniform":
            out = uniform_contexts(batch, _int(spec, "min", where), _int(spec, "max", where),
                                   seed=seed)
        else:
            high = _int(spec, "max", where, max_len)
            mean = spec.get("mean")
            if isinstance(mean, bool) or not isinstance(mean, int | float):
                raise UserError(f"{where}.mean: expected a number of tokens, got {mean!r}")
            sigma = spec.get("sigma", 1.0)
            if isinstance(sigma, bool) or not isinstance(sigma, int | float):
                raise UserError(f"{where}.sigma: expected a positive number, got {sigma!r}")
            out = lognormal_contexts(batch, float(mean), high=high,
                                     low=_int(spec, "min", where, 1), sigma=float(sigma),
                                     seed=seed)
    if max_len is not None:
        check_max_context(out, max_len)
    return out


def _int(spec: Mapping[str, Any], key: str, where: str, default: int | None = None,
         minimum: int = 1) -> int:
    v = spec.get(key, default)
    if v is None:
        raise UserError(f"{where}.{key}: missing")
    if isinstance(v, bool) or not isinstance(v, int):
        raise UserError(f"{where}.{key}: expected a whole number, got {v!r}")
    if v < minimum:
        raise UserError(f"{where}.{key}: must be at least {minimum}, got {v}")
    return v


def _positive(what: str, v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise UserError(f"context lengths: {what} must be a positive whole number, got {v!r}")


def _shown(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit - 3] + "..."
