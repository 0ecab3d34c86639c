"""Numba kernel of the transfer-level engine (semantics: sim/transfer/model.py).

Bit-identical to sim/reference/transfer.py (tests/test_transfer_differential.py).
Structure-of-arrays, no Python object per task, three kinds of binary heap in int64
arrays:

* task events (END and JOIN), one entry (time, class << 40 | task) per pending event,
  two int64 per entry. A task has at most one pending event, so n entries suffice. The
  sources' JOINs at time 0 are not put in it: in id order they are already sorted, so
  the kernel merges them in as a stream (a wide graph would otherwise start with a
  heap of a million entries);
* the tasks present on each resource, one min-heap of (F, task) per resource, all in one
  array: resource r owns the slots [off[r], off[r] + tasks bound to r);
* the resources' next leave times, an indexed heap of resource ids ordered by
  (leave time, id), NEVER for a resource with nobody present. A recomputed leave time
  moves its resource within this heap, so no stale LEAVE event is ever stored (the
  reference's "ignore the superseded event" becomes "there is only ever one").

The next event is the earlier of the first resource's LEAVE and the first task event;
at equal times the LEAVE comes first (class 0). The heap helpers are inlined and the
kernel allocates nothing, so it is compiled without the runtime's reference counting
(``_nrt=False``, as in sim/kernels/machine.py, whose docstring says why that matters).

Measured (benchmarks/bench_transfer.py, 2-core machine, ~1M tasks, 3 resources, including
validation): layered decode-like graph ~7.5 M tasks/s, chain ~11 M tasks/s, 1M
independent tasks ~2 M tasks/s (there ~330k tasks share each resource, so every leave
pops a large heap); the SimPy reference runs ~43 k tasks/s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.pair_heap import pair_pop, pair_push

HORIZON = (1 << 62) - 1  # the latest representable time (model.py, "Errors")
NEVER = np.int64(1) << np.int64(62)  # "no leave pending"; > HORIZON
CLASS_SHIFT = 40  # task event key: class << 40 | task id
END_KEY = np.int64(1) << np.int64(CLASS_SHIFT)
JOIN_KEY = np.int64(2) << np.int64(CLASS_SHIFT)
ID_MASK = END_KEY - np.int64(1)
RC_OK, RC_HORIZON = 0, 1

# per-resource scalars, RS[r * N_RS + field]
RS_V, RS_F, RS_LAST, RS_BUSY, RS_SERVED, RS_LEAVE, RS_SIZE, RS_OFF = range(8)
N_RS = 8


@njit(cache=True)
def dependents(dep_ptr, dep_idx, n):
    """CSR of who depends on each task (the reverse of dep_ptr/dep_idx), ascending ids."""
    out_ptr = np.zeros(n + 1, np.int64)
    for k in range(len(dep_idx)):
        out_ptr[dep_idx[k] + 1] += 1
    for i in range(n):
        out_ptr[i + 1] += out_ptr[i]
    fill = out_ptr[:n].copy()
    out_idx = np.empty(len(dep_idx), np.int32)
    for i in range(n):
        for k in range(dep_ptr[i], dep_ptr[i + 1]):
            d = dep_idx[k]
            out_idx[fill[d]] = i
            fill[d] += 1
    return out_ptr, out_idx


# ------------------------------------------------------- indexed heap of resource leaves
@njit(cache=True, inline="always")
def _leave_before(RS, r, s):
    tr = RS[r * N_RS + RS_LEAVE]
    ts = RS[s * N_RS + RS_LEAVE]
    return tr < ts or (tr == ts and r < s)


@njit(cache=True, inline="always")
def _resource_moved(RH, RPOS, RS, n_res, r):
    """Restore the heap order after resource r's leave time changed."""
    k = RPOS[r]
    while k > 0:  # earlier: sift up
        parent = (k - 1) >> 1
        s = RH[parent]
        if not _leave_before(RS, r, s):
            break
        RH[k] = s
        RPOS[s] = k
        k = parent
    while True:  # later: sift down
        c = 2 * k + 1
        if c >= n_res:
            break
        s = RH[c]
        if c + 1 < n_res and _leave_before(RS, RH[c + 1], s):
            c += 1
            s = RH[c]
        if not _leave_before(RS, s, r):
            break
        RH[k] = s
        RPOS[s] = k
        k = c
    RH[k] = r
    RPOS[r] = k


# ------------------------------------------------------------------------------ kernel
@njit(cache=True, _nrt=False)
def run_kernel(res, demand, latency, dep_ptr, out_ptr, out_idx, n_res,
               waiting, EV, PQ, RS, RH, RPOS, ready, leave, end):
    """Run the whole problem. ``waiting`` holds each task's dependency count, RS each
    resource's offset into PQ (RS_OFF) and zeros elsewhere; EV, PQ, RH and RPOS are
    scratch. Fills ready, leave, end and RS; returns (RC_OK or RC_HORIZON, end_time)."""
    n = len(res)
    ne = 0  # task events pending in the heap EV
    src = 0  # the sources' JOINs at time 0 are a sorted stream: the next source id
    while src < n and dep_ptr[src + 1] != dep_ptr[src]:
        src += 1
    for r in range(n_res):
        RS[r * N_RS + RS_LEAVE] = NEVER
        RH[r] = r
        RPOS[r] = r
    end_time = np.int64(0)
    while True:
        rt = NEVER
        r = -1
        if n_res > 0:
            r = RH[0]
            rt = RS[r * N_RS + RS_LEAVE]
        et = EV[0] if ne > 0 else NEVER
        if src < n and (et > 0 or EV[1] > (JOIN_KEY | src)):  # the source's JOIN is next
            et = 0
        if rt == NEVER and et == NEVER:
            break
        if rt <= et:  # -------------------------------------------------- LEAVE of r
            t = rt
            o = r * N_RS
            n0 = RS[o + RS_SIZE]
            q = RS[o + RS_F] + (t - RS[o + RS_LAST])  # update to t (n0 > 0 here)
            V = RS[o + RS_V] + q // n0
            f = q % n0
            RS[o + RS_BUSY] += t - RS[o + RS_LAST]
            base = RS[o + RS_OFF]
            size = n0
            while size > 0 and PQ[2 * base] <= V:
                i = PQ[2 * base + 1]
                pair_pop(PQ, base, size)
                size -= 1
                leave[i] = t
                e = t + latency[i]
                if e > HORIZON:
                    return RC_HORIZON, end_time
                pair_push(EV, 0, ne, e, END_KEY | i)
                ne += 1
        else:  # ---------------------------------------------------- END or JOIN
            t = et
            if src < n and (ne == 0 or EV[0] > 0 or EV[1] > (JOIN_KEY | src)):
                key = JOIN_KEY | src
                src += 1
                while src < n and dep_ptr[src + 1] != dep_ptr[src]:
                    src += 1
            else:
                key = EV[1]
                pair_pop(EV, 0, ne)
                ne -= 1
            i = key & ID_MASK
            if key < JOIN_KEY:  # END
                end[i] = t
                if t > end_time:
                    end_time = t
                for k in range(out_ptr[i], out_ptr[i + 1]):
                    j = out_idx[k]
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        ready[j] = t
                        pair_push(EV, 0, ne, t, JOIN_KEY | j)
                        ne += 1
                continue
            r = np.int64(res[i])  # JOIN
            o = r * N_RS
            n0 = RS[o + RS_SIZE]
            V = RS[o + RS_V]
            f = RS[o + RS_F]
            if n0 > 0:
                q = f + (t - RS[o + RS_LAST])
                V += q // n0
                f = q % n0
                RS[o + RS_BUSY] += t - RS[o + RS_LAST]
            base = RS[o + RS_OFF]
            pair_push(PQ, base, n0, V + demand[i], i)
            size = n0 + 1
            RS[o + RS_SERVED] += demand[i]
        # ------------------------------------- after a JOIN or LEAVE of r at t: n0 -> size
        f = f * size // n0 if n0 > 0 and size > 0 else 0
        RS[o + RS_V] = V
        RS[o + RS_F] = f
        RS[o + RS_LAST] = t
        RS[o + RS_SIZE] = size
        if size == 0:
            lt = NEVER
        else:
            d = PQ[2 * base] - V
            if d <= 0:
                lt = t
            elif d > (HORIZON - t + f) // size:  # t + d * size - f > HORIZON
                return RC_HORIZON, end_time
            else:
                lt = t + d * size - f
        if lt != RS[o + RS_LEAVE]:
            RS[o + RS_LEAVE] = lt
            _resource_moved(RH, RPOS, RS, n_res, r)
    return RC_OK, end_time


def run_arrays(res, demand, latency, dep_ptr, dep_idx, n_res):
    """Allocate the scratch arrays and run the kernel on validated, typed arrays.

    Returns (rc, end_time, ready, leave, end, busy, served)."""
    n = len(res)
    out_ptr, out_idx = dependents(dep_ptr, dep_idx, n)
    waiting = np.diff(dep_ptr)
    count = np.bincount(res, minlength=n_res).astype(np.int64)
    RS = np.zeros(max(n_res, 1) * N_RS, np.int64)
    RS[RS_OFF:n_res * N_RS:N_RS] = np.cumsum(count) - count
    EV = np.empty(2 * max(n, 1), np.int64)
    PQ = np.empty(2 * max(n, 1), np.int64)
    RH = np.empty(max(n_res, 1), np.int64)
    RPOS = np.empty(max(n_res, 1), np.int64)
    ready = np.zeros(n, np.int64)
    leave = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    rc, end_time = run_kernel(res, demand, latency, dep_ptr, out_ptr, out_idx, n_res,
                              waiting, EV, PQ, RS, RH, RPOS, ready, leave, end)
    busy = RS[RS_BUSY:n_res * N_RS:N_RS].copy()
    served = RS[RS_SERVED:n_res * N_RS:N_RS].copy()
    return rc, int(end_time), ready, leave, end, busy, served
