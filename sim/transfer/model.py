"""The transfer-level engine: its specification and its input and output.

Implemented twice: sim/reference/transfer.py (SimPy, plain) and sim/kernels/transfer.py
(numba); tests/test_transfer_differential.py requires identical results. The input is a
``TransferProblem``: a task graph (workloads/llm/taskgraph.py) already bound to resources
by sim/transfer/bind.py, so the engine knows nothing of memories, FLOPs or bytes, only of
resources, service demands and latencies.

Time and work
    Time is int64 picoseconds. A task i is served by one resource ``res[i]``; its
    ``demand[i]`` (int64 ps, >= 0) is the time it would take with the resource to itself;
    ``latency[i]`` (int64 ps, >= 0) is added after its service (pipeline fill, request
    latency: it does not occupy the resource).

Tasks
    A task is ready at ``ready[i]`` = the latest ``end`` of its dependencies (0 if it has
    none). At ready it joins its resource. It leaves the resource at ``leave[i]``, when its
    demand has been served, and ends at ``end[i] = leave[i] + latency[i]``.

Resources: processor sharing in integer arithmetic
    The n tasks present on a resource share it equally: each gets 1/n of its service.
    Exactly: a resource keeps a virtual time V (ps of service each present task has
    received since V's origin), a remainder f in [0, n) (V's fraction, in 1/n ps) and the
    time ``last`` of its last update. Updating to time t >= last:
        if n > 0: q = f + (t - last); V += q // n; f = q % n; busy += t - last
        last = t
    A task joining at t: update to t; its finish tag F = V + demand; n increases.
    A task leaves when V >= F. The next leave time of a resource with n > 0 is
    last + max(0, (F_min - V) * n - f), F_min the least finish tag present.
    Whenever n changes from n0 to n1 (after the update and the join or leaves at t):
        f = f * n1 // n0 if n0 > 0 and n1 > 0, else 0.
    This rescaling happens once per event: for a LEAVE event n0 is the count before and n1
    the count after all the tasks that leave at it (not once per leaving task).

Events and their order
    Three classes of event, processed in order of (time, class, id):
    class 0 LEAVE (id = resource): update the resource to t; every present task with
        F <= V leaves at t (in order of (F, task id)); its END is scheduled at
        t + latency.
    class 1 END (id = task): the task ends; each dependent whose last dependency this was
        becomes ready at t and its JOIN is scheduled at t.
    class 2 JOIN (id = task): the task joins its resource (above).
    After a JOIN or a LEAVE event a resource's pending LEAVE event is recomputed (an
    earlier one that is no longer right is ignored when it comes up): a resource has at
    most one pending LEAVE, at its next leave time (above), and none while n = 0. Tasks
    without dependencies JOIN at 0. A dependency listed twice counts once per listing
    (the task still becomes ready when its last dependency ends).

Output (``TransferResult``)
    per task: ready, leave, end; per resource: busy (ps with at least one task present)
    and served (sum of the demands of its tasks); end_time = the latest end (0 if none).

Errors
    A demand or latency < 0, a resource index outside [0, n_resources), dependencies that
    are not CSR over earlier tasks, arrays of different lengths: ValueError (a programming
    error: bind.py checks user input before this point).
    Times are bounded by HORIZON = 2**62 - 1 ps (about 53 days), which keeps every int64
    intermediate (V + demand, (F_min - V) * n, leave + latency) from overflowing: a demand
    or latency > HORIZON, or a leave or end time > HORIZON, raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TransferProblem:
    """A task graph bound to resources: what the transfer-level engine runs."""

    res: np.ndarray  # int32 per task: the resource that serves it
    demand: np.ndarray  # int64 ps per task: service time with the resource to itself
    latency: np.ndarray  # int64 ps per task, after the service
    dep_ptr: np.ndarray  # int64, n + 1
    dep_idx: np.ndarray  # int32, each < its task
    resource_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.res)

    @property
    def n_resources(self) -> int:
        return len(self.resource_names)

    def prefix(self, k: int) -> TransferProblem:
        """The first k tasks (their dependencies all lie among them: a problem too)."""
        k = min(k, self.n)
        return TransferProblem(res=self.res[:k], demand=self.demand[:k],
                               latency=self.latency[:k], dep_ptr=self.dep_ptr[:k + 1],
                               dep_idx=self.dep_idx[:self.dep_ptr[k]],
                               resource_names=self.resource_names)


@dataclass
class TransferResult:
    ready: np.ndarray  # int64 ps per task
    leave: np.ndarray  # int64 ps per task
    end: np.ndarray  # int64 ps per task
    busy: np.ndarray  # int64 ps per resource
    served: np.ndarray  # int64 ps per resource
    end_time: int
