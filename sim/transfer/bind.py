"""Bind a task graph to a platform's resources: the TransferProblem the engine runs.

Binding rule (all arithmetic on integers; 10**12 ps per second):
  * TRANSFER of n bytes in runs of ``chunk`` bytes from memory S to memory D (S != D): its
    access shape is ``chunk`` on both sides. S would need n / bw_S(chunk, read fraction 1)
    to read it, D n / bw_D(chunk, read fraction 0) to write it; the task is served by the
    resource of the memory that needs more time, i.e. the one with the lower bandwidth
    (a tie goes to the source), with
        demand  = ceil(n * 10**12 / bw)  ps,   latency = that memory's latency_ps.
    The other memory's traffic is not charged to its resource: a transfer occupies one
    resource, its bottleneck.
  * TRANSFER within one memory (S == D) reads and writes it: 2n bytes at read fraction
    0.5 on its resource, demand = ceil(2n * 10**12 / bw_S(chunk, 0.5)).
  * COMPUTE of F FLOPs on unit U: U's resource, demand = ceil(F * 10**12 / flops_per_s_U),
    latency = U's latency_ps.
A memory or unit that tasks use but the platform lacks is a UserError naming it and
listing what the platform has.

Demands are computed once per distinct (shape, size), so graphs of repeated layers and
steps bind in numpy time, not one Python step per task.
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
        # one binding per distinct (src, dst, chunk), found on a 1-D key (fast for millions)
        chunks, chunk_of = np.unique(t["chunk"][tr], return_inverse=True)
        key = (src * len(graph.memories) + dst) * len(chunks) + chunk_of.reshape(-1)
        keys, shape_of = np.unique(key, return_inverse=True)
        pair, chunk_idx = np.divmod(keys, len(chunks))
        shapes = np.stack([pair // len(graph.memories), pair % len(graph.memories),
                           chunks[chunk_idx]], axis=1)
        shape_res, shape_bw, shape_lat, shape_mult = [], [], [], []
        for s, d, chunk in shapes.tolist():
            r, bw, lat, mult = _transfer_binding(graph.memories[s], graph.memories[d], chunk,
                                                 platform)
            shape_res.append(res_index[r])
            shape_bw.append(bw)
            shape_lat.append(lat)
            shape_mult.append(mult)
        shape_of = shape_of.reshape(-1)
        res[tr] = np.asarray(shape_res, np.int32)[shape_of]
        latency[tr] = np.asarray(shape_lat, np.int64)[shape_of]
        demand[tr] = _demands(shape_of, t["nbytes"][tr], shape_bw, shape_mult)

    co = np.flatnonzero(t["kind"] == COMPUTE)
    if len(co):
        unit = t["unit"][co].astype(np.int64)
        used_units = np.unique(unit)
        _check_names([graph.units[i] for i in used_units], list(platform.units), "unit",
                     platform)
        unit_res = np.zeros(len(graph.units), np.int32)
        unit_lat = np.zeros(len(graph.units), np.int64)
        unit_rate = [0] * len(graph.units)
        for i in used_units.tolist():
            u = platform.units[graph.units[i]]
            unit_res[i], unit_lat[i], unit_rate[i] = res_index[u.resource], u.latency_ps, u.flops_per_s
        res[co] = unit_res[unit]
        latency[co] = unit_lat[unit]
        demand[co] = _demands(unit, t["flops"][co], unit_rate, [1] * len(graph.units))

    return TransferProblem(res=res, demand=demand, latency=latency,
                           dep_ptr=np.asarray(graph.dep_ptr, np.int64).copy(),
                           dep_idx=np.asarray(graph.dep_idx, np.int32).copy(),
                           resource_names=resources)


def _transfer_binding(src: str, dst: str, chunk: int,
                      platform: Platform) -> tuple[str, int, int, int]:
    """(resource, bytes/s, latency ps, bytes moved per byte transferred) of one shape."""
    if src == dst:
        m = platform.memories[src]
        return m.resource, _positive(m.bandwidth.bytes_per_s(chunk, 0.5), src, chunk), m.latency_ps, 2
    ms, md = platform.memories[src], platform.memories[dst]
    bw_s = _positive(ms.bandwidth.bytes_per_s(chunk, 1.0), src, chunk)
    bw_d = _positive(md.bandwidth.bytes_per_s(chunk, 0.0), dst, chunk)
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
