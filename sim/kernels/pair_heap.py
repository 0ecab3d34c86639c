"""Binary heaps of int64 pairs for the numba kernels (transfer engine, flash model)."""

from __future__ import annotations

from numba import njit


# ------------------------------------------------------------------- (key0, key1) heaps
# A heap of pairs compared lexicographically, entry k of a heap starting at entry `base`
# in H[2 * (base + k)], H[2 * (base + k) + 1]. Used for task events and present tasks.
@njit(cache=True, inline="always")
def pair_push(H, base, size, a, b):
    k = size
    while k > 0:
        parent = (k - 1) >> 1
        pa = H[2 * (base + parent)]
        pb = H[2 * (base + parent) + 1]
        if pa < a or (pa == a and pb < b):
            break
        H[2 * (base + k)] = pa
        H[2 * (base + k) + 1] = pb
        k = parent
    H[2 * (base + k)] = a
    H[2 * (base + k) + 1] = b


@njit(cache=True, inline="always")
def pair_pop(H, base, size):
    """Remove the root of a heap of ``size`` >= 1 entries (the caller has read it)."""
    size -= 1
    a = H[2 * (base + size)]
    b = H[2 * (base + size) + 1]
    k = 0
    while True:
        c = 2 * k + 1
        if c >= size:
            break
        ca = H[2 * (base + c)]
        cb = H[2 * (base + c) + 1]
        if c + 1 < size:
            da = H[2 * (base + c + 1)]
            db = H[2 * (base + c + 1) + 1]
            if da < ca or (da == ca and db < cb):
                c += 1
                ca = da
                cb = db
        if a < ca or (a == ca and b < cb):
            break
        H[2 * (base + k)] = ca
        H[2 * (base + k) + 1] = cb
        k = c
    H[2 * (base + k)] = a
    H[2 * (base + k) + 1] = b
