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
  * A TRANSFER between S and D for which the platform has a route (S, D) (platform.py: a
    PIM unit reading its banks, compute inside a tier) is served by the route's resource at
    the route's bandwidth for the shape of its side (the source's shape at read fraction
    1, or the destination's at 0), with the route's latency, instead of the rule above.
A memory or unit that tasks use but the platform lacks is a UserError naming it and
listing what the platform has.

Bandwidths are looked up once per distinct (memories, shapes) and streams are linked by
sorting, so graphs of repeated layers and steps bind in numpy time, not one Python step
per task.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

from sim.config.yamlfile import did_you_mean
from sim.errors import UserError
from sim.transfer.model import TransferProblem
from sim.transfer.platform import Platform
from workloads.llm.taskgraph import COMPUTE, TRANSFER, TaskGraph

_KEY2 = types.UniTuple(types.int64, 2)  # hash-map keys of the numba passes below
_KEY4 = types.UniTuple(types.int64, 4)


def _check_names(used: list[str], have: list[str], what: str, platform: Platform) -> None:
    for name in used:
        if name not in have:
            raise UserError(f"the task graph uses {what} '{name}'{did_you_mean(name, have)} but "
                            f"platform '{platform.name}' has no such {what}; it has: "
                            f"{', '.join(have) or 'none'}")


def bind(graph: TaskGraph, platform: Platform) -> TransferProblem:
    """Resources, demands and latencies of every task (rule in the module docstring).

    Three steps: a numba pass finds every transfer's shapes (streams linked through a hash
    map) and numbers the distinct (src, dst, shapes); Python looks each distinct one up
    in the platform once; a second numba pass writes every task's resource, latency and
    exact demand. No per-task Python and no per-task temporaries beyond the outputs.
    """
    t = graph.tasks
    n_mem = len(graph.memories)
    resources = platform.resources
    res_index = {r: i for i, r in enumerate(resources)}
    kind = t["kind"]
    transfer_mask = kind == TRANSFER
    used_mem = np.union1d(np.unique(t["src"][transfer_mask]), np.unique(t["dst"][transfer_mask]))
    _check_names([graph.memories[i] for i in used_mem], list(platform.memories), "memory",
                 platform)
    used_units = np.unique(t["unit"][kind == COMPUTE])
    _check_names([graph.units[i] for i in used_units], list(platform.units), "unit", platform)

    shape_id, shapes = _transfer_shapes(kind, t["src"], t["dst"], t["place"], t["nbytes"],
                                        t["chunk"], t["src_addr"], t["dst_addr"], n_mem)
    # one row per distinct transfer shape, then per compute unit and instance; a task's row
    # gives its resource, rate, latency and multiplier (bytes per byte moved, or instances)
    rows_res, rows_rate, rows_lat, rows_mult = [], [], [], []
    for s_, d, cs, cd in shapes.tolist():
        r, bw, lat, mult = _transfer_binding(graph.memories[s_], graph.memories[d], cs, cd,
                                             platform)
        rows_res.append(res_index[r])
        rows_rate.append(bw)
        rows_lat.append(lat)
        rows_mult.append(mult)
    unit_row = np.zeros(max(1, len(graph.units)), np.int64)
    unit_instances = np.ones(max(1, len(graph.units)), np.int64)
    for i in used_units.tolist():
        u = platform.units[graph.units[i]]
        unit_row[i], unit_instances[i] = len(rows_res), u.instances
        # row 0 of a unit: its pooled resource; rows 1..k: its instances at rate / k
        for k, name in enumerate([u.resource] + u.instance_resources()):
            rows_res.append(res_index[name])
            rows_rate.append(u.flops_per_s)
            rows_lat.append(u.latency_ps)
            rows_mult.append(1 if k == 0 else u.instances)
    rates = np.asarray(rows_rate, np.int64)
    if rates.size and int(rates.max()) >= (2**63 - 1) // 1000:
        raise ValueError("a rate of 9.2e15 per second or more cannot be divided exactly")
    res, demand, latency = _bind_tasks(
        kind, t["unit"], t["place"], t["nbytes"], t["flops"], shape_id, unit_row,
        unit_instances, np.asarray(rows_res, np.int32), rates,
        np.asarray(rows_lat, np.int64), np.asarray(rows_mult, np.int64))
    return TransferProblem(res=res, demand=demand, latency=latency,
                           # shared with the graph, not copied: the engine only reads them
                           dep_ptr=np.asarray(graph.dep_ptr, np.int64),
                           dep_idx=np.asarray(graph.dep_idx, np.int32),
                           resource_names=resources)


@njit(cache=True)
def _transfer_shapes(kind, src, dst, place, nbytes, chunk, src_addr, dst_addr,
                     n_mem):  # pragma: no cover - numba
    """Per task the id of its (src, dst, source shape, destination shape), -1 for compute
    tasks, and the distinct rows. Shapes: chunk for runs of chunk < nbytes, else the
    bytes of the stream the transfer belongs to on that side (_stream_bytes's rule)."""
    n = len(kind)
    sides = np.zeros((2, n), np.int64)  # stream totals, source side then destination side
    for side in range(2):
        last = Dict.empty(key_type=_KEY2, value_type=types.int64)
        root = np.empty(n, np.int64)
        for i in range(n):
            if kind[i] != TRANSFER or chunk[i] < nbytes[i]:
                continue
            mem = src[i] if side == 0 else dst[i]
            a = src_addr[i] if side == 0 else dst_addr[i]
            _link(i, (np.int64(place[i]) * 2 + side) * n_mem + mem, np.int64(a),
                  np.int64(nbytes[i]), last, root, sides[side])
        for i in range(n):
            if kind[i] == TRANSFER:
                sides[side, i] = chunk[i] if chunk[i] < nbytes[i] else sides[side, root[i]]
    seen = Dict.empty(key_type=_KEY4, value_type=types.int64)
    ids = np.full(n, -1, np.int64)
    rows = np.empty((n, 4), np.int64)
    k = 0
    for i in range(n):
        if kind[i] != TRANSFER:
            continue
        key = (np.int64(src[i]), np.int64(dst[i]), sides[0, i], sides[1, i])
        if key in seen:
            ids[i] = seen[key]
        else:
            seen[key] = k
            rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3] = key
            ids[i] = k
            k += 1
    return ids, rows[:k].copy()


@njit(cache=True)
def _bind_tasks(kind, unit, place, nbytes, flops, shape_id, unit_row, unit_instances,
                rows_res, rows_rate, rows_lat, rows_mult):  # pragma: no cover - numba
    n = len(kind)
    res = np.empty(n, np.int32)
    demand = np.empty(n, np.int64)
    latency = np.empty(n, np.int64)
    for i in range(n):
        if kind[i] == TRANSFER:
            row = shape_id[i]
            amount = np.int64(nbytes[i])
        else:
            row = unit_row[unit[i]]
            k = unit_instances[unit[i]]
            if k > 1 and place[i] >= 0:
                row += 1 + place[i] % k
            amount = np.int64(flops[i])
        res[i] = rows_res[row]
        latency[i] = rows_lat[row]
        demand[i] = _ceil_ps(amount * rows_mult[row], rows_rate[row])
    return res, demand, latency


@njit(cache=True, inline="always")
def _ceil_ps(amount, rate):  # pragma: no cover - numba
    """ceil(amount * 10**12 / rate) exactly in int64: long division in base 1000 (four
    digits make 10**12; a remainder < rate times 1000 fits for rates below 9.2e15)."""
    q, r = amount // rate, amount % rate
    for _ in range(4):
        r *= 1000
        q = q * 1000 + r // rate
        r %= rate
    return q + (1 if r > 0 else 0)


def stream_bytes(addr: np.ndarray, nbytes: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per transfer (contiguous ones, in task order), the bytes of the stream it belongs to.

    Transfer i continues the latest j < i of the same ``group`` (place, memory, side) with
    addr[j] + nbytes[j] == addr[i] (module docstring); a stream is a tree of such links,
    named by its first transfer. One pass with a map from (group, end address) to the
    latest transfer ending there.
    """
    return _stream_bytes(np.asarray(addr, np.int64), np.asarray(nbytes, np.int64),
                         np.asarray(group, np.int64))


@njit(cache=True, inline="always")
def _link(i, group, addr, nbytes, last, root, total):  # pragma: no cover - numba
    """Transfer i (group, addr, nbytes) joins the stream of the latest earlier transfer of
    its group ending at addr, or starts its own; total[stream's first] gathers the bytes."""
    key = (group, addr)
    root[i] = root[last[key]] if key in last else i
    total[root[i]] += nbytes
    last[(group, addr + nbytes)] = i


@njit(cache=True)
def _stream_bytes(addr, nbytes, group):  # pragma: no cover - numba
    m = len(addr)
    last = Dict.empty(key_type=_KEY2, value_type=types.int64)
    root = np.empty(m, np.int64)
    total = np.zeros(m, np.int64)
    for i in range(m):
        _link(i, group[i], addr[i], nbytes[i], last, root, total)
    out = np.empty(m, np.int64)
    for i in range(m):
        out[i] = total[root[i]]
    return out


def _transfer_binding(src: str, dst: str, shape_s: int, shape_d: int,
                      platform: Platform) -> tuple[str, int, int, int]:
    """(resource, bytes/s, latency ps, bytes moved per byte transferred) of one shape."""
    route = platform.routes.get((src, dst))
    if route is not None:
        if route.side == "src":
            bw = _positive(route.bandwidth.bytes_per_s(shape_s, 1.0), src, shape_s)
        else:
            bw = _positive(route.bandwidth.bytes_per_s(shape_d, 0.0), dst, shape_d)
        return route.resource, bw, route.latency_ps, 1
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
