"""Scratchpad SRAM timing model with its atomic unit: the specification and the public entry point.

Semantics (implemented twice: sim/reference/sram.py in SimPy, sim/kernels/sram.py in numba;
tests/test_sram.py requires identical completions and statistics from both).

Requests
    A numpy structured array of ``SRAM_REQUEST_DTYPE``: arrival_ps (int64), addr (int64, byte
    address in the scratchpad), size (int32, bytes), op (int8: READ, WRITE, ATOMIC_ADD,
    ATOMIC_CAS, ATOMIC_MIN). Requests are given in arrival order (non-decreasing arrival_ps);
    request index i is their identity and breaks every tie.

Validation (``validate_requests``, shared by both engines; the first offending request wins)
    UserError naming the request index and the reason for: arrival_ps < 0 or smaller than the
    previous request's; size <= 0; addr < 0 or addr + size > size_bytes; an unknown op; an
    atomic whose bytes do not lie in one aligned 8-byte word, or that crosses a bank-interleave
    boundary (possible only when bank_interleave_bytes < 8). A malformed configuration
    (non-positive banks, clock, ports, ... ; negative latencies) is a UserError too.

Time
    Everything inside runs on SRAM clocks (integers). A request is *ready* at clock
    ``ready = ceil(arrival_ps / clock_ps)``; completion clock C is reported as C * clock_ps.

Accesses (splitting)
    A request covers bytes [addr, addr + size). It is split at bank-interleave boundaries
    into *accesses* (pieces), one per interleave unit touched, in increasing address order.
    Access bank = (piece_addr // bank_interleave_bytes) % banks. A request that spans more
    than ``banks`` units sends several accesses to one bank. Every access of a request is
    ready at the request's ready clock. Atomics are never split (see validation).
    occupancy(access) = ceil(piece_bytes / bytes_per_clock_per_port) clocks.

Scheduling
    Accesses are scheduled one at a time in (request index, piece index) order; each takes
    the earliest start clock ``t`` allowed by everything scheduled before it:

    * bank in-order issue: t >= start of the previous access to the same bank (FIFO service
      in arrival order, ties by index -- a stalled access blocks later ones at its bank);
    * bank port: the bank has ``ports_per_bank`` ports; an access holds one port for clocks
      [t, t + occupancy). t >= the earliest time one of the bank's ports is free.
      bank_ok = max(ready, previous start at bank, earliest free port).
    * atomics only (ATOMIC_ADD / ATOMIC_CAS / ATOMIC_MIN), additionally:
      - atomic unit in-order issue: t >= start of the previous atomic (any address);
      - atomic unit throughput: at most ``atomic.ops_per_clock`` atomics start per clock;
      - same word: t >= completion of the previous atomic to the same 8-byte word
        (word = addr // 8), i.e. the next one cannot start before the previous one's result.
      The atomic starts at the first clock where a bank port, an atomic-unit issue slot and
      its same-word predecessor's result are all available (t = max of these lower bounds).
    Non-atomic accesses ignore the atomic unit and the word chain.

Completion
    READ / WRITE access: t + occupancy + latency.
    Atomic (a read-modify-write at the bank, port held like a read of its size):
    t + occupancy + atomic.latency (the atomic unit's issue-to-result latency replaces the
    SRAM read latency). A request completes when its last access completes.

Statistics (``SramResult.stats``; identical from both engines)
    bank_accesses[b]      accesses (pieces) served by bank b (int64 array, length banks)
    bank_busy_clocks[b]   sum of occupancy of bank b's accesses (port-clocks; may exceed the
                          elapsed clocks when ports_per_bank > 1) (int64 array)
    bank_conflict_stall_clocks   sum over accesses of (bank_ok - ready)
    atomic_count                 number of atomic requests
    atomic_stall_clocks          sum over atomics of (t - bank_ok): waiting for the atomic
                                 unit or the same-word predecessor beyond the bank's wait
                                 (so per access: t - ready = bank stall + atomic stall)
    bytes_read / bytes_written   READ sizes / WRITE sizes; an atomic counts its size in both
    accesses                     total accesses (pieces)
    end_time_ps                  max completion_ps, 0 without requests
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import UserError
from sim.memory.sram_config import SramConfig

READ = 0
WRITE = 1
ATOMIC_ADD = 2
ATOMIC_CAS = 3
ATOMIC_MIN = 4
OP_NAMES = {
    READ: "READ",
    WRITE: "WRITE",
    ATOMIC_ADD: "ATOMIC_ADD",
    ATOMIC_CAS: "ATOMIC_CAS",
    ATOMIC_MIN: "ATOMIC_MIN",
}
ATOMIC_WORD_BYTES = 8

SRAM_REQUEST_DTYPE = np.dtype(
    [("arrival_ps", np.int64), ("addr", np.int64), ("size", np.int32), ("op", np.int8)]
)

STAT_KEYS = (
    "bank_accesses",
    "bank_busy_clocks",
    "bank_conflict_stall_clocks",
    "atomic_count",
    "atomic_stall_clocks",
    "bytes_read",
    "bytes_written",
    "accesses",
    "end_time_ps",
)


@dataclass
class SramResult:
    completion_ps: np.ndarray  # int64, one per request
    stats: dict = field(default_factory=dict)


def is_atomic(op) -> bool | np.ndarray:
    return (op >= ATOMIC_ADD) & (op <= ATOMIC_MIN)


def make_requests(arrival_ps, addr, size, op) -> np.ndarray:
    """Build a request array of SRAM_REQUEST_DTYPE from four equally long sequences."""
    arrival_ps = np.asarray(arrival_ps, dtype=np.int64)
    req = np.empty(arrival_ps.shape[0], dtype=SRAM_REQUEST_DTYPE)
    req["arrival_ps"] = arrival_ps
    req["addr"] = np.asarray(addr, dtype=np.int64)
    req["size"] = np.asarray(size, dtype=np.int32)
    req["op"] = np.asarray(op, dtype=np.int8)
    return req


def validate_config(cfg: SramConfig) -> None:
    checks = [
        ("size_bytes", cfg.size_bytes, 1),
        ("banks", cfg.banks, 1),
        ("bank_interleave_bytes", cfg.bank_interleave_bytes, 1),
        ("clock_ps", cfg.clock_ps, 1),
        ("latency", cfg.latency, 0),
        ("bytes_per_clock_per_port", cfg.bytes_per_clock_per_port, 1),
        ("ports_per_bank", cfg.ports_per_bank, 1),
        ("atomic.latency", cfg.atomic.latency, 0),
        ("atomic.ops_per_clock", cfg.atomic.ops_per_clock, 1),
    ]
    for key, value, minimum in checks:
        if not isinstance(value, int | np.integer) or value < minimum:
            raise UserError(
                f"SRAM config {cfg.name!r}: {key} must be an integer >= {minimum}, got {value!r}"
            )


def validate_requests(cfg: SramConfig, requests: np.ndarray) -> np.ndarray:
    """Check the config and the requests; return them as a contiguous SRAM_REQUEST_DTYPE array.

    Raises UserError naming the first offending request index and the reason.
    """
    validate_config(cfg)
    if (
        not isinstance(requests, np.ndarray)
        or requests.dtype.names is None
        or not set(SRAM_REQUEST_DTYPE.names) <= set(requests.dtype.names)
    ):
        raise UserError(
            "SRAM requests must be a numpy structured array with fields "
            + ", ".join(SRAM_REQUEST_DTYPE.names)
        )
    if requests.ndim != 1:
        raise UserError(f"SRAM requests must be one-dimensional, got shape {requests.shape}")
    req = np.empty(requests.shape[0], dtype=SRAM_REQUEST_DTYPE)
    for name in SRAM_REQUEST_DTYPE.names:
        req[name] = requests[name]
        if not np.array_equal(req[name], requests[name]):
            raise UserError(f"SRAM requests: field {name} does not fit {SRAM_REQUEST_DTYPE[name]}")
    n = req.shape[0]
    if n == 0:
        return req
    arrival = req["arrival_ps"]
    addr = req["addr"]
    size = req["size"].astype(np.int64)
    op = req["op"]
    atomic = is_atomic(op)
    prev = np.empty(n, dtype=np.int64)
    prev[0] = 0
    prev[1:] = arrival[:-1]
    interleave = cfg.bank_interleave_bytes
    end = addr + size
    word_first = np.floor_divide(addr, ATOMIC_WORD_BYTES)
    word_last = np.floor_divide(end - 1, ATOMIC_WORD_BYTES)
    rules = [
        (arrival < 0, lambda i: f"arrival_ps {arrival[i]} is negative"),
        (
            arrival < prev,
            lambda i: (
                f"arrival_ps {arrival[i]} is earlier than the previous "
                f"request's {arrival[i - 1]} (requests must be in arrival order)"
            ),
        ),
        (size <= 0, lambda i: f"size {size[i]} must be positive"),
        (
            (op < READ) | (op > ATOMIC_MIN),
            lambda i: (
                f"unknown op {op[i]} (expected one of "
                + ", ".join(f"{k}={v}" for k, v in OP_NAMES.items())
                + ")"
            ),
        ),
        (
            (size > 0) & ((addr < 0) | (end > cfg.size_bytes)),
            lambda i: (
                f"addr {addr[i]} + size {size[i]} is outside the scratchpad [0, {cfg.size_bytes})"
            ),
        ),
        (
            atomic & (size > 0) & (word_first != word_last),
            lambda i: (
                f"atomic {OP_NAMES[int(op[i])]} at addr {addr[i]} size {size[i]} does not lie "
                f"within one aligned {ATOMIC_WORD_BYTES}-byte word"
            ),
        ),
        (
            atomic
            & (size > 0)
            & (np.floor_divide(addr, interleave) != np.floor_divide(end - 1, interleave)),
            lambda i: (
                f"atomic at addr {addr[i]} size {size[i]} crosses a bank-interleave boundary "
                f"({interleave} bytes)"
            ),
        ),
    ]
    first_bad = n
    message = ""
    for mask, describe in rules:
        hits = np.flatnonzero(mask)
        if hits.size and hits[0] < first_bad:
            first_bad = int(hits[0])
            message = describe(first_bad)
    if first_bad < n:
        raise UserError(f"SRAM request {first_bad}: {message}")
    return req


def atomic_word_ids(req: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense id per atomic request's 8-byte word (-1 for non-atomics) and the number of words."""
    word_id = np.full(req.shape[0], -1, dtype=np.int64)
    atomic = is_atomic(req["op"])
    if not atomic.any():
        return word_id, 0
    words = req["addr"][atomic] // ATOMIC_WORD_BYTES
    uniq, inverse = np.unique(words, return_inverse=True)
    word_id[atomic] = inverse
    return word_id, int(uniq.shape[0])


def simulate_sram(cfg: SramConfig, requests: np.ndarray, engine: str = "fast") -> SramResult:
    """Simulate the scratchpad: engine "fast" (numba kernel) or "reference" (SimPy model)."""
    req = validate_requests(cfg, requests)
    if engine == "fast":
        from sim.kernels.sram import run_kernel

        return run_kernel(cfg, req)
    if engine == "reference":
        from sim.reference.sram import run_reference

        return run_reference(cfg, req)
    raise UserError(f"unknown SRAM engine {engine!r} (expected 'fast' or 'reference')")
