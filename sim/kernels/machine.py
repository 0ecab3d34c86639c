"""Numba data plane of the PIUMA-style machine (semantics: sim/machine/model.py).

One event-driven kernel for every thread, pipeline, L1, scratchpad, mesh link, die link,
host link, DRAM controller and DMA engine. All int64 state lives in one arena array M
(scalars S first, then the arrays named in ARENA_NAMES at offsets P[P_O_<name>]), the
slot calendars in two uint64 arrays. One arena instead of ~35 arrays matters: numba
updates a reference count for every array argument of every helper call, and with ~35
of them that cost more than the model itself. The helpers that are not inlined, and the
kernel itself, allocate nothing, so they are compiled without the runtime's reference
counting (``_nrt=False``, the NRT switch numba's own njit options accept): their remaining
per-call increments and decrements of P, M, the calendars and B were ~15% of an SpGEMM run
(perf). The kernel stops whenever a thread has
used up its buffered ops (the driver in sim/engine.py refills them) and resumes exactly
where it was. Times are int64 picoseconds; calendars count core cycles (network) or DRAM
clocks (data buses).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from sim.kernels.dram import _max, _min  # scalar min / max that inline (see there)

NEVER = np.int64(1) << np.int64(62)

# op codes and spaces (workloads/ops.py)
LOAD, STORE, ATOMIC, COMPUTE, DMA, WAIT, BARRIER, PIM = 0, 1, 2, 3, 4, 5, 6, 7
SP_LOCAL, SP_REMOTE, DRAM, HOST = 0, 1, 2, 3
FLAG_BYPASS = 1
from workloads.ops import FLAG_POSTED  # noqa: E402,F401  (the sub flag that posts an ATOMIC)

# stall categories (sim/machine/stats.py)
ST_ISSUE, ST_COMPUTE, ST_DRAM, ST_SP, ST_ATOMIC, ST_NET, ST_CACHE, ST_HOST = 0, 1, 2, 3, 4, 5, 6, 7
ST_BARRIER, ST_DMA_WAIT, ST_POSTED = 8, 9, 10

# return codes
RC_DONE, RC_REFILL = 0, 1
# error codes: sim/machine/errors.py (with their messages)
from sim.machine.errors import (  # noqa: E402
    E_BAR_ENDED,
    E_BAR_ID,
    E_CORE,
    E_DEADLOCK,
    E_DMA_SRC,
    E_DRAM_RANGE,
    E_HANDLE,
    E_HANDLE_BUSY,
    E_HORIZON,
    E_HOST_RANGE,
    E_INTERLEAVE,
    E_OP,
    E_PIM,
    E_PIM_ROWS,
    E_SIZE,
    E_SP_RANGE,
    E_WAIT_UNKNOWN,
)

# ---------------------------------------------------------------------------- parameters
(P_CYCLE, P_DIES, P_CPD, P_MTP, P_TPM, P_STP, P_STP_SPEED, P_MAXPOST,
 P_L1_SETS, P_L1_WAYS, P_L1_LINE, P_L1_LAT,
 P_SP_SIZE, P_SP_BANKS, P_SP_IL, P_SP_CLK, P_SP_LAT, P_SP_BPC, P_SP_PORTS, P_SP_ALAT, P_SP_APC,
 P_MX, P_MY, P_HOP, P_LINKB, P_HDR, P_GW, P_DLAT, P_DLB, P_HOSTN, P_HLAT, P_HLB, P_HMEM,
 P_CAL, P_CPDIE, P_IL, P_AB, P_TCK, P_CLAT, P_RANKS, P_BGS, P_BPG,
 P_CL, P_CWL, P_RCD, P_RP, P_RAS, P_RTP, P_WR, P_CCDL, P_RRD, P_FAW, P_BURST, P_AINT, P_ALAT,
 P_DSLOTS, P_DCHUNK, P_HANDLES, P_BAR0, P_BAR1, P_BAR2, P_CH_CAP,
 P_F_BG_S, P_F_BG_M, P_F_BA_S, P_F_BA_M, P_F_RA_S, P_F_RA_M,
 P_F_RO_S, P_F_RO_M, P_TL_BINS, P_CHUNK, P_L1_SETS1, P_JCAP, P_NTHREADS, P_ACTHOLD,
 P_TT_LEAVES, P_RT_W, P_IL_SHIFT, P_SP_IL_SHIFT, P_F_CO_S, P_F_CO_M, P_RC, P_PIM_CB) = range(84)
N_BASE_PARAMS = 84
# offsets of the state arrays in the arena M (sim/engine.py lays them out)
ARENA_NAMES = ("TH", "STALL", "TST", "POST", "PP", "HT", "HK", "HP", "RQ", "RQFREE",
               "LS", "BK", "AU", "DS", "TL", "SPF", "SPA", "SPS", "LT", "LU", "LF", "LC",
               "L1S", "CORE", "HS", "SL", "JB", "JQ", "HD", "BAR", "NODE", "REFILL", "TT", "RDY", "RT", "POF", "PT",
               "DIE", "GDIE", "GNODE")
(P_O_TH, P_O_STALL, P_O_TST, P_O_POST, P_O_PP, P_O_HT, P_O_HK, P_O_HP, P_O_RQ,
 P_O_RQFREE, P_O_LS, P_O_BK, P_O_AU, P_O_DS, P_O_TL, P_O_SPF, P_O_SPA, P_O_SPS,
 P_O_LT, P_O_LU, P_O_LF, P_O_LC, P_O_L1S, P_O_CORE, P_O_HS, P_O_SL, P_O_JB, P_O_JQ, P_O_HD,
 P_O_BAR, P_O_NODE, P_O_REFILL, P_O_TT, P_O_RDY, P_O_RT, P_O_POF, P_O_PT,
 P_O_DIE, P_O_GDIE, P_O_GNODE) = range(N_BASE_PARAMS, N_BASE_PARAMS + len(ARENA_NAMES))
N_PARAMS = N_BASE_PARAMS + len(ARENA_NAMES)
N_ST = 11  # stall categories

# ---------------------------------------------------------------------------- scalars (S)
(S_NOW, S_SEQ, S_HEAP_N, S_END, S_CAL_BASE, S_DCAL_BASE, S_ERR, S_ERR_TH, S_ERR_OP,
 S_NREFILL, S_TL_BIN, S_RQ_FREE_N, S_NOWC, S_NOWD, S_NOWBIN) = range(15)
N_SCALARS = 15

# thread fields (TH[t, f]); ready times live apart in RDY[t] (the pick loop scans them)
(T_POS, T_LEN, T_EOS, T_HAS, T_FIN, T_OPIDX, T_DONE, T_BT, T_WAITH, T_BAR, T_OPS,
 T_NEEDREF) = range(12)
N_TF = 12

# pipeline fields (PP[p, f])
PP_NEXT, PP_BUSY, PP_LAST = 0, 1, 2

# request fields (RQ[r, f])
(R_KIND, R_TH, R_TGTKIND, R_TGT, R_ADDR, R_BYTES, R_SEND, R_SRC_CORE, R_LINE, R_SLOT,
 R_BLOCK) = range(11)
N_RF = 11
# request kinds (K_PIM_DONE: a PIM request back at its controller when its data is consumed)
K_LOAD, K_STORE, K_ATOMIC, K_DMA_READ, K_DMA_WRITE, K_PIM, K_PIM_DONE = 0, 1, 2, 3, 4, 5, 6
# DRAM controller counters (DS[ctrl, f])
(DS_READ, DS_WRITTEN, DS_REQUESTS, DS_ACCESSES, DS_ROW_HITS, DS_ATOMICS, DS_PIM_OPS,
 DS_PIM_BYTES) = range(8)
N_DS = 8
# request target kinds (R_TGTKIND): R_TGT is then a global controller or a core
TGT_DRAM, TGT_SP = 0, 1

# DMA slot fields (SL[s, f]) and job fields (JB[j, f])
(SL_PHASE, SL_READY, SL_JOB, SL_SRC, SL_DST, SL_BYTES, SL_ISSUE) = range(7)
(J_TH, J_HANDLE, J_SSP, J_DSP, J_DCORE, J_SRC, J_DST, J_SIZE, J_COUNT, J_STR, J_STR2,
 J_ELEM, J_OFF, J_OUT, J_ALL, J_MAXACK) = range(16)
N_JF = 16




@njit(cache=True, inline="always")
def _align(t, p):
    return ((t + p - 1) // p) * p


# ---------------------------------------------------------------------------- event heap
@njit(cache=True, inline="always")
def _push(P, M, t, key, payload):
    oHK = P[P_O_HK]
    oHP = P[P_O_HP]
    oHT = P[P_O_HT]
    n = M[S_HEAP_N]
    i = n
    while i > 0:
        par = (i - 1) >> 1
        if M[oHT + par] < t or (M[oHT + par] == t and M[oHK + par] < key):
            break
        M[oHT + i] = M[oHT + par]
        M[oHK + i] = M[oHK + par]
        M[oHP + i] = M[oHP + par]
        i = par
    M[oHT + i] = t
    M[oHK + i] = key
    M[oHP + i] = payload
    M[S_HEAP_N] = n + 1


@njit(cache=True, inline="always")
def _pop(P, M):
    oHK = P[P_O_HK]
    oHP = P[P_O_HP]
    oHT = P[P_O_HT]
    n = M[S_HEAP_N] - 1
    M[S_HEAP_N] = n
    t = M[oHT + n]
    k = M[oHK + n]
    p = M[oHP + n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (M[oHT + c + 1] < M[oHT + c] or (M[oHT + c + 1] == M[oHT + c] and M[oHK + c + 1] < M[oHK + c])):
            c += 1
        if M[oHT + c] < t or (M[oHT + c] == t and M[oHK + c] < k):
            M[oHT + i] = M[oHT + c]
            M[oHK + i] = M[oHK + c]
            M[oHP + i] = M[oHP + c]
            i = c
        else:
            break
    M[oHT + i] = t
    M[oHK + i] = k
    M[oHP + i] = p


# ---------------------------------------------------------------------------- calendars
@njit(cache=True, inline="always")
def _cal_reserve(CAL, row, a, ser, limit, W):
    """First ser consecutive free slots at or after a in calendar row; -1 past limit.

    Busy and free runs are measured a word at a time with trailing-zero counts: under
    saturation a search crosses hundreds of busy slots.
    """
    mask = W - 1
    s = a
    while True:
        if s + ser - 1 > limit:
            return -1
        pos = s & mask
        bit = pos & 63
        w = CAL[row, pos >> 6] >> np.uint64(bit)  # slot s is bit 0; bits past the word are 0
        avail = 64 - bit
        if w & np.uint64(1):
            s += np.int64(trailing_zeros(~w))  # skip the busy run (stops at the word's end)
            continue
        run = avail if w == np.uint64(0) else _min(np.int64(trailing_zeros(w)), avail)
        if run < ser and run < avail:
            s += run + np.int64(trailing_zeros(~(w >> np.uint64(run))))  # past the busy run after it
            continue
        q = s + run
        while run < ser:  # the free run reaches the word's end: follow it into the next
            w2 = CAL[row, (q & mask) >> 6]
            if w2 == np.uint64(0):
                run += 64
                q += 64
            else:
                z = np.int64(trailing_zeros(w2))
                run += z
                q += z
                break
        if run >= ser:
            for k in range(ser):
                p2 = (s + k) & mask
                CAL[row, p2 >> 6] |= np.uint64(1) << np.uint64(p2 & 63)
            return s
        s = q  # a busy slot: the next iteration skips its run


@njit(cache=True, _nrt=False)
def _cal_advance(CAL, base, now_slot, W):
    """Clear quarters of the ring that lie wholly before now_slot; returns the new base."""
    q = W >> 2
    while now_slot >= base + q:
        w0 = (base & (W - 1)) >> 6
        for r in range(CAL.shape[0]):
            for w in range(w0, w0 + (q >> 6)):
                CAL[r, w] = np.uint64(0)
        base += q
    return base


@njit(cache=True, _nrt=False)
def _tl_add(P, M, row, t_ps, nbytes):
    """Add bytes to a timeline row at t_ps; past the last bin, merge bin pairs (width x2)."""
    oTL = P[P_O_TL]
    nbins = P[P_TL_BINS]
    rows = P[P_DIES] * P[P_CPDIE] + 4
    while t_ps // M[S_TL_BIN] >= nbins:
        for c in range(rows):
            for i in range(nbins):
                v = M[oTL + c * nbins + i]
                M[oTL + c * nbins + i] = 0
                M[oTL + c * nbins + i // 2] += v
        M[S_TL_BIN] *= 2
        M[S_NOWBIN] = M[S_NOW] // M[S_TL_BIN]  # the current event's bin moves too
    M[oTL + row * nbins + t_ps // M[S_TL_BIN]] += nbytes


@njit(cache=True, inline="always")
def _tl_add_now(P, M, row, nbytes):
    """_tl_add at the current event's time, whose bin was computed once for the event."""
    b = M[S_NOWBIN]
    if b >= P[P_TL_BINS]:
        _tl_add(P, M, row, M[S_NOW], nbytes)  # folds (and moves the current bin)
    else:
        M[P[P_O_TL] + row * P[P_TL_BINS] + b] += nbytes


# ---------------------------------------------------------------------------- network
@njit(cache=True, inline="always")
def _link(P, M, CAL, link, a, nbytes, ser, lat, limit, row):
    """Traverse one link from cycle a (ser slots); the arrival cycle at its far end, or -1.
    row: the timeline row its bytes go to (-1: none, host links)."""
    oLS = P[P_O_LS]
    s = _cal_reserve(CAL, link, a, ser, limit, P[P_CAL])
    if s < 0:
        return -1
    if row >= 0:
        _tl_add_now(P, M, row, nbytes)
    M[oLS + link * 3 + 0] += 1
    M[oLS + link * 3 + 1] += nbytes
    M[oLS + link * 3 + 2] += ser
    return s + ser - 1 + lat


@njit(cache=True, inline="always")
def _mesh(P, M, CAL, die, u, v, a, nbytes, limit):
    """XY route from node u to node v of a die (links from the route table RT)."""
    oRT = P[P_O_RT]
    nodes = P[P_MX] * P[P_MY]
    ser = (nbytes + P[P_LINKB] - 1) // P[P_LINKB]
    r = oRT + (u * nodes + v) * P[P_RT_W]
    base = die * nodes * 4
    for k in range(M[r]):
        a = _link(P, M, CAL, base + M[r + 1 + k], a, nbytes, ser, P[P_HOP], limit,
                  P[P_DIES] * P[P_CPDIE] + 2)
        if a < 0:
            return -1
    return a


@njit(cache=True, _nrt=False)
def _send(P, M, CAL, sdie, snode, ddie, dnode, t_ps, nbytes):
    """Deliver a packet sent at t_ps; returns the delivery time in ps (or -1: horizon)."""
    cyc = P[P_CYCLE]
    a = (t_ps + cyc - 1) // cyc
    limit = M[S_NOWC] + (P[P_CAL] >> 1)
    if sdie == ddie:
        a = _mesh(P, M, CAL, sdie, snode, dnode, a, nbytes, limit)
    else:
        gw = P[P_GW]
        a = _mesh(P, M, CAL, sdie, snode, gw, a, nbytes, limit)
        if a >= 0:
            nodes = P[P_MX] * P[P_MY]
            link = P[P_DIES] * nodes * 4 + sdie * P[P_DIES] + ddie
            ser = (nbytes + P[P_DLB] - 1) // P[P_DLB]
            a = _link(P, M, CAL, link, a, nbytes, ser, P[P_DLAT], limit,
                      P[P_DIES] * P[P_CPDIE] + 3)
        if a >= 0:
            a = _mesh(P, M, CAL, ddie, gw, dnode, a, nbytes, limit)
    if a < 0:
        return -1
    return a * cyc


# ---------------------------------------------------------------------------- scratchpad
@njit(cache=True, _nrt=False)
def _sp_serve(P, M, core, addr, nbytes, is_write, is_atomic, t_ps):
    """Serve a scratchpad request arriving at t_ps; returns the end time in ps."""
    oSPA = P[P_O_SPA]
    oSPF = P[P_O_SPF]
    oSPS = P[P_O_SPS]
    clk = P[P_SP_CLK]
    r = (t_ps + clk - 1) // clk
    banks = P[P_SP_BANKS]
    ports = P[P_SP_PORTS]
    bpc = P[P_SP_BPC]
    end = 0
    a = addr
    stop = addr + nbytes
    while a < stop:
        unit = a >> P[P_SP_IL_SHIFT]  # interleave and bank count are powers of two
        piece_end = _min(stop, (unit + 1) << P[P_SP_IL_SHIFT])
        pb = piece_end - a
        bank = unit & (banks - 1)
        # per bank: ports free times, then the start of its previous access (in-order issue)
        base = (core * banks + bank) * (ports + 1)
        best = 0
        for k in range(1, ports):
            if M[oSPF + base + k] < M[oSPF + base + best]:
                best = k
        start = _max(_max(r, M[oSPF + base + best]), M[oSPF + base + ports])
        occ = (pb + bpc - 1) // bpc
        if is_atomic:
            # the atomic unit: at most ops_per_clock starts per clock, in order
            if start < M[oSPA + core * 2 + 0]:
                start = M[oSPA + core * 2 + 0]
            if start == M[oSPA + core * 2 + 0]:
                if M[oSPA + core * 2 + 1] >= P[P_SP_APC]:
                    start += 1
                    M[oSPA + core * 2 + 0] = start
                    M[oSPA + core * 2 + 1] = 1
                else:
                    M[oSPA + core * 2 + 1] += 1
            else:
                M[oSPA + core * 2 + 0] = start
                M[oSPA + core * 2 + 1] = 1
            e = start + occ + P[P_SP_ALAT]
        else:
            e = start + occ + P[P_SP_LAT]
        M[oSPF + base + best] = start + occ
        M[oSPF + base + ports] = start
        if e > end:
            end = e
        a = piece_end
    M[oSPS + core * 4 + 2] += 1
    _tl_add_now(P, M, P[P_DIES] * P[P_CPDIE], 2 * nbytes if is_atomic else nbytes)
    if is_atomic:
        M[oSPS + core * 4 + 3] += 1
        M[oSPS + core * 4 + 0] += nbytes
        M[oSPS + core * 4 + 1] += nbytes
    elif is_write:
        M[oSPS + core * 4 + 1] += nbytes
    else:
        M[oSPS + core * 4 + 0] += nbytes
    return end * clk


# ---------------------------------------------------------------------------- DRAM
@njit(cache=True, _nrt=False)
def _dram_access(P, M, DCAL, ctrl, acc, e, is_write, nbytes_here):
    """Serve one access (index acc within the channel) ready at DRAM clock e; end clock."""
    oBK = P[P_O_BK]
    oDS = P[P_O_DS]
    bg = (acc >> P[P_F_BG_S]) & P[P_F_BG_M]
    ba = (acc >> P[P_F_BA_S]) & P[P_F_BA_M]
    ra = (acc >> P[P_F_RA_S]) & P[P_F_RA_M]
    row = (acc >> P[P_F_RO_S]) & P[P_F_RO_M]
    nb = P[P_RANKS] * P[P_BGS] * P[P_BPG]
    bank = ctrl * nb + (ra * P[P_BGS] + bg) * P[P_BPG] + ba
    rk = ctrl * P[P_RANKS] + ra
    W = P[P_CAL]
    limit = M[S_NOWD] + (W >> 1)
    # bank state: 0 open row, 1 col_ok, 2 pre_ok, 3 act_ok
    if M[oBK + bank * 4 + 0] == row:
        col = _max(e, M[oBK + bank * 4 + 1])
        M[oDS + ctrl * N_DS + 4] += 1
    else:
        if M[oBK + bank * 4 + 0] < 0:
            act = _max(e, M[oBK + bank * 4 + 3])
        else:
            act = _max(e, M[oBK + bank * 4 + 2]) + P[P_RP]
        # the rank's ACT calendar (rows after the data buses): each ACT holds
        # max(tRRD_S, ceil(tFAW / 4)) clocks, so ACTs to ready banks may pass waiting ones
        act = _cal_reserve(DCAL, P[P_DIES] * P[P_CPDIE] + rk, act, P[P_ACTHOLD], limit, W)
        if act < 0:
            return -1
        M[oBK + bank * 4 + 0] = row
        M[oBK + bank * 4 + 2] = act + P[P_RAS]
        col = act + P[P_RCD]
    lat = P[P_CWL] if is_write else P[P_CL]
    d = _cal_reserve(DCAL, ctrl, col + lat, P[P_BURST], limit, W)
    if d < 0:
        return -1
    cissue = d - lat
    M[oBK + bank * 4 + 1] = cissue + P[P_CCDL]
    if is_write:
        M[oBK + bank * 4 + 2] = _max(M[oBK + bank * 4 + 2], d + P[P_BURST] + P[P_WR])
    else:
        M[oBK + bank * 4 + 2] = _max(M[oBK + bank * 4 + 2], cissue + P[P_RTP])
    end = d + P[P_BURST]
    M[oDS + ctrl * N_DS + 3] += 1
    # timeline: bytes of this access at its end time
    _tl_add(P, M, ctrl, end * P[P_TCK], nbytes_here)
    return end


@njit(cache=True, _nrt=False)
def _dram_serve(P, M, DCAL, ctrl, laddr, nbytes, is_write, is_atomic, t_ps):
    """Serve a DRAM request arriving at t_ps; returns (end ps, response-ready ps) or -1."""
    oAU = P[P_O_AU]
    oDS = P[P_O_DS]
    tck = P[P_TCK]
    e = (t_ps + tck - 1) // tck + P[P_CLAT]
    ab = P[P_AB]
    M[oDS + ctrl * N_DS + 2] += 1
    if is_atomic:
        start = _max(e, M[oAU + ctrl])
        M[oAU + ctrl] = start + P[P_AINT]
        acc = laddr // ab
        rend = _dram_access(P, M, DCAL, ctrl, acc, start, False, nbytes)
        if rend < 0:
            return -1, -1
        res = rend + P[P_ALAT]
        wend = _dram_access(P, M, DCAL, ctrl, acc, res, True, nbytes)
        if wend < 0:
            return -1, -1
        M[oDS + ctrl * N_DS + 0] += nbytes
        M[oDS + ctrl * N_DS + 1] += nbytes
        M[oDS + ctrl * N_DS + 5] += 1
        return wend * tck, res * tck
    end = 0
    first = laddr // ab
    last = (laddr + nbytes - 1) // ab
    for acc in range(first, last + 1):
        lo = _max(laddr, acc * ab)
        hi = _min(laddr + nbytes, (acc + 1) * ab)
        x = _dram_access(P, M, DCAL, ctrl, acc, e, is_write, hi - lo)
        if x < 0:
            return -1, -1
        if x > end:
            end = x
    if is_write:
        M[oDS + ctrl * N_DS + 1] += nbytes
    else:
        M[oDS + ctrl * N_DS + 0] += nbytes
    return end * tck, end * tck


@njit(cache=True, inline="always")
def _pim_columns(P, laddr, nbytes):
    """(first column, columns) every bank streams for a PIM op at local address laddr;
    a column (P_PIM_CB bytes) counts row-major (row x columns per row + column)."""
    ab = P[P_AB]
    cb = P[P_PIM_CB]
    acc = laddr // ab
    off = ((((acc >> P[P_F_RO_S]) & P[P_F_RO_M]) * (P[P_F_CO_M] + 1)
            + ((acc >> P[P_F_CO_S]) & P[P_F_CO_M])) * ab + laddr % ab)  # within each bank
    return off // cb, (off + nbytes - 1) // cb - off // cb + 1


@njit(cache=True, _nrt=False)
def _pim_serve(P, M, ctrl, laddr, nbytes, t_ps):
    """Run the all-bank PIM sequence of a request arriving at t_ps (the rule of
    sim/memory/pim_sequence.py); returns (data consumed ps, channel free ps)."""
    oBK = P[P_O_BK]
    oDS = P[P_O_DS]
    tck = P[P_TCK]
    e = (t_ps + tck - 1) // tck + P[P_CLAT]
    nb = P[P_RANKS] * P[P_BGS] * P[P_BPG]
    # the first all-bank ACT: after a precharge-all if a bank is open
    act = e
    pre = e
    any_open = False
    for b in range(nb):
        q = oBK + (ctrl * nb + b) * 4
        if M[q + 0] >= 0:
            any_open = True
            pre = _max(pre, M[q + 2])
        else:
            act = _max(act, M[q + 3])
    if any_open:
        act = _max(act, pre + P[P_RP])
    first, n = _pim_columns(P, laddr, nbytes)
    cpr = (P[P_F_CO_M] + 1) * P[P_AB] // P[P_PIM_CB]
    k = first
    stop = first + n
    last_col = act
    while True:
        row_end = _min(stop, (k // cpr + 1) * cpr)
        last_col = act + P[P_RCD] + (row_end - k - 1) * P[P_CCDL]
        pre = _max(act + P[P_RAS], last_col + P[P_RTP])
        k = row_end
        if k == stop:
            break
        act = _max(pre + P[P_RP], act + P[P_RC])
    free = pre + P[P_RP]
    for b in range(nb):  # every bank closed; ordinary requests wait for the channel
        q = oBK + (ctrl * nb + b) * 4
        M[q + 0] = -1
        M[q + 3] = free
    M[oDS + ctrl * N_DS + DS_PIM_OPS] += 1
    M[oDS + ctrl * N_DS + DS_PIM_BYTES] += nb * n * P[P_PIM_CB]
    return (last_col + P[P_CL] + P[P_BURST]) * tck, free * tck


# ---------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def _stall_split(P, M, th, cat, t, dn, cyc, net):
    oSTALL = P[P_O_STALL]
    total = dn - t - cyc
    if net > total:
        net = total
    M[oSTALL + th * N_ST + ST_NET] += net
    M[oSTALL + th * N_ST + cat] += total - net


@njit(cache=True, inline="always")
def _wake_pipe(P, M, p, r):
    """Something on pipeline p is ready at r: make sure p has an event by then."""
    oPP = P[P_O_PP]
    t = _max(r, M[oPP + p * 3 + PP_BUSY])
    if t < M[oPP + p * 3 + PP_NEXT]:
        _pp_set(P, M, p, t)


@njit(cache=True, inline="always")
def _pp_set(P, M, p, t):
    """Set pipeline p's next event time and replay its path of the tournament tree.

    Pipelines' PIPE events live in a tournament tree (TT, leaves = pipelines) instead of
    the heap: the root names the pipeline with the earliest (time, id), so moving an event
    costs one path update and no stale entries pile up.
    """
    oPP = P[P_O_PP]
    oTT = P[P_O_TT]
    M[oPP + p * 3 + PP_NEXT] = t
    L = P[P_TT_LEAVES]
    i = (L + p) >> 1
    while i >= 1:
        a = M[oTT + 2 * i]
        b = M[oTT + 2 * i + 1]
        if b < 0:
            w = a
        elif a < 0:
            w = b
        elif M[oPP + b * 3 + PP_NEXT] < M[oPP + a * 3 + PP_NEXT]:
            w = b
        else:
            w = a  # ties: the lower pipeline id (a is always left of b)
        if M[oTT + i] == w and w != p:
            break  # the winner above does not change
        M[oTT + i] = w
        i >>= 1


@njit(cache=True, inline="always")
def _thread_done(P, M, th, dn):
    """A blocked thread's op is done at dn: record it and, unless its stream has ended,
    make it ready and wake its pipeline."""
    M[P[P_O_TH] + th * N_TF + T_DONE] = dn
    if dn > M[S_END]:
        M[S_END] = dn
    if M[P[P_O_TH] + th * N_TF + T_FIN] == 0:
        M[P[P_O_RDY] + th] = dn
        _wake_pipe(P, M, M[P[P_O_POF] + th], dn)


@njit(cache=True, inline="always")
def _new_req(P, M, t_arr, kind, th, tgt_kind, tgt, addr, nbytes, send, src_core, line, slot,
             block):
    """Allocate a request, fill every field and schedule its ARRIVE (id = creation order)."""
    oRQ = P[P_O_RQ]
    oRQFREE = P[P_O_RQFREE]
    n = M[S_RQ_FREE_N] - 1
    M[S_RQ_FREE_N] = n
    r = M[oRQFREE + n]
    seq = M[S_SEQ]
    M[S_SEQ] = seq + 1
    _push(P, M, t_arr, seq, r)
    q = oRQ + r * N_RF
    M[q + R_KIND] = kind
    M[q + R_TH] = th
    M[q + R_TGTKIND] = tgt_kind
    M[q + R_TGT] = tgt
    M[q + R_ADDR] = addr
    M[q + R_BYTES] = nbytes
    M[q + R_SEND] = send
    M[q + R_SRC_CORE] = src_core
    M[q + R_LINE] = line
    M[q + R_SLOT] = slot
    M[q + R_BLOCK] = block
    return r


@njit(cache=True, _nrt=False)
def _l1_lookup(P, M, core, sets, ways, line_id):
    """Fill time of the line if present (and touch it), else -1."""
    oLC = P[P_O_LC]
    oLF = P[P_O_LF]
    oLT = P[P_O_LT]
    oLU = P[P_O_LU]
    st = line_id % sets
    for w in range(ways):
        if M[oLT + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w] == line_id:
            M[oLC + core] += 1
            M[oLU + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w] = M[oLC + core]
            return M[oLF + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w]
    return -1


@njit(cache=True, _nrt=False)
def _l1_insert(P, M, core, sets, ways, line_id, fill):
    oLC = P[P_O_LC]
    oLF = P[P_O_LF]
    oLT = P[P_O_LT]
    oLU = P[P_O_LU]
    st = line_id % sets
    victim = -1
    for w in range(ways):
        if M[oLT + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w] == line_id:
            return  # filled meanwhile by another miss: keep it
    for w in range(ways):
        if M[oLT + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w] < 0:
            victim = w
            break
    if victim < 0:
        victim = 0
        for w in range(1, ways):
            if M[oLU + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + w] < M[oLU + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + victim]:
                victim = w
    M[oLC + core] += 1
    M[oLT + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + victim] = line_id
    M[oLU + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + victim] = M[oLC + core]
    M[oLF + ((core) * P[P_L1_SETS1] + (st)) * P[P_L1_WAYS] + victim] = fill


@njit(cache=True, _nrt=False)
def _host_path(P, M, CAL, die, node, t_ps, req_bytes, resp_bytes):
    """Host access resolved at issue: (arrival at host memory ps, delivery ps) or (-1, -1)."""
    cyc = P[P_CYCLE]
    nodes = P[P_MX] * P[P_MY]
    a = (t_ps + cyc - 1) // cyc
    limit = M[S_NOWC] + (P[P_CAL] >> 1)
    # host payload bytes, both ways, at the issue
    _tl_add_now(P, M, P[P_DIES] * P[P_CPDIE] + 1, req_bytes + resp_bytes - 2 * P[P_HDR])
    a = _mesh(P, M, CAL, die, node, P[P_HOSTN], a, req_bytes, limit)
    if a < 0:
        return -1, -1
    base = P[P_DIES] * nodes * 4 + P[P_DIES] * P[P_DIES] + die * 2
    hlb = P[P_HLB]
    a = _link(P, M, CAL, base, a, req_bytes, (req_bytes + hlb - 1) // hlb, P[P_HLAT], limit,
              -1)
    if a < 0:
        return -1, -1
    arr = a
    a = a + P[P_HMEM]
    a = _link(P, M, CAL, base + 1, a, resp_bytes, (resp_bytes + hlb - 1) // hlb, P[P_HLAT],
              limit, -1)
    if a < 0:
        return -1, -1
    a = _mesh(P, M, CAL, die, P[P_HOSTN], node, a, resp_bytes, limit)
    if a < 0:
        return -1, -1
    return arr * cyc, a * cyc


@njit(cache=True, _nrt=False)
def _dram_target(P, addr, total_ctrl):
    """(controller, local address) of a global DRAM address."""
    sh = P[P_IL_SHIFT]  # the interleave is a power of two
    unit = addr >> sh
    q, g = divmod(unit, total_ctrl)
    return g, (q << sh) | (addr & (P[P_IL] - 1))


@njit(cache=True, _nrt=False)
def _fail(P, M, code, th, opi):
    M[S_ERR] = code
    M[S_ERR_TH] = th
    M[S_ERR_OP] = opi
    return -code


@njit(cache=True, _nrt=False)
def _job_chunk_done(P, M, slot, ack, ncpipes, nslots, tpc, ppc, cyc):
    """A DMA chunk's write is acknowledged at ack."""
    oHD = P[P_O_HD]
    oJB = P[P_O_JB]
    oJQ = P[P_O_JQ]
    oSL = P[P_O_SL]
    oSTALL = P[P_O_STALL]
    oTH = P[P_O_TH]
    j = M[oSL + slot * 7 + SL_JOB]
    M[oJB + j * N_JF + J_OUT] -= 1
    if ack > M[oJB + j * N_JF + J_MAXACK]:
        M[oJB + j * N_JF + J_MAXACK] = ack
    if ack > M[S_END]:
        M[S_END] = ack
    M[oSL + slot * 7 + SL_PHASE] = 0
    M[oSL + slot * 7 + SL_READY] = _align(ack, cyc)
    c = slot // nslots
    if M[oJQ + c * 2 + 1] > 0:
        _wake_pipe(P, M, ncpipes + c, M[oSL + slot * 7 + SL_READY])
    if M[oJB + j * N_JF + J_OUT] == 0 and M[oJB + j * N_JF + J_ALL] == 1:
        th = M[oJB + j * N_JF + J_TH]
        h = M[oJB + j * N_JF + J_HANDLE]
        done = M[oJB + j * N_JF + J_MAXACK]
        M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 0] = 2
        M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 1] = done
        if M[oTH + th * N_TF + T_WAITH] == h:
            M[oTH + th * N_TF + T_WAITH] = -1
            t0 = M[oTH + th * N_TF + T_BT]
            dn = _max(t0 + cyc, _align(done, cyc))
            M[oSTALL + th * N_ST + ST_DMA_WAIT] += dn - t0 - cyc
            _thread_done(P, M, th, dn)


@njit(cache=True, _nrt=False)
def _dma_step(P, M, CAL, e, t, ncpipes, nslots, jcap, tpc, ppc, total_ctrl):
    """One issue cycle of core e's DMA engine."""
    oHS = P[P_O_HS]
    oJB = P[P_O_JB]
    oJQ = P[P_O_JQ]
    oNODE = P[P_O_NODE]
    oPP = P[P_O_PP]
    oSL = P[P_O_SL]
    cyc = P[P_CYCLE]
    hdr = P[P_HDR]
    il = P[P_IL]
    p = ncpipes + e
    die = M[P[P_O_DIE] + e]
    node = M[oNODE + e]
    chosen = -1
    start = M[oPP + p * 3 + PP_LAST] + 1
    for k in range(nslots):
        i = start + k
        if i >= nslots:
            i -= nslots
        s = e * nslots + i
        ph = M[oSL + s * 7 + SL_PHASE]
        if M[oSL + s * 7 + SL_READY] <= t and ((ph == 0 and M[oJQ + e * 2 + 1] > 0) or ph == 2):
            chosen = s
            M[oPP + p * 3 + PP_LAST] = i
            break
    if chosen >= 0:
        s = chosen
        M[oPP + p * 3 + PP_BUSY] = t + cyc
        if M[oSL + s * 7 + SL_PHASE] == 0:
            j = e * jcap + M[oJQ + e * 2 + 0]
            off = M[oJB + j * N_JF + J_OFF]
            el = M[oJB + j * N_JF + J_ELEM]
            src = M[oJB + j * N_JF + J_SRC] + el * M[oJB + j * N_JF + J_STR] + off
            dst = M[oJB + j * N_JF + J_DST] + el * M[oJB + j * N_JF + J_STR2] + off
            n = _min(P[P_DCHUNK], M[oJB + j * N_JF + J_SIZE] - off)
            if M[oJB + j * N_JF + J_SSP] == DRAM:
                n = _min(n, il - src % il)
            if M[oJB + j * N_JF + J_DSP] == DRAM:
                n = _min(n, il - dst % il)
            off += n
            if off == M[oJB + j * N_JF + J_SIZE]:
                off = 0
                el += 1
            M[oJB + j * N_JF + J_OFF] = off
            M[oJB + j * N_JF + J_ELEM] = el
            M[oJB + j * N_JF + J_OUT] += 1
            if el == M[oJB + j * N_JF + J_COUNT]:
                M[oJB + j * N_JF + J_ALL] = 1
                M[oJQ + e * 2 + 0] = (M[oJQ + e * 2 + 0] + 1) % jcap
                M[oJQ + e * 2 + 1] -= 1
            M[oSL + s * 7 + SL_JOB] = j
            M[oSL + s * 7 + SL_SRC] = src
            M[oSL + s * 7 + SL_DST] = dst
            M[oSL + s * 7 + SL_BYTES] = n
            M[oSL + s * 7 + SL_ISSUE] = t
            ssp = M[oJB + j * N_JF + J_SSP]
            if ssp == SP_LOCAL:
                end = _sp_serve(P, M, e, src, n, False, False, t)
                M[oSL + s * 7 + SL_PHASE] = 2
                M[oSL + s * 7 + SL_READY] = _max(_align(end, cyc), t + cyc)
                if end > M[S_END]:
                    M[S_END] = end
            elif ssp == DRAM:
                g, la = _dram_target(P, src, total_ctrl)
                ta = _send(P, M, CAL, die, node, M[P[P_O_GDIE] + g], M[P[P_O_GNODE] + g], t, hdr)
                if ta < 0:
                    return _fail(P, M, E_HORIZON, M[oJB + j * N_JF + J_TH], -1)
                _new_req(P, M, ta, K_DMA_READ, M[oJB + j * N_JF + J_TH], TGT_DRAM, g, la, n, t,
                         e, -1, s, 0)
                M[oSL + s * 7 + SL_PHASE] = 1
                M[oSL + s * 7 + SL_READY] = NEVER
            else:  # HOST
                arr, dl = _host_path(P, M, CAL, die, node, t, hdr, hdr + n)
                if arr < 0:
                    return _fail(P, M, E_HORIZON, M[oJB + j * N_JF + J_TH], -1)
                M[oHS + die * 2 + 0] += n
                if dl > M[S_END]:
                    M[S_END] = dl
                M[oSL + s * 7 + SL_PHASE] = 2
                M[oSL + s * 7 + SL_READY] = _max(_align(dl, cyc), t + cyc)
        else:
            j = M[oSL + s * 7 + SL_JOB]
            n = M[oSL + s * 7 + SL_BYTES]
            dst = M[oSL + s * 7 + SL_DST]
            dsp = M[oJB + j * N_JF + J_DSP]
            dcore = M[oJB + j * N_JF + J_DCORE]
            if dsp == SP_REMOTE and dcore == e:
                dsp = SP_LOCAL
            if dsp == SP_LOCAL:
                end = _sp_serve(P, M, e, dst, n, True, False, t)
                M[oSL + s * 7 + SL_PHASE] = 3
                _job_chunk_done(P, M, s, end, ncpipes, nslots, tpc, ppc, cyc)
            elif dsp == HOST:
                arr, dl = _host_path(P, M, CAL, die, node, t, hdr + n, hdr)
                if arr < 0:
                    return _fail(P, M, E_HORIZON, M[oJB + j * N_JF + J_TH], -1)
                M[oHS + die * 2 + 1] += n
                M[oSL + s * 7 + SL_PHASE] = 3
                _job_chunk_done(P, M, s, dl, ncpipes, nslots, tpc, ppc, cyc)
            else:
                if dsp == DRAM:
                    g, la = _dram_target(P, dst, total_ctrl)
                    ddie = M[P[P_O_GDIE] + g]
                    dnode = M[P[P_O_GNODE] + g]
                    tgt_kind = TGT_DRAM
                    tgt = g
                else:
                    ddie = M[P[P_O_DIE] + dcore]
                    dnode = M[oNODE + dcore]
                    tgt_kind = TGT_SP
                    tgt = dcore
                    la = dst
                ta = _send(P, M, CAL, die, node, ddie, dnode, t, hdr + n)
                if ta < 0:
                    return _fail(P, M, E_HORIZON, M[oJB + j * N_JF + J_TH], -1)
                _new_req(P, M, ta, K_DMA_WRITE, M[oJB + j * N_JF + J_TH], tgt_kind, tgt, la, n, t,
                         e, -1, s, 0)
                M[oSL + s * 7 + SL_PHASE] = 3
                M[oSL + s * 7 + SL_READY] = NEVER
    # next engine event
    nxt = NEVER
    for i in range(nslots):
        s = e * nslots + i
        ph = M[oSL + s * 7 + SL_PHASE]
        if (ph == 0 and M[oJQ + e * 2 + 1] > 0) or ph == 2:
            if M[oSL + s * 7 + SL_READY] < nxt:
                nxt = M[oSL + s * 7 + SL_READY]
    if chosen >= 0 and nxt < t + cyc:
        nxt = t + cyc
    if nxt < M[oPP + p * 3 + PP_NEXT]:
        M[oPP + p * 3 + PP_NEXT] = nxt  # the caller updates the tree
    return 0


@njit(cache=True, _nrt=False)
def _issue(P, M, CAL, B, th, p, t, c, is_stp, tpc, ppc, ncores, ncpipes, total_ctrl, jcap):
    """Thread th issues its next op at t on pipeline p of core c. <0 on error."""
    oRDY = P[P_O_RDY]
    oBAR = P[P_O_BAR]
    oCORE = P[P_O_CORE]
    oHD = P[P_O_HD]
    oHS = P[P_O_HS]
    oJB = P[P_O_JB]
    oJQ = P[P_O_JQ]
    oL1S = P[P_O_L1S]
    oNODE = P[P_O_NODE]
    oPOST = P[P_O_POST]
    oPP = P[P_O_PP]
    oSTALL = P[P_O_STALL]
    oTH = P[P_O_TH]
    oTST = P[P_O_TST]
    cyc = P[P_CYCLE]
    hdr = P[P_HDR]
    pos = M[oTH + th * N_TF + T_POS]
    opi = M[oTH + th * N_TF + T_OPIDX]
    op = B[th, pos]['op']
    space = B[th, pos]['space']
    sub = B[th, pos]['sub']
    tcore = B[th, pos]['core']
    size = B[th, pos]['size']
    addr = B[th, pos]['addr']
    die = M[P[P_O_DIE] + c]
    node = M[oNODE + c]
    dn = t + cyc
    slots = 1
    blocked = False
    if op == COMPUTE:
        n = size
        if n <= 0:
            return _fail(P, M, E_SIZE, th, opi)
        if is_stp:
            n = (n + P[P_STP_SPEED] - 1) // P[P_STP_SPEED]
        slots = n
        dn = t + n * cyc
        M[oPP + p * 3 + PP_BUSY] = dn
        M[oSTALL + th * N_ST + ST_COMPUTE] += dn - t - cyc
    elif op == LOAD or op == STORE or op == ATOMIC:
        if size <= 0:
            return _fail(P, M, E_SIZE, th, opi)
        posted = op == STORE or (op == ATOMIC and (sub & FLAG_POSTED) != 0)
        is_atomic = op == ATOMIC
        is_write = op == STORE
        if space == SP_REMOTE and tcore == c:
            space = SP_LOCAL
        if space == SP_LOCAL:
            if addr < 0 or addr + size > P[P_SP_SIZE]:
                return _fail(P, M, E_SP_RANGE, th, opi)
            end = _sp_serve(P, M, c, addr, size, is_write, is_atomic, t)
            if end > M[S_END]:
                M[S_END] = end
            arr = t
            if not posted:
                dn = _max(_align(end, cyc), t + cyc)
                M[oSTALL + th * N_ST + (ST_ATOMIC if is_atomic else ST_SP)] += dn - t - cyc
        elif space == SP_REMOTE or space == DRAM:
            if space == SP_REMOTE:
                if tcore < 0 or tcore >= ncores:
                    return _fail(P, M, E_CORE, th, opi)
                if addr < 0 or addr + size > P[P_SP_SIZE]:
                    return _fail(P, M, E_SP_RANGE, th, opi)
                tgt = tcore
                ddie = M[P[P_O_DIE] + tcore]
                dnode = M[oNODE + tcore]
                la = addr
                nbytes = size
                line_id = -1
            else:
                if addr < 0 or addr + size > P[P_CH_CAP] * total_ctrl:
                    return _fail(P, M, E_DRAM_RANGE, th, opi)
                il = P[P_IL]
                if addr % il + size > il:
                    return _fail(P, M, E_INTERLEAVE, th, opi)
                tgt, la = _dram_target(P, addr, total_ctrl)
                ddie = M[P[P_O_GDIE] + tgt]
                dnode = M[P[P_O_GNODE] + tgt]
                nbytes = size
                line_id = -1
                if op == LOAD and (sub & FLAG_BYPASS) == 0 and P[P_L1_SETS] > 0:
                    line = P[P_L1_LINE]
                    lid = addr // line
                    fill = _l1_lookup(P, M, c, P[P_L1_SETS], P[P_L1_WAYS], lid)
                    if fill >= 0:
                        M[oL1S + c * 2 + 0] += 1
                        dn = _max(_align(_max(t + P[P_L1_LAT] * cyc, fill), cyc), t + cyc)
                        M[oSTALL + th * N_ST + ST_CACHE] += dn - t - cyc
                        M[oTST + th * 2 + 0] += 1
                        M[oTST + th * 2 + 1] += dn - t
                        M[oRDY + th] = dn
                        M[oTH + th * N_TF + T_DONE] = dn
                        if dn > M[S_END]:
                            M[S_END] = dn
                        M[oCORE + c * 3 + 0] += 1
                        M[oTH + th * N_TF + T_OPS] += 1
                        return 0
                    M[oL1S + c * 2 + 1] += 1
                    line_id = lid
                    la = la - (la % line)
                    nbytes = line
            rb = hdr + (size if (is_write or is_atomic) else 0)
            ta = _send(P, M, CAL, die, node, ddie, dnode, t, rb)
            if ta < 0:
                return _fail(P, M, E_HORIZON, th, opi)
            _new_req(P, M, ta, K_ATOMIC if is_atomic else (K_STORE if is_write else K_LOAD), th,
                     TGT_SP if space == SP_REMOTE else TGT_DRAM, tgt, la, nbytes, t, c, line_id,
                     -1, 0 if posted else 1)
            arr = ta
            if not posted:
                blocked = True
        elif space == HOST:
            if addr < 0:
                return _fail(P, M, E_HOST_RANGE, th, opi)
            rq_b = hdr + (size if (is_write or is_atomic) else 0)
            rs_b = hdr + (0 if is_write else size)
            arr, dl = _host_path(P, M, CAL, die, node, t, rq_b, rs_b)
            if arr < 0:
                return _fail(P, M, E_HORIZON, th, opi)
            if is_write:
                M[oHS + die * 2 + 1] += size
            elif is_atomic:
                M[oHS + die * 2 + 0] += size
                M[oHS + die * 2 + 1] += size
            else:
                M[oHS + die * 2 + 0] += size
            if dl > M[S_END]:
                M[S_END] = dl
            if not posted:
                dn = _max(_align(dl, cyc), t + cyc)
                hm = P[P_HMEM] * cyc
                net = dl - t - hm
                _stall_split(P, M, th, ST_ATOMIC if is_atomic else ST_HOST, t, dn, cyc, net)
        else:
            return _fail(P, M, E_OP, th, opi)
        if posted:
            # the slot of the earliest posted arrival takes this one (a free slot is <= t)
            best = 0
            for j in range(1, P[P_MAXPOST]):
                if M[oPOST + th * P[P_MAXPOST] + j] < M[oPOST + th * P[P_MAXPOST] + best]:
                    best = j
            M[oPOST + th * P[P_MAXPOST] + best] = arr
        elif op == LOAD and not blocked:
            M[oTST + th * 2 + 0] += 1
            M[oTST + th * 2 + 1] += dn - t
    elif op == DMA:
        h = B[th, pos]['handle']
        if h < 0 or h >= P[P_HANDLES]:
            return _fail(P, M, E_HANDLE, th, opi)
        hs = M[oHD + (th * P[P_HANDLES] + h) * 2 + 0]
        if hs == 1 or (hs == 2 and M[oHD + (th * P[P_HANDLES] + h) * 2 + 1] > t):
            return _fail(P, M, E_HANDLE_BUSY, th, opi)
        dsp = sub
        count = B[th, pos]['count']
        st1 = B[th, pos]['stride']
        st2 = B[th, pos]['stride2']
        dst = B[th, pos]['addr2']
        if size <= 0 or count <= 0:
            return _fail(P, M, E_SIZE, th, opi)
        if space == SP_REMOTE:
            return _fail(P, M, E_DMA_SRC, th, opi)
        for which in range(2):
            sp_ = space if which == 0 else dsp
            a0 = addr if which == 0 else dst
            a1 = a0 + (count - 1) * (st1 if which == 0 else st2)
            lo = _min(a0, a1)
            hi = _max(a0, a1) + size
            if sp_ == SP_LOCAL or sp_ == SP_REMOTE:
                if which == 1 and sp_ == SP_REMOTE and (tcore < 0 or tcore >= ncores):
                    return _fail(P, M, E_CORE, th, opi)
                if lo < 0 or hi > P[P_SP_SIZE]:
                    return _fail(P, M, E_SP_RANGE, th, opi)
            elif sp_ == DRAM:
                if lo < 0 or hi > P[P_CH_CAP] * total_ctrl:
                    return _fail(P, M, E_DRAM_RANGE, th, opi)
            elif sp_ == HOST:
                if lo < 0:
                    return _fail(P, M, E_HOST_RANGE, th, opi)
            else:
                return _fail(P, M, E_OP, th, opi)
        q = M[oJQ + c * 2 + 0] + M[oJQ + c * 2 + 1]
        if q >= jcap:
            q -= jcap
        j = c * jcap + q
        M[oJQ + c * 2 + 1] += 1
        M[oJB + j * N_JF + J_TH] = th
        M[oJB + j * N_JF + J_HANDLE] = h
        M[oJB + j * N_JF + J_SSP] = space
        M[oJB + j * N_JF + J_DSP] = dsp
        M[oJB + j * N_JF + J_DCORE] = tcore
        M[oJB + j * N_JF + J_SRC] = addr
        M[oJB + j * N_JF + J_DST] = dst
        M[oJB + j * N_JF + J_SIZE] = size
        M[oJB + j * N_JF + J_COUNT] = count
        M[oJB + j * N_JF + J_STR] = st1
        M[oJB + j * N_JF + J_STR2] = st2
        M[oJB + j * N_JF + J_ELEM] = 0
        M[oJB + j * N_JF + J_OFF] = 0
        M[oJB + j * N_JF + J_OUT] = 0
        M[oJB + j * N_JF + J_ALL] = 0
        M[oJB + j * N_JF + J_MAXACK] = 0
        M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 0] = 1
        M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 1] = 0
        M[oCORE + c * 3 + 1] += 1
        M[oCORE + c * 3 + 2] += size * count
        _wake_pipe(P, M, ncpipes + c, t)  # the engine may start in this very cycle
    elif op == WAIT:
        h = B[th, pos]['handle']
        if h < 0 or h >= P[P_HANDLES]:
            return _fail(P, M, E_HANDLE, th, opi)
        if M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 0] == 0:
            return _fail(P, M, E_WAIT_UNKNOWN, th, opi)
        if M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 0] == 1:
            M[oTH + th * N_TF + T_WAITH] = h
            M[oTH + th * N_TF + T_BT] = t
            blocked = True
        else:
            dn = _max(t + cyc, _align(M[oHD + ((th) * P[P_HANDLES] + (h)) * 2 + 1], cyc))
            M[oSTALL + th * N_ST + ST_DMA_WAIT] += dn - t - cyc
    elif op == BARRIER:
        scope = sub
        if scope == 0:
            inst = c
        elif scope == 1:
            inst = ncores + die
        elif scope == 2:
            inst = ncores + P[P_DIES]
        else:
            return _fail(P, M, E_OP, th, opi)
        bid = B[th, pos]['handle']
        if M[oBAR + inst * 5 + 4] > 0:
            return _fail(P, M, E_BAR_ENDED, th, opi)
        if M[oBAR + inst * 5 + 0] > 0 and M[oBAR + inst * 5 + 1] != bid:
            return _fail(P, M, E_BAR_ID, th, opi)
        arr = t
        for j in range(P[P_MAXPOST]):
            if M[oPOST + th * P[P_MAXPOST] + j] > arr:
                arr = M[oPOST + th * P[P_MAXPOST] + j]
        M[oBAR + inst * 5 + 1] = bid
        if M[oBAR + inst * 5 + 0] == 0 or arr > M[oBAR + inst * 5 + 2]:
            M[oBAR + inst * 5 + 2] = arr
        M[oBAR + inst * 5 + 0] += 1
        M[oTH + th * N_TF + T_BAR] = inst
        M[oTH + th * N_TF + T_BT] = t
        blocked = True
        if M[oBAR + inst * 5 + 0] == M[oBAR + inst * 5 + 3]:
            rel = _align(M[oBAR + inst * 5 + 2], cyc) + P[P_BAR0 + scope] * cyc
            M[oBAR + inst * 5 + 0] = 0
            nthreads = P[P_NTHREADS]
            for w in range(nthreads):
                if M[oTH + w * N_TF + T_BAR] == inst:
                    M[oTH + w * N_TF + T_BAR] = -1
                    t0 = M[oTH + w * N_TF + T_BT]
                    d = _max(rel, t0 + cyc)
                    M[oSTALL + w * N_ST + ST_BARRIER] += d - t0 - cyc
                    M[oTH + w * N_TF + T_DONE] = d
                    if d > M[S_END]:
                        M[S_END] = d
                    if M[oTH + w * N_TF + T_FIN] == 1:
                        M[oBAR + inst * 5 + 4] += 1  # its stream ended at this barrier
                    else:
                        M[oRDY + w] = d
                        if w != th:
                            _wake_pipe(P, M, M[P[P_O_POF] + w], d)
            blocked = False
            dn = M[oRDY + th]
    elif op == PIM:
        if space != DRAM:
            return _fail(P, M, E_PIM, th, opi)
        if size <= 0:
            return _fail(P, M, E_SIZE, th, opi)
        if addr < 0 or addr >= P[P_CH_CAP] * total_ctrl:
            return _fail(P, M, E_DRAM_RANGE, th, opi)
        tgt, la = _dram_target(P, addr, total_ctrl)
        first, n = _pim_columns(P, la, size)
        if first + n > (P[P_F_RO_M] + 1) * ((P[P_F_CO_M] + 1) * P[P_AB] // P[P_PIM_CB]):
            return _fail(P, M, E_PIM_ROWS, th, opi)
        ta = _send(P, M, CAL, die, node, M[P[P_O_GDIE] + tgt], M[P[P_O_GNODE] + tgt], t, hdr)
        if ta < 0:
            return _fail(P, M, E_HORIZON, th, opi)
        _new_req(P, M, ta, K_PIM, th, TGT_DRAM, tgt, la, size, t, c, -1, -1, 1)
        blocked = True
    else:
        return _fail(P, M, E_OP, th, opi)
    M[oCORE + c * 3 + 0] += slots
    M[oTH + th * N_TF + T_OPS] += 1
    if blocked:
        M[oRDY + th] = NEVER
    else:
        M[oRDY + th] = dn
        M[oTH + th * N_TF + T_DONE] = dn
        if dn > M[S_END]:
            M[S_END] = dn
    return 0


@njit(cache=True, _nrt=False)
def _advance(P, M, th, tpc, ncores, cpd, dies):
    """Move past the op just issued; ask for a refill or finish the thread. <0 on error."""
    oREFILL = P[P_O_REFILL]
    oTH = P[P_O_TH]
    M[oTH + th * N_TF + T_POS] += 1
    M[oTH + th * N_TF + T_OPIDX] += 1
    if M[oTH + th * N_TF + T_POS] >= M[oTH + th * N_TF + T_LEN]:
        if M[oTH + th * N_TF + T_EOS] == 1:
            return _finish(P, M, th, tpc, ncores, cpd, dies)
        M[oTH + th * N_TF + T_NEEDREF] = 1
        M[oREFILL + M[S_NREFILL]] = th
        M[S_NREFILL] += 1
    return 0


@njit(cache=True, _nrt=False)
def _finish(P, M, th, tpc, ncores, cpd, dies):
    oRDY = P[P_O_RDY]
    oBAR = P[P_O_BAR]
    oTH = P[P_O_TH]
    M[oTH + th * N_TF + T_FIN] = 1
    M[oRDY + th] = NEVER
    c = th // tpc
    for k in range(3):
        inst = c if k == 0 else (ncores + c // cpd if k == 1 else ncores + dies)
        if M[oTH + th * N_TF + T_BAR] == inst:
            continue  # it ended at this barrier: counted as ended when the barrier releases
        M[oBAR + inst * 5 + 4] += 1
        if M[oBAR + inst * 5 + 0] > 0:
            # a barrier of its scope waits for it and can never complete
            for w in range(P[P_NTHREADS]):
                if M[oTH + w * N_TF + T_BAR] == inst:
                    return _fail(P, M, E_BAR_ENDED, w, M[oTH + w * N_TF + T_OPIDX] - 1)
    return 0


# ---------------------------------------------------------------------------- main loop
@njit(cache=True, _nrt=False)
def run_machine(P, M, CAL, DCAL, B):
    """Run until done (0), a refill is needed (1: REFILL[:S[S_NREFILL]]) or an error (<0)."""
    oPT = P[P_O_PT]
    oRDY = P[P_O_RDY]
    oTT = P[P_O_TT]
    oHP = P[P_O_HP]
    oHT = P[P_O_HT]
    oNODE = P[P_O_NODE]
    oPOST = P[P_O_POST]
    oPP = P[P_O_PP]
    oREFILL = P[P_O_REFILL]
    oRQ = P[P_O_RQ]
    oRQFREE = P[P_O_RQFREE]
    oSL = P[P_O_SL]
    oSTALL = P[P_O_STALL]
    oTH = P[P_O_TH]
    oTST = P[P_O_TST]
    cyc = P[P_CYCLE]
    tpc = P[P_MTP] * P[P_TPM] + P[P_STP]
    ppc = P[P_MTP] + P[P_STP]
    cpd = P[P_CPD]
    dies = P[P_DIES]
    ncores = dies * cpd
    nthreads = ncores * tpc
    ncpipes = ncores * ppc
    W = P[P_CAL]
    hdr = P[P_HDR]
    nslots = P[P_DSLOTS]
    jcap = P[P_JCAP]
    # threads whose refill came back empty finish now (the driver set T_EOS and T_LEN 0)
    nref = M[S_NREFILL]
    M[S_NREFILL] = 0
    for k in range(nref):
        th = M[oREFILL + k]
        M[oTH + th * N_TF + T_NEEDREF] = 0
        if M[oTH + th * N_TF + T_LEN] == 0:
            rc = _finish(P, M, th, tpc, ncores, cpd, dies)
            if rc < 0:
                return rc
    while True:
        # the next event: the heap's earliest ARRIVE or the tree's earliest PIPE; at equal
        # times ARRIVE (class 0) goes first
        pw = M[oTT + 1]
        tp = M[oPP + pw * 3 + PP_NEXT]
        if M[S_HEAP_N] > 0 and M[oHT + 0] <= tp:
            t = M[oHT + 0]
            pay = M[oHP + 0]
            _pop(P, M)
            is_arrive = True
        elif tp < NEVER:
            t = tp
            pay = pw
            is_arrive = False
        else:
            break
        M[S_NOW] = t
        M[S_NOWC] = t // cyc  # the current event in core cycles and DRAM clocks
        M[S_NOWD] = t // P[P_TCK]
        M[S_NOWBIN] = t // M[S_TL_BIN]
        # recycle calendar slots that lie wholly in the past
        if t // cyc >= M[S_CAL_BASE] + (W >> 2):
            M[S_CAL_BASE] = _cal_advance(CAL, M[S_CAL_BASE], t // cyc, W)
        if t // P[P_TCK] >= M[S_DCAL_BASE] + (W >> 2):
            M[S_DCAL_BASE] = _cal_advance(DCAL, M[S_DCAL_BASE], t // P[P_TCK], W)
        if is_arrive:
            # ------------------------------------------------------------ ARRIVE
            r = pay
            kind = M[oRQ + r * N_RF + R_KIND]
            th = M[oRQ + r * N_RF + R_TH]
            src_core = M[oRQ + r * N_RF + R_SRC_CORE]
            tgt = M[oRQ + r * N_RF + R_TGT]
            nbytes = M[oRQ + r * N_RF + R_BYTES]
            is_write = kind == K_STORE or kind == K_DMA_WRITE
            is_atomic = kind == K_ATOMIC
            to_sp = M[oRQ + r * N_RF + R_TGTKIND] == TGT_SP
            if kind == K_PIM:
                done, free = _pim_serve(P, M, tgt, M[oRQ + r * N_RF + R_ADDR], nbytes, t)
                if free > M[S_END]:
                    M[S_END] = free
                # back at the controller when the data is consumed (the next sequence
                # number, as the reference's second ARRIVE-class event); R_ADDR now holds
                # the request's transit for the network stall
                M[oRQ + r * N_RF + R_KIND] = K_PIM_DONE
                M[oRQ + r * N_RF + R_ADDR] = t - M[oRQ + r * N_RF + R_SEND]
                seq = M[S_SEQ]
                M[S_SEQ] = seq + 1
                _push(P, M, done, seq, r)
                continue
            if kind == K_PIM_DONE:
                dl = _send(P, M, CAL, M[P[P_O_GDIE] + tgt], M[P[P_O_GNODE] + tgt],
                           M[P[P_O_DIE] + src_core], M[oNODE + src_core], t, hdr)
                if dl < 0:
                    return _fail(P, M, E_HORIZON, th, -1)
                if dl > M[S_END]:
                    M[S_END] = dl
                t0 = M[oRQ + r * N_RF + R_SEND]
                dn = _max(_align(dl, cyc), t0 + cyc)
                _stall_split(P, M, th, ST_DRAM, t0, dn, cyc, M[oRQ + r * N_RF + R_ADDR] + (dl - t))
                _thread_done(P, M, th, dn)
                M[oRQFREE + M[S_RQ_FREE_N]] = r
                M[S_RQ_FREE_N] += 1
                continue
            if to_sp:
                end = _sp_serve(P, M, tgt, M[oRQ + r * N_RF + R_ADDR], nbytes, is_write, is_atomic, t)
                resp_at = end
                tdie = M[P[P_O_DIE] + tgt]
                tnode = M[oNODE + tgt]
            else:
                end, resp_at = _dram_serve(P, M, DCAL, tgt, M[oRQ + r * N_RF + R_ADDR], nbytes, is_write, is_atomic, t)
                if end < 0:
                    return _fail(P, M, E_HORIZON, th, -1)
                tdie = M[P[P_O_GDIE] + tgt]
                tnode = M[P[P_O_GNODE] + tgt]
            data_back = kind == K_LOAD or kind == K_ATOMIC or kind == K_DMA_READ
            rb = hdr + (nbytes if data_back else 0)
            dl = _send(P, M, CAL, tdie, tnode, M[P[P_O_DIE] + src_core], M[oNODE + src_core],
                       resp_at, rb)
            if dl < 0:
                return _fail(P, M, E_HORIZON, th, -1)
            if end > M[S_END]:
                M[S_END] = end
            if dl > M[S_END]:
                M[S_END] = dl
            if kind == K_DMA_READ:
                s = M[oRQ + r * N_RF + R_SLOT]
                M[oSL + s * 7 + SL_PHASE] = 2
                M[oSL + s * 7 + SL_READY] = _max(_align(dl, cyc), M[oSL + s * 7 + SL_ISSUE] + cyc)
                _wake_pipe(P, M, ncpipes + s // nslots, M[oSL + s * 7 + SL_READY])
            elif kind == K_DMA_WRITE:
                _job_chunk_done(P, M, M[oRQ + r * N_RF + R_SLOT], dl, ncpipes, nslots, tpc, ppc, cyc)
            elif M[oRQ + r * N_RF + R_BLOCK] == 1:
                t0 = M[oRQ + r * N_RF + R_SEND]
                net = (t - t0) + (dl - resp_at)
                dn = _max(_align(dl, cyc), t0 + cyc)
                if is_atomic:
                    cat = ST_ATOMIC
                elif to_sp:
                    cat = ST_SP
                else:
                    cat = ST_DRAM
                _stall_split(P, M, th, cat, t0, dn, cyc, net)
                if kind == K_LOAD:
                    M[oTST + th * 2 + 0] += 1
                    M[oTST + th * 2 + 1] += dn - t0
                _thread_done(P, M, th, dn)
            if M[oRQ + r * N_RF + R_LINE] >= 0:
                _l1_insert(P, M, src_core, P[P_L1_SETS], P[P_L1_WAYS], M[oRQ + r * N_RF + R_LINE], dl)
            M[oRQFREE + M[S_RQ_FREE_N]] = r
            M[S_RQ_FREE_N] += 1
            continue
        # ---------------------------------------------------------------- PIPE
        p = pay
        # the tree keeps p's old time until the one update at the end of this event
        M[oPP + p * 3 + PP_NEXT] = NEVER
        if p >= ncpipes:
            rc = _dma_step(P, M, CAL, p - ncpipes, t, ncpipes, nslots, jcap, tpc, ppc,
                           P[P_DIES] * P[P_CPDIE])
            if rc < 0:
                return rc
            _pp_set(P, M, p, M[oPP + p * 3 + PP_NEXT])
            continue
        # the pipeline's core, first thread, thread count, STP flag (table PT)
        c = M[oPT + p * 4]
        t0 = M[oPT + p * 4 + 1]
        nt = M[oPT + p * 4 + 2]
        is_stp = M[oPT + p * 4 + 3] == 1
        chosen = -1
        start = M[oPP + p * 3 + PP_LAST] + 1
        for k in range(nt):
            i = start + k
            if i >= nt:
                i -= nt
            th = t0 + i
            rdy = M[oRDY + th]
            if rdy > t:
                continue  # also threads without a stream or finished: ready = NEVER
            pos = M[oTH + th * N_TF + T_POS]
            op = B[th, pos]['op']
            if op == STORE or (op == ATOMIC and (B[th, pos]['sub'] & FLAG_POSTED) != 0):
                mn = NEVER
                free = False
                for j in range(P[P_MAXPOST]):
                    v = M[oPOST + th * P[P_MAXPOST] + j]
                    if v <= t:
                        free = True
                        break
                    if v < mn:
                        mn = v
                if not free:
                    m = _align(mn, cyc)
                    M[oSTALL + th * N_ST + ST_POSTED] += m - rdy
                    M[oRDY + th] = m
                    continue
            chosen = th
            M[oPP + p * 3 + PP_LAST] = i
            break
        if chosen >= 0:
            th = chosen
            M[oPP + p * 3 + PP_BUSY] = t + cyc  # one issue per cycle (COMPUTE holds it longer)
            M[oSTALL + th * N_ST + ST_ISSUE] += t - M[oRDY + th]
            rc = _issue(P, M, CAL, B, th, p, t, c, is_stp, tpc, ppc, ncores, ncpipes, P[P_DIES] * P[P_CPDIE], jcap)
            if rc < 0:
                return rc
            rc = _advance(P, M, th, tpc, ncores, cpd, dies)
            if rc < 0:
                return rc
        # next event of this pipeline
        nxt = NEVER
        for k in range(nt):
            th = t0 + k
            if M[oRDY + th] < nxt:
                nxt = M[oRDY + th]
        if chosen >= 0 and nxt < t + cyc:
            nxt = t + cyc
        if nxt < NEVER:
            nxt = _max(nxt, M[oPP + p * 3 + PP_BUSY])
        _pp_set(P, M, p, _min(nxt, M[oPP + p * 3 + PP_NEXT]))
        if M[S_NREFILL] > 0:
            return RC_REFILL
    # the queue is empty: every thread with a stream must have finished
    for th in range(nthreads):
        if M[oTH + th * N_TF + T_HAS] == 1 and M[oTH + th * N_TF + T_FIN] == 0:
            return _fail(P, M, E_DEADLOCK, th, M[oTH + th * N_TF + T_OPIDX] - 1)
    return RC_DONE
