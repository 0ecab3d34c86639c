"""KV-cache layouts: how much HBM a batch's keys and values take, and where they sit.

Three layouts, each built from a YAML-friendly dict by ``make_layout``:

``contiguous`` (pre-vLLM systems such as FasterTransformer)
    Each request reserves room for ``max_len`` tokens up front, in a per-layer buffer
    shaped [batch, kv_heads, max_len, head_dim] for K and another for V, so one KV head's
    context is one contiguous run. The vLLM paper (Kwon et al., "Efficient Memory
    Management for Large Language Model Serving with PagedAttention", SOSP 2023, Fig. 2)
    measured only 20.4%-38.2% of the KV memory of such systems holding token states.

``paged`` (vLLM's PagedAttention, same paper)
    The cache is a pool of blocks of ``block_tokens`` tokens (vLLM's default: 16). A
    sequence holds ceil(tokens / block_tokens) blocks, anywhere in the pool (here a seeded
    permutation of the pool), found through its block table (one int32 entry per block,
    ``BLOCK_TABLE_ENTRY_BYTES``), which the kernel reads before each block. Per layer the
    K pool is [blocks, kv_heads, block_tokens, head_dim] (vLLM's key cache
    [num_blocks, num_kv_heads, head_size/x, block_size, x] has the same bytes per
    (block, head): block_tokens x head_dim elements, contiguous), V likewise. Waste: under
    one block per sequence, per layer, per K/V pool.

``virtual`` (vAttention: Prabhu et al., "vAttention: Dynamic Memory Management for
Serving LLMs without PagedAttention", arXiv 2405.04437, 2024; ASPLOS 2025)
    K and V of each layer are each one virtually contiguous tensor shaped
    [max_batch, max_len, kv_heads, head_dim]; each request's slice is contiguous in
    virtual memory and physical memory is mapped into it on demand, one page at a time.
    The granularity is per request, per layer, per K/V buffer: a request's slice of one
    layer's K tensor holds ceil(tokens x kv_heads x head_dim x bytes / page_bytes) pages.
    CUDA's virtual-memory API maps 2 MiB pages; vAttention's modified driver adds 64 KiB,
    128 KiB and 256 KiB pages. No block table. Waste: under one page per request, layer
    and K/V buffer. We place each request's committed pages back to back (the physical
    address map is left out: pages of 64 KiB and more are far coarser than the DRAM's
    channel interleave, so their placement does not change the access pattern).

Allocation counts the bytes a layout commits for KV; block tables and virtual address
reservations are metadata and are not counted. A shared prefix (see KvBatch) is
allocated once, as a sequence of its own; each request allocates only its own tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from sim.config.units import UnitError, parse_bytes
from sim.errors import UserError
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.context_lengths import check_max_context
from workloads.llm.model_spec import ModelSpec

# vLLM keeps block tables as int32 tensors: one 4-byte physical block number per block.
BLOCK_TABLE_ENTRY_BYTES = 4
LAYOUT_KINDS = ("contiguous", "paged", "virtual")
DEFAULT_BLOCK_TOKENS = 16  # vLLM's default --block-size
DEFAULT_PAGE_BYTES = 2 << 20  # CUDA VMM's mapping granularity, vAttention's default
DEFAULT_TILE_TOKENS = 64  # tokens per SRAM tile when a kernel streams a contiguous run
GIB = 1 << 30

RUN_DTYPE = np.dtype([
    ("part", np.int32),  # request index; -1: the shared prefix
    ("head", np.int32),  # KV head
    ("kv", np.uint8),  # 0: K, 1: V
    ("index", np.int32),  # run number within (part, head, kv), in token order
    ("first", np.int64),  # first token of the run within its part
    ("tokens", np.int64),  # tokens in the run
    ("addr", np.int64),  # HBM byte address of the run's first token
    ("nbytes", np.int64),
    ("chunk", np.int64),  # contiguous bytes per access (== nbytes unless strided)
    ("stride", np.int64),  # bytes between consecutive chunks (0: contiguous)
    ("table_addr", np.int64),  # paged: the block-table entry read first; else -1
])


# --- what is stored -----------------------------------------------------------------


@dataclass(frozen=True)
class KvGeometry:
    """What the cache stores per token: ``layers`` x K and V x ``kv_heads`` vectors."""

    layers: int
    kv_heads: int
    head_dim: int
    vector_bytes: int  # one KV head's K (or V) for one token, as stored

    @property
    def buffer_token_bytes(self) -> int:
        """One token's bytes in one layer's K (or V) buffer: all KV heads."""
        return self.kv_heads * self.vector_bytes

    @property
    def token_bytes(self) -> int:
        """One token's K and V over all layers."""
        return 2 * self.layers * self.buffer_token_bytes


def kv_vector_bytes(head_dim: int, bytes_per_element: int, kv_bits: int | None = None) -> int:
    """Bytes of one head's K (or V) for one token: head_dim elements of ``kv_bits`` bits,
    rounded up to whole bytes (None: the model's own width). Quantisation scales are not
    counted (a per-group FP16 scale, as in KIVI, would add 2 B per group)."""
    if kv_bits is None:
        return head_dim * bytes_per_element
    if isinstance(kv_bits, bool) or not isinstance(kv_bits, int | np.integer) or \
            not 1 <= kv_bits <= 8 * bytes_per_element:
        raise UserError(f"kv_bits must be a whole number of bits from 1 to "
                        f"{8 * bytes_per_element} (the model's width), got {kv_bits!r}")
    return -(-head_dim * int(kv_bits) // 8)


def geometry_of(source: ModelSpec | AttentionShape, *, kv_bits: int | None = None,
                layers: int | None = None) -> KvGeometry:
    """The KV geometry of a model (all its layers) or of one attention shape (1 layer)."""
    if isinstance(source, ModelSpec):
        kv_heads, n_layers = source.kv_heads, source.layers
    else:
        kv_heads, n_layers = source.n_kv_heads, 1
    n_layers = layers if layers is not None else n_layers
    for what, v in (("layers", n_layers), ("kv_heads", kv_heads),
                    ("head_dim", source.head_dim),
                    ("bytes_per_element", source.bytes_per_element)):
        if v < 1:
            raise UserError(f"{what} must be positive, got {v}")
    return KvGeometry(n_layers, kv_heads, source.head_dim,
                      kv_vector_bytes(source.head_dim, source.bytes_per_element, kv_bits))


@dataclass(frozen=True)
class KvBatch:
    """The tokens a batch keeps in its cache.

    ``contexts``: attention length of each request (new token included). ``stored``:
    tokens kept after eviction, ceil(retained x context) (H2O, Zhang et al. NeurIPS 2023,
    keeps a fixed fraction of heavy-hitter and recent tokens). The first ``shared_prefix``
    tokens are common to every request and stored once (RelayAttention, Zhu et al.
    ACL 2024; ChunkAttention, Ye et al. ACL 2024); ``private`` = stored - shared_prefix.
    """

    contexts: np.ndarray
    stored: np.ndarray
    retained: Fraction
    shared_prefix: int

    @property
    def n(self) -> int:
        return len(self.contexts)

    @property
    def private(self) -> np.ndarray:
        return self.stored - self.shared_prefix

    def retain(self, tokens: int) -> int:
        """Tokens kept out of ``tokens`` (ceil(retained x tokens), exact arithmetic)."""
        r = self.retained
        return -(-tokens * r.numerator // r.denominator)


def kv_batch(contexts: np.ndarray, *, retained: float = 1.0, shared_prefix: int = 0) -> KvBatch:
    """Validate a batch's contexts, retained fraction and shared prefix (UserError)."""
    c = np.asarray(contexts)
    if c.ndim != 1 or len(c) == 0:
        raise UserError("a batch needs at least one context length (a 1-D array)")
    if not np.issubdtype(c.dtype, np.integer):
        raise UserError(f"context lengths must be whole numbers of tokens, got {c.dtype}")
    c = c.astype(np.int64)
    bad = np.flatnonzero(c < 1)
    if len(bad):
        raise UserError(f"request {int(bad[0])} has a context of {int(c[bad[0]])} tokens; "
                        f"each request attends to at least its new token")
    if isinstance(retained, bool) or not isinstance(retained, int | float | Fraction) or \
            not 0 < retained <= 1:
        raise UserError(f"retained must be a fraction in (0, 1], got {retained!r}")
    # from the decimal text so that 0.7 x 10 is 7, not 7.000000000000001 -> 8
    frac = Fraction(retained) if isinstance(retained, Fraction) else Fraction(repr(retained))
    if isinstance(shared_prefix, bool) or not isinstance(shared_prefix, int | np.integer) or \
            shared_prefix < 0:
        raise UserError(f"shared_prefix must be a whole number of tokens >= 0, "
                        f"got {shared_prefix!r}")
    if shared_prefix and frac != 1:
        raise UserError("a shared prefix with eviction (retained < 1) is not modelled: each "
                        "request would evict different prefix tokens, so none stay shared")
    if shared_prefix and shared_prefix >= c.min():
        i = int(np.argmin(c))
        raise UserError(f"shared_prefix of {shared_prefix} tokens must be shorter than every "
                        f"context (the new token is the request's own), but request {i} "
                        f"has {int(c[i])}")
    stored = -(-c * frac.numerator // frac.denominator)
    return KvBatch(c, stored.astype(np.int64), frac, int(shared_prefix))


# --- what it takes ------------------------------------------------------------------


@dataclass(frozen=True)
class KvUsage:
    """A batch's KV cache under one layout (all layers of the geometry)."""

    layout: str
    requests: int
    token_bytes: int  # K and V of the stored tokens
    allocated_bytes: int  # what the layout commits for them
    per_request_allocated: np.ndarray  # int64, each request's own allocation
    shared_allocated: int  # the shared prefix's allocation (0 without one)

    @property
    def utilisation(self) -> float:
        """Token bytes / allocated bytes."""
        return self.token_bytes / self.allocated_bytes

    @property
    def waste_bytes(self) -> int:
        return self.allocated_bytes - self.token_bytes


@dataclass(frozen=True)
class KvAddressMap:
    """Where one layer's KV sits in HBM: runs of each (part, head, K/V), in token order.

    ``runs`` (RUN_DTYPE) are sorted by (part, head, kv, index) with the prefix (part -1)
    first; ``extent`` is the bytes the layer occupies from ``base`` (K, V, then the block
    tables for paged).
    """

    runs: np.ndarray
    base: int
    extent: int
    vector_bytes: int


class KvLayout(ABC):
    """A KV-cache layout. ``max_len``: the longest context it admits (None: unbounded)."""

    kind: str = ""
    max_len: int | None = None

    # subclasses: bytes one part of ``tokens`` tokens commits in ONE layer's K (or V)
    # buffer; ``reserve`` is the token count a fixed reservation would hold
    @abstractmethod
    def buffer_bytes(self, tokens: np.ndarray, geom: KvGeometry, reserve: int) -> np.ndarray:
        ...

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The layout's parameters, as make_layout accepts them."""

    def tile_tokens(self) -> int:
        """Tokens per SRAM tile when the kernel streams a run (paged: one block)."""
        return DEFAULT_TILE_TOKENS

    def reserve_tokens(self, batch: KvBatch) -> int:
        """Tokens a request's own part could grow to (max_len after eviction, minus prefix)."""
        top = self.max_len if self.max_len is not None else int(batch.contexts.max())
        return batch.retain(top) - batch.shared_prefix

    def check(self, batch: KvBatch) -> None:
        if self.max_len is not None:
            check_max_context(batch.contexts, self.max_len)

    def usage(self, batch: KvBatch, geom: KvGeometry) -> KvUsage:
        self.check(batch)
        reserve = self.reserve_tokens(batch)
        per_req = 2 * geom.layers * self.buffer_bytes(batch.private, geom, reserve)
        shared = 0
        if batch.shared_prefix:
            p = np.array([batch.shared_prefix], np.int64)
            shared = int(2 * geom.layers * self.buffer_bytes(p, geom, batch.shared_prefix)[0])
        tokens = int(batch.private.sum()) + batch.shared_prefix
        return KvUsage(self.kind, batch.n, tokens * geom.token_bytes,
                       int(per_req.sum()) + shared, per_req.astype(np.int64), shared)

    def max_batch(self, batch: KvBatch, geom: KvGeometry, hbm_free_bytes: int) -> int:
        """The most requests whose KV fits ``hbm_free_bytes``, requests taken in order from
        ``batch`` and cycling through it (a single fixed length: free // per-request)."""
        u = self.usage(batch, geom)
        room = int(hbm_free_bytes) - u.shared_allocated
        if room < 0:
            return 0
        a = u.per_request_allocated
        total = int(a.sum())
        cycles, rest = divmod(room, total)
        return int(cycles * len(a) + np.searchsorted(np.cumsum(a), rest, side="right"))

    @abstractmethod
    def address_map(self, batch: KvBatch, geom: KvGeometry, *, base: int = 0,
                    seed: int = 0) -> KvAddressMap:
        """Runs of one layer (geom.layers is ignored) starting at HBM address ``base``."""


def _runs(part: np.ndarray, head: np.ndarray, kv: np.ndarray, index: np.ndarray,
          first: np.ndarray, tokens: np.ndarray, addr: np.ndarray, vec: int,
          stride: int = 0, table_addr: np.ndarray | None = None) -> np.ndarray:
    r = np.zeros(len(part), RUN_DTYPE)
    r["part"], r["head"], r["kv"], r["index"] = part, head, kv, index
    r["first"], r["tokens"], r["addr"] = first, tokens, addr
    r["nbytes"] = tokens * vec
    if stride:
        r["chunk"], r["stride"] = vec, stride
    else:
        r["chunk"], r["stride"] = r["nbytes"], 0
    r["table_addr"] = -1 if table_addr is None else table_addr
    return r


def _parts(batch: KvBatch) -> tuple[np.ndarray, np.ndarray]:
    """(part ids, tokens) with the shared prefix (part -1) first when there is one."""
    ids = np.arange(batch.n, dtype=np.int64)
    if batch.shared_prefix:
        return (np.concatenate([[-1], ids]),
                np.concatenate([[batch.shared_prefix], batch.private]).astype(np.int64))
    return ids, batch.private.astype(np.int64)


def _whole_runs(ids: np.ndarray, tokens: np.ndarray, starts: np.ndarray, geom: KvGeometry,
                head_step: np.ndarray, v_offset: int, stride: int = 0) -> np.ndarray:
    """One run per (part, head, K/V): head h of part p's K starts at
    starts[p] + h * head_step[p]; V sits ``v_offset`` bytes after K."""
    H = geom.kv_heads
    n = len(ids)
    pi = np.repeat(np.arange(n), 2 * H)  # order: part, head, kv
    h = np.tile(np.repeat(np.arange(H), 2), n)
    kv = np.tile([0, 1], n * H)
    addr = starts[pi] + h * np.broadcast_to(head_step, (n,))[pi] + kv * v_offset
    return _runs(ids[pi], h, kv, np.zeros(len(pi)), np.zeros(len(pi)), tokens[pi], addr,
                 geom.vector_bytes, stride)


class ContiguousLayout(KvLayout):
    kind = "contiguous"

    def __init__(self, max_len: int):
        self.max_len = max_len

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_len": self.max_len}

    def buffer_bytes(self, tokens: np.ndarray, geom: KvGeometry, reserve: int) -> np.ndarray:
        return np.full(len(tokens), reserve * geom.buffer_token_bytes, np.int64)

    def address_map(self, batch: KvBatch, geom: KvGeometry, *, base: int = 0,
                    seed: int = 0) -> KvAddressMap:
        self.check(batch)
        vec, H = geom.vector_bytes, geom.kv_heads
        ids, tokens = _parts(batch)
        # the prefix holds exactly its tokens; each request its reservation
        room = np.where(ids < 0, batch.shared_prefix, self.reserve_tokens(batch))
        part_bytes = room * H * vec  # one part in one (K or V) buffer
        starts = base + np.concatenate([[0], np.cumsum(part_bytes)[:-1]])
        k_total = int(part_bytes.sum())
        # [part, kv_heads, room, head_dim]: head h of part p starts at h * room * vec
        runs = _whole_runs(ids, tokens, starts, geom, room * vec, k_total)
        return KvAddressMap(runs, base, 2 * k_total, vec)


class PagedLayout(KvLayout):
    kind = "paged"

    def __init__(self, block_tokens: int = DEFAULT_BLOCK_TOKENS, max_len: int | None = None):
        self.block_tokens = block_tokens
        self.max_len = max_len

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "block_tokens": self.block_tokens, "max_len": self.max_len}

    def tile_tokens(self) -> int:
        return self.block_tokens

    def blocks(self, tokens: np.ndarray) -> np.ndarray:
        return -(-np.asarray(tokens, np.int64) // self.block_tokens)

    def buffer_bytes(self, tokens: np.ndarray, geom: KvGeometry, reserve: int) -> np.ndarray:
        return self.blocks(tokens) * self.block_tokens * geom.buffer_token_bytes

    def address_map(self, batch: KvBatch, geom: KvGeometry, *, base: int = 0,
                    seed: int = 0) -> KvAddressMap:
        self.check(batch)
        vec, H, B = geom.vector_bytes, geom.kv_heads, self.block_tokens
        ids, tokens = _parts(batch)
        nblk = self.blocks(tokens)
        total = int(nblk.sum())
        # logical block j of part p -> a physical block drawn from a seeded permutation
        physical = np.random.default_rng(seed).permutation(total).astype(np.int64)
        block_bytes = B * H * vec  # one block of one layer's K pool (all KV heads)
        k_pool = total * block_bytes
        table_base = base + 2 * k_pool
        row_len = int(nblk.max())  # block-table rows padded to the longest part
        part_of_blk = np.repeat(np.arange(len(ids)), nblk)
        blk_first = np.concatenate([[0], np.cumsum(nblk)[:-1]])
        j = np.arange(total) - blk_first[part_of_blk]  # block number within its part
        blk_tokens = np.minimum(B, tokens[part_of_blk] - j * B)
        table = table_base + (part_of_blk * row_len + j) * BLOCK_TABLE_ENTRY_BYTES
        # order: part, head, kv, block
        reps = np.repeat(nblk, 2 * H)  # runs per (part, head, kv)
        p3 = np.repeat(np.repeat(np.arange(len(ids)), 2 * H), reps)
        h3 = np.repeat(np.tile(np.repeat(np.arange(H), 2), len(ids)), reps)
        kv3 = np.repeat(np.tile([0, 1], len(ids) * H), reps)
        run_first = np.concatenate([[0], np.cumsum(reps)[:-1]])
        jj = np.arange(len(p3)) - np.repeat(run_first, reps)
        g = blk_first[p3] + jj  # global logical block
        addr = base + kv3 * k_pool + (physical[g] * H + h3) * B * vec
        runs = _runs(ids[p3], h3, kv3, jj, jj * B, blk_tokens[g], addr, vec,
                     table_addr=table[g])
        extent = 2 * k_pool + len(ids) * row_len * BLOCK_TABLE_ENTRY_BYTES
        return KvAddressMap(runs, base, extent, vec)


class VirtualLayout(KvLayout):
    kind = "virtual"

    def __init__(self, page_bytes: int = DEFAULT_PAGE_BYTES, max_len: int | None = None):
        self.page_bytes = page_bytes
        self.max_len = max_len

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "page_bytes": self.page_bytes, "max_len": self.max_len}

    def pages(self, tokens: np.ndarray, geom: KvGeometry) -> np.ndarray:
        """Pages committed to one part in one layer's K (or V) buffer."""
        need = np.asarray(tokens, np.int64) * geom.buffer_token_bytes
        return -(-need // self.page_bytes)

    def buffer_bytes(self, tokens: np.ndarray, geom: KvGeometry, reserve: int) -> np.ndarray:
        return self.pages(tokens, geom) * self.page_bytes

    def address_map(self, batch: KvBatch, geom: KvGeometry, *, base: int = 0,
                    seed: int = 0) -> KvAddressMap:
        self.check(batch)
        vec, H = geom.vector_bytes, geom.kv_heads
        ids, tokens = _parts(batch)
        part_bytes = self.pages(tokens, geom) * self.page_bytes
        starts = base + np.concatenate([[0], np.cumsum(part_bytes)[:-1]])
        k_total = int(part_bytes.sum())
        # [token, kv_heads, head_dim] within a part: head h's vectors are head_dim elements
        # every kv_heads x head_dim; with one KV head the run is plain contiguous
        stride = H * vec if H > 1 else 0
        runs = _whole_runs(ids, tokens, starts, geom, np.int64(vec), k_total, stride)
        return KvAddressMap(runs, base, 2 * k_total, vec)


# --- from YAML-friendly parameters --------------------------------------------------


def make_layout(params: Mapping[str, Any] | str, *, max_len: int | None = None,
                where: str = "kv_layout") -> KvLayout:
    """A layout from ``{kind, block_tokens, page_bytes, max_len}`` (or just a kind name).

    ``max_len`` is the model's maximum context: the default reservation of ``contiguous``
    and the limit every layout checks; a ``max_len`` in ``params`` may lower it (a serving
    limit), never raise it. ``page_bytes`` takes an integer or a size such as "64 KiB".
    Bad values raise UserError "{where}.{key}: ...".
    """
    if isinstance(params, str):
        params = {"kind": params}
    if not isinstance(params, Mapping):
        raise UserError(f"{where}: expected a mapping with 'kind', got {params!r}")
    kind = params.get("kind")
    if kind not in LAYOUT_KINDS:
        raise UserError(f"{where}.kind: expected one of {', '.join(LAYOUT_KINDS)}, "
                        f"got {kind!r}")
    allowed = {"contiguous": ("max_len",), "paged": ("block_tokens", "max_len"),
               "virtual": ("page_bytes", "max_len")}[kind]
    for key in params:
        if key != "kind" and key not in allowed:
            raise UserError(f"{where}.{key}: not a parameter of the {kind} layout "
                            f"(expected {', '.join(allowed)})")
    if max_len is not None and (isinstance(max_len, bool) or max_len < 1):
        raise UserError(f"{where}: the model's maximum context must be positive, "
                        f"got {max_len!r}")
    limit = max_len
    if params.get("max_len") is not None:
        limit = _positive_int(params, "max_len", where)
        if max_len is not None and limit > max_len:
            raise UserError(f"{where}.max_len: {limit} tokens is beyond the model's maximum "
                            f"context of {max_len}")
    if kind == "contiguous":
        if limit is None:
            raise UserError(f"{where}.max_len: the contiguous layout reserves max_len tokens "
                            f"per request; give max_len or the model's maximum context")
        return ContiguousLayout(limit)
    if kind == "paged":
        block = _positive_int(params, "block_tokens", where, DEFAULT_BLOCK_TOKENS)
        return PagedLayout(block, limit)
    raw = params.get("page_bytes", DEFAULT_PAGE_BYTES)
    try:
        page = raw if isinstance(raw, int) and not isinstance(raw, bool) else parse_bytes(raw)
    except UnitError as e:
        raise UserError(f"{where}.page_bytes: {e}") from None
    if page < 1:
        raise UserError(f"{where}.page_bytes: must be positive, got {raw!r}")
    return VirtualLayout(page, limit)


def _positive_int(params: Mapping[str, Any], key: str, where: str,
                  default: int | None = None) -> int:
    v = params.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise UserError(f"{where}.{key}: expected a whole number, got {v!r}")
    if v < 1:
        raise UserError(f"{where}.{key}: must be positive, got {v}")
    return int(v)


# --- does it fit ----------------------------------------------------------------------


def max_batch(source: ModelSpec | AttentionShape, hbm_free_bytes: int, layout: KvLayout,
              contexts: np.ndarray, *, kv_bits: int | None = None, retained: float = 1.0,
              shared_prefix: int = 0, layers: int | None = None) -> int:
    """The largest batch whose KV fits ``hbm_free_bytes`` (HBM free after weights).

    Requests take their lengths from ``contexts`` in order, cycling (so a one-entry array
    asks "how many requests of this length"). ``source``: a model (all its layers) or one
    attention shape (``layers`` layers, default 1).
    """
    geom = geometry_of(source, kv_bits=kv_bits, layers=layers)
    return layout.max_batch(kv_batch(contexts, retained=retained,
                                     shared_prefix=shared_prefix), geom, hbm_free_bytes)


def check_kv_fits(source: ModelSpec | AttentionShape, hbm_free_bytes: int, layout: KvLayout,
                  contexts: np.ndarray, *, kv_bits: int | None = None, retained: float = 1.0,
                  shared_prefix: int = 0, layers: int | None = None) -> KvUsage:
    """The batch's KV usage; UserError saying what is needed and free if it does not fit."""
    geom = geometry_of(source, kv_bits=kv_bits, layers=layers)
    batch = kv_batch(contexts, retained=retained, shared_prefix=shared_prefix)
    u = layout.usage(batch, geom)
    free = int(hbm_free_bytes)
    if free < 0:
        raise UserError(f"no HBM left for the KV cache: the weights alone exceed HBM by "
                        f"{_gib(-free)} GiB")
    if u.allocated_bytes > free:
        fits = layout.max_batch(batch, geom, free)
        raise UserError(f"KV cache needs {_gib(u.allocated_bytes)} GiB "
                        f"({u.allocated_bytes} B) for {batch.n} requests ({layout.kind} "
                        f"layout), {_gib(free)} GiB ({free} B) free after weights; at most "
                        f"{fits} such requests fit")
    return u


def _gib(nbytes: int) -> str:
    return f"{nbytes / GIB:.2f}"
