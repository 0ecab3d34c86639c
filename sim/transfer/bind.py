"""Bind a task graph to a platform's resources: the TransferProblem the engine runs.

Binding rule (all arithmetic on integers; 10**12 ps per second):
  * Access shape of each side of a TRANSFER (the source memory at src_addr, the
    destination at dst_addr). A transfer with chunk < nbytes is runs of ``chunk`` bytes
    (strided, or scattered like a paged KV read described by its block size alone, see
    workloads/llm/taskgraph.py): its shape is ``chunk``. A transfer with chunk >= nbytes is
    one run of nbytes (not of chunk bytes), and it may continue a stream: it continues
    the latest earlier one-run transfer (in task order) of the same place, on the same
    memory and side, whose range ends where its own starts. Linked transfers form a
    stream (a kernel walking a tensor tile after tile); every transfer of a stream has
    the shape "the stream's total bytes on that side". Why: the calibration (sim/memory/calibration.py) prices runs
    of chunk bytes at random addresses, each opening its own DRAM rows; consecutive tiles
    of one stream share rows, so the DRAM sees one run of the stream's length. The table
    clamps a shape above its largest chunk to that chunk's bandwidth.
  * TRANSFER of n bytes from memory S to memory D (S != D): S would need n / bw_S(shape on
    S, read fraction 1) to read it, D n / bw_D(shape on D, read fraction 0) to write it;
    the task is served by the resource of the memory that needs more time, i.e. the one
    with the lower bandwidth (a tie goes to the source), with
        demand  = ceil(n * 10**12 / bw)  ps,   latency = that memory's latency_ps.
    The other memory's traffic is not charged to its resource: a transfer occupies one
    resource, its bottleneck.
  * TRANSFER within one memory (S == D) reads and writes it: 2n bytes at read fraction
    0.5 on its resource, at the smaller of its two shapes,
    demand = ceil(2n * 10**12 / bw_S(shape, 0.5)).
  * COMPUTE of F FLOPs on unit U: latency = U's latency_ps. With U.instances = k = 1, U's
    resource, demand = ceil(F * 10**12 / flops_per_s_U). With k > 1 (platform.py), a task
    of place p >= 0 goes to instance p % k at flops_per_s_U / k:
    demand = ceil(F * k * 10**12 / flops_per_s_U); a task of place -1 to U's own resource
    at the whole flops_per_s_U.
A memory or unit that tasks use but the platform lacks is a UserError naming it and
listing what the platform has.

Bandwidths are looked up once per distinct (memories, shapes) and streams are linked by
sorting, so graphs of repeated layers and steps bind in numpy time, not one Python step
per task.
"""

from __future__ import annotations

import numpy as np

from sim.config.yamlfile import did_you_mean
from sim.errors import UserError
from sim.transfer.model import TransferProblem
from sim.transfer.platform import Platform
from workloads.llm.taskgraph import COMPUTE, TRANSFER, TaskGraph

PS_PER_S = 10**12


def ceil_demand_ps(amount: int, per_s: int) -> int:
    """ceil(amount * 10**12 / per_s): ps to serve ``amount`` bytes or FLOPs at ``per_s``."""
    return -(-amount * PS_PER_S // per_s)


def _check_names(used: list[str], have: list[str], what: str, platform: Platform) -> None:
    for name in used:
        if name not in have:
            raise UserError(f"the task graph uses {what} '{name}'{did_you_mean(name, have)} but "
                            f"platform '{platform.name}' has no such {what}; it has: "
                            f"{', '.join(have) or 'none'}")


def bind(graph: TaskGraph, platform: Platform) -> TransferProblem:
    """Resources, demands and latencies of every task (rule in the module docstring)."""
    t = graph.tasks
    n = graph.n
    resources = platform.resources
    res_index = {r: i for i, r in enumerate(resources)}
    res = np.zeros(n, np.int32)
    demand = np.zeros(n, np.int64)
    latency = np.zeros(n, np.int64)

    tr = np.flatnonzero(t["kind"] == TRANSFER)
    if len(tr):
        src, dst = t["src"][tr].astype(np.int64), t["dst"][tr].astype(np.int64)
        used = np.unique(np.concatenate([src, dst]))
        _check_names([graph.memories[i] for i in used], list(platform.memories), "memory",
                     platform)
        nbytes = t["nbytes"][tr].astype(np.int64)
        chunk = t["chunk"][tr].astype(np.int64)
        contiguous = chunk >= nbytes  # one run (see the docstring: chunk is the shape)
        place = t["place"][tr].astype(np.int64)
        shape_s = np.where(contiguous, 0, chunk)
        shape_d = shape_s.copy()
        shape_s[contiguous] = stream_bytes(t["src_addr"][tr][contiguous], nbytes[contiguous],
                                           place[contiguous] * 2 * len(graph.memories)
                                           + src[contiguous])
        shape_d[contiguous] = stream_bytes(t["dst_addr"][tr][contiguous], nbytes[contiguous],
                                           (place[contiguous] * 2 + 1) * len(graph.memories)
                                           + dst[contiguous])
        # one binding per distinct (src, dst, source shape, destination shape)
        shape_of, firsts = dense_ids(src, dst, shape_s, shape_d)
        shape_res, shape_bw, shape_lat, shape_mult = [], [], [], []
        for s, d, cs, cd in zip(src[firsts].tolist(), dst[firsts].tolist(),
                                shape_s[firsts].tolist(), shape_d[firsts].tolist(), strict=True):
            r, bw, lat, mult = _transfer_binding(graph.memories[s], graph.memories[d], cs, cd,
                                                 platform)
            shape_res.append(res_index[r])
            shape_bw.append(bw)
            shape_lat.append(lat)
            shape_mult.append(mult)
        shape_of = shape_of.reshape(-1)
        res[tr] = np.asarray(shape_res, np.int32)[shape_of]
        latency[tr] = np.asarray(shape_lat, np.int64)[shape_of]
        demand[tr] = _demands(shape_of, nbytes, shape_bw, shape_mult)

    co = np.flatnonzero(t["kind"] == COMPUTE)
    if len(co):
        unit = t["unit"][co].astype(np.int64)
        used_units = np.unique(unit)
        _check_names([graph.units[i] for i in used_units], list(platform.units), "unit",
                     platform)
        place = t["place"][co].astype(np.int64)
        # one (resource, rate, latency) row per unit and instance; group = the row of a task
        # (an instance's rate is flops_per_s / k: its demand is F * k at flops_per_s, exact)
        rows_res, rows_rate, rows_lat, mult = [], [], [], []
        group = np.zeros(len(co), np.int64)
        for i in used_units.tolist():
            u = platform.units[graph.units[i]]
            mine = unit == i
            group[mine] = len(rows_res)
            names = [u.resource] + u.instance_resources()
            if u.instances > 1:
                placed = mine & (place >= 0)
                group[placed] = len(rows_res) + 1 + place[placed] % u.instances
            for k, name in enumerate(names):
                rows_res.append(res_index[name])
                rows_rate.append(u.flops_per_s)
                rows_lat.append(u.latency_ps)
                mult.append(1 if k == 0 else u.instances)
        res[co] = np.asarray(rows_res, np.int32)[group]
        latency[co] = np.asarray(rows_lat, np.int64)[group]
        demand[co] = _demands(group, t["flops"][co], rows_rate, mult)

    return TransferProblem(res=res, demand=demand, latency=latency,
                           dep_ptr=np.asarray(graph.dep_ptr, np.int64).copy(),
                           dep_idx=np.asarray(graph.dep_idx, np.int32).copy(),
                           resource_names=resources)


def dense_ids(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids 0..k-1 of the distinct rows of int64 columns (in sorted row order), and the
    index of one row per id (a lexsort: far faster than np.unique(axis=0))."""
    order = np.lexsort(cols[::-1])
    diff = np.zeros(len(order), bool)
    diff[:1] = True
    for c in cols:
        sc = c[order]
        diff[1:] |= sc[1:] != sc[:-1]
    ids = np.empty(len(order), np.int64)
    ids[order] = np.cumsum(diff) - 1
    return ids, order[diff]


def stream_bytes(addr: np.ndarray, nbytes: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per transfer (contiguous ones, in task order), the bytes of the stream it belongs to.

    Transfer i continues the latest j < i of the same ``group`` (place, memory, side) with
    addr[j] + nbytes[j] == addr[i] (module docstring); a stream is a tree of such links.
    """
    m = len(addr)
    if m == 0:
        return np.zeros(0, np.int64)
    addr, nbytes = np.asarray(addr, np.int64), np.asarray(nbytes, np.int64)
    group = np.asarray(group, np.int64)
    # dense ids of (group, address) over both the ends (candidates) and starts (queries)
    ids, _ = dense_ids(np.concatenate([group, group]), np.concatenate([addr + nbytes, addr]))
    end_id, start_id = ids[:m], ids[m:]
    order = np.arange(m, dtype=np.int64)
    cand = np.sort(end_id * (m + 1) + order)
    # the latest candidate j < i with end_id[j] == start_id[i]
    pos = np.searchsorted(cand, start_id * (m + 1) + order, side="left") - 1
    hit = pos >= 0
    hit[hit] = cand[pos[hit]] // (m + 1) == start_id[hit]
    pred = np.where(hit, cand[np.maximum(pos, 0)] % (m + 1), order)
    root = pred
    while True:  # pointer jumping: predecessors are earlier, so this ends
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    total = np.zeros(m, np.int64)
    np.add.at(total, root, nbytes)
    return total[root]


def _transfer_binding(src: str, dst: str, shape_s: int, shape_d: int,
                      platform: Platform) -> tuple[str, int, int, int]:
    """(resource, bytes/s, latency ps, bytes moved per byte transferred) of one shape."""
    if src == dst:
        m, shape = platform.memories[src], min(shape_s, shape_d)
        return m.resource, _positive(m.bandwidth.bytes_per_s(shape, 0.5), src, shape), \
            m.latency_ps, 2
    ms, md = platform.memories[src], platform.memories[dst]
    bw_s = _positive(ms.bandwidth.bytes_per_s(shape_s, 1.0), src, shape_s)
    bw_d = _positive(md.bandwidth.bytes_per_s(shape_d, 0.0), dst, shape_d)
    if bw_d < bw_s:  # the destination needs more time; a tie stays with the source
        return md.resource, bw_d, md.latency_ps, 1
    return ms.resource, bw_s, ms.latency_ps, 1


def _positive(bw: int, memory: str, chunk: int) -> int:
    if bw <= 0:
        raise UserError(f"memory '{memory}' has no bandwidth ({bw} B/s) for {chunk} B chunks")
    return int(bw)


def _demands(group: np.ndarray, amount: np.ndarray, rate: list[int],
             mult: list[int]) -> np.ndarray:
    """ceil(mult * amount * 10**12 / rate) per task, exact in int64.

    10**12 * bytes overflows int64 beyond 9 MB, so the quotient is formed by long division
    in base 1000 (four digits make 10**12): each step multiplies a remainder < rate by
    1000, which stays in int64 for rates below 9.2e15 per second (checked).
    """
    rates = np.asarray(rate, np.int64)
    if rates.size and int(rates.max()) >= (2**63 - 1) // 1000:
        raise ValueError("a rate of 9.2e15 per second or more cannot be divided exactly")
    a = amount.astype(np.int64) * np.asarray(mult, np.int64)[group]
    r_of = rates[group]
    q, r = np.divmod(a, r_of)
    for _ in range(4):  # 1000**4 = 10**12
        d, r = np.divmod(r * 1000, r_of)
        q = q * 1000 + d
    return q + (r > 0)
