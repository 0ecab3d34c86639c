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
4 or more pairs). At tile granularity a tile is one pair's slice of a kernel (one
transfer per operand, one compute, one transfer per result). FLOPs: attention_costs.py.
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


def standard_kernels(shape: AttentionShape, *, backward: bool = False,
                     dropout: bool = True) -> list[Kernel]:
    """The eager kernel sequence (module docstring) with per-pair bytes and FLOPs."""
    n, m, d, e = shape.seq_q, shape.seq_kv, shape.head_dim, shape.bytes_per_element
    nm, z = n * m * e, n * m * cost.DROPOUT_MASK_BYTES
    nd, md = n * d * e, m * d * e
    probs = "pd" if dropout else "p"  # what the P V product and dV read
    ks = [Kernel("qk", (("q", nd), ("k", md)), (("s", nm),),
                 2 * n * m * d + cost.SCALE_FLOPS * n * m)]
    if shape.causal:
        ks.append(Kernel("mask", (("s", nm),), (("s", nm),), cost.MASK_FLOPS * n * m))
    ks.append(Kernel("softmax", (("s", nm),), (("p", nm),), cost.SOFTMAX_FLOPS * n * m))
    if dropout:
        ks.append(Kernel("dropout", (("p", nm),), (("pd", nm), ("z", z)),
                         cost.DROPOUT_FLOPS * n * m))
    ks.append(Kernel("pv", ((probs, nm), ("v", md)), (("o", nd),), 2 * n * m * d))
    if not backward:
        return ks
    ks.append(Kernel("dv", ((probs, nm), ("do", nd)), (("dv", md),), 2 * n * m * d))
    ks.append(Kernel("dp", (("do", nd), ("v", md)), (("dpd" if dropout else "dp", nm),),
                     2 * n * m * d))
    if dropout:
        ks.append(Kernel("dropout_bwd", (("dpd", nm), ("z", z)), (("dp", nm),),
                         cost.DROPOUT_FLOPS * n * m))
    ks.append(Kernel("softmax_bwd", (("dp", nm), ("p", nm)), (("ds", nm),),
                     cost.SOFTMAX_BWD_FLOPS * n * m))
    if shape.causal:
        ks.append(Kernel("mask_bwd", (("ds", nm),), (("ds", nm),), cost.MASK_FLOPS * n * m))
    ks.append(Kernel("dq", (("ds", nm), ("k", md)), (("dq", nd),),
                     2 * n * m * d + cost.SCALE_FLOPS * n * d))
    ks.append(Kernel("dk", (("ds", nm), ("q", nd)), (("dk", md),),
                     2 * n * m * d + cost.SCALE_FLOPS * m * d))
    return ks


def standard_attention(shape: AttentionShape, *, backward: bool = False, dropout: bool = True,
                       granularity: str = "tile", places: int = 1,
                       label: str = "attn") -> TaskGraph:
    """Standard (eager PyTorch) attention over every (batch, head) pair of ``shape``."""
    check_prefill_shape(shape)
    check_granularity(granularity, places)
    if not isinstance(label, str) or not label:
        raise UserError(f"attention label must be a non-empty string, got {label!r}")
    kernels = standard_kernels(shape, backward=backward, dropout=dropout)
    pairs = shape.batch * shape.heads
    names: list[str] = []
    for k in kernels:
        names += [f"{label}.{k.name}", f"{label}.{k.name}.load", f"{label}.{k.name}.store"]
    layout = HbmLayout(pairs)
    templates = [_template(k, layout, names.index(f"{label}.{k.name}")) for k in kernels]
    return assemble_kernels(templates, pairs=pairs, granularity=granularity, places=places,
                            labels=names, sync_label=f"{label}.sync")


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
