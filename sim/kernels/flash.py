"""Numba kernel of the NAND flash SSD model (semantics: sim/reference/flash.py docstring).

Bit-identical to the SimPy reference (tests/test_flash_differential.py). Structure of
arrays, int64 picoseconds, no Python object per request or page:

* job queues, one min-heap of (ready time, unit id) per queue, all in one array H: the
  queue of each (die, plane), of each channel, and of the two link directions. Queue q
  owns the slots [QOFF[q], QOFF[q] + units that ever pass through q), so no heap can
  overflow;
* the resources (dies, channels, link out, link in) in an indexed min-heap ordered by
  (next start time, resource id). A resource's next start time is
  max(busy until, earliest ready time in its queues), or NEVER when its queues are empty;
  it is recomputed whenever the resource starts a job or a job joins one of its queues;
* in closed loop, a min-heap of the completion times of outstanding requests whose
  completion is already known;
* the controller as one number, the time it is busy until. Requests reach it at their
  issue, in trace order and at non-decreasing times, so the reference's choice rule
  (smallest (issue time, request id)) serves them first come, first served: request i
  starts at max(its issue, busy until) and the controller is then busy for the request's
  time per command. Its start is known at the issue, so its pages are queued then, with
  their ready time (start + controller latency).

Why this equals the event-by-event reference: a job joins a queue when its previous stage
starts (its ready time is then known), and every start happens at a time >= the current
one and lasts at least 1 ps, so when the earliest resource start is at time t, every job
that will be ready by t is already queued. Request issues at time t are processed before
resource starts at t (the reference's event classes give the same order), and a
completion is known as soon as the last stage of the request's last page has started.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.pair_heap import pair_pop, pair_push

NEVER = np.int64(1) << np.int64(62)
PS_PER_S = 10**12

# params vector
(P_CH, P_DIES, P_PLANES, P_TR, P_TPROG, P_CH_RATE, P_CH_OVH, P_LINK_RATE, P_CTRL_LAT,
 P_LINK_LAT, P_QD, P_LINK, P_CTRL_RD, P_CTRL_WR) = range(14)
N_PARAMS = 14
# link_busy entries
LINK_OUT, LINK_IN = 0, 1


@njit(cache=True, inline="always")
def xfer_ps(nbytes, rate):
    """Picoseconds to move nbytes at rate bytes/s, rounded up (a transfer is never shortened)."""
    return (nbytes * PS_PER_S + rate - 1) // rate


# ------------------------------------------------- indexed heap of resource start times
@njit(cache=True, inline="always")
def _before(NST, r, s):
    return NST[r] < NST[s] or (NST[r] == NST[s] and r < s)


@njit(cache=True, inline="always")
def _moved(RH, RPOS, NST, n, r):
    """Restore the heap order after resource r's next start time changed."""
    k = RPOS[r]
    while k > 0:
        parent = (k - 1) >> 1
        s = RH[parent]
        if not _before(NST, r, s):
            break
        RH[k] = s
        RPOS[s] = k
        k = parent
    while True:
        c = 2 * k + 1
        if c >= n:
            break
        s = RH[c]
        if c + 1 < n and _before(NST, RH[c + 1], s):
            c += 1
            s = RH[c]
        if not _before(NST, s, r):
            break
        RH[k] = s
        RPOS[s] = k
        k = c
    RH[k] = r
    RPOS[r] = k


@njit(cache=True, inline="always")
def _refresh(r, n_dies, planes, H, QOFF, QSIZE, BUSY, NST, RH, RPOS, n_res):
    """Recompute resource r's next start time from its busy time and queue heads."""
    m = NEVER
    if r < n_dies:
        for pl in range(planes):
            q = r * planes + pl
            if QSIZE[q] > 0 and H[2 * QOFF[q]] < m:
                m = H[2 * QOFF[q]]
    else:
        q = n_dies * planes + (r - n_dies)  # channel and link queues follow the plane queues
        if QSIZE[q] > 0:
            m = H[2 * QOFF[q]]
    if m != NEVER and BUSY[r] > m:
        m = BUSY[r]
    NST[r] = m
    _moved(RH, RPOS, NST, n_res, r)


@njit(cache=True, inline="always")
def _finish(i, e, done_max, remaining, complete, CH, nc, final_lat, qd):
    """A page of request i is done at e; the request completes with its last page (plus
    the link latency). Returns the new size of the completion heap."""
    if e > done_max[i]:
        done_max[i] = e
    remaining[i] -= 1
    if remaining[i] == 0:
        c = done_max[i] + final_lat
        complete[i] = c
        if qd > 0:
            pair_push(CH, 0, nc, c, i)
            nc += 1
    return nc


# ------------------------------------------------------------------------------ kernel
@njit(cache=True)
def run_flash(p, arrival, r_first, u_req, u_die, u_plane, u_chan, u_write, u_bytes,
              issue, ctrl_start, complete, d_start, d_end, c_start, c_end, l_start, l_end,
              die_busy, die_ops, ch_busy, link_busy, ctrl_busy):
    """Replay the requests (r_first: CSR of their page units, u_req: each unit's request).
    Fills the output arrays (the caller sets unused stages to -1); returns the number of
    requests issued (all of them unless the model is broken)."""
    C = p[P_CH]
    planes = p[P_PLANES]
    n_dies = C * p[P_DIES]
    t_read = p[P_TR]
    t_prog = p[P_TPROG]
    ch_rate = p[P_CH_RATE]
    ch_ovh = p[P_CH_OVH]
    link_rate = p[P_LINK_RATE]
    ctrl_lat = p[P_CTRL_LAT]
    ctrl_rd = p[P_CTRL_RD]
    ctrl_wr = p[P_CTRL_WR]
    qd = p[P_QD]
    through = p[P_LINK] != 0
    final_lat = p[P_LINK_LAT] if through else 0
    n_req = len(arrival)
    n_u = len(u_die)

    q_ch0 = n_dies * planes  # queue ids: die planes, then channels, then link out, link in
    q_out = q_ch0 + C
    q_in = q_out + 1
    n_q = q_in + 1
    cap = np.zeros(n_q, np.int64)
    for u in range(n_u):
        cap[u_die[u] * planes + u_plane[u]] += 1
        cap[q_ch0 + u_chan[u]] += 1
        if through:
            cap[q_in if u_write[u] else q_out] += 1
    QOFF = np.zeros(n_q, np.int64)
    total = np.int64(0)
    for q in range(n_q):
        QOFF[q] = total
        total += cap[q]
    QSIZE = np.zeros(n_q, np.int64)
    H = np.empty(2 * max(total, 1), np.int64)

    n_res = n_dies + C + 2  # resources: dies, channels, link out, link in
    r_out = n_dies + C
    r_in = r_out + 1
    BUSY = np.zeros(n_res, np.int64)
    NST = np.full(n_res, NEVER, np.int64)
    RH = np.arange(n_res).astype(np.int64)
    RPOS = np.arange(n_res).astype(np.int64)

    CH = np.empty(2 * max(n_req, 1), np.int64)  # known completions (closed loop)
    nc = 0
    remaining = np.empty(n_req, np.int64)
    done_max = np.zeros(n_req, np.int64)
    for i in range(n_req):
        remaining[i] = r_first[i + 1] - r_first[i]
    next_req = 0
    last_issue = np.int64(0)
    ctrl_free = np.int64(0)  # the controller is busy until then
    outstanding = 0

    while True:
        t_iss = NEVER
        if next_req < n_req:
            base = arrival[next_req]
            if base < last_issue:
                base = last_issue
            if qd == 0 or outstanding < qd:
                t_iss = base
            elif nc > 0:
                t_iss = CH[0] if CH[0] > base else base
        r = RH[0]
        t = NST[r]
        if t_iss != NEVER and t_iss <= t:  # ----------------------------------- issue
            if qd > 0 and outstanding >= qd:
                pair_pop(CH, 0, nc)
                nc -= 1
                outstanding -= 1
            i = next_req
            next_req += 1
            issue[i] = t_iss
            last_issue = t_iss
            outstanding += 1
            cs = t_iss if t_iss > ctrl_free else ctrl_free  # first come, first served
            occ = ctrl_wr if u_write[r_first[i]] else ctrl_rd
            ctrl_free = cs + occ
            ctrl_start[i] = cs
            ctrl_busy[0] += occ
            ready = cs + ctrl_lat
            for u in range(r_first[i], r_first[i + 1]):
                if u_write[u]:
                    if through:
                        q = q_in
                        rr = r_in
                    else:
                        q = q_ch0 + u_chan[u]
                        rr = n_dies + u_chan[u]
                else:
                    q = u_die[u] * planes + u_plane[u]
                    rr = u_die[u]
                pair_push(H, QOFF[q], QSIZE[q], ready, u)
                QSIZE[q] += 1
                _refresh(rr, n_dies, planes, H, QOFF, QSIZE, BUSY, NST, RH, RPOS, n_res)
            continue
        if t == NEVER:
            break
        if r < n_dies:  # --------------------------------------------- die: one batch
            hq = -1
            for pl in range(planes):
                q = r * planes + pl
                if QSIZE[q] > 0:
                    if hq < 0:
                        hq = q
                    else:
                        a = H[2 * QOFF[q]]
                        b = H[2 * QOFF[q] + 1]
                        ha = H[2 * QOFF[hq]]
                        if a < ha or (a == ha and b < H[2 * QOFF[hq] + 1]):
                            hq = q
            kind = u_write[H[2 * QOFF[hq] + 1]]
            dur = t_prog if kind else t_read
            for pl in range(planes):
                q = r * planes + pl
                if QSIZE[q] == 0 or H[2 * QOFF[q]] > t:
                    continue
                u = H[2 * QOFF[q] + 1]
                if u_write[u] != kind:
                    continue
                pair_pop(H, QOFF[q], QSIZE[q])
                QSIZE[q] -= 1
                d_start[u] = t
                d_end[u] = t + dur
                if kind:  # the program ends the write
                    nc = _finish(u_req[u], t + dur, done_max, remaining, complete, CH, nc,
                                 final_lat, qd)
                else:
                    qc = q_ch0 + u_chan[u]
                    pair_push(H, QOFF[qc], QSIZE[qc], t + dur, u)
                    QSIZE[qc] += 1
                    _refresh(n_dies + u_chan[u], n_dies, planes, H, QOFF, QSIZE, BUSY, NST,
                             RH, RPOS, n_res)
            BUSY[r] = t + dur
            die_busy[r] += dur
            die_ops[r] += 1
            _refresh(r, n_dies, planes, H, QOFF, QSIZE, BUSY, NST, RH, RPOS, n_res)
            continue
        # ------------------------------------------------- channel or link: one page
        q = q_ch0 + (r - n_dies)
        u = H[2 * QOFF[q] + 1]
        pair_pop(H, QOFF[q], QSIZE[q])
        QSIZE[q] -= 1
        nxt = -1  # resource of the next stage, or -1 when this stage ends the page
        nq = -1
        if r < r_out:  # channel
            e = t + ch_ovh + xfer_ps(u_bytes[u], ch_rate)
            c_start[u] = t
            c_end[u] = e
            ch_busy[r - n_dies] += e - t
            if u_write[u]:
                nq = u_die[u] * planes + u_plane[u]
                nxt = u_die[u]
            elif through:
                nq = q_out
                nxt = r_out
        else:  # a link direction
            e = t + xfer_ps(u_bytes[u], link_rate)
            l_start[u] = t
            l_end[u] = e
            link_busy[r - r_out] += e - t
            if r == r_in:
                nq = q_ch0 + u_chan[u]
                nxt = n_dies + u_chan[u]
        BUSY[r] = e
        if nxt >= 0:
            pair_push(H, QOFF[nq], QSIZE[nq], e, u)
            QSIZE[nq] += 1
            _refresh(nxt, n_dies, planes, H, QOFF, QSIZE, BUSY, NST, RH, RPOS, n_res)
        else:
            nc = _finish(u_req[u], e, done_max, remaining, complete, CH, nc, final_lat, qd)
        _refresh(r, n_dies, planes, H, QOFF, QSIZE, BUSY, NST, RH, RPOS, n_res)
    return next_req
