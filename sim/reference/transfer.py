"""SimPy reference of the transfer-level engine: the executable specification.

Semantics: the module docstring of sim/transfer/model.py. Written plainly and slowly on
purpose, to be read and to be compared against sim/kernels/transfer.py.

One SimPy process per task: it waits for its JOIN event, joins its resource, waits for its
END event and then releases its dependents. Resources are plain objects; their LEAVE
events are plain SimPy events with a callback. Every event is scheduled with
``env.schedule(event, priority, delay)`` and a priority that encodes (class, id), and
SimPy orders its queue by (time, priority, insertion counter), so events at equal times
run in the specification's (class, id) order. The only other entries on SimPy's queue are
the processes' own start and finish events, which carry no simulation work.
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy

from sim.transfer.model import TransferProblem, TransferResult

HORIZON = 2**62 - 1  # the latest representable time (model.py, "Errors")
LEAVE, END, JOIN = 0, 1, 2  # event classes, in their order at equal times
_PRIO_BASE = 1  # above SimPy's URGENT (0), which its process start-up events use
_PRIO_CLASS = 1 << 40  # larger than any task or resource id


def _schedule(env: simpy.Environment, event: simpy.Event, time_ps: int, cls: int,
              ident: int) -> None:
    """Put ``event`` on SimPy's queue at ``time_ps``, ordered by (class, id) at equal times."""
    if time_ps > HORIZON:
        raise ValueError(f"a time exceeds the horizon of {HORIZON} ps")
    event._ok = True  # triggered like simpy.Timeout: value None, our own priority
    event._value = None
    env.schedule(event, _PRIO_BASE + cls * _PRIO_CLASS + ident, time_ps - env.now)


class Resource:
    """One shared resource: processor sharing in integer picoseconds (model.py)."""

    def __init__(self, sim: TransferSim, index: int):
        self.sim = sim
        self.index = index
        self.V = 0  # ps of service each present task has had since V's origin
        self.f = 0  # V's fraction, in 1/n ps
        self.last = 0  # time of the last update
        self.present: list[tuple[int, int]] = []  # heap of (finish tag F, task id)
        self.busy = 0
        self.served = 0
        self.version = 0  # of the one LEAVE event that is still right

    def update(self, t: int) -> None:
        n = len(self.present)
        if n > 0:
            q = self.f + (t - self.last)
            self.V += q // n
            self.f = q % n
            self.busy += t - self.last
        self.last = t

    def rescale(self, n0: int) -> None:
        n1 = len(self.present)
        self.f = self.f * n1 // n0 if n0 > 0 and n1 > 0 else 0

    def join(self, task: int) -> None:
        t = self.sim.env.now
        self.update(t)
        n0 = len(self.present)
        heapq.heappush(self.present, (self.V + self.sim.demand[task], task))
        self.served += self.sim.demand[task]
        self.rescale(n0)
        self.schedule_leave()

    def schedule_leave(self) -> None:
        """Replace the pending LEAVE event by one at the next leave time (if anyone is here)."""
        self.version += 1
        n = len(self.present)
        if n == 0:
            return
        f_min = self.present[0][0]
        t = self.last + max(0, (f_min - self.V) * n - self.f)
        event = simpy.Event(self.sim.env)
        version = self.version
        event.callbacks.append(lambda _event: self.on_leave(version))
        _schedule(self.sim.env, event, t, LEAVE, self.index)

    def on_leave(self, version: int) -> None:
        if version != self.version:
            return  # superseded by a later JOIN or LEAVE
        sim = self.sim
        t = sim.env.now
        self.update(t)
        n0 = len(self.present)
        while self.present and self.present[0][0] <= self.V:
            _, task = heapq.heappop(self.present)
            sim.leave[task] = t
            _schedule(sim.env, sim.end_event[task], t + sim.latency[task], END, task)
        self.rescale(n0)
        self.schedule_leave()


class TransferSim:
    """The whole run: the SimPy environment, resources, task processes and results."""

    def __init__(self, p: TransferProblem):
        n = p.n
        self.env = simpy.Environment()
        self.res = [int(r) for r in p.res]
        self.demand = [int(d) for d in p.demand]
        self.latency = [int(x) for x in p.latency]
        self.dependents: list[list[int]] = [[] for _ in range(n)]
        self.waiting = [0] * n  # dependencies (listings) that have not ended yet
        for i in range(n):
            for d in p.dep_idx[p.dep_ptr[i]:p.dep_ptr[i + 1]]:
                self.dependents[int(d)].append(i)
                self.waiting[i] += 1
        self.resources = [Resource(self, r) for r in range(p.n_resources)]
        self.join_event = [simpy.Event(self.env) for _ in range(n)]
        self.end_event = [simpy.Event(self.env) for _ in range(n)]
        self.ready = [0] * n
        self.leave = [0] * n
        self.end = [0] * n
        for i in range(n):
            self.env.process(self.task(i))
            if self.waiting[i] == 0:
                _schedule(self.env, self.join_event[i], 0, JOIN, i)

    def task(self, i: int):
        """One task's life: wait until ready, be served, end, release its dependents."""
        yield self.join_event[i]
        self.resources[self.res[i]].join(i)
        yield self.end_event[i]  # scheduled by the resource when the task leaves
        t = self.env.now
        self.end[i] = t
        for j in self.dependents[i]:
            self.waiting[j] -= 1
            if self.waiting[j] == 0:
                self.ready[j] = t
                _schedule(self.env, self.join_event[j], t, JOIN, j)

    def run(self) -> TransferResult:
        self.env.run()
        return TransferResult(
            ready=np.array(self.ready, np.int64), leave=np.array(self.leave, np.int64),
            end=np.array(self.end, np.int64),
            busy=np.array([r.busy for r in self.resources], np.int64),
            served=np.array([r.served for r in self.resources], np.int64),
            end_time=max(self.end, default=0))


def run_reference(p: TransferProblem) -> TransferResult:
    """Run ``p`` on the SimPy reference (the caller has validated it: sim/transfer/engine.py)."""
    return TransferSim(p).run()
