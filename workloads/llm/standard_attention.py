"""Standard attention: the kernel sequence PyTorch eager mode runs, as a task graph.

Per (batch, head) pair, Q is n x d, K and V are m x d (n = seq_q, m = seq_kv). Each
kernel reads its operands from HBM and writes its results to HBM, so every n x m matrix
makes a round trip through HBM between kernels:

forward
    qk        S = tau Q K^T       read Q, K          write S     (tau as the GEMM's alpha)
    mask      S = mask(S)         read S             write S     (only if causal; in place)
    softmax   P = softmax(S)      read S             write P
    dropout   Pd = P * Z / (1-p)  read P             write Pd, Z (Z: 1 byte per element)
    pv        O = Pd V            read Pd, V         write O
backward (dO given in HBM)
    dv        dV = Pd^T dO        read Pd, dO        write dV
    dp        dPd = dO V^T        read dO, V         write dPd
    dropout   dP = dPd * Z/(1-p)  read dPd, Z        write dP
    softmax   dS = P * (dP - rowsum(dP * P))         read dP, P   write dS
    mask      dS = mask(dS)       read dS            write dS    (only if causal)
    dq        dQ = tau dS K       read dS, K         write dQ
    dk        dK = tau dS^T Q     read dS, Q         write dK

What backward reads, autograd saved in the forward: P (softmax's output, used by its
backward), the keep mask Z (native_dropout returns a bool mask, saved for
native_dropout_backward: PyTorch's native_functions.yaml and derivatives.yaml) and Pd (the
left operand of the P V product). PyTorch's softmax backward uses rowsum(dP * P), which
equals the rowsum(dO * O) of the FlashAttention paper; it is what the kernel reads that
counts here. Without dropout the two dropout kernels vanish and P stands in for Pd.

Simplifications, stated: each operand is read once per kernel (a GEMM re-reading operand
tiles hits in L2, not HBM); the causal mask is computed from row and column indices (an
eager mask tensor would add n*m bytes once, shared by every pair: under 0.05 % for
4 or more pairs). FLOPs: attention_costs.py.

Tiles. At tile granularity without ``sram_bytes`` a tile is one pair's slice of a kernel
(one transfer per operand, one compute, one transfer per result). With ``sram_bytes`` (the
SRAM of one SM) each pair's slice is cut into row blocks that fit it, as an eager kernel
tiles its rows:

- every tensor a kernel touches has n rows (one per query), except at most one m x d
  matrix, the kernel's *resident* operand: K in S = tau Q K^T and dQ = tau dS K, V in
  O = Pd V and dPd = dO V^T (inputs, loaded once per pair before the first block), dV in
  dV = Pd^T dO and dK in dK = tau dS^T Q (outputs, accumulated over the row blocks in SRAM
  and stored once after the last). The row-wise kernels (mask, softmax, dropout and their
  backwards) have none;
- a row block of r rows holds, beside the resident operand, r rows of every tensor the
  kernel reads and every tensor it writes: r = min(n, (sram_bytes - resident bytes) //
  bytes per row), all blocks r rows but the last. Block b loads its rows, computes, stores
  its result rows; it loads only after block b - 1 has stored (a single SRAM buffer, as
  in flash_attention.py), so pairs on one place overlap each other, not their own blocks;
- FLOPs are split over the blocks in proportion to their rows (integer parts that sum to
  the kernel's count).

Since the resident operand stays on chip for the whole pair, every byte is still read and
written once per kernel: HBM totals equal the untiled graph's and attention_io's closed
form exactly, whatever ``sram_bytes``. A kernel whose resident operand and one row do not
fit together (e.g. K at m * d * e near the SRAM size) is a UserError stating the bytes
needed and available; an eager GEMM would then re-read the resident operand per row block,
which this model does not do. At kernel granularity the blocks do not matter (a chain
carries a kernel's totals) and ``sram_bytes`` is only checked to be a positive integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from workloads.llm import attention_costs as cost
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.head_graph import (
    HbmLayout,
    HeadTemplate,
    TemplateBuilder,
    assemble_kernels,
    check_granularity,
    check_prefill_shape,
)
from workloads.llm.taskgraph import TaskGraph


@dataclass(frozen=True)
class Kernel:
    """One framework kernel as one (batch, head) pair sees it."""

    name: str
    reads: tuple[tuple[str, int], ...]  # (tensor, bytes per pair)
    writes: tuple[tuple[str, int], ...]
    flops: int  # per pair
    resident: str | None = None  # the m x d operand kept on chip per pair (module docstring)


def standard_kernels(shape: AttentionShape, *, backward: bool = False,
                     dropout: bool = True) -> list[Kernel]:
    """The eager kernel sequence (module docstring) with per-pair bytes and FLOPs."""
    n, m, d, e = shape.seq_q, shape.seq_kv, shape.head_dim, shape.bytes_per_element
    nm, z = n * m * e, n * m * cost.DROPOUT_MASK_BYTES
    nd, md = n * d * e, m * d * e
    probs = "pd" if dropout else "p"  # what the P V product and dV read
    ks = [Kernel("qk", (("q", nd), ("k", md)), (("s", nm),),
                 2 * n * m * d + cost.SCALE_FLOPS * n * m, "k")]
    if shape.causal:
        ks.append(Kernel("mask", (("s", nm),), (("s", nm),), cost.MASK_FLOPS * n * m))
    ks.append(Kernel("softmax", (("s", nm),), (("p", nm),), cost.SOFTMAX_FLOPS * n * m))
    if dropout:
        ks.append(Kernel("dropout", (("p", nm),), (("pd", nm), ("z", z)),
                         cost.DROPOUT_FLOPS * n * m))
    ks.append(Kernel("pv", ((probs, nm), ("v", md)), (("o", nd),), 2 * n * m * d, "v"))
    if not backward:
        return ks
    ks.append(Kernel("dv", ((probs, nm), ("do", nd)), (("dv", md),), 2 * n * m * d, "dv"))
    ks.append(Kernel("dp", (("do", nd), ("v", md)), (("dpd" if dropout else "dp", nm),),
                     2 * n * m * d, "v"))
    if dropout:
        ks.append(Kernel("dropout_bwd", (("dpd", nm), ("z", z)), (("dp", nm),),
                         cost.DROPOUT_FLOPS * n * m))
    ks.append(Kernel("softmax_bwd", (("dp", nm), ("p", nm)), (("ds", nm),),
                     cost.SOFTMAX_BWD_FLOPS * n * m))
    if shape.causal:
        ks.append(Kernel("mask_bwd", (("ds", nm),), (("ds", nm),), cost.MASK_FLOPS * n * m))
    ks.append(Kernel("dq", (("ds", nm), ("k", md)), (("dq", nd),),
                     2 * n * m * d + cost.SCALE_FLOPS * n * d, "k"))
    ks.append(Kernel("dk", (("ds", nm), ("q", nd)), (("dk", md),),
                     2 * n * m * d + cost.SCALE_FLOPS * m * d, "dk"))
    return ks


def standard_attention(shape: AttentionShape, *, backward: bool = False, dropout: bool = True,
                       granularity: str = "tile", places: int = 1, label: str = "attn",
                       sram_bytes: int | None = None) -> TaskGraph:
    """Standard (eager PyTorch) attention over every (batch, head) pair of ``shape``.

    ``sram_bytes``: the SRAM of one SM; at tile granularity each kernel's per-pair work is
    cut into row blocks that fit it (module docstring). None: one tile per pair and kernel.
    """
    check_prefill_shape(shape)
    check_granularity(granularity, places)
    if not isinstance(label, str) or not label:
        raise UserError(f"attention label must be a non-empty string, got {label!r}")
    if sram_bytes is not None and (isinstance(sram_bytes, bool)
                                   or not isinstance(sram_bytes, (int, np.integer))
                                   or sram_bytes <= 0):
        raise UserError(f"sram_bytes must be a positive integer or None, got {sram_bytes!r}")
    kernels = standard_kernels(shape, backward=backward, dropout=dropout)
    pairs = shape.batch * shape.heads
    names: list[str] = []
    for k in kernels:
        names += [f"{label}.{k.name}", f"{label}.{k.name}.load", f"{label}.{k.name}.store"]
    layout = HbmLayout(pairs)
    blocked = sram_bytes is not None and granularity == "tile"
    templates = [_blocked_template(k, layout, names.index(f"{label}.{k.name}"), shape.seq_q,
                                   int(sram_bytes))
                 if blocked else _template(k, layout, names.index(f"{label}.{k.name}"))
                 for k in kernels]
    return assemble_kernels(templates, pairs=pairs, granularity=granularity, places=places,
                            labels=names, sync_label=f"{label}.sync")


def row_block_rows(k: Kernel, n: int, sram_bytes: int) -> int:
    """Rows per block of kernel ``k`` (n rows per pair) in ``sram_bytes`` of SRAM."""
    resident = sum(b for t, b in k.reads + k.writes if t == k.resident)
    per_row = sum(b for t, b in k.reads + k.writes if t != k.resident) // n
    rows = (sram_bytes - resident) // per_row
    if rows < 1:
        what = f"{k.resident} ({resident} B, kept on chip) + " if k.resident else ""
        raise UserError(f"standard attention kernel {k.name}: a row block needs at least "
                        f"{what}one row ({per_row} B) = {resident + per_row} B of SRAM, "
                        f"available {sram_bytes} B")
    return min(rows, n)


def _blocked_template(k: Kernel, layout: HbmLayout, base: int, n: int,
                      sram_bytes: int) -> HeadTemplate:
    """One pair's slice of kernel ``k`` in row blocks that fit ``sram_bytes``.

    Task order: [load resident input], then per block: one load per row operand, the
    compute, one store per row result; [store resident output] (module docstring).
    """
    rows = row_block_rows(k, n, sram_bytes)
    starts = np.arange(0, n, rows, dtype=np.int64)
    sizes = np.minimum(rows, n - starts)
    nb = len(starts)
    row_reads = [(t, b // n) for t, b in k.reads if t != k.resident]
    row_writes = [(t, b // n) for t, b in k.writes if t != k.resident]
    res_in = [(t, b) for t, b in k.reads if t == k.resident]
    res_out = [(t, b) for t, b in k.writes if t == k.resident]
    nr, nw = len(row_reads), len(row_writes)
    per = nr + 1 + nw
    head = len(res_in)
    pos = head + per * np.arange(nb)  # first task of each block
    comp = pos + nr
    b = TemplateBuilder(head + per * nb + len(res_out), base)
    for tensor, nbytes in k.reads + k.writes:  # HBM placement as in the unblocked graph
        layout.tensor(tensor, nbytes)
    sram = 0
    for i, (tensor, nbytes) in enumerate(res_in + res_out):
        addr, step = layout.tensor(tensor, nbytes)
        at = i if i < head else head + per * nb
        b.transfer(at, load=i < head, nbytes=nbytes, hbm_addr=addr, hbm_step=step,
                   sram_addr=0, label=base + (1 if i < head else 2))
        sram = nbytes
    for i, (tensor, width) in enumerate(row_reads + row_writes):
        addr, step = layout.tensor(tensor, width * n)
        load = i < nr
        at = pos + i if load else comp + 1 + (i - nr)
        b.transfer(at, load=load, nbytes=sizes * width, hbm_addr=addr + starts * width,
                   hbm_step=step, sram_addr=sram, label=base + (1 if load else 2))
        sram += rows * width
        if load:
            b.dep(comp, at)
            # one SRAM buffer: block j's rows load once block j-1 has stored (or computed)
            if nw:
                for w in range(nw):
                    b.dep(at[1:], comp[:-1] + 1 + w)
            else:
                b.dep(at[1:], comp[:-1])
        else:
            b.dep(at, comp)
    # Python integers: k.flops * n may exceed int64 for long sequences
    cut = [k.flops * int(r) // n for r in range(0, n, rows)] + [k.flops]
    flops = np.diff(np.array(cut, np.int64))
    b.compute(comp, flops, base)
    if res_in:
        b.dep(comp, 0)
    if res_out:
        b.dep(head + per * nb, comp[-1])
    return b.build()


def _template(k: Kernel, layout: HbmLayout, base: int) -> HeadTemplate:
    """Load each operand, compute, store each result: one pair's slice of kernel ``k``.

    ``base`` is the index of the kernel's label; its ".load" and ".store" labels follow.
    """
    nr, nw = len(k.reads), len(k.writes)
    b = TemplateBuilder(nr + 1 + nw, base)
    sram = 0
    for i, (tensor, nbytes) in enumerate(k.reads):
        addr, step = layout.tensor(tensor, nbytes)
        b.transfer(i, load=True, nbytes=nbytes, hbm_addr=addr, hbm_step=step, sram_addr=sram,
                   label=base + 1)
        sram += nbytes
    b.compute(nr, k.flops, base)
    b.dep(nr, np.arange(nr))
    for i, (tensor, nbytes) in enumerate(k.writes):
        addr, step = layout.tensor(tensor, nbytes)
        b.transfer(nr + 1 + i, load=False, nbytes=nbytes, hbm_addr=addr, hbm_step=step,
                   sram_addr=sram, label=base + 2)
        b.dep(nr + 1 + i, nr)
        sram += nbytes
    return b.build()
