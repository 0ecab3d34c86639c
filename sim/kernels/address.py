"""Numba address decoding: split requests into column accesses and map each to its bank.

One pass over the requests instead of one numpy pass per field. The mapping arrives as
flat arrays (sim.memory.address_map, via sim.memory.dram.make_accesses): the pieces of the
mapping string from the least significant up, each (field, lo, bits), and the XOR terms,
each (target, source, lo, bits).
"""

from __future__ import annotations

import numpy as np
from numba import njit

F_CH, F_PC, F_RA, F_BG, F_BA, F_RO, F_CO = 0, 1, 2, 3, 4, 5, 6
N_FIELDS = 7


@njit(cache=True)
def decode_accesses(addr, per, access_bytes, access_shift, seg_field, seg_lo, seg_bits,
                    xor_target, xor_source, xor_lo, xor_bits, pcs, ranks, bgs, bpg, wrap,
                    out_controller, out_channel, out_rank, out_bg, out_bank, out_row):
    """Fill the per-access outputs; returns the index of the first request whose address is
    beyond the capacity (when not wrapping), else -1.

    Piece k takes the next seg_bits[k] bits of the access index (from bit 0 up) into bits
    seg_lo[k].. of field seg_field[k]. Then XOR term m: field xor_target[m] ^= (value of
    field xor_source[m] before any XOR >> xor_lo[m]) & (2^xor_bits[m] - 1).
    """
    n = addr.shape[0]
    f = np.zeros(N_FIELDS, np.int64)
    g = np.zeros(N_FIELDS, np.int64)  # field values before XOR (the XOR sources)
    nseg = seg_field.shape[0]
    nxor = xor_target.shape[0]
    for i in range(n):
        for j in range(per):
            x = (addr[i] + np.uint64(j * access_bytes)) >> np.uint64(access_shift)
            for c in range(N_FIELDS):
                f[c] = 0
            for k in range(nseg):
                w = seg_bits[k]
                f[seg_field[k]] |= np.int64(x & np.uint64((1 << w) - 1)) << seg_lo[k]
                x = x >> np.uint64(w)
            if x != 0 and not wrap:
                return i
            if nxor > 0:
                for c in range(N_FIELDS):
                    g[c] = f[c]
                for m in range(nxor):
                    f[xor_target[m]] ^= (g[xor_source[m]] >> xor_lo[m]) & ((1 << xor_bits[m]) - 1)
            o = i * per + j
            rank = f[F_PC] * ranks + f[F_RA]
            out_controller[o] = f[F_CH]
            out_channel[o] = f[F_CH] * pcs + f[F_PC]
            out_rank[o] = rank
            out_bg[o] = f[F_BG]
            out_bank[o] = (rank * bgs + f[F_BG]) * bpg + f[F_BA]
            out_row[o] = f[F_RO]
    return -1
