"""Numba address decoding: split requests into column accesses and map each to its bank.

One pass over the requests instead of one numpy pass per field; the field order comes
from the configuration's mapping string (sim.memory.dram.make_accesses).
"""

from __future__ import annotations

import numpy as np
from numba import njit

F_CH, F_PC, F_RA, F_BG, F_BA, F_RO, F_CO = 0, 1, 2, 3, 4, 5, 6
N_FIELDS = 7


@njit(cache=True)
def decode_accesses(addr, per, access_bytes, access_shift, order, widths, pcs, ranks, bgs, bpg,
                    bank_xor, wrap, out_controller, out_channel, out_rank, out_bg, out_bank,
                    out_row):
    """Fill the per-access outputs; returns the index of the first request whose address is
    beyond the capacity (when not wrapping), else -1.

    order: field codes from the least significant field up; widths[f]: bits of field f.
    """
    n = addr.shape[0]
    f = np.zeros(N_FIELDS, np.int64)
    bg_mask = np.uint64(bgs - 1)
    bpg_mask = np.uint64(bpg - 1)
    bg_bits = widths[F_BG]
    for i in range(n):
        for j in range(per):
            x = (addr[i] + np.uint64(j * access_bytes)) >> np.uint64(access_shift)
            for k in range(order.shape[0]):
                code = order[k]
                w = widths[code]
                f[code] = np.int64(x & np.uint64((1 << w) - 1))
                x = x >> np.uint64(w)
            if x != 0 and not wrap:
                return i
            bg = f[F_BG]
            ba = f[F_BA]
            if bank_xor:
                bg = bg ^ np.int64(np.uint64(f[F_RO]) & bg_mask)
                ba = ba ^ np.int64((np.uint64(f[F_RO]) >> np.uint64(bg_bits)) & bpg_mask)
            o = i * per + j
            rank = f[F_PC] * ranks + f[F_RA]
            out_controller[o] = f[F_CH]
            out_channel[o] = f[F_CH] * pcs + f[F_PC]
            out_rank[o] = rank
            out_bg[o] = bg
            out_bank[o] = (rank * bgs + bg) * bpg + ba
            out_row[o] = f[F_RO]
    return -1
