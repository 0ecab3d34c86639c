"""SimPy reference of the NAND flash SSD model: the executable specification.

The model
---------
Time is an int64 count of picoseconds. A preset (hw_configs/storage/*.yaml, FlashSpec in
sim/memory/flash.py) gives C channels, D dies per channel, P planes per die, pages of
`page_bytes`, tR and tPROG, the channel's rate (MT/s x bus bytes) and optional command
overhead, the controller's time per read and per write command and its latency, and a
host link (bandwidth per direction, latency). There is no FTL, garbage collection, cache
or read retry: logical addresses map statically, as on a freshly and sequentially
written drive.

Requests and pages. A request is (arrival, byte address, bytes, read or write). It is
split into the pages it touches, in address order; each such page is a *unit* carrying
the request's bytes within that page. Units are numbered over the whole run in request
order (the unit id). Address map, from the least significant bit:
byte in page | channel | die | plane | page in block | block; so consecutive pages go to
consecutive channels, then dies, then planes.

Issue. Requests issue in trace order, none before its arrival and none before the one
ahead of it. With queue depth QD >= 1 (closed loop), request i issues at the earliest such
time at which fewer than QD earlier requests are incomplete (a request completing at t is
complete at t). QD = 0 issues every request at max(its arrival, previous issue).

Controller. Every request is a command that passes through the controller, one resource
serving one command at a time: a read command occupies it for `controller_read_ps`, a
write for `controller_write_ps` (1e12 / the datasheet's IOPS; 0 means no limit). A
request reaches the controller at its issue; the controller, when idle, starts the
waiting request with the smallest (issue time, request id). The command's pages are
ready for their first stage at that start + the controller latency: the occupancy is the
controller's throughput cost (firmware time per command), the latency its pipeline
delay, so an unloaded command sees only the latency.

Stages. Each unit passes through resources, each serving one job at a time without
preemption:
* a read:  die (tR) -> its channel (transfer) -> link to host (transfer);
* a write: link to device (transfer) -> its channel (transfer) -> die (tPROG).
The unit is *ready* for its first stage at its request's controller start + controller
latency, and for each later stage at the end of the previous one. `through_link = False`
drops the link stages (the data stays in the drive, as for computational storage).
Service times: channel = command_overhead + ceil(bytes * 1e12 / channel rate); link =
ceil(bytes * 1e12 / link bandwidth), each direction being its own resource shared by
all channels; die = tR or tPROG per operation (the die is busy only for that: the page
then waits in its plane's register for the channel).

Choice rule. Whenever a resource is idle at time t and has units ready by t, it starts at
t the ready unit with the smallest (ready time, unit id). A die's operation is a batch
(multi-plane): the chosen head unit, plus, for every other plane of that die, the first
(smallest ready time, unit id) unit waiting on that plane if it is ready by t and of the
same kind (read or write) as the head. The whole batch takes one tR (or tPROG): pages on
different planes of one die issued together share one array operation. Real parts often
also require the same page address in each plane; the model does not.

Completion. A unit is done at the end of its last stage. A request completes when its
last unit is done plus the link latency (one crossing, for the completion; with
through_link = False no link latency). Latency = completion - issue.

Outputs (identical in the numba kernel sim/kernels/flash.py): per request issue,
controller start and completion; per unit the start and end of its die, channel and link
stages; busy time per die, channel, link direction and of the controller; operations per
die.

Implementation here: every step is a SimPy event carrying its own priority, so events at
equal times run in the order the model needs: COMPLETE (a request completes) before
ISSUE before COMMAND (the controller picks its next command) before READY (a unit joins a
queue) before TRY (a resource picks its next job). So a controller freed at t sees the
requests issued at t, and pages ready at t are queued before any resource chooses at t.
Written plainly and slowly on purpose, to be read and compared against the kernel.
"""

from __future__ import annotations

import simpy

from sim.memory.flash import FlashRaw, FlashSpec, Units

COMPLETE, ISSUE, COMMAND, READY, TRY = range(5)  # event classes, in their order at equal times
_PRIO_BASE = 1  # above SimPy's URGENT (0), which its process start-up events use


def _xfer_ps(nbytes: int, rate: int) -> int:
    return -(-nbytes * 10**12 // rate)


class Server:
    """One resource: a list of ready (ready time, unit id) jobs and the time it is busy until."""

    event_class = TRY  # the class of its look-for-work events

    def __init__(self, sim: FlashSim, name: str):
        self.sim = sim
        self.name = name
        self.waiting: list[tuple[int, int]] = []
        self.busy_until = 0
        self.busy = 0

    def arrive(self, u: int) -> None:
        """Unit u is ready here now; look for work once everything ready now has arrived."""
        self.waiting.append((self.sim.env.now, u))
        self.sim.at(self.sim.env.now, self.event_class, self.try_start)

    def try_start(self) -> None:
        t = self.sim.env.now
        if self.busy_until > t or not self.waiting:
            return
        self.start(t)

    def start(self, t: int) -> None:
        head = min(self.waiting)
        self.waiting.remove(head)
        u = head[1]
        duration = self.service(u)
        self.busy_until = t + duration
        self.busy += duration
        self.sim.stage_ran(self, u, t, t + duration)
        self.sim.at(t + duration, self.event_class, self.try_start)

    def service(self, u: int) -> int:
        raise NotImplementedError


class Controller(Server):
    """The controller's command path: its jobs are (issue time, request id), not units."""

    event_class = COMMAND

    def start(self, t: int) -> None:
        sim = self.sim
        head = min(self.waiting)
        self.waiting.remove(head)
        i = head[1]
        spec = sim.spec
        duration = spec.controller_write_ps if sim.write[sim.first[i]] else spec.controller_read_ps
        self.busy_until = t + duration
        self.busy += duration
        sim.command_started(i, t)
        sim.at(t + duration, self.event_class, self.try_start)


class Channel(Server):
    def service(self, u: int) -> int:
        s = self.sim.spec
        return s.channel_overhead_ps + _xfer_ps(self.sim.nbytes[u], s.channel_bytes_per_s)


class Link(Server):
    def service(self, u: int) -> int:
        return _xfer_ps(self.sim.nbytes[u], self.sim.spec.link_bytes_per_s)


class Die(Server):
    """A die: one array operation at a time, batching one page per plane."""

    def __init__(self, sim: FlashSim, name: str):
        super().__init__(sim, name)
        self.ops = 0

    def start(self, t: int) -> None:
        sim = self.sim
        head = min(self.waiting)
        kind = sim.write[head[1]]
        batch = [head]
        for plane in range(sim.spec.planes_per_die):
            if plane == sim.plane[head[1]]:
                continue
            on_plane = [job for job in self.waiting if sim.plane[job[1]] == plane]
            if on_plane and sim.write[min(on_plane)[1]] == kind:
                batch.append(min(on_plane))
        duration = sim.spec.t_prog_ps if kind else sim.spec.t_read_ps
        self.busy_until = t + duration
        self.busy += duration
        self.ops += 1
        for job in batch:
            self.waiting.remove(job)
            sim.stage_ran(self, job[1], t, t + duration)
        sim.at(t + duration, self.event_class, self.try_start)


class FlashSim:
    """The whole run: SimPy environment, resources, the front end and the results."""

    def __init__(self, spec: FlashSpec, units: Units, arrival, queue_depth: int,
                 through_link: bool):
        self.env = simpy.Environment()
        self.spec = spec
        self.through_link = through_link
        self.qd = queue_depth
        self.arrival = [int(a) for a in arrival]
        self.first = [int(x) for x in units.first]
        self.req = [int(x) for x in units.req]
        self.die_of = [int(x) for x in units.die]
        self.plane = [int(x) for x in units.plane]
        self.chan = [int(x) for x in units.chan]
        self.write = [bool(x) for x in units.write]
        self.nbytes = [int(x) for x in units.nbytes]
        self.dies = [Die(self, f"die{d}") for d in range(spec.dies)]
        self.channels = [Channel(self, f"channel{c}") for c in range(spec.channels)]
        self.to_host = Link(self, "link to host")
        self.to_device = Link(self, "link to device")
        self.controller = Controller(self, "controller")
        self.raw = FlashRaw.empty(spec, len(self.arrival), len(units))
        self.left = [self.first[i + 1] - self.first[i] for i in range(len(self.arrival))]
        self.last_done = [0] * len(self.arrival)
        self.outstanding = 0
        self.slot: simpy.Event | None = None  # the front end waits on it for a free slot
        self.env.process(self.front_end())

    def at(self, time_ps: int, cls: int, action=None) -> simpy.Event:
        """An event at time_ps of class cls, running `action` when processed."""
        event = simpy.Event(self.env)
        event._ok = True  # triggered like simpy.Timeout, with our own priority
        event._value = None
        if action is not None:
            event.callbacks.append(lambda _event: action())
        self.env.schedule(event, _PRIO_BASE + cls, time_ps - self.env.now)
        return event

    # ------------------------------------------------------------------ front end
    def front_end(self):
        """Issue the requests in order: not before arrival, at most QD outstanding."""
        for i, arrival in enumerate(self.arrival):
            yield self.at(max(arrival, self.env.now), ISSUE)
            while self.qd and self.outstanding >= self.qd:
                self.slot = simpy.Event(self.env)
                yield self.slot  # succeeded by a completion, at ISSUE priority
            self.issue(i)

    def issue(self, i: int) -> None:
        t = self.env.now
        self.raw.issue[i] = t
        self.outstanding += 1
        self.controller.arrive(i)

    def command_started(self, i: int, t: int) -> None:
        """Request i's command started on the controller at t: its pages are ready for
        their first stage one controller latency later."""
        self.raw.ctrl_start[i] = t
        ready = t + self.spec.controller_latency_ps
        for u in range(self.first[i], self.first[i + 1]):
            self.at(ready, READY, lambda u=u: self.first_stage(u).arrive(u))

    def first_stage(self, u: int) -> Server:
        if not self.write[u]:
            return self.dies[self.die_of[u]]
        return self.to_device if self.through_link else self.channels[self.chan[u]]

    # ------------------------------------------------------------------ stages
    def stage_ran(self, server: Server, u: int, start: int, end: int) -> None:
        """Record a stage of unit u and send the unit on when it ends."""
        raw = self.raw
        nxt: Server | None = None
        if isinstance(server, Die):
            raw.d_start[u], raw.d_end[u] = start, end
            if not self.write[u]:
                nxt = self.channels[self.chan[u]]
        elif isinstance(server, Channel):
            raw.c_start[u], raw.c_end[u] = start, end
            if self.write[u]:
                nxt = self.dies[self.die_of[u]]
            elif self.through_link:
                nxt = self.to_host
        else:
            raw.l_start[u], raw.l_end[u] = start, end
            if server is self.to_device:
                nxt = self.channels[self.chan[u]]
        if nxt is not None:
            self.at(end, READY, lambda: nxt.arrive(u))
        else:
            self.at(end, COMPLETE, lambda: self.unit_done(u))

    def unit_done(self, u: int) -> None:
        i = self.req[u]
        self.last_done[i] = self.env.now
        self.left[i] -= 1
        if self.left[i] == 0:
            latency = self.spec.link_latency_ps if self.through_link else 0
            self.at(self.env.now + latency, COMPLETE, lambda: self.complete(i))

    def complete(self, i: int) -> None:
        self.raw.complete[i] = self.env.now
        self.outstanding -= 1
        if self.slot is not None and not self.slot.triggered:
            slot = self.slot
            slot._ok = True
            slot._value = None
            self.env.schedule(slot, _PRIO_BASE + ISSUE, 0)

    def run(self) -> FlashRaw:
        self.env.run()
        raw = self.raw
        for d, die in enumerate(self.dies):
            raw.die_busy[d] = die.busy
            raw.die_ops[d] = die.ops
        for c, channel in enumerate(self.channels):
            raw.ch_busy[c] = channel.busy
        raw.link_busy[0] = self.to_host.busy
        raw.link_busy[1] = self.to_device.busy
        raw.ctrl_busy[0] = self.controller.busy
        return raw


def run_reference(spec: FlashSpec, units: Units, arrival, queue_depth: int,
                  through_link: bool) -> FlashRaw:
    """Run the requests on the SimPy reference (the caller has validated them:
    sim/memory/flash.py simulate())."""
    return FlashSim(spec, units, arrival, queue_depth, through_link).run()
