"""Numba kernel of the scratchpad SRAM + atomic unit (semantics: sim/memory/sram.py docstring).

State is a handful of arrays: per-bank port free clocks (banks x ports), per-bank last start,
atomic-unit last start and starts-in-that-clock, and per-word last atomic completion indexed
by a dense word id computed in numpy before the kernel runs.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.memory.sram import (
    ATOMIC_ADD,
    ATOMIC_MIN,
    READ,
    WRITE,
    SramResult,
    atomic_word_ids,
)
from sim.memory.sram_config import SramConfig


@numba.njit(cache=True)
def _sram_kernel(
    arrival_ps,
    addr,
    size,
    op,
    word_id,
    n_words,
    banks,
    interleave,
    clock_ps,
    latency,
    bpc,
    ports,
    atomic_latency,
    atomic_per_clock,
):
    n = arrival_ps.shape[0]
    completion = np.empty(n, dtype=np.int64)
    port_free = np.zeros((banks, ports), dtype=np.int64)
    bank_last_start = np.zeros(banks, dtype=np.int64)
    bank_accesses = np.zeros(banks, dtype=np.int64)
    bank_busy = np.zeros(banks, dtype=np.int64)
    word_done = np.zeros(max(n_words, 1), dtype=np.int64)
    au_last_start = np.int64(0)
    au_count = np.int64(0)  # atomics started in clock au_last_start
    bank_stall = np.int64(0)
    atomic_stall = np.int64(0)
    atomic_count = np.int64(0)
    bytes_read = np.int64(0)
    bytes_written = np.int64(0)
    accesses = np.int64(0)
    end_clock = np.int64(0)
    # power-of-two fast paths (shifts and masks instead of runtime division)
    il_pow2 = (interleave & (interleave - 1)) == 0
    il_shift = 0
    while (np.int64(1) << il_shift) < interleave:
        il_shift += 1
    banks_pow2 = (banks & (banks - 1)) == 0
    bank_mask = banks - 1

    for i in range(n):
        ready = (arrival_ps[i] + clock_ps - 1) // clock_ps
        o = op[i]
        start_addr = addr[i]
        end_addr = start_addr + size[i]
        done = np.int64(0)
        if o >= ATOMIC_ADD and o <= ATOMIC_MIN:
            # one access (validated: within one word and one interleave unit)
            atomic_count += 1
            bytes_read += size[i]
            bytes_written += size[i]
            if il_pow2:
                unit = start_addr >> il_shift
            else:
                unit = start_addr // interleave
            b = (unit & bank_mask) if banks_pow2 else (unit % banks)
            occ = (np.int64(size[i]) + bpc - 1) // bpc
            p = 0
            pf = port_free[b, 0]
            for q in range(1, ports):
                if port_free[b, q] < pf:
                    pf = port_free[b, q]
                    p = q
            bank_ok = ready
            if bank_last_start[b] > bank_ok:
                bank_ok = bank_last_start[b]
            if pf > bank_ok:
                bank_ok = pf
            t = bank_ok
            au_ok = au_last_start if au_count < atomic_per_clock else au_last_start + 1
            if au_ok > t:
                t = au_ok
            w = word_id[i]
            if word_done[w] > t:
                t = word_done[w]
            if t == au_last_start:
                au_count += 1
            else:
                au_last_start = t
                au_count = 1
            port_free[b, p] = t + occ
            bank_last_start[b] = t
            bank_accesses[b] += 1
            bank_busy[b] += occ
            bank_stall += bank_ok - ready
            atomic_stall += t - bank_ok
            done = t + occ + atomic_latency
            word_done[w] = done
            accesses += 1
        else:
            if o == READ:
                bytes_read += size[i]
            elif o == WRITE:
                bytes_written += size[i]
            a = start_addr
            while a < end_addr:
                if il_pow2:
                    unit = a >> il_shift
                    unit_end = (unit + 1) << il_shift
                else:
                    unit = a // interleave
                    unit_end = (unit + 1) * interleave
                piece_end = unit_end if unit_end < end_addr else end_addr
                b = (unit & bank_mask) if banks_pow2 else (unit % banks)
                occ = (piece_end - a + bpc - 1) // bpc
                p = 0
                pf = port_free[b, 0]
                for q in range(1, ports):
                    if port_free[b, q] < pf:
                        pf = port_free[b, q]
                        p = q
                t = ready
                if bank_last_start[b] > t:
                    t = bank_last_start[b]
                if pf > t:
                    t = pf
                port_free[b, p] = t + occ
                bank_last_start[b] = t
                bank_accesses[b] += 1
                bank_busy[b] += occ
                bank_stall += t - ready
                c = t + occ + latency
                if c > done:
                    done = c
                accesses += 1
                a = piece_end
        completion[i] = done * clock_ps
        if done > end_clock:
            end_clock = done
    scalars = np.empty(7, dtype=np.int64)
    scalars[0] = bank_stall
    scalars[1] = atomic_count
    scalars[2] = atomic_stall
    scalars[3] = bytes_read
    scalars[4] = bytes_written
    scalars[5] = accesses
    scalars[6] = end_clock * clock_ps
    return completion, bank_accesses, bank_busy, scalars


def run_kernel(cfg: SramConfig, req: np.ndarray) -> SramResult:
    """Run the kernel on validated requests (use sim.memory.sram.simulate_sram)."""
    word_id, n_words = atomic_word_ids(req)
    completion, bank_accesses, bank_busy, s = _sram_kernel(
        np.ascontiguousarray(req["arrival_ps"]),
        np.ascontiguousarray(req["addr"]),
        np.ascontiguousarray(req["size"]),
        np.ascontiguousarray(req["op"]),
        word_id,
        np.int64(n_words),
        np.int64(cfg.banks),
        np.int64(cfg.bank_interleave_bytes),
        np.int64(cfg.clock_ps),
        np.int64(cfg.latency),
        np.int64(cfg.bytes_per_clock_per_port),
        np.int64(cfg.ports_per_bank),
        np.int64(cfg.atomic.latency),
        np.int64(cfg.atomic.ops_per_clock),
    )
    stats = {
        "bank_accesses": bank_accesses,
        "bank_busy_clocks": bank_busy,
        "bank_conflict_stall_clocks": int(s[0]),
        "atomic_count": int(s[1]),
        "atomic_stall_clocks": int(s[2]),
        "bytes_read": int(s[3]),
        "bytes_written": int(s[4]),
        "accesses": int(s[5]),
        "end_time_ps": int(s[6]),
    }
    return SramResult(completion_ps=completion, stats=stats)
