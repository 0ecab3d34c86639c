"""One layer's decode attention over a KV cache, as a task graph.

A decode step gives each of ``batch`` requests one new query token. Per request the layer
(memories "hbm" and "sram", compute unit "tensor"):

1. writes the new token's K and V into the cache (they arrive in SRAM from the QKV
   projection; as in vLLM, the cache write runs before attention, which then reads the
   new token with the rest);
2. reads q (heads x head_dim) and the stored K and V of its context, per KV head: under
   GQA a KV head is read ONCE for its whole group of query heads (the kernel packs the
   group's queries, as FlashInfer and FlashDecoding do for GQA). This is GQA's gain in
   intensity; MHA has kv_heads = heads, MQA kv_heads = 1;
3. computes S = q K^T, softmax, O = P V and writes O (heads x head_dim).

FLOPs, per request, query head and attended token (n tokens, head dim d), 2 per MAC:
q.k: 2d; softmax: ``SOFTMAX_FLOPS_PER_SCORE`` = 5 (scale by 1/sqrt(d), running max,
subtract the max, exp, add to the sum); p.v: 2d; plus d divisions per request and query
head to normalise O. Total n(4d + 5) + d. A split kernel's rescaling of partial results
(FlashDecoding; a shared prefix's combine) is not counted, so totals do not depend on how
the work is split.

Bytes (HBM): q and O at the model's width; K and V at ``kv_bits`` (None: the model's
width; otherwise ceil(head_dim x kv_bits / 8) bytes per head and token, scales not
counted); paged layouts add one 4-byte block-table entry per block and KV head, read
before the block. Intensity = FLOPs / (HBM bytes read + written); for MHA and long
contexts it tends to (4d + 5) / (2 d bytes_per_element), about 2 / bytes_per_element
(1 FLOP/B at FP16), and a group of g query heads per KV head multiplies it by about g.

Variants: ``retained`` < 1 keeps ceil(retained x n) tokens per request (eviction, e.g.
H2O, Zhang et al. NeurIPS 2023): only those are stored and read. ``shared_prefix`` p: the
first p tokens are common to all requests; their KV is stored once and read once per
batch and KV head, and the queries of all requests attend to it together (RelayAttention,
Zhu et al. ACL 2024; ChunkAttention, Ye et al. ACL 2024). FLOPs are unchanged by it.

Granularity: "tile" emits one task per KV tile per (request, KV head) with HBM and SRAM
addresses, for the request-level machine: paged tiles are the blocks (after their
block-table read); contiguous and virtual runs are cut into tiles of
``DEFAULT_TILE_TOKENS`` tokens. (request, KV head) pairs go round-robin over ``places``
SMs; K and V tiles are double-buffered in SRAM (a load waits for the compute two tiles
back). "kernel" emits a few pipelined stages for the transfer level: stage s loads the KV
of a slice of the requests after stage s-1's load and computes after stage s-1's compute,
with exactly the same bytes and FLOPs. The access shape (``chunk``) of a kernel-level KV
load is what one kernel reads contiguously: contiguous, one KV head's context; paged, one
block of one KV head (vLLM's K cache keeps a (block, head) pair's block_tokens x head_dim
elements together); virtual, one request's context over all its KV heads (vAttention's
[batch, tokens, kv_heads, head_dim] tensors; a per-head read is strided, as the tile
graph says).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import UserError
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.kv_layout import (
    BLOCK_TABLE_ENTRY_BYTES,
    KvBatch,
    KvGeometry,
    KvLayout,
    PagedLayout,
    VirtualLayout,
    check_kv_fits,
    geometry_of,
    kv_batch,
    max_batch,
)
from workloads.llm.taskgraph import TaskGraph, TaskGraphBuilder

__all__ = ["DecodeAttentionMetrics", "SOFTMAX_FLOPS_PER_SCORE", "KERNEL_STAGES",
           "decode_attention", "decode_attention_metrics", "max_batch", "check_kv_fits"]

SOFTMAX_FLOPS_PER_SCORE = 5
KERNEL_STAGES = 8  # pipelined load -> compute stages of a kernel-granularity graph
GRANULARITIES = ("kernel", "tile")
HBM, SRAM, UNIT = "hbm", "sram", "tensor"
_ALIGN = 4096  # q and O buffers start on a fresh 4 KiB after the KV


@dataclass(frozen=True)
class DecodeAttentionMetrics:
    """Counted bytes and FLOPs of one layer's decode attention (see the module doc)."""

    layout: str
    requests: int
    heads: int
    kv_heads: int
    kv_token_bytes: int  # K and V of the stored tokens (this layer)
    kv_allocated_bytes: int  # what the layout commits for them (this layer)
    q_bytes: int
    out_bytes: int
    kv_append_bytes: int
    kv_read_bytes: int
    block_table_bytes: int
    qk_flops: int
    softmax_flops: int
    pv_flops: int

    @property
    def utilisation(self) -> float:
        return self.kv_token_bytes / self.kv_allocated_bytes

    @property
    def hbm_bytes_read(self) -> int:
        return self.q_bytes + self.kv_read_bytes + self.block_table_bytes

    @property
    def hbm_bytes_written(self) -> int:
        return self.kv_append_bytes + self.out_bytes

    @property
    def hbm_bytes(self) -> int:
        return self.hbm_bytes_read + self.hbm_bytes_written

    @property
    def flops(self) -> int:
        return self.qk_flops + self.softmax_flops + self.pv_flops

    @property
    def intensity(self) -> float:
        """FLOP per HBM byte (read + written)."""
        return self.flops / self.hbm_bytes


@dataclass(frozen=True)
class _Plan:
    shape: AttentionShape
    geom: KvGeometry
    batch: KvBatch
    layout: KvLayout

    @property
    def H(self) -> int:
        return self.geom.kv_heads

    @property
    def g(self) -> int:
        return self.shape.group_size

    @property
    def d(self) -> int:
        return self.shape.head_dim

    @property
    def act(self) -> int:
        return self.shape.bytes_per_element

    def blocks(self, tokens: np.ndarray) -> np.ndarray:
        if isinstance(self.layout, PagedLayout):
            return self.layout.blocks(tokens)
        return np.zeros(len(tokens), np.int64)


def _plan(shape: AttentionShape, contexts: np.ndarray, layout: KvLayout, kv_bits: int | None,
          retained: float, shared_prefix: int) -> _Plan:
    for what in ("batch", "heads", "head_dim", "bytes_per_element"):
        v = getattr(shape, what)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"attention shape: {what} must be a positive whole number, "
                            f"got {v!r}")
    if shape.kv_heads < 0:
        raise UserError(f"attention shape: kv_heads must be positive, got {shape.kv_heads}")
    if shape.heads % shape.n_kv_heads:
        raise UserError(f"attention shape: heads ({shape.heads}) must be a multiple of "
                        f"kv_heads ({shape.n_kv_heads}): each KV head serves a whole group")
    if shape.seq_q != 1:
        raise UserError(f"decode attention has one query token per request (seq_q = 1), "
                        f"got seq_q = {shape.seq_q}")
    if not isinstance(layout, KvLayout):
        raise TypeError(f"layout must be a KvLayout (see kv_layout.make_layout), "
                        f"got {type(layout).__name__}")
    batch = kv_batch(contexts, retained=retained, shared_prefix=shared_prefix)
    if batch.n != shape.batch:
        raise UserError(f"the attention shape has batch {shape.batch} but {batch.n} context "
                        f"lengths were given")
    layout.check(batch)
    return _Plan(shape, geometry_of(shape, kv_bits=kv_bits), batch, layout)


def _metrics(p: _Plan) -> DecodeAttentionMetrics:
    s, b, H, d = p.shape, p.batch, p.H, p.d
    usage = p.layout.usage(b, p.geom)
    prefix = np.array([b.shared_prefix], np.int64) if b.shared_prefix else np.zeros(0, np.int64)
    read_tokens = int(b.private.sum()) + b.shared_prefix  # once per KV head
    attended = int(b.stored.sum())  # tokens each query head attends to, over requests
    blocks = int(p.blocks(b.private).sum() + p.blocks(prefix).sum())
    qo = s.batch * s.heads * d * p.act
    return DecodeAttentionMetrics(
        layout=p.layout.kind, requests=s.batch, heads=s.heads, kv_heads=H,
        kv_token_bytes=usage.token_bytes, kv_allocated_bytes=usage.allocated_bytes,
        q_bytes=qo, out_bytes=qo,
        kv_append_bytes=2 * s.batch * H * p.geom.vector_bytes,
        kv_read_bytes=2 * H * p.geom.vector_bytes * read_tokens,
        block_table_bytes=BLOCK_TABLE_ENTRY_BYTES * H * blocks,
        qk_flops=2 * d * s.heads * attended,
        softmax_flops=SOFTMAX_FLOPS_PER_SCORE * s.heads * attended + s.batch * s.heads * d,
        pv_flops=2 * d * s.heads * attended)


def decode_attention_metrics(shape: AttentionShape, contexts: np.ndarray, *, layout: KvLayout,
                             kv_bits: int | None = None, retained: float = 1.0,
                             shared_prefix: int = 0) -> DecodeAttentionMetrics:
    """The counts decode_attention's graph holds, without building it."""
    return _metrics(_plan(shape, contexts, layout, kv_bits, retained, shared_prefix))


def decode_attention(shape: AttentionShape, contexts: np.ndarray, *, layout: KvLayout,
                     kv_bits: int | None = None, retained: float = 1.0,
                     shared_prefix: int = 0, granularity: str = "kernel", places: int = 1,
                     seed: int = 0, label: str = "attn") -> TaskGraph:
    """One layer's decode attention for a batch (see the module docstring).

    ``shape``: batch (== len(contexts)), heads, kv_heads, head_dim, bytes_per_element;
    seq_q must be 1 and seq_kv is ignored. ``contexts``: each request's attention length,
    new token included. ``layout``: from kv_layout.make_layout. ``seed`` places paged
    blocks (tile granularity). Labels: ``{label}.q``, ``.kv_append``, ``.block_table``,
    ``.kv_read``, ``.qk``, ``.softmax``, ``.pv``, ``.out``.
    """
    if granularity not in GRANULARITIES:
        raise UserError(f"granularity must be one of {', '.join(GRANULARITIES)}, "
                        f"got {granularity!r}")
    if isinstance(places, bool) or not isinstance(places, int) or places < 1:
        raise UserError(f"places must be a positive number of SMs, got {places!r}")
    p = _plan(shape, contexts, layout, kv_bits, retained, shared_prefix)
    if granularity == "kernel":
        return _kernel_graph(p, label)
    return _tile_graph(p, label, places, seed)


# --- kernel granularity ---------------------------------------------------------------


def _kernel_graph(p: _Plan, label: str) -> TaskGraph:
    s, b, H, d = p.shape, p.batch, p.H, p.d
    vec = p.geom.vector_bytes
    paged = isinstance(p.layout, PagedLayout)
    tb = TaskGraphBuilder((HBM, SRAM), (UNIT,))
    qo = s.batch * s.heads * d * p.act
    q = tb.transfer(HBM, SRAM, qo, label=f"{label}.q")
    app = tb.transfer(SRAM, HBM, 2 * s.batch * H * vec, chunk=vec, label=f"{label}.kv_append")
    # stages: (tokens per KV head and K/V, queries per KV head, requests) for the shared
    # prefix (read once, attended by every request) and for slices of the requests
    stages: list[tuple[np.ndarray, int]] = []
    if b.shared_prefix:
        stages.append((np.array([b.shared_prefix], np.int64), s.batch))
    for part in np.array_split(b.private, min(KERNEL_STAGES, s.batch)):
        stages.append((part, 1))
    prev_load = prev_pv = None
    for tokens, queries in stages:
        n_tok = int(tokens.sum())
        nbytes = 2 * H * vec * n_tok
        if paged:
            chunk = min(p.layout.block_tokens * vec, nbytes)
        elif isinstance(p.layout, VirtualLayout):
            chunk = max(1, nbytes // (2 * len(tokens)))  # a request's K over all heads
        else:
            chunk = max(1, nbytes // (2 * H * len(tokens)))  # one head's context
        deps = [app] + ([prev_load] if prev_load is not None else [])
        if paged:
            nblk = int(p.blocks(tokens).sum())
            tbl = tb.transfer(HBM, SRAM, BLOCK_TABLE_ENTRY_BYTES * H * nblk,
                              chunk=BLOCK_TABLE_ENTRY_BYTES, deps=deps,
                              label=f"{label}.block_table")
            deps = [tbl]
        load = tb.transfer(HBM, SRAM, nbytes, chunk=chunk, deps=deps, label=f"{label}.kv_read")
        scores = s.heads * queries * n_tok  # (query head, token) pairs of this stage
        qk = tb.compute(UNIT, 2 * d * scores, label=f"{label}.qk",
                        deps=[load, q] + ([prev_pv] if prev_pv is not None else []))
        sm = tb.compute(UNIT, SOFTMAX_FLOPS_PER_SCORE * scores, deps=[qk],
                        label=f"{label}.softmax")
        prev_pv = tb.compute(UNIT, 2 * d * scores, deps=[sm], label=f"{label}.pv")
        prev_load = load
    norm = tb.compute(UNIT, s.batch * s.heads * d, deps=[prev_pv], label=f"{label}.softmax")
    tb.transfer(SRAM, HBM, qo, deps=[norm], label=f"{label}.out")
    return tb.build()


# --- tile granularity -----------------------------------------------------------------


def _pieces(runs: np.ndarray, tile_tokens: int, vec: int) -> list[tuple[int, ...]]:
    """Runs cut into tiles of at most tile_tokens: (tokens, addr, nbytes, chunk, stride,
    table_addr) each; a strided run's tiles stay strided."""
    out = []
    for r in runs:
        step = int(r["stride"]) or vec
        for first in range(0, int(r["tokens"]), tile_tokens):
            t = min(tile_tokens, int(r["tokens"]) - first)
            nbytes = t * vec
            strided = int(r["stride"]) > 0
            out.append((t, int(r["addr"]) + first * step, nbytes,
                        vec if strided else nbytes, int(r["stride"]),
                        int(r["table_addr"]) if first == 0 else -1))
    return out


def _tile_graph(p: _Plan, label: str, places: int, seed: int) -> TaskGraph:
    s, b, H, d, g, a = p.shape, p.batch, p.H, p.d, p.g, p.act
    vec = p.geom.vector_bytes
    amap = p.layout.address_map(b, p.geom, seed=seed)
    runs = amap.runs
    q_base = -(-amap.extent // _ALIGN) * _ALIGN
    out_base = q_base + s.batch * s.heads * d * a
    tile = p.layout.tile_tokens()
    tb = TaskGraphBuilder((HBM, SRAM), (UNIT,))
    L = label

    # group the runs by (part, head, kv): they are sorted that way
    key = (runs["part"].astype(np.int64) + 1) * (2 * H) + runs["head"] * 2 + runs["kv"]
    bounds = np.flatnonzero(np.diff(key)) + 1
    groups = {int(key[i0]): runs[i0:i1] for i0, i1 in
              zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(runs)]]),
                  strict=True)}

    def group(part: int, head: int, kv: int) -> np.ndarray:
        return groups[(part + 1) * (2 * H) + head * 2 + kv]

    def stream(part: int, head: int, queries: int, place: int, q_deps: list[int],
               k_deps: list[int], v_deps: list[int], q_bytes: int) -> int:
        """Tasks reading part's KV head ``head`` tile by tile; returns the last p.v task."""
        kp = _pieces(group(part, head, 0), tile, vec)
        vp = _pieces(group(part, head, 1), tile, vec)
        buf = tile * vec
        k_buf = (q_bytes, q_bytes + buf)
        v_buf = (q_bytes + 2 * buf, q_bytes + 3 * buf)
        tbl_sram = q_bytes + 4 * buf
        qks: list[int] = []
        pvs: list[int] = []
        sm = -1
        for j, (k, v) in enumerate(zip(kp, vp, strict=True)):
            t = k[0]
            tdeps: list[int] = []
            if k[5] >= 0:
                tdeps = [tb.transfer(HBM, SRAM, BLOCK_TABLE_ENTRY_BYTES, place=place,
                                     src_addr=k[5], dst_addr=tbl_sram,
                                     label=f"{L}.block_table")]
            kid = tb.transfer(HBM, SRAM, k[2], chunk=k[3], stride=k[4], src_addr=k[1],
                              dst_addr=k_buf[j % 2], place=place, label=f"{L}.kv_read",
                              deps=tdeps + k_deps + (qks[j - 2:j - 1] if j >= 2 else []))
            vid = tb.transfer(HBM, SRAM, v[2], chunk=v[3], stride=v[4], src_addr=v[1],
                              dst_addr=v_buf[j % 2], place=place, label=f"{L}.kv_read",
                              deps=tdeps + v_deps + (pvs[j - 2:j - 1] if j >= 2 else []))
            scores = g * queries * t
            qks.append(tb.compute(UNIT, 2 * d * scores, place=place, label=f"{L}.qk",
                                  deps=[kid] + (qks[-1:] if qks else q_deps)))
            sm = tb.compute(UNIT, SOFTMAX_FLOPS_PER_SCORE * scores, place=place,
                            label=f"{L}.softmax", deps=[qks[-1]] + ([sm] if sm >= 0 else []))
            pvs.append(tb.compute(UNIT, 2 * d * scores, place=place, label=f"{L}.pv",
                                  deps=[sm, vid] + pvs[-1:]))
        return pvs[-1]

    # q of each (request, KV head): the group's query heads are adjacent in [batch, heads, d]
    gq = g * d * a
    q_ids = np.zeros((s.batch, H), np.int64)
    for r in range(s.batch):
        for h in range(H):
            q_ids[r, h] = tb.transfer(HBM, SRAM, gq, place=(r * H + h) % places,
                                      src_addr=q_base + (r * s.heads + h * g) * d * a,
                                      dst_addr=0, label=f"{L}.q")
    prefix_done: dict[int, int] = {}
    if b.shared_prefix:
        # all requests' queries for KV head h meet the prefix once (RelayAttention)
        for h in range(H):
            prefix_done[h] = stream(-1, h, s.batch, h % places, [int(i) for i in q_ids[:, h]],
                                    [], [], s.batch * gq)
    for r in range(s.batch):
        for h in range(H):
            place = (r * H + h) % places
            appends = []
            for kv in (0, 1):
                last = group(r, h, kv)[-1]
                step = int(last["stride"]) or vec
                appends.append(tb.transfer(
                    SRAM, HBM, vec, place=place, src_addr=gq + kv * vec,
                    dst_addr=int(last["addr"]) + (int(last["tokens"]) - 1) * step,
                    label=f"{L}.kv_append"))
            pv = stream(r, h, 1, place, [int(q_ids[r, h])], [appends[0]], [appends[1]], gq)
            deps = [pv] + ([prefix_done[h]] if h in prefix_done else [])
            norm = tb.compute(UNIT, g * d, place=place, deps=deps, label=f"{L}.softmax")
            tb.transfer(SRAM, HBM, gq, place=place, deps=[norm], src_addr=0,
                        dst_addr=out_base + (r * s.heads + h * g) * d * a, label=f"{L}.out")
    return tb.build()
