"""SMASH: row-wise SpGEMM with atomic hashing in the scratchpad (Shivdikar 2021).

K. Shivdikar, "SMASH: Sparse Matrix Atomic Scratchpad Hashing", M.S. thesis, Northeastern
University, 2021, arXiv:2105.14156. Its abstract states the core idea: a row-wise product
(Gustavson) SpGEMM on PIUMA that merges partial products as they are generated with atomic
instructions, so no partial-product matrix is created. The three versions modelled here are
v1 atomic hashing, v2 tokenization and v3 fragmented memory. Only the thesis abstract and
table of contents could be checked while writing this, so the mechanisms below (windows, table
layout, probing, tokens, fragments) are our model of those versions, not a transcription; every
choice that is ours is listed under "Our choices".

Phases, per core (A, B in CSR in DRAM; C written at the symbolic row offsets)
    0. Rows are split into contiguous per-core ranges (partition mode rows: equal rows; nnz
       and dynamic: equal nonzeros of A), and each core's range into windows: consecutive
       rows whose hash regions fit together in the core's table.
    1. Hashing: the window's rows are spread over the core's threads (partition mode; dynamic:
       grabs from the window's DRAM counter). A thread streams A(i,:) and, per A(i,k), B(k,:)
       in line pieces (one COMPUTE per piece: multiply-add and hash per product) and merges
       each product into the row's hash region with atomics, linear probing:
         v1   key and value words (16-B entries). Per probed slot an ATOMIC CAS on the key
              (claims an empty slot or finds the key; another key = a collision, next slot),
              then an ATOMIC fetch-add of the value (posted, its result is unused).
         v2   tokens: the column and the value packed in one 8-B word, in the table and in
              DRAM (A, B and C are stored as token arrays). Per probed slot a CAS of the whole
              token (an empty slot takes (j, value) in one atomic); on a hit a second CAS
              writes the updated token. Half the scratchpad per entry (twice the rows per
              window) and 8 instead of 12 B per element in DRAM.
         v3   v2 with the table fragmented across cores: a core's table is split into
              ``fragments`` parts on cores c, c+1, ... (its own scratchpad holds area f of
              core c-f), so its atomics are spread over that many scratchpads and atomic
              units (SP_REMOTE ops for the parts that are not local).
    2. Write-back, per row right after its hashing: the owning thread reads its region (and
       clears it) a line at a time, compacts and sorts the entries (COMPUTE: a compare per
       slot + n * ceil(log2 n) sort steps) and stores C's row to DRAM in line pieces.
    3. A core barrier closes each window before the table is reused.

Our choices (documented, not from the thesis)
    * One hash region per row (the row's partial-product count / load_factor slots, at most
      ncols / load_factor) instead of one shared table keyed by (row, column): a row's
      probes and its write-back then involve only its own thread, and the region is sized
      without a symbolic phase. A region larger than the table is clamped to it; a row whose
      output cannot fit at all is refused (UserError).
    * The table takes ``sp_table_bytes`` (default: the whole scratchpad).
    * Insertion order inside a row is the product order (k, then j), which fixes probe counts.
    * v2/v3 tokens carry the value as 32 bits in hardware (our assumption for an 8-B token
      with a 32-bit column); the functional result is computed in float64, so the check
      against scipy (1e-9) tests the dataflow, not fp32 rounding.
    * Dynamic mode: one DRAM counter per window, grabbed by the core's threads.
    * No contention retries: op streams cannot depend on simulated time, so every CAS that the
      functional order says succeeds is emitted once (contention shows up as time in the
      engine's atomic units and banks, not as extra ops).
    * v3: ``fragments`` (default 4) is capped at the number of cores.
    * Functional side (simulator memory, not the machine's): a row is hashed once when its
      thread starts it, and the slot each product landed in is kept (4 B per product) until
      the thread finishes the row, so generation costs one hash per product whatever order
      the engine pulls the streams in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.errors import UserError
from workloads.spgemm import emit
from workloads.spgemm.common import (
    add_matrix,
    counters_region,
    distinct_input_bytes,
    make_prm,
    outputs,
)
from workloads.spgemm.layout import DramLayout
from workloads.spgemm.partition import BAR_CORE, WORK0, SegmentBuilder, assign, static_bounds
from workloads.spgemm.problem import Problem
from workloads.spgemm.smash_kernel import smash_stream
from workloads.spgemm.source import SpgemmSource
from workloads.spgemm.target import SpgemmTarget


def regions(prob: Problem, frag: int, area_slots: int, load_factor: float, table_bytes: int,
            entry: int) -> np.ndarray:
    """Slots per fragment of each row's hash region."""
    bound = np.minimum(prob.flops_row, prob.n_cols)
    virt = np.ceil(bound / load_factor).astype(np.int64)
    per = -(-virt // frag)
    nnz_c = np.diff(prob.c_ptr)
    big = per > area_slots
    if np.any(big):
        too = np.flatnonzero(big & (nnz_c > area_slots * frag))
        if len(too):
            i = int(too[0])
            raise UserError(f"SMASH: output row {i} has {int(nnz_c[i])} entries but the hash "
                            f"table holds {area_slots * frag} ({table_bytes} B of scratchpad, "
                            f"{entry} B per entry); raise sp_bytes or sp_table_bytes")
        per[big] = area_slots
    return per


def windows(per: np.ndarray, lo: int, hi: int, area_slots: int) -> list[tuple[int, int]]:
    """Consecutive rows of [lo, hi) whose regions fit together in ``area_slots``."""
    out = []
    start, used = lo, 0
    for i in range(lo, hi):
        if used + per[i] > area_slots and i > start:
            out.append((start, i))
            start, used = i, 0
        used += per[i]
    if hi > start:
        out.append((start, hi))
    return out


def build(prob: Problem, target: SpgemmTarget, p: dict[str, Any]) -> SpgemmSource:
    version = p["version"]
    tok = version >= 2
    frag = min(p["fragments"], target.cores) if version == 3 else 1
    entry = 8 if tok else 16
    table = p["sp_table_bytes"] if p["sp_table_bytes"] is not None else target.sp_bytes
    if not isinstance(table, int) or not 0 < table <= target.sp_bytes:
        raise UserError(f"SMASH sp_table_bytes must be in (0, {target.sp_bytes}], got {table!r}")
    line = target.line_bytes
    area = (table // frag) // line * line
    area_slots = area // entry
    if area_slots < 1:
        raise UserError(f"SMASH: {table} B of scratchpad cannot hold a table in {frag} "
                        f"fragments of whole {line}-B lines")
    per = regions(prob, frag, area_slots, p["load_factor"], table, entry)

    lay = DramLayout()
    add_matrix(lay, "a", prob.m + 1, prob.a.nnz, tok)
    add_matrix(lay, "b", prob.inner + 1, prob.b.nnz, tok)
    lay.add("c_ptr", prob.m + 1, 8)
    if tok:
        lay.add("c_tok", prob.nnz_c, 8)
    else:
        lay.add("c_idx", prob.nnz_c, 4)
        lay.add("c_val", prob.nnz_c, 8)

    tpc = target.threads_per_core
    nnz_a = np.diff(prob.a.indptr).astype(np.float64)
    wts = np.ones(prob.m) if p["partition"] == "rows" else nnz_a + 1.0
    cb = static_bounds(wts, target.cores)
    wins = [windows(per, int(cb[c]), int(cb[c + 1]), area_slots) for c in range(target.cores)]
    n_win = sum(len(w) for w in wins)
    counters_region(lay, n_win if p["partition"] == "dynamic" else 0)
    lay.check_fits(target.dram_bytes, f"SMASH v{version} SpGEMM")
    ctr0 = lay.regions["counters"].base

    reg_off = np.zeros(prob.m, np.int64)
    sb = SegmentBuilder(target.threads)
    costs = 3.0 + nnz_a + 3.0 * prob.flops_row
    wg = 0
    for c in range(target.cores):
        threads = list(range(c * tpc, (c + 1) * tpc))
        load = np.zeros(tpc)
        for w, (lo, hi) in enumerate(wins[c]):
            reg_off[lo:hi] = np.concatenate([[0], np.cumsum(per[lo:hi - 1])])
            assign(sb, threads, WORK0, lo, hi, p["partition"], nnz_a[lo:hi] + 1.0,
                   costs[lo:hi], p["grain"], ctr0 + 64 * wg, load)
            for t in threads:
                sb.barrier(t, BAR_CORE, w)
            wg += 1
    seg = sb.build()

    prm = make_prm(target, p, ENTRY=entry, TOKEN=int(tok), FRAG=frag, AREA=area)
    bases = lay.bases()
    c_idx, c_val, c_done = outputs(prob)
    reg_r = per * frag
    cap = int(reg_r.max()) if prob.m else 1
    keys = np.full(max(cap, 1), -1, np.int64)
    vals = np.zeros(max(cap, 1))
    a, b = prob.a, prob.b

    def make(s: int, buf: np.ndarray, ctl: np.ndarray, cnt: np.ndarray):
        return smash_stream(s, buf, ctl, cnt, prm, bases, seg.ptr, seg.kind, seg.lo, seg.hi,
                            seg.ctr, seg.arg, a.indptr, a.indices, a.data, b.indptr,
                            b.indices, b.data, prob.c_ptr, c_idx, c_val, c_done, prob.flops_row,
                            reg_r, reg_off, keys, vals)

    info = {"dataflow": "smash", "version": version, "partition": p["partition"],
            "layout": lay.describe(), "dram_footprint_bytes": lay.end,
            "input_bytes_distinct": distinct_input_bytes(prob, tok),
            "windows": n_win, "table_bytes": table, "fragments": frag, "entry_bytes": entry,
            "table_slots_per_core": area_slots * frag, "load_factor": p["load_factor"]}
    return SpgemmSource(target.threads, p["chunk_ops"], make,
                        emit.make_counters(target.threads, target.sp_banks), prob, c_idx,
                        c_val, c_done, info)
