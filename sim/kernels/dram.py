"""Numba data plane of the DRAM controller model (semantics: sim/memory/dram.py).

Structure-of-arrays state, one loop over memory clocks that jumps over clocks in
which provably nothing can happen. All times are int64 DRAM clocks here; the
caller converts to picoseconds at the edges.

Two loops, one entry point (run_dram): _run_bank_queues serves the structure every
bank_queues preset uses (per-bank command queues, open page, at most 64 banks per
controller); _run_generic serves every structure and policy. Both are bit-identical to
sim/reference/dram.py (tests/test_dram_differential.py drives each on its own cases).

Where the speed comes from:
* each channel keeps a lower bound on its next possible issue (ch_next) and skips
  command selection before it; a clock is only visited if some channel, the move
  step, an arrival or a refresh can act in it;
* the move step keeps per-queue counts of waiting transactions, so it only scans the
  read/write queue when a move is certain (the specialised loop tests each entry's
  bank queue against a bitmask of full queues);
* per-bank queues keep their issue candidates and exact wake-up time as of their last
  change, re-examining a queue in O(1); the queues due for a look are a bitmask walked
  in round-robin order;
* rank gates (specialised loop): per rank and command class (ACT, RD, WR) a lower bound
  on when any of its banks can issue that class, raised by every command through a
  precomputed least gap per (command, bank, rank, class), by tFAW and by tRFC. A due
  queue none of whose candidates' gates is open is skipped without a look: its wake-up
  bound went stale when another bank issued. This is the exact per-rank ready time the
  previous note asked for; per bank group it cost more to keep than it saved;
* ready times live in one array (rdy; flat with a power-of-two row stride in the
  specialised loop), and the hot loop calls no helper that takes an array: numba adds
  atomic reference-count updates for every array argument of an inlined helper call.
  Integer min/max go through _min/_max (the builtins compile to an out-of-line call);
* hot indices are unsigned (np.uint64): numba then skips its negative-index fix-up
  (a shift, an and and an add per subscript);
* the timing table is unrolled per (command, bank) into one flat update list;
* no per-access scratch arrays: an access's milestone and row outcome live in out_col /
  out_kind until its column command (fresh 5M-entry arrays cost ~2 ms/MB in page faults);
* summary statistics (result_counts, used by sim.memory.dram.summarize) take one pass over
  the per-access results.

Measured (ddr4_3200, 64 B requests at clock 0, kernel only, best of 3, A/B in one
process on this 2-core VM): random reads 440 -> 342 ns per request, the 2:1 read/write
mix 528 -> 412, sequential reads 162 -> 123 (1.26-1.32x). Counted per random read: 5.06
simulated clocks, 4.34 visited, 4.23 queue scans, 3.4 queue looks (0.4 of them on a
queue not ready after all; 9.7 and 6.7 before the rank gates), 3.01 commands, one move
and one admission: ~1,000 CPU cycles per read. A sampling profile of the specialised
loop (perf instruction pointers matched to the disassembly) is flat: the due-mask pass
~15%, the queue looks and round-robin walk ~20%, timing-table updates ~7%, the move step
~5%, the rest spread over issue bookkeeping, candidate refresh, arrivals and spills.
Tried without gain (A/B, min of 3): per-bank-group gates (their upkeep, ~20 running
maxima per command and a per-scan pass the compiler turned into gathers, cost more than
the looks they saved: 440 -> 580 ns); a tFAW-only mask (no change); bounding the due
queues a scan left unvisited by the gates raised by its issue (seq -6%, random +5%);
caching the due mask between passes (seq -7%, random +2%); skipping a channel's body on
clocks where it can neither issue, refresh nor move (hbm3 sequential -19%, random
unchanged since all 16 channels are busy, but DDR4 random +13% from the code layout).
End to end (`membound bench memory`) adds address decoding (~11 ns per request) and
summary statistics (~60-105 ns per request: percentiles, latency histogram and per-bank
counts on 5M entries, outside this kernel); the issue's targets (3 M random, 2.5 M
mixed, 10 M sequential requests per second) would need the kernel at ~220, ~320 and ~25
ns per request with today's statistics.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

# command codes (sim.memory.commands)
ACT, PRE, RD, WR, REF = 0, 1, 2, 3, 4
# ready-time entries (sim.memory.dram_timing_table.ENTRIES)
E_ACT_ROW, E_ACT_WIN, E_ACT_REF, E_PRE_ROW = 0, 1, 2, 3
E_RD_ROW, E_RD_BUS, E_RD_TURN, E_WR_ROW, E_WR_BUS, E_WR_TURN = 4, 5, 6, 7, 8, 9
N_ENTRIES = 10
# the same as unsigned offsets (numba indexes with unsigned integers without the fix-up for
# negative indices)
(U_ACT_ROW, U_ACT_WIN, U_ACT_REF, U_PRE_ROW, U_RD_ROW, U_RD_BUS, U_RD_TURN, U_WR_ROW, U_WR_BUS,
 U_WR_TURN, U_FAW) = (np.uint64(i) for i in range(11))
# kernel-only entry, kept at rank level: the clock the tFAW window allows the next ACT
E_FAW = N_ENTRIES
N_RDY = N_ENTRIES + 1
# latency-breakdown categories
B_QUEUED, B_ROW, B_WINDOW, B_REFRESH, B_TURN, B_TRANSFER = 0, 1, 2, 3, 4, 5
N_BREAKDOWN = 6
# access kinds
K_HIT, K_MISS, K_CONFLICT = 0, 1, 2

# per-bank queue issue candidates (fast path), columns of qc
QC_ACT, QC_PRE, QC_RD, QC_WR = 0, 1, 2, 3

# parameter vector layout
(P_NCH, P_RANKS, P_BGS, P_BPG, P_CL, P_CWL, P_BURST, P_RQ, P_WQ, P_BQ, P_WLOW, P_WHIGH,
 P_STRUCT, P_PAGE, P_REFRESH, P_REFI, P_RFC, P_RP, P_FAW, P_CAP, P_K, P_LOGCAP, P_QUEUES,
 P_RPP) = range(24)
N_PARAMS = 24
QUEUES_PER_BANK, QUEUES_PER_RANK = 0, 1
STRUCT_BANK_QUEUES, STRUCT_FR_FCFS = 0, 1
PAGE_OPEN, PAGE_CLOSED = 0, 1
REFRESH_NONE, REFRESH_STAGGERED, REFRESH_ALL_BANK = 0, 1, 2

NEVER = np.int64(1) << np.int64(62)

# Scalar min / max. numba lowers the builtins min() and max() on integers to an
# out-of-line call per use (a measurable cost in the hot loop); these inline to a compare
# and a conditional move. Scalar arguments only: no reference counting.
@njit(cache=True, inline="always")
def _max(a, b):
    return a if a > b else b


@njit(cache=True, inline="always")
def _min(a, b):
    return a if a < b else b


@njit(cache=True, inline="always")
def _max3(a, b, c):
    x = a if a > b else b
    return x if x > c else c


@njit(cache=True, inline="always")
def _ready(rdy, ch, b, gi, ri, e):
    """Ready time of entry e for bank b: the latest of its bank, bank-group (row gi of rdy)
    and rank (row ri) constraints."""
    x = rdy[ch, b, e]
    y = rdy[ch, gi, e]
    z = rdy[ch, ri, e]
    if y > x:
        x = y
    if z > x:
        x = z
    return x


@njit(cache=True, inline="always")
def _cmd_ready(cmd, rdy, ch, b, gi, ri):
    if cmd == ACT:
        t = _ready(rdy, ch, b, gi, ri, E_ACT_ROW)
        u = _ready(rdy, ch, b, gi, ri, E_ACT_WIN)
        v = _ready(rdy, ch, b, gi, ri, E_ACT_REF)
        w = rdy[ch, ri, E_FAW]
        if u > t:
            t = u
        if v > t:
            t = v
        if w > t:
            t = w
        return t
    if cmd == PRE:
        return rdy[ch, b, E_PRE_ROW]
    base = E_RD_ROW if cmd == RD else E_WR_ROW
    t = _ready(rdy, ch, b, gi, ri, base)
    u = _ready(rdy, ch, b, gi, ri, base + 1)
    v = _ready(rdy, ch, b, gi, ri, base + 2)
    if u > t:
        t = u
    if v > t:
        t = v
    return t


@njit(cache=True)
def _run_generic(params, sp_n, sp_e, sp_lat,
             a_ch, a_rank, a_bg, a_bank, a_row, a_write, a_arrival,
             out_enter, out_col, out_kind, bd_sum, log, log_n):
    """Simulate every access; returns the clock after the last data beat.

    sp_n[s, x], sp_e[s, x, k], sp_lat[s, x, k]: sparse timing table (scope s,
    earlier command x): k-th affected ready-time entry and its gap.
    a_bank is the bank index within its channel (rank-major), a_bg the bank
    group index within its rank. log is an int64 [cap, 7] command log
    (clk, cmd, ch, rank, bg, bank-in-group, row) filled up to log_n[0]
    (log_n[1] = 1 if it overflowed). out_col / out_kind double as per-access scratch
    until each access's column command (see below); all three outputs are final on return.
    """
    nch = params[P_NCH]
    ranks = params[P_RANKS]
    bgs = params[P_BGS]
    bpg = params[P_BPG]
    nb = ranks * bgs * bpg
    ng = ranks * bgs
    CL = params[P_CL]
    CWL = params[P_CWL]
    BURST = params[P_BURST]
    RQ = params[P_RQ]
    WQ = params[P_WQ]
    BQ = params[P_BQ]
    WLOW = params[P_WLOW]
    WHIGH = params[P_WHIGH]
    structure = params[P_STRUCT]
    page = params[P_PAGE]
    refresh = params[P_REFRESH]
    REFI = params[P_REFI]
    RFC = params[P_RFC]
    RP = params[P_RP]
    FAW = params[P_FAW]
    CAP = params[P_CAP]
    K = params[P_K]
    logcap = params[P_LOGCAP]
    RPP = params[P_RPP]  # ranks per pseudo-channel; ranks = pseudo-channels x RPP
    n = a_ch.shape[0]

    # --- bank and timing state -------------------------------------------------
    open_row = np.full((nch, nb), -1, np.int64)
    hit_count = np.zeros((nch, nb), np.int64)
    close_pending = np.zeros((nch, nb), np.bool_)
    # ready times per bank (rows 0..nb-1), bank group (rows G0 + g) and rank (rows R0 + r)
    # in one array, so that helpers take a single array argument (numba adds atomic
    # reference-count updates per array argument of an inlined helper)
    G0 = nb
    R0 = nb + ng
    rdy = np.zeros((nch, nb + ng + ranks, N_RDY), np.int64)
    rdy[:, R0:, E_FAW] = -NEVER + FAW  # (no ACT yet)
    ref_rdy = np.zeros((nch, ranks), np.int64)
    # The sparse timing table unrolled per (command, issuing bank) into one list of
    # (rdy row, entry, gap): the bank itself (scope 0), the other banks of its bank group
    # (1), the other bank groups of its rank (2), the other ranks on its data bus (3). Slot
    # k has the same entry and gap for every bank; only the row differs. No (row, entry)
    # pair repeats, so applying them as running maxima in any order is the table's effect.
    n_upd = 0
    for x in range(4):
        c = sp_n[0, x] + (bpg - 1) * sp_n[1, x] + (bgs - 1) * sp_n[2, x] + (RPP - 1) * sp_n[3, x]
        if c > n_upd:
            n_upd = c
    upd_n = np.zeros(4, np.int64)
    upd_e = np.zeros((4, max(n_upd, 1)), np.int64)
    upd_lat = np.zeros((4, max(n_upd, 1)), np.int64)
    upd_row = np.zeros((4, nb, max(n_upd, 1)), np.int32)
    for x in range(4):
        for b in range(nb):
            g = b // bpg
            r = b // (bgs * bpg)
            k = 0
            for j in range(sp_n[0, x]):
                upd_row[x, b, k] = b
                upd_e[x, k] = sp_e[0, x, j]
                upd_lat[x, k] = sp_lat[0, x, j]
                k += 1
            for bb in range(g * bpg, (g + 1) * bpg):
                if bb != b:
                    for j in range(sp_n[1, x]):
                        upd_row[x, b, k] = bb
                        upd_e[x, k] = sp_e[1, x, j]
                        upd_lat[x, k] = sp_lat[1, x, j]
                        k += 1
            for gg in range(r * bgs, (r + 1) * bgs):
                if gg != g:
                    for j in range(sp_n[2, x]):
                        upd_row[x, b, k] = G0 + gg
                        upd_e[x, k] = sp_e[2, x, j]
                        upd_lat[x, k] = sp_lat[2, x, j]
                        k += 1
            # other ranks sharing this rank's data bus (pseudo-channels do not)
            for rx in range((r // RPP) * RPP, (r // RPP + 1) * RPP):
                if rx != r:
                    for j in range(sp_n[3, x]):
                        upd_row[x, b, k] = R0 + rx
                        upd_e[x, k] = sp_e[3, x, j]
                        upd_lat[x, k] = sp_lat[3, x, j]
                        k += 1
            upd_n[x] = k
    act_win = np.full((nch, ranks, 4), -NEVER, np.int64)  # last four ACTs, oldest at act_ptr
    act_ptr = np.zeros((nch, ranks), np.int64)
    per_bank = params[P_QUEUES] == QUEUES_PER_BANK
    nqueues = nb if per_bank else ranks
    bank_wake = np.zeros((nch, nqueues), np.int64)  # lower bound on when a command queue can act
    close_any = np.zeros((nch, nqueues), np.bool_)  # closed page: some bank of the queue may close
    # bank group (within the channel) and rank of each bank: a lookup, not a division
    bank_group = np.arange(nb) // bpg
    bank_rank = np.arange(nb) // (bgs * bpg)
    queue_rank = np.zeros(nqueues, np.int64)
    queue_group = np.zeros(nqueues, np.int64)  # per-bank queues: bank group within the channel
    for q in range(nqueues):
        queue_rank[q] = q // (bgs * bpg) if per_bank else q
        queue_group[q] = q // bpg if per_bank else -1
    # Fast path (bank_queues, per-bank queues, open page): each queue keeps its issue
    # candidates (see "refresh the queues that changed" below) and an exact wake-up time
    # as of its last change, so a queue is re-examined without scanning its entries.
    fastq = structure == STRUCT_BANK_QUEUES and per_bank and page == PAGE_OPEN
    use_mask = fastq and nqueues <= 64  # due queues as a uint64 bitmask in the scan
    qc = np.zeros((nch, nqueues, 4), np.int64)
    qc[:, :, QC_RD] = -1
    qc[:, :, QC_WR] = -1
    if fastq:
        bank_wake[:, :] = NEVER  # empty queues never wake

    # --- queues ----------------------------------------------------------------
    rq = np.zeros((nch, RQ), np.int64)
    rq_n = np.zeros(nch, np.int64)
    wq = np.zeros((nch, WQ), np.int64)
    wq_n = np.zeros(nch, np.int64)
    bq = np.zeros((nch, nqueues, BQ), np.int64)
    bq_n = np.zeros((nch, nqueues), np.int64)
    bq_total = np.zeros(nch, np.int64)
    aq = np.zeros((nch, nb), np.int64)  # fr_fcfs active buffer (at most one per bank)
    aq_n = np.zeros(nch, np.int64)
    wdrain = np.zeros(nch, np.int64)  # bank_queues: writes left in the current drain
    wmode = np.zeros(nch, np.bool_)  # fr_fcfs: serving the write buffer
    rr = np.full(nch, nqueues - 1, np.int64)  # round-robin pointer (last bank queue served)
    # Lower bound on the next clock at which a channel's command selection can issue.
    # Timing ready times only ever grow, so a bound stays valid until the channel issues
    # (which may unblock anything) or a transaction enters a bank queue; both lower it.
    ch_next = np.zeros(nch, np.int64)
    # bank_queues move step: rq_q / wq_q hold each queued transaction's command queue;
    # wait_r / wait_w count transactions waiting for each command queue, and mov_r / mov_w
    # count command queues with room that some read / write waits for. A move is possible
    # exactly when the count for the current source is positive.
    rq_q = np.zeros((nch, RQ), np.int64)
    wq_q = np.zeros((nch, WQ), np.int64)
    wait_r = np.zeros((nch, nqueues), np.int64)
    wait_w = np.zeros((nch, nqueues), np.int64)
    mov_r = np.zeros(nch, np.int64)
    mov_w = np.zeros(nch, np.int64)

    # --- refresh ---------------------------------------------------------------
    refq = np.zeros((nch, 4 * ranks), np.int64)
    ref_head = np.zeros(nch, np.int64)
    ref_cnt = np.zeros(nch, np.int64)
    ref_next_rank = np.zeros(nch, np.int64)
    if refresh == REFRESH_STAGGERED:
        ref_interval = REFI // ranks
    else:
        ref_interval = REFI
    next_ref = np.full(nch, ref_interval if refresh != REFRESH_NONE else NEVER, np.int64)

    # Per-access scratch lives in the outputs (fresh per-access arrays cost more in page
    # faults than the whole loop spends on them): until its column command, out_col[a] is
    # the access's last milestone and out_kind[a] the worst row outcome so far (hit, miss
    # after an ACT, conflict after a PRE), final once the column command issues.

    next_a = 0
    done = 0
    end = np.int64(0)
    t = np.int64(0)
    if n > 0 and a_arrival[0] > 0:
        t = a_arrival[0]

    last_done = -1
    last_next = -1
    last_progress = t
    stall_limit = 1000000 + 64 * (REFI + RFC)
    while done < n:
        wake = NEVER
        for ch in range(nch):
            # ---------------- refresh trigger ----------------
            select = t >= ch_next[ch]
            if t >= next_ref[ch]:
                select = True
                if refresh == REFRESH_STAGGERED:
                    refq[ch, (ref_head[ch] + ref_cnt[ch]) % (4 * ranks)] = ref_next_rank[ch]
                    ref_cnt[ch] += 1
                    ref_next_rank[ch] = (ref_next_rank[ch] + 1) % ranks
                else:
                    for r in range(ranks):
                        refq[ch, (ref_head[ch] + ref_cnt[ch]) % (4 * ranks)] = r
                        ref_cnt[ch] += 1
                next_ref[ch] += ref_interval
            if next_ref[ch] < wake:
                wake = next_ref[ch]

            # ---------------- pick one command ----------------
            issued = False
            icmd = -1
            ib = -1
            irow = -1
            ia = -1  # access on whose behalf (-1: refresh / page close)
            ipos = -1  # position of ia in its queue
            iqueue = -1  # 0 bank queue, 1 read buffer, 2 write buffer, 3 active buffer
            in_ref_rank = -1
            ch_wake = NEVER
            fix0 = -1  # fast path: queues whose candidates / wake-up time must be refreshed
            scan_lb = np.int64(-1)  # mask scan that issued: lower bound on the other queues' wakes
            fix1 = -1
            full1 = False

            if select and structure == STRUCT_FR_FCFS:
                best = -1
                for i in range(aq_n[ch]):
                    a = aq[ch, i]
                    b = a_bank[a]
                    r = a_rank[a]
                    g = r * bgs + a_bg[a]
                    row = a_row[a]
                    if open_row[ch, b] == row:
                        cmd = WR if a_write[a] else RD
                    elif open_row[ch, b] == -1:
                        cmd = ACT
                    else:
                        cmd = PRE
                    rt = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                    if rt <= t:
                        if best == -1 or a < best:
                            best = a
                            icmd = cmd
                            ipos = i
                    elif rt < ch_wake:
                        ch_wake = rt
                if best >= 0:
                    issued = True
                    ia = best
                    iqueue = 3
            if select and not issued and ref_cnt[ch] > 0:
                r = refq[ch, ref_head[ch]]
                in_ref_rank = r
                all_closed = True
                for bb in range(r * bgs * bpg, (r + 1) * bgs * bpg):
                    if open_row[ch, bb] != -1:
                        all_closed = False
                        blocked = False
                        if structure == STRUCT_FR_FCFS:
                            for i in range(aq_n[ch]):
                                if a_bank[aq[ch, i]] == bb:
                                    blocked = True
                        if blocked:
                            if structure == STRUCT_FR_FCFS:
                                break
                            continue
                        rt = rdy[ch, bb, E_PRE_ROW]
                        if rt <= t:
                            issued = True
                            icmd = PRE
                            ib = bb
                            break
                        if rt < ch_wake:
                            ch_wake = rt
                        if structure == STRUCT_FR_FCFS:
                            break  # Ramulator: only the head of the priority buffer is tried
                if all_closed:
                    if ref_rdy[ch, r] <= t:
                        issued = True
                        icmd = REF
                    elif ref_rdy[ch, r] < ch_wake:
                        ch_wake = ref_rdy[ch, r]

            if select and not issued and structure == STRUCT_BANK_QUEUES:
                q = rr[ch]
                hi = np.uint64(0)
                lo = np.uint64(0)
                if use_mask:
                    # queues whose wake-up time has come, as a bitmask (a branch-free pass
                    # the compiler vectorises); the others only bound the channel's wake
                    m = np.uint64(0)
                    cw = NEVER
                    for qq in range(nqueues):
                        w = bank_wake[ch, qq]
                        due = w <= t
                        m |= np.uint64(due) << np.uint64(qq)
                        cw = _min(cw, NEVER if due else w)
                    ch_wake = _min(ch_wake, cw)
                    # round-robin order: queues after rr first (hi), then from queue 0 (lo)
                    s0 = q + 1
                    if s0 == nqueues:
                        s0 = 0
                    below = (np.uint64(1) << np.uint64(s0)) - np.uint64(1)
                    hi = m & ~below
                    lo = m & below
                for _k in range(nqueues):
                    if use_mask:
                        if hi != 0:
                            q = np.int64(trailing_zeros(hi))
                            hi &= hi - np.uint64(1)
                        elif lo != 0:
                            q = np.int64(trailing_zeros(lo))
                            lo &= lo - np.uint64(1)
                        else:
                            break
                    else:
                        q += 1  # round robin without a runtime division
                        if q == nqueues:
                            q = 0
                        if bank_wake[ch, q] > t:
                            if bank_wake[ch, q] < ch_wake:
                                ch_wake = bank_wake[ch, q]
                            continue
                    # (fast path: an empty queue's wake-up time is NEVER, so it is never due)
                    if not fastq and bq_n[ch, q] == 0 and not (page == PAGE_CLOSED and close_any[ch, q]):
                        continue
                    if in_ref_rank >= 0 and queue_rank[q] == in_ref_rank:
                        continue
                    if fastq:
                        # the queue's candidates at clock t: the first ready one in queue
                        # order issues, else the earliest ready time is the exact wake-up
                        gi = G0 + queue_group[q]
                        ri = R0 + queue_rank[q]
                        pos = -1
                        cmd = -1
                        mn = NEVER
                        if qc[ch, q, QC_ACT]:
                            rt = _max(_max3(_max3(rdy[ch, q, E_ACT_ROW], rdy[ch, gi, E_ACT_ROW], rdy[ch, ri, E_ACT_ROW]),
                                            _max3(rdy[ch, q, E_ACT_WIN], rdy[ch, gi, E_ACT_WIN], rdy[ch, ri, E_ACT_WIN]),
                                            _max3(rdy[ch, q, E_ACT_REF], rdy[ch, gi, E_ACT_REF], rdy[ch, ri, E_ACT_REF])),
                                      rdy[ch, ri, E_FAW])
                            if rt <= t:
                                pos = 0
                                cmd = ACT
                            else:
                                mn = rt
                        else:
                            if qc[ch, q, QC_PRE]:
                                rt = rdy[ch, q, E_PRE_ROW]
                                if rt <= t:
                                    pos = 0
                                    cmd = PRE
                                else:
                                    mn = rt
                            i = qc[ch, q, QC_RD]
                            if pos != 0 and i >= 0:
                                rt = _max3(_max3(rdy[ch, q, E_RD_ROW], rdy[ch, gi, E_RD_ROW], rdy[ch, ri, E_RD_ROW]),
                                           _max3(rdy[ch, q, E_RD_BUS], rdy[ch, gi, E_RD_BUS], rdy[ch, ri, E_RD_BUS]),
                                           _max3(rdy[ch, q, E_RD_TURN], rdy[ch, gi, E_RD_TURN], rdy[ch, ri, E_RD_TURN]))
                                if rt <= t:
                                    pos = i
                                    cmd = RD
                                elif rt < mn:
                                    mn = rt
                            i = qc[ch, q, QC_WR]
                            if pos != 0 and i >= 0:
                                rt = _max3(_max3(rdy[ch, q, E_WR_ROW], rdy[ch, gi, E_WR_ROW], rdy[ch, ri, E_WR_ROW]),
                                           _max3(rdy[ch, q, E_WR_BUS], rdy[ch, gi, E_WR_BUS], rdy[ch, ri, E_WR_BUS]),
                                           _max3(rdy[ch, q, E_WR_TURN], rdy[ch, gi, E_WR_TURN], rdy[ch, ri, E_WR_TURN]))
                                if rt <= t:
                                    if pos < 0 or i < pos:
                                        pos = i
                                        cmd = WR
                                elif rt < mn:
                                    mn = rt
                        if pos >= 0:
                            issued = True
                            icmd = cmd
                            ia = bq[ch, q, pos]
                            ipos = pos
                            iqueue = 0
                            rr[ch] = q
                            if use_mask:
                                # queues not yet visited are due (wake <= t); the rest
                                # are bounded by ch_wake
                                scan_lb = t if (hi | lo) != 0 else ch_wake
                            break
                        bank_wake[ch, q] = mn
                        if mn < ch_wake:
                            ch_wake = mn
                        continue
                    mn = NEVER
                    if page == PAGE_CLOSED and close_any[ch, q]:
                        # closed page: precharge banks whose row no queued entry wants
                        close_any[ch, q] = False
                        b0 = q if per_bank else q * bgs * bpg
                        b1 = q + 1 if per_bank else (q + 1) * bgs * bpg
                        for bb in range(b0, b1):
                            if not close_pending[ch, bb]:
                                continue
                            orow = open_row[ch, bb]
                            pend = orow == -1
                            for i in range(bq_n[ch, q]):
                                c = bq[ch, q, i]
                                if a_bank[c] == bb and a_row[c] == orow:
                                    pend = True
                                    break
                            if pend:
                                close_pending[ch, bb] = False
                                continue
                            close_any[ch, q] = True
                            rt = rdy[ch, bb, E_PRE_ROW]
                            if rt <= t:
                                issued = True
                                icmd = PRE
                                ib = bb
                                rr[ch] = q
                                break
                            if rt < mn:
                                mn = rt
                        if issued:
                            break
                    # per-bank queues: every entry shares one bank, so each command's ready
                    # time is computed once per scan (the arbitration below is unchanged)
                    crt0 = crt1 = crt2 = crt3 = np.int64(-1)
                    for i in range(bq_n[ch, q]):
                        a = bq[ch, q, i]
                        b = a_bank[a]
                        row = a_row[a]
                        orow = open_row[ch, b]
                        if orow == row:
                            cmd = WR if a_write[a] else RD
                        elif orow == -1:
                            cmd = ACT
                        else:
                            cmd = PRE
                            if per_bank and i > 0:
                                continue  # an earlier entry targets this bank: never allowed
                        r = a_rank[a]
                        g = r * bgs + a_bg[a]
                        if per_bank:
                            if cmd == ACT:
                                if crt0 < 0:
                                    crt0 = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                                rt = crt0
                            elif cmd == PRE:
                                if crt1 < 0:
                                    crt1 = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                                rt = crt1
                            elif cmd == RD:
                                if crt2 < 0:
                                    crt2 = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                                rt = crt2
                            else:
                                if crt3 < 0:
                                    crt3 = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                                rt = crt3
                        else:
                            rt = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                        if rt > t:
                            if rt < mn:
                                mn = rt
                            continue
                        if cmd == PRE:
                            # a precharge only when no earlier entry targets the bank and
                            # no row hit is pending or the row has served its share of hits
                            blocked = False
                            for j in range(i):
                                if a_bank[bq[ch, q, j]] == b:
                                    blocked = True
                                    break
                            if not blocked and hit_count[ch, b] < CAP:
                                for j in range(i, bq_n[ch, q]):
                                    c = bq[ch, q, j]
                                    if a_bank[c] == b and a_row[c] == orow:
                                        blocked = True
                                        break
                            if blocked:
                                continue
                        issued = True
                        icmd = cmd
                        ia = a
                        ipos = i
                        iqueue = 0
                        rr[ch] = q
                        break
                    if issued:
                        break
                    bank_wake[ch, q] = mn
                    if mn < ch_wake:
                        ch_wake = mn

            if select and not issued and structure == STRUCT_FR_FCFS and ref_cnt[ch] == 0:
                # write-mode switch between watermarks (Ramulator 2)
                if not wmode[ch]:
                    if wq_n[ch] > WHIGH or (rq_n[ch] == 0 and wq_n[ch] > 0):
                        wmode[ch] = True
                else:
                    if wq_n[ch] < WLOW and rq_n[ch] != 0:
                        wmode[ch] = False
                nq = wq_n[ch] if wmode[ch] else rq_n[ch]
                best = -1
                for i in range(nq):
                    a = wq[ch, i] if wmode[ch] else rq[ch, i]
                    b = a_bank[a]
                    r = a_rank[a]
                    g = r * bgs + a_bg[a]
                    row = a_row[a]
                    orow = open_row[ch, b]
                    if orow == row:
                        cmd = WR if a_write[a] else RD
                    elif orow == -1:
                        cmd = ACT
                    else:
                        cmd = PRE
                    rt = _cmd_ready(cmd, rdy, ch, b, G0 + g, R0 + r)
                    if rt > t:
                        if rt < ch_wake:
                            ch_wake = rt
                        continue
                    if best != -1 and best < a:
                        continue
                    if cmd == PRE:
                        blocked = False
                        for j in range(aq_n[ch]):
                            if a_bank[aq[ch, j]] == b:
                                blocked = True
                                break
                        if not blocked and hit_count[ch, b] < CAP:
                            for j in range(nq):
                                c = wq[ch, j] if wmode[ch] else rq[ch, j]
                                if a_bank[c] == b and a_row[c] == orow:
                                    blocked = True
                                    break
                        if blocked:
                            continue
                    best = a
                    icmd = cmd
                    ipos = i
                if best >= 0:
                    issued = True
                    ia = best
                    iqueue = 2 if wmode[ch] else 1

            if select and not issued and structure == STRUCT_FR_FCFS and page == PAGE_CLOSED:
                for bb in range(nb):
                    if not close_pending[ch, bb]:
                        continue
                    orow = open_row[ch, bb]
                    pend = orow == -1
                    for j in range(aq_n[ch]):
                        if a_bank[aq[ch, j]] == bb:
                            pend = True
                    for j in range(rq_n[ch]):
                        c = rq[ch, j]
                        if a_bank[c] == bb and a_row[c] == orow:
                            pend = True
                    for j in range(wq_n[ch]):
                        c = wq[ch, j]
                        if a_bank[c] == bb and a_row[c] == orow:
                            pend = True
                    if pend:
                        close_pending[ch, bb] = False
                        continue
                    rt = rdy[ch, bb, E_PRE_ROW]
                    if rt <= t:
                        issued = True
                        icmd = PRE
                        ib = bb
                        break
                    if rt < ch_wake:
                        ch_wake = rt

            if select:
                # no issue: every queue was visited, so ch_wake bounds the next issue
                ch_next[ch] = t + 1 if issued else ch_wake

            # ---------------- issue it ----------------
            if issued:
                if ia >= 0:
                    ib = a_bank[ia]
                    irow = a_row[ia]
                    r = a_rank[ia]
                else:
                    if icmd == REF:
                        r = refq[ch, ref_head[ch]]
                    else:
                        r = bank_rank[ib]
                        irow = open_row[ch, ib]
                g = bank_group[ib] if ib >= 0 else -1
                # latency attribution for the access's own command (reads only)
                if ia >= 0:
                    if not a_write[ia]:
                        cur = out_col[ia]
                        # (_ready written out: no reference counting in the hot loop)
                        gi = G0 + g
                        ri = R0 + r
                        if icmd == ACT:
                            r_row = _max3(rdy[ch, ib, E_ACT_ROW], rdy[ch, gi, E_ACT_ROW], rdy[ch, ri, E_ACT_ROW])
                            r_ref = _max3(rdy[ch, ib, E_ACT_REF], rdy[ch, gi, E_ACT_REF], rdy[ch, ri, E_ACT_REF])
                            r_win = _max(_max3(rdy[ch, ib, E_ACT_WIN], rdy[ch, gi, E_ACT_WIN], rdy[ch, ri, E_ACT_WIN]),
                                         rdy[ch, ri, E_FAW])
                            r_turn = np.int64(0)
                        elif icmd == PRE:
                            r_row = rdy[ch, ib, E_PRE_ROW]
                            r_ref = np.int64(0)
                            r_win = np.int64(0)
                            r_turn = np.int64(0)
                        else:
                            r_row = _max3(rdy[ch, ib, E_RD_ROW], rdy[ch, gi, E_RD_ROW], rdy[ch, ri, E_RD_ROW])
                            r_ref = np.int64(0)
                            r_win = np.int64(0)
                            r_turn = _max3(rdy[ch, ib, E_RD_TURN], rdy[ch, gi, E_RD_TURN], rdy[ch, ri, E_RD_TURN])
                        if r_row > cur:
                            d = _min(r_row, t) - cur
                            bd_sum[B_ROW] += d
                            cur += d
                        if r_ref > cur:
                            d = _min(r_ref, t) - cur
                            bd_sum[B_REFRESH] += d
                            cur += d
                        if r_win > cur:
                            d = _min(r_win, t) - cur
                            bd_sum[B_WINDOW] += d
                            cur += d
                        if r_turn > cur:
                            d = _min(r_turn, t) - cur
                            bd_sum[B_TURN] += d
                            cur += d
                        bd_sum[B_QUEUED] += t - cur
                    out_col[ia] = t  # (the column command's clock is final)
                    if icmd == PRE:
                        out_kind[ia] = K_CONFLICT
                    elif icmd == ACT and out_kind[ia] == K_HIT:
                        out_kind[ia] = K_MISS
                # command log
                if logcap > 0:
                    li = log_n[0]
                    if li < logcap:
                        log[li, 0] = t
                        log[li, 1] = icmd
                        log[li, 2] = ch * (ranks // RPP) + r // RPP
                        log[li, 3] = r % RPP
                        if icmd == REF:
                            log[li, 4] = -1
                            log[li, 5] = -1
                            log[li, 6] = -1
                        else:
                            log[li, 4] = (ib // bpg) % bgs
                            log[li, 5] = ib % bpg
                            log[li, 6] = irow
                        log_n[0] = li + 1
                    else:
                        log_n[1] = 1
                # timing updates from the constraint table
                if icmd == REF:
                    v = t + RFC
                    if rdy[ch, R0 + r, E_ACT_REF] < v:
                        rdy[ch, R0 + r, E_ACT_REF] = v
                    if ref_rdy[ch, r] < v:
                        ref_rdy[ch, r] = v
                    ref_head[ch] = (ref_head[ch] + 1) % (4 * ranks)
                    ref_cnt[ch] -= 1
                else:
                    # one flat list per (command, bank), built at the start: a single loop
                    # whose length depends only on the command (few mispredicted exits)
                    for k in range(upd_n[icmd]):
                        row = upd_row[icmd, ib, k]
                        e = upd_e[icmd, k]
                        v = t + upd_lat[icmd, k]
                        x = rdy[ch, row, e]
                        rdy[ch, row, e] = _max(v, x)
                    bank_wake[ch, ib if per_bank else r] = 0
                    # bank state
                    if icmd == ACT:
                        open_row[ch, ib] = irow
                        hit_count[ch, ib] = 0
                        act_win[ch, r, act_ptr[ch, r]] = t
                        act_ptr[ch, r] = (act_ptr[ch, r] + 1) % 4
                        rdy[ch, R0 + r, E_FAW] = act_win[ch, r, act_ptr[ch, r]] + FAW
                    elif icmd == PRE:
                        open_row[ch, ib] = -1
                        hit_count[ch, ib] = 0
                        close_pending[ch, ib] = False
                        v = t + RP
                        if ref_rdy[ch, r] < v:
                            ref_rdy[ch, r] = v
                    else:
                        hit_count[ch, ib] += 1
                # queue bookkeeping
                if ia >= 0:
                    if icmd == RD or icmd == WR:
                        if icmd == RD:
                            fin = t + CL + BURST
                            bd_sum[B_TRANSFER] += CL + BURST
                        else:
                            fin = t + CWL + BURST
                        if fin > end:
                            end = fin
                        done += 1
                        # remove from its queue
                        if iqueue == 0:
                            q = ib if per_bank else r
                            for j in range(ipos, bq_n[ch, q] - 1):
                                bq[ch, q, j] = bq[ch, q, j + 1]
                            if bq_n[ch, q] == BQ:
                                # the queue gets room: transactions waiting for it can move
                                if wait_r[ch, q] > 0:
                                    mov_r[ch] += 1
                                if wait_w[ch, q] > 0:
                                    mov_w[ch] += 1
                            bq_n[ch, q] -= 1
                            bq_total[ch] -= 1
                        elif iqueue == 3:
                            for j in range(ipos, aq_n[ch] - 1):
                                aq[ch, j] = aq[ch, j + 1]
                            aq_n[ch] -= 1
                        elif iqueue == 1:
                            for j in range(ipos, rq_n[ch] - 1):
                                rq[ch, j] = rq[ch, j + 1]
                            rq_n[ch] -= 1
                        else:
                            for j in range(ipos, wq_n[ch] - 1):
                                wq[ch, j] = wq[ch, j + 1]
                            wq_n[ch] -= 1
                        if page == PAGE_CLOSED:
                            close_pending[ch, ib] = True
                            close_any[ch, ib if per_bank else r] = True
                    elif icmd == ACT and (iqueue == 1 or iqueue == 2):
                        # Ramulator 2: an activating request moves to the active buffer
                        if iqueue == 1:
                            for j in range(ipos, rq_n[ch] - 1):
                                rq[ch, j] = rq[ch, j + 1]
                            rq_n[ch] -= 1
                        else:
                            for j in range(ipos, wq_n[ch] - 1):
                                wq[ch, j] = wq[ch, j + 1]
                            wq_n[ch] -= 1
                        aq[ch, aq_n[ch]] = ia
                        aq_n[ch] += 1
                if fastq and icmd != REF:
                    # the bank's queue changed: new candidates and exact wake-up time, done
                    # below (after the move step, which may change the same queue)
                    fix0 = ib

            # ---------------- move one transaction to its bank queue ----------------
            if structure == STRUCT_BANK_QUEUES:
                if wdrain[ch] == 0:
                    if wq_n[ch] >= WHIGH or (wq_n[ch] > WLOW and bq_total[ch] == 0) or (
                        wq_n[ch] > 0 and rq_n[ch] == 0 and bq_total[ch] == 0
                    ):
                        wdrain[ch] = wq_n[ch]
                draining = wdrain[ch] > 0
                if mov_w[ch] > 0 if draining else mov_r[ch] > 0:
                    # the first transaction in queue order whose command queue has room
                    i = 0
                    if draining:
                        while bq_n[ch, wq_q[ch, i]] >= BQ:
                            i += 1
                        a = wq[ch, i]
                        b = wq_q[ch, i]
                        wait_w[ch, b] -= 1
                        if wait_w[ch, b] == 0 or bq_n[ch, b] + 1 == BQ:
                            mov_w[ch] -= 1
                        if wait_r[ch, b] > 0 and bq_n[ch, b] + 1 == BQ:
                            mov_r[ch] -= 1
                        wdrain[ch] -= 1
                        for j in range(i, wq_n[ch] - 1):
                            wq[ch, j] = wq[ch, j + 1]
                            wq_q[ch, j] = wq_q[ch, j + 1]
                        wq_n[ch] -= 1
                    else:
                        while bq_n[ch, rq_q[ch, i]] >= BQ:
                            i += 1
                        a = rq[ch, i]
                        b = rq_q[ch, i]
                        wait_r[ch, b] -= 1
                        if wait_r[ch, b] == 0 or bq_n[ch, b] + 1 == BQ:
                            mov_r[ch] -= 1
                        if wait_w[ch, b] > 0 and bq_n[ch, b] + 1 == BQ:
                            mov_w[ch] -= 1
                        for j in range(i, rq_n[ch] - 1):
                            rq[ch, j] = rq[ch, j + 1]
                            rq_q[ch, j] = rq_q[ch, j + 1]
                        rq_n[ch] -= 1
                    p = bq_n[ch, b]
                    bq[ch, b, p] = a
                    bq_n[ch, b] = p + 1
                    bq_total[ch] += 1
                    wake = t + 1  # another transaction may follow next clock
                    if fastq:
                        fix1 = b
                        if p == 0 or b == fix0:
                            full1 = True  # candidates from scratch, below
                        else:
                            # the new entry may add a candidate; the others are unchanged
                            orow = open_row[ch, b]
                            if orow != -1 and a_row[a] == orow:
                                if a_write[a]:
                                    if qc[ch, b, QC_WR] < 0:
                                        qc[ch, b, QC_WR] = p
                                elif qc[ch, b, QC_RD] < 0:
                                    qc[ch, b, QC_RD] = p
                                if hit_count[ch, b] < CAP:
                                    qc[ch, b, QC_PRE] = 0
                    else:
                        bank_wake[ch, b] = 0
                        if ch_next[ch] > t + 1:
                            ch_next[ch] = t + 1
            # ---------------- fast path: refresh the queues that changed ----------------
            # fix0: the queue that issued, fix1: the queue a transaction moved into. Both
            # get their exact wake-up time; every other queue's stays a lower bound (ready
            # times only grow). Written out by hand rather than as helpers: numba adds atomic
            # reference-count updates for array arguments of inlined helper calls.
            if fix0 >= 0 or fix1 >= 0:
                for fx in range(2):
                    if fx == 0:
                        q = fix0
                        full = True
                    else:
                        q = fix1
                        full = full1
                        if q == fix0:
                            continue
                    if q < 0:
                        continue
                    nq = bq_n[ch, q]
                    if full:
                        # Every entry of a per-bank queue targets the same bank, so the scan
                        # order reduces to four candidates: ACT by the head (bank closed;
                        # every entry needs the same ACT), PRE by the head (a PRE behind an
                        # entry of the same bank is never allowed, and the head's waits
                        # while a queued entry hits the open row and the row is under its
                        # hit cap), and the first row-hit read and first row-hit write. They
                        # only change when the bank issues or a transaction enters the queue.
                        c_act = 0
                        c_pre = 0
                        c_rd = -1
                        c_wr = -1
                        if nq > 0:
                            orow = open_row[ch, q]
                            if orow == -1:
                                c_act = 1
                            else:
                                any_hit = False
                                for i in range(nq):
                                    a = bq[ch, q, i]
                                    if a_row[a] == orow:
                                        any_hit = True
                                        if a_write[a]:
                                            if c_wr < 0:
                                                c_wr = i
                                        elif c_rd < 0:
                                            c_rd = i
                                if a_row[bq[ch, q, 0]] != orow and not (any_hit and hit_count[ch, q] < CAP):
                                    c_pre = 1
                        qc[ch, q, QC_ACT] = c_act
                        qc[ch, q, QC_PRE] = c_pre
                        qc[ch, q, QC_RD] = c_rd
                        qc[ch, q, QC_WR] = c_wr
                    # exact wake-up time: the earliest ready time among the candidates
                    gi = G0 + queue_group[q]
                    ri = R0 + queue_rank[q]
                    mn = NEVER
                    if qc[ch, q, QC_ACT]:
                        mn = _max(_max3(_max3(rdy[ch, q, E_ACT_ROW], rdy[ch, gi, E_ACT_ROW], rdy[ch, ri, E_ACT_ROW]),
                                        _max3(rdy[ch, q, E_ACT_WIN], rdy[ch, gi, E_ACT_WIN], rdy[ch, ri, E_ACT_WIN]),
                                        _max3(rdy[ch, q, E_ACT_REF], rdy[ch, gi, E_ACT_REF], rdy[ch, ri, E_ACT_REF])),
                                  rdy[ch, ri, E_FAW])
                    else:
                        if qc[ch, q, QC_PRE]:
                            mn = rdy[ch, q, E_PRE_ROW]
                        if qc[ch, q, QC_RD] >= 0:
                            mn = _min(mn, _max3(_max3(rdy[ch, q, E_RD_ROW], rdy[ch, gi, E_RD_ROW], rdy[ch, ri, E_RD_ROW]),
                                                _max3(rdy[ch, q, E_RD_BUS], rdy[ch, gi, E_RD_BUS], rdy[ch, ri, E_RD_BUS]),
                                                _max3(rdy[ch, q, E_RD_TURN], rdy[ch, gi, E_RD_TURN], rdy[ch, ri, E_RD_TURN])))
                        if qc[ch, q, QC_WR] >= 0:
                            mn = _min(mn, _max3(_max3(rdy[ch, q, E_WR_ROW], rdy[ch, gi, E_WR_ROW], rdy[ch, ri, E_WR_ROW]),
                                                _max3(rdy[ch, q, E_WR_BUS], rdy[ch, gi, E_WR_BUS], rdy[ch, ri, E_WR_BUS]),
                                                _max3(rdy[ch, q, E_WR_TURN], rdy[ch, gi, E_WR_TURN], rdy[ch, ri, E_WR_TURN])))
                    bank_wake[ch, q] = mn
                if fix0 >= 0:
                    # after an issue: the earliest wake-up of any queue (a pending refresh
                    # re-examines every clock)
                    nx = t + 1
                    if ref_cnt[ch] == 0:
                        if scan_lb >= 0:
                            # the mask scan already bounded every queue but these two
                            mn = _min(scan_lb, bank_wake[ch, fix0])
                            if fix1 >= 0:
                                mn = _min(mn, bank_wake[ch, fix1])
                        else:
                            mn = NEVER
                            for qq in range(nqueues):
                                mn = _min(mn, bank_wake[ch, qq])
                        if mn > nx:
                            nx = mn
                    ch_next[ch] = nx
                else:
                    mn = _max(bank_wake[ch, fix1], t + 1)
                    if mn < ch_next[ch]:
                        ch_next[ch] = mn
            if ch_next[ch] < wake:
                wake = ch_next[ch]

        # ---------------- arrivals: in trace order, at most K per clock ----------------
        k = 0
        while next_a < n and k < K and a_arrival[next_a] <= t:
            a = next_a
            ch = a_ch[a]
            q = a_bank[a] if per_bank else a_rank[a]
            room = bq_n[ch, q] < BQ
            if a_write[a]:
                if wq_n[ch] >= WQ:
                    break
                wq[ch, wq_n[ch]] = a
                wq_q[ch, wq_n[ch]] = q
                wq_n[ch] += 1
                wait_w[ch, q] += 1
                if wait_w[ch, q] == 1 and room:
                    mov_w[ch] += 1
            else:
                if rq_n[ch] >= RQ:
                    break
                rq[ch, rq_n[ch]] = a
                rq_q[ch, rq_n[ch]] = q
                rq_n[ch] += 1
                wait_r[ch, q] += 1
                if wait_r[ch, q] == 1 and room:
                    mov_r[ch] += 1
            out_enter[a] = t
            out_col[a] = t  # milestone
            out_kind[a] = K_HIT
            # the new transaction may move (bank_queues) or issue (fr_fcfs) next clock
            if structure == STRUCT_FR_FCFS:
                ch_next[ch] = t + 1
            wake = t + 1
            next_a += 1
            k += 1

        if done != last_done or next_a != last_next:
            last_done = done
            last_next = next_a
            last_progress = t
        elif t - last_progress > stall_limit and (next_a >= n or a_arrival[next_a] <= t):
            return -1  # no access admitted or served for far too long: a model bug
        # jump to the earliest clock at which anything can happen
        if next_a < n:
            ch = a_ch[next_a]
            room = wq_n[ch] < WQ if a_write[next_a] else rq_n[ch] < RQ
            if room:
                nxt = a_arrival[next_a]
                if nxt < wake:
                    wake = nxt
        if wake <= t:
            wake = t + 1
        if wake >= NEVER and done < n:
            # nothing can ever happen again: a model bug, not a user error
            return -1
        t = wake
    return end


# --- specialised loop: bank_queues, per-bank command queues, open page ------------------
# The structure every bank_queues preset uses. Same semantics as _run_generic (which serves
# every other structure and policy); the state is flat 1-D arrays with fixed strides, so
# the loop keeps few array descriptors live.
RS = 16  # ready-time entries per rdy row (N_RDY used, padded to a power of two)


@njit(cache=True)
def _update_lists(params, sp_n, sp_e, sp_lat):
    """The timing table unrolled per (command, issuing bank): for update k of command x at
    bank b, the flat rdy index (row * RS + entry) upd_idx[(x * nb + b) * nu + k] and the gap
    upd_lat[x * nu + k]; upd_n[x] updates per command. Rows: banks 0..nb-1, then bank
    groups, then ranks (see _run_generic)."""
    ranks = params[P_RANKS]
    bgs = params[P_BGS]
    bpg = params[P_BPG]
    RPP = params[P_RPP]
    nb = ranks * bgs * bpg
    G0 = nb
    R0 = nb + ranks * bgs
    nu = 1
    for x in range(4):
        c = sp_n[0, x] + (bpg - 1) * sp_n[1, x] + (bgs - 1) * sp_n[2, x] + (RPP - 1) * sp_n[3, x]
        if c > nu:
            nu = c
    upd_n = np.zeros(4, np.int64)
    upd_idx = np.zeros(4 * nb * nu, np.int64)
    upd_lat = np.zeros(4 * nu, np.int64)
    for x in range(4):
        for b in range(nb):
            g = b // bpg
            r = b // (bgs * bpg)
            base = (x * nb + b) * nu
            k = 0
            for j in range(sp_n[0, x]):
                upd_idx[base + k] = b * RS + sp_e[0, x, j]
                upd_lat[x * nu + k] = sp_lat[0, x, j]
                k += 1
            for bb in range(g * bpg, (g + 1) * bpg):
                if bb != b:
                    for j in range(sp_n[1, x]):
                        upd_idx[base + k] = bb * RS + sp_e[1, x, j]
                        upd_lat[x * nu + k] = sp_lat[1, x, j]
                        k += 1
            for gg in range(r * bgs, (r + 1) * bgs):
                if gg != g:
                    for j in range(sp_n[2, x]):
                        upd_idx[base + k] = (G0 + gg) * RS + sp_e[2, x, j]
                        upd_lat[x * nu + k] = sp_lat[2, x, j]
                        k += 1
            for rx in range((r // RPP) * RPP, (r // RPP + 1) * RPP):
                if rx != r:
                    for j in range(sp_n[3, x]):
                        upd_idx[base + k] = (R0 + rx) * RS + sp_e[3, x, j]
                        upd_lat[x * nu + k] = sp_lat[3, x, j]
                        k += 1
            upd_n[x] = k
    return upd_n, upd_idx, upd_lat, nu


@njit(cache=True)
def _rank_gaps(params, upd_n, upd_idx, upd_lat, nu):
    """Rank gates of the unrolled table: gap[((x * nb + b) * ranks + r) * 3 + c] is the least,
    over the banks of rank r, of the largest gap that command x at bank b puts on any of
    that bank's ready times of class c (0 ACT, 1 RD, 2 WR; read from its bank, bank-group
    and rank rows), or -1 where some bank of r gets none. After x issues at t no bank of r
    can issue c before t + gap."""
    ranks = params[P_RANKS]
    bgs = params[P_BGS]
    bpg = params[P_BPG]
    nb = ranks * bgs * bpg
    G0 = nb
    R0 = nb + ranks * bgs
    gap = np.full(4 * nb * ranks * 3, -1, np.int64)
    lb = np.full(nb * 3, -1, np.int64)
    for x in range(4):
        for b in range(nb):
            lb[:] = -1
            base = (x * nb + b) * nu
            for k in range(upd_n[x]):
                row = upd_idx[base + k] // RS
                e = upd_idx[base + k] % RS
                if e == E_ACT_ROW or e == E_ACT_WIN or e == E_ACT_REF:
                    c = 0
                elif e == E_RD_ROW or e == E_RD_BUS or e == E_RD_TURN:
                    c = 1
                elif e == E_WR_ROW or e == E_WR_BUS or e == E_WR_TURN:
                    c = 2
                else:
                    continue
                lat = upd_lat[x * nu + k]
                for bb in range(nb):  # the banks whose ready time reads this row
                    if row == bb or row == G0 + bb // bpg or row == R0 + bb // (bgs * bpg):
                        if lat > lb[bb * 3 + c]:
                            lb[bb * 3 + c] = lat
            for r in range(ranks):
                for c in range(3):
                    m = np.int64(NEVER)
                    for bb in range(r * bgs * bpg, (r + 1) * bgs * bpg):
                        if lb[bb * 3 + c] < m:
                            m = lb[bb * 3 + c]
                    gap[((x * nb + b) * ranks + r) * 3 + c] = m
    return gap


@njit(cache=True)
def _run_bank_queues(params, upd_n, upd_idx, upd_lat, nu, rgap,
                     a_ch, a_rank, a_bg, a_bank, a_row, a_write, a_arrival,
                     out_enter, out_col, out_kind, bd_sum, log, log_n):
    """_run_generic for structure bank_queues, per-bank command queues, open page and at
    most 64 banks per controller (arguments as run_dram, the table unrolled by
    _update_lists)."""
    nch = params[P_NCH]
    ranks = params[P_RANKS]
    bgs = params[P_BGS]
    bpg = params[P_BPG]
    nb = ranks * bgs * bpg
    ng = ranks * bgs
    CL = params[P_CL]
    CWL = params[P_CWL]
    BURST = params[P_BURST]
    RQ = params[P_RQ]
    WQ = params[P_WQ]
    BQ = params[P_BQ]
    WLOW = params[P_WLOW]
    WHIGH = params[P_WHIGH]
    refresh = params[P_REFRESH]
    REFI = params[P_REFI]
    RFC = params[P_RFC]
    RP = params[P_RP]
    FAW = params[P_FAW]
    CAP = params[P_CAP]
    K = params[P_K]
    logcap = params[P_LOGCAP]
    RPP = params[P_RPP]
    n = a_ch.shape[0]
    G0 = nb
    R0 = nb + ng
    RB = (nb + ng + ranks) * RS  # rdy entries per channel
    NQ = nch * nb

    rdy = np.zeros(nch * RB, np.int64)
    for ch in range(nch):
        for r in range(ranks):
            rdy[ch * RB + (R0 + r) * RS + E_FAW] = -NEVER + FAW
    ref_rdy = np.zeros(nch * ranks, np.int64)
    # per bank (= per command queue), index ch * nb + q
    open_row = np.full(NQ, -1, np.int64)
    hit_count = np.zeros(NQ, np.int64)
    wake = np.full(NQ, NEVER, np.int64)  # exact as of the queue's last change, then a lower bound
    c_act = np.zeros(NQ, np.int64)  # issue candidates (see _run_generic, "fast path")
    c_pre = np.zeros(NQ, np.int64)
    c_rd = np.full(NQ, -1, np.int64)
    c_wr = np.full(NQ, -1, np.int64)
    bq = np.zeros(NQ * BQ, np.int64)
    bq_n = np.zeros(NQ, np.int64)
    wait_r = np.zeros(NQ, np.int64)
    wait_w = np.zeros(NQ, np.int64)
    # rdy row offsets of each bank's group and rank, and its rank
    q_g = np.zeros(nb, np.int64)
    q_r = np.zeros(nb, np.int64)
    q_rank = np.zeros(nb, np.int64)
    for q in range(nb):
        q_g[q] = (G0 + q // bpg) * RS
        q_r[q] = (R0 + q // (bgs * bpg)) * RS
        q_rank[q] = q // (bgs * bpg)
    # Rank gates (per class, index ch * ranks + r): a lower bound on when any bank of the
    # rank can issue an ACT (gA, with tFAW and tRFC), RD (gR) or WR (gW), raised by every
    # command through _rank_gaps. A due queue none of whose candidates' gates has opened
    # is skipped: its wake-up bound went stale when another bank issued. Class masks: the
    # queues with an ACT (mA), PRE (mP), RD (mR) or WR (mW) candidate, as bits.
    gA = np.zeros(nch * ranks, np.int64)
    gR = np.zeros(nch * ranks, np.int64)
    gW = np.zeros(nch * ranks, np.int64)
    rbits = np.zeros(ranks, np.uint64)
    for q in range(nb):
        rbits[q // (bgs * bpg)] |= np.uint64(1) << np.uint64(q)
    mA = np.zeros(nch, np.uint64)
    mP = np.zeros(nch, np.uint64)
    mR = np.zeros(nch, np.uint64)
    mW = np.zeros(nch, np.uint64)
    act_win = np.full(nch * ranks * 4, -NEVER, np.int64)
    act_ptr = np.zeros(nch * ranks, np.int64)
    # per channel
    rq = np.zeros(nch * RQ, np.int64)
    rq_q = np.zeros(nch * RQ, np.int64)
    rq_n = np.zeros(nch, np.int64)
    wq = np.zeros(nch * WQ, np.int64)
    wq_q = np.zeros(nch * WQ, np.int64)
    wq_n = np.zeros(nch, np.int64)
    bq_total = np.zeros(nch, np.int64)
    bq_full = np.zeros(nch, np.uint64)  # bit q: bank queue q is full (the move step's scan)
    wdrain = np.zeros(nch, np.int64)
    rr = np.full(nch, nb - 1, np.int64)
    ch_next = np.zeros(nch, np.int64)
    mov_r = np.zeros(nch, np.int64)
    mov_w = np.zeros(nch, np.int64)
    RQN = 4 * ranks
    refq = np.zeros(nch * RQN, np.int64)
    ref_head = np.zeros(nch, np.int64)
    ref_cnt = np.zeros(nch, np.int64)
    ref_next_rank = np.zeros(nch, np.int64)
    if refresh == REFRESH_STAGGERED:
        ref_interval = REFI // ranks
    else:
        ref_interval = REFI
    next_ref = np.full(nch, ref_interval if refresh != REFRESH_NONE else NEVER, np.int64)

    next_a = 0
    done = 0
    end = np.int64(0)
    t = np.int64(0)
    if n > 0 and a_arrival[0] > 0:
        t = a_arrival[0]
    last_done = -1
    last_next = -1
    last_progress = t
    stall_limit = 1000000 + 64 * (REFI + RFC)
    while done < n:
        wk = NEVER
        for ch in range(nch):
            QB = ch * nb
            CB = ch * RB
            select = t >= ch_next[ch]
            if t >= next_ref[ch]:
                select = True
                if refresh == REFRESH_STAGGERED:
                    refq[ch * RQN + (ref_head[ch] + ref_cnt[ch]) % RQN] = ref_next_rank[ch]
                    ref_cnt[ch] += 1
                    ref_next_rank[ch] = (ref_next_rank[ch] + 1) % ranks
                else:
                    for r in range(ranks):
                        refq[ch * RQN + (ref_head[ch] + ref_cnt[ch]) % RQN] = r
                        ref_cnt[ch] += 1
                next_ref[ch] += ref_interval
            wk = _min(wk, next_ref[ch])
            fix0 = -1
            fix1 = -1
            full1 = False
            if select:
                issued = False
                icmd = -1
                ib = -1
                ia = -1
                ipos = -1
                in_ref_rank = -1
                ch_wake = NEVER
                scan_lb = np.int64(-1)
                if ref_cnt[ch] > 0:
                    r = refq[ch * RQN + ref_head[ch]]
                    in_ref_rank = r
                    all_closed = True
                    for bb in range(r * bgs * bpg, (r + 1) * bgs * bpg):
                        if open_row[QB + bb] != -1:
                            all_closed = False
                            rt = rdy[CB + bb * RS + E_PRE_ROW]
                            if rt <= t:
                                issued = True
                                icmd = PRE
                                ib = bb
                                break
                            ch_wake = _min(ch_wake, rt)
                    if all_closed:
                        if ref_rdy[ch * ranks + r] <= t:
                            issued = True
                            icmd = REF
                        else:
                            ch_wake = _min(ch_wake, ref_rdy[ch * ranks + r])
                if not issued:
                    # due queues as a bitmask, visited in round-robin order after rr
                    m = np.uint64(0)
                    cw = NEVER
                    for qq in range(nb):
                        w = wake[QB + qq]
                        due = w <= t
                        m |= np.uint64(due) << np.uint64(qq)
                        cw = _min(cw, NEVER if due else w)
                    ch_wake = _min(ch_wake, cw)
                    nA = np.uint64(0)
                    nR = np.uint64(0)
                    nW = np.uint64(0)
                    for r in range(ranks):
                        bits = rbits[r]
                        x = ch * ranks + r
                        nA |= bits if gA[x] > t else np.uint64(0)
                        nR |= bits if gR[x] > t else np.uint64(0)
                        nW |= bits if gW[x] > t else np.uint64(0)
                    gated = m & ~((mA[ch] & ~nA) | (mR[ch] & ~nR) | (mW[ch] & ~nW) | mP[ch])
                    if gated != 0:
                        m &= ~gated
                        # a gated queue waits at least for the earliest closed gate of its rank
                        for r in range(ranks):
                            if gated & rbits[r]:
                                x = ch * ranks + r
                                lb = NEVER
                                if gA[x] > t:
                                    lb = gA[x]
                                if gR[x] > t:
                                    lb = _min(lb, gR[x])
                                if gW[x] > t:
                                    lb = _min(lb, gW[x])
                                ch_wake = _min(ch_wake, lb)
                    s0 = rr[ch] + 1
                    if s0 == nb:
                        s0 = 0
                    below = (np.uint64(1) << np.uint64(s0)) - np.uint64(1)
                    hi = m & ~below
                    lo = m & below
                    while True:
                        if hi != 0:
                            q = np.int64(trailing_zeros(hi))
                            hi &= hi - np.uint64(1)
                        elif lo != 0:
                            q = np.int64(trailing_zeros(lo))
                            lo &= lo - np.uint64(1)
                        else:
                            break
                        if in_ref_rank >= 0 and q_rank[q] == in_ref_rank:
                            continue
                        qi = QB + q
                        xb = np.uint64(CB + q * RS)  # (unsigned: no negative-index fix-up)
                        xg = np.uint64(CB + q_g[q])
                        xr = np.uint64(CB + q_r[q])
                        pos = -1
                        cmd = -1
                        mn = NEVER
                        if c_act[qi]:
                            rt = _max(_max3(_max3(rdy[xb + U_ACT_ROW], rdy[xg + U_ACT_ROW], rdy[xr + U_ACT_ROW]),
                                            _max3(rdy[xb + U_ACT_WIN], rdy[xg + U_ACT_WIN], rdy[xr + U_ACT_WIN]),
                                            _max3(rdy[xb + U_ACT_REF], rdy[xg + U_ACT_REF], rdy[xr + U_ACT_REF])),
                                      rdy[xr + U_FAW])
                            if rt <= t:
                                pos = 0
                                cmd = ACT
                            else:
                                mn = rt
                        else:
                            if c_pre[qi]:
                                rt = rdy[xb + U_PRE_ROW]
                                if rt <= t:
                                    pos = 0
                                    cmd = PRE
                                else:
                                    mn = rt
                            i = c_rd[qi]
                            if pos != 0 and i >= 0:
                                rt = _max3(_max3(rdy[xb + U_RD_ROW], rdy[xg + U_RD_ROW], rdy[xr + U_RD_ROW]),
                                           _max3(rdy[xb + U_RD_BUS], rdy[xg + U_RD_BUS], rdy[xr + U_RD_BUS]),
                                           _max3(rdy[xb + U_RD_TURN], rdy[xg + U_RD_TURN], rdy[xr + U_RD_TURN]))
                                if rt <= t:
                                    pos = i
                                    cmd = RD
                                else:
                                    mn = _min(mn, rt)
                            i = c_wr[qi]
                            if pos != 0 and i >= 0:
                                rt = _max3(_max3(rdy[xb + U_WR_ROW], rdy[xg + U_WR_ROW], rdy[xr + U_WR_ROW]),
                                           _max3(rdy[xb + U_WR_BUS], rdy[xg + U_WR_BUS], rdy[xr + U_WR_BUS]),
                                           _max3(rdy[xb + U_WR_TURN], rdy[xg + U_WR_TURN], rdy[xr + U_WR_TURN]))
                                if rt <= t:
                                    if pos < 0 or i < pos:
                                        pos = i
                                        cmd = WR
                                else:
                                    mn = _min(mn, rt)
                        if pos >= 0:
                            issued = True
                            icmd = cmd
                            ib = q
                            ia = bq[qi * BQ + pos]
                            ipos = pos
                            rr[ch] = q
                            scan_lb = t if (hi | lo) != 0 else ch_wake
                            break
                        wake[qi] = mn
                        ch_wake = _min(ch_wake, mn)
                ch_next[ch] = t + 1 if issued else ch_wake

                # ---------------- issue ----------------
                if issued:
                    if icmd == REF:
                        r = refq[ch * RQN + ref_head[ch]]
                        irow = -1
                    else:
                        r = q_rank[ib]
                        irow = open_row[QB + ib] if ia < 0 else np.int64(a_row[ia])
                    if ia >= 0:
                        if not a_write[ia]:
                            cur = out_col[ia]
                            xb = np.uint64(CB + ib * RS)
                            xg = np.uint64(CB + q_g[ib])
                            xr = np.uint64(CB + q_r[ib])
                            if icmd == ACT:
                                r_row = _max3(rdy[xb + U_ACT_ROW], rdy[xg + U_ACT_ROW], rdy[xr + U_ACT_ROW])
                                r_ref = _max3(rdy[xb + U_ACT_REF], rdy[xg + U_ACT_REF], rdy[xr + U_ACT_REF])
                                r_win = _max(_max3(rdy[xb + U_ACT_WIN], rdy[xg + U_ACT_WIN], rdy[xr + U_ACT_WIN]),
                                             rdy[xr + U_FAW])
                                r_turn = np.int64(0)
                            elif icmd == PRE:
                                r_row = rdy[xb + U_PRE_ROW]
                                r_ref = np.int64(0)
                                r_win = np.int64(0)
                                r_turn = np.int64(0)
                            else:
                                r_row = _max3(rdy[xb + U_RD_ROW], rdy[xg + U_RD_ROW], rdy[xr + U_RD_ROW])
                                r_ref = np.int64(0)
                                r_win = np.int64(0)
                                r_turn = _max3(rdy[xb + U_RD_TURN], rdy[xg + U_RD_TURN], rdy[xr + U_RD_TURN])
                            if r_row > cur:
                                d = _min(r_row, t) - cur
                                bd_sum[B_ROW] += d
                                cur += d
                            if r_ref > cur:
                                d = _min(r_ref, t) - cur
                                bd_sum[B_REFRESH] += d
                                cur += d
                            if r_win > cur:
                                d = _min(r_win, t) - cur
                                bd_sum[B_WINDOW] += d
                                cur += d
                            if r_turn > cur:
                                d = _min(r_turn, t) - cur
                                bd_sum[B_TURN] += d
                                cur += d
                            bd_sum[B_QUEUED] += t - cur
                        out_col[ia] = t
                        if icmd == PRE:
                            out_kind[ia] = K_CONFLICT
                        elif icmd == ACT and out_kind[ia] == K_HIT:
                            out_kind[ia] = K_MISS
                    if logcap > 0:
                        li = log_n[0]
                        if li < logcap:
                            log[li, 0] = t
                            log[li, 1] = icmd
                            log[li, 2] = ch * (ranks // RPP) + r // RPP
                            log[li, 3] = r % RPP
                            if icmd == REF:
                                log[li, 4] = -1
                                log[li, 5] = -1
                                log[li, 6] = -1
                            else:
                                log[li, 4] = (ib // bpg) % bgs
                                log[li, 5] = ib % bpg
                                log[li, 6] = irow
                            log_n[0] = li + 1
                        else:
                            log_n[1] = 1
                    if icmd == REF:
                        v = t + RFC
                        x = CB + (R0 + r) * RS + E_ACT_REF
                        rdy[x] = _max(rdy[x], v)
                        ref_rdy[ch * ranks + r] = _max(ref_rdy[ch * ranks + r], v)
                        gA[ch * ranks + r] = _max(gA[ch * ranks + r], v)
                        ref_head[ch] = (ref_head[ch] + 1) % RQN
                        ref_cnt[ch] -= 1
                    else:
                        # (unsigned indices: numba skips the negative-index fix-up)
                        ub = np.uint64((icmd * nb + ib) * nu)
                        lb = np.uint64(icmd * nu)
                        for k in range(np.uint64(upd_n[icmd])):
                            x = np.uint64(CB + upd_idx[ub + k])
                            rdy[x] = _max(rdy[x], t + upd_lat[lb + k])
                        gb = (icmd * nb + ib) * ranks * 3
                        for rx in range(ranks):
                            x = ch * ranks + rx
                            d = rgap[gb + rx * 3]
                            if d >= 0:
                                gA[x] = _max(gA[x], t + d)
                            d = rgap[gb + rx * 3 + 1]
                            if d >= 0:
                                gR[x] = _max(gR[x], t + d)
                            d = rgap[gb + rx * 3 + 2]
                            if d >= 0:
                                gW[x] = _max(gW[x], t + d)
                        qi = QB + ib
                        wake[qi] = 0
                        if icmd == ACT:
                            open_row[qi] = irow
                            hit_count[qi] = 0
                            w0 = (ch * ranks + r) * 4
                            p0 = act_ptr[ch * ranks + r]
                            act_win[w0 + p0] = t
                            p0 = (p0 + 1) & 3
                            act_ptr[ch * ranks + r] = p0
                            v = act_win[w0 + p0] + FAW
                            rdy[CB + (R0 + r) * RS + E_FAW] = v
                            gA[ch * ranks + r] = _max(gA[ch * ranks + r], v)
                        elif icmd == PRE:
                            open_row[qi] = -1
                            hit_count[qi] = 0
                            ref_rdy[ch * ranks + r] = _max(ref_rdy[ch * ranks + r], t + RP)
                        else:
                            hit_count[qi] += 1
                        if ia >= 0 and (icmd == RD or icmd == WR):
                            if icmd == RD:
                                fin = t + CL + BURST
                                bd_sum[B_TRANSFER] += CL + BURST
                            else:
                                fin = t + CWL + BURST
                            end = _max(end, fin)
                            done += 1
                            nq = bq_n[qi]
                            for j in range(qi * BQ + ipos, qi * BQ + nq - 1):
                                bq[j] = bq[j + 1]
                            if nq == BQ:
                                bq_full[ch] &= ~(np.uint64(1) << np.uint64(ib))
                                if wait_r[qi] > 0:
                                    mov_r[ch] += 1
                                if wait_w[qi] > 0:
                                    mov_w[ch] += 1
                            bq_n[qi] = nq - 1
                            bq_total[ch] -= 1
                        fix0 = ib

            # ---------------- move one transaction to its bank queue ----------------
            if wdrain[ch] == 0:
                if wq_n[ch] >= WHIGH or (wq_n[ch] > WLOW and bq_total[ch] == 0) or (
                    wq_n[ch] > 0 and rq_n[ch] == 0 and bq_total[ch] == 0
                ):
                    wdrain[ch] = wq_n[ch]
            draining = wdrain[ch] > 0
            if mov_w[ch] > 0 if draining else mov_r[ch] > 0:
                full = bq_full[ch]
                if draining:
                    i = np.uint64(ch * WQ)
                    while (full >> np.uint64(wq_q[i])) & np.uint64(1):
                        i += np.uint64(1)
                    a = wq[i]
                    b = wq_q[i]
                    bi = QB + b
                    wait_w[bi] -= 1
                    if wait_w[bi] == 0 or bq_n[bi] + 1 == BQ:
                        mov_w[ch] -= 1
                    if wait_r[bi] > 0 and bq_n[bi] + 1 == BQ:
                        mov_r[ch] -= 1
                    wdrain[ch] -= 1
                    for j in range(i, np.uint64(ch * WQ + wq_n[ch] - 1)):
                        wq[j] = wq[j + np.uint64(1)]
                        wq_q[j] = wq_q[j + np.uint64(1)]
                    wq_n[ch] -= 1
                else:
                    i = np.uint64(ch * RQ)
                    while (full >> np.uint64(rq_q[i])) & np.uint64(1):
                        i += np.uint64(1)
                    a = rq[i]
                    b = rq_q[i]
                    bi = QB + b
                    wait_r[bi] -= 1
                    if wait_r[bi] == 0 or bq_n[bi] + 1 == BQ:
                        mov_r[ch] -= 1
                    if wait_w[bi] > 0 and bq_n[bi] + 1 == BQ:
                        mov_w[ch] -= 1
                    for j in range(i, np.uint64(ch * RQ + rq_n[ch] - 1)):
                        rq[j] = rq[j + np.uint64(1)]
                        rq_q[j] = rq_q[j + np.uint64(1)]
                    rq_n[ch] -= 1
                p = bq_n[bi]
                bq[bi * BQ + p] = a
                bq_n[bi] = p + 1
                if p + 1 == BQ:
                    bq_full[ch] |= np.uint64(1) << np.uint64(b)
                bq_total[ch] += 1
                wk = _min(wk, t + 1)  # another transaction may follow next clock
                fix1 = b
                if p == 0 or b == fix0:
                    full1 = True
                else:
                    orow = open_row[bi]
                    if orow != -1 and a_row[a] == orow:
                        bit = np.uint64(1) << np.uint64(b)
                        if a_write[a]:
                            if c_wr[bi] < 0:
                                c_wr[bi] = p
                                mW[ch] |= bit
                        elif c_rd[bi] < 0:
                            c_rd[bi] = p
                            mR[ch] |= bit
                        if hit_count[bi] < CAP:
                            c_pre[bi] = 0
                            mP[ch] &= ~bit

            # ---------------- new candidates and exact wake-up of changed queues ----------------
            if fix0 >= 0 or fix1 >= 0:
                for fx in range(2):
                    if fx == 0:
                        q = fix0
                        full = True
                    else:
                        q = fix1
                        full = full1
                        if q == fix0:
                            continue
                    if q < 0:
                        continue
                    qi = QB + q
                    if full:
                        nq = bq_n[qi]
                        ca = 0
                        cp = 0
                        cr = -1
                        cwr = -1
                        if nq > 0:
                            orow = open_row[qi]
                            if orow == -1:
                                ca = 1
                            else:
                                any_hit = False
                                for i in range(nq):
                                    a = bq[qi * BQ + i]
                                    if a_row[a] == orow:
                                        any_hit = True
                                        if a_write[a]:
                                            if cwr < 0:
                                                cwr = i
                                        elif cr < 0:
                                            cr = i
                                if a_row[bq[qi * BQ]] != orow and not (any_hit and hit_count[qi] < CAP):
                                    cp = 1
                        c_act[qi] = ca
                        c_pre[qi] = cp
                        c_rd[qi] = cr
                        c_wr[qi] = cwr
                        bit = np.uint64(1) << np.uint64(q)
                        nbit = ~bit
                        mA[ch] = (mA[ch] & nbit) | (bit if ca else np.uint64(0))
                        mP[ch] = (mP[ch] & nbit) | (bit if cp else np.uint64(0))
                        mR[ch] = (mR[ch] & nbit) | (bit if cr >= 0 else np.uint64(0))
                        mW[ch] = (mW[ch] & nbit) | (bit if cwr >= 0 else np.uint64(0))
                    xb = np.uint64(CB + q * RS)
                    xg = np.uint64(CB + q_g[q])
                    xr = np.uint64(CB + q_r[q])
                    mn = NEVER
                    if c_act[qi]:
                        mn = _max(_max3(_max3(rdy[xb + U_ACT_ROW], rdy[xg + U_ACT_ROW], rdy[xr + U_ACT_ROW]),
                                        _max3(rdy[xb + U_ACT_WIN], rdy[xg + U_ACT_WIN], rdy[xr + U_ACT_WIN]),
                                        _max3(rdy[xb + U_ACT_REF], rdy[xg + U_ACT_REF], rdy[xr + U_ACT_REF])),
                                  rdy[xr + U_FAW])
                    else:
                        if c_pre[qi]:
                            mn = rdy[xb + U_PRE_ROW]
                        if c_rd[qi] >= 0:
                            mn = _min(mn, _max3(_max3(rdy[xb + U_RD_ROW], rdy[xg + U_RD_ROW], rdy[xr + U_RD_ROW]),
                                                _max3(rdy[xb + U_RD_BUS], rdy[xg + U_RD_BUS], rdy[xr + U_RD_BUS]),
                                                _max3(rdy[xb + U_RD_TURN], rdy[xg + U_RD_TURN], rdy[xr + U_RD_TURN])))
                        if c_wr[qi] >= 0:
                            mn = _min(mn, _max3(_max3(rdy[xb + U_WR_ROW], rdy[xg + U_WR_ROW], rdy[xr + U_WR_ROW]),
                                                _max3(rdy[xb + U_WR_BUS], rdy[xg + U_WR_BUS], rdy[xr + U_WR_BUS]),
                                                _max3(rdy[xb + U_WR_TURN], rdy[xg + U_WR_TURN], rdy[xr + U_WR_TURN])))
                    wake[qi] = mn
                if fix0 >= 0:
                    nx = t + 1
                    if ref_cnt[ch] == 0:
                        if scan_lb >= 0:
                            mn = _min(scan_lb, wake[QB + fix0])
                            if fix1 >= 0:
                                mn = _min(mn, wake[QB + fix1])
                        else:
                            mn = NEVER
                            for qq in range(nb):
                                mn = _min(mn, wake[QB + qq])
                        nx = _max(nx, mn)
                    ch_next[ch] = nx
                else:
                    mn = _max(wake[QB + fix1], t + 1)
                    if mn < ch_next[ch]:
                        ch_next[ch] = mn
            wk = _min(wk, ch_next[ch])

        # ---------------- arrivals: in trace order, at most K per clock ----------------
        k = 0
        while next_a < n and k < K and a_arrival[next_a] <= t:
            a = next_a
            ch = np.int64(a_ch[a])
            q = np.int64(a_bank[a])
            qi = ch * nb + q
            room = bq_n[qi] < BQ
            if a_write[a]:
                if wq_n[ch] >= WQ:
                    break
                wq[ch * WQ + wq_n[ch]] = a
                wq_q[ch * WQ + wq_n[ch]] = q
                wq_n[ch] += 1
                wait_w[qi] += 1
                if wait_w[qi] == 1 and room:
                    mov_w[ch] += 1
            else:
                if rq_n[ch] >= RQ:
                    break
                rq[ch * RQ + rq_n[ch]] = a
                rq_q[ch * RQ + rq_n[ch]] = q
                rq_n[ch] += 1
                wait_r[qi] += 1
                if wait_r[qi] == 1 and room:
                    mov_r[ch] += 1
            out_enter[a] = t
            out_col[a] = t
            out_kind[a] = K_HIT
            wk = t + 1
            next_a += 1
            k += 1

        if done != last_done or next_a != last_next:
            last_done = done
            last_next = next_a
            last_progress = t
        elif t - last_progress > stall_limit and (next_a >= n or a_arrival[next_a] <= t):
            return -1
        if next_a < n:
            ch = a_ch[next_a]
            room = wq_n[ch] < WQ if a_write[next_a] else rq_n[ch] < RQ
            if room:
                wk = _min(wk, a_arrival[next_a])
        if wk <= t:
            wk = t + 1
        if wk >= NEVER and done < n:
            return -1
        t = wk
    return end


@njit(cache=True)
def bank_queue_loop(params):
    """Whether run_dram takes the specialised loop for these parameters."""
    nb = params[P_RANKS] * params[P_BGS] * params[P_BPG]
    return (params[P_STRUCT] == STRUCT_BANK_QUEUES and params[P_QUEUES] == QUEUES_PER_BANK
            and params[P_PAGE] == PAGE_OPEN and nb <= 64)


def run_dram(params, sp_n, sp_e, sp_lat,
             a_ch, a_rank, a_bg, a_bank, a_row, a_write, a_arrival,
             out_enter, out_col, out_kind, bd_sum, log, log_n):
    """Simulate every access; returns the clock after the last data beat (arguments: see
    _run_generic). The presets' structure (bank_queues, per-bank queues, open page, at most
    64 banks per controller) runs the specialised loop, every other one the generic loop.
    A Python-level dispatch, so that a first start compiles only the loop it needs."""
    if bank_queue_loop(params):
        upd_n, upd_idx, upd_lat, nu = _update_lists(params, sp_n, sp_e, sp_lat)
        rgap = _rank_gaps(params, upd_n, upd_idx, upd_lat, nu)
        return _run_bank_queues(params, upd_n, upd_idx, upd_lat, nu, rgap, a_ch, a_rank, a_bg,
                                a_bank, a_row, a_write, a_arrival, out_enter, out_col, out_kind,
                                bd_sum, log, log_n)
    return _run_generic(params, sp_n, sp_e, sp_lat, a_ch, a_rank, a_bg, a_bank, a_row, a_write,
                        a_arrival, out_enter, out_col, out_kind, bd_sum, log, log_n)


LOOPS = (_run_bank_queues, _run_generic)  # the compiled loops (numba cache statistics)


# --- summary statistics (sim.memory.dram.summarize) ---------------------------------
# One pass over the per-access results instead of numpy temporaries: on 5M accesses the
# temporaries' allocation and first touch cost more than the arithmetic.
@njit(cache=True)
def result_counts(is_write, col, enter, kind, channel, per, extra, kinds, chan, clocks):
    """Access counts per kind (kinds) and data channel (chan), and each read request's
    latency (max col - min enter over its `per` accesses, + extra) into clocks; returns
    the number of read requests."""
    n_acc = col.shape[0]
    for i in range(n_acc):
        kinds[kind[i]] += 1
        chan[channel[i]] += 1
    m = 0
    for r in range(n_acc // per):
        i0 = r * per
        if is_write[i0]:
            continue
        d = col[i0]
        s = enter[i0]
        for i in range(i0 + 1, i0 + per):
            if col[i] > d:
                d = col[i]
            if enter[i] < s:
                s = enter[i]
        clocks[m] = d - s + extra
        m += 1
    return m
