"""SimPy reference of the DRAM controller model: the executable specification.

Same semantics as sim/kernels/dram.py (written down in sim/memory/dram.py), written
plainly: one Python object per bank, rank and access, lists as queues, every timing
constraint applied bank by bank from the constraint table. SimPy keeps time in integer
picoseconds; one process steps the memory clock, every clock while there is work and
straight to the next arrival or refresh when there is none. Slow on purpose: it exists
to be read and to be compared against the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.memory.commands import ACT, PRE, RD, REF, WR
from sim.memory.dram_config import DramConfig
from sim.memory.dram_timing_table import (
    COMMANDS,
    ENTRY_INDEX,
    N_ENTRIES,
    SCOPES,
    compile_table,
)

BIG = 1 << 62
ACT_ROW, ACT_WIN, ACT_REF = ENTRY_INDEX[("ACT", "row")], ENTRY_INDEX[("ACT", "window")], ENTRY_INDEX[("ACT", "refresh")]
PRE_ROW = ENTRY_INDEX[("PRE", "row")]
RD_ENTRIES = [ENTRY_INDEX[("RD", c)] for c in ("row", "bus", "turnaround")]
WR_ENTRIES = [ENTRY_INDEX[("WR", c)] for c in ("row", "bus", "turnaround")]
# breakdown order: sim.memory.dram.BREAKDOWN_KEYS
QUEUED, ROW, WINDOW, REFRESH, TURN, TRANSFER = range(6)


@dataclass
class Access:
    index: int
    channel: int  # controller
    rank: int  # pseudo-channel * ranks + rank
    bankgroup: int
    bank: int  # within the controller
    row: int
    is_write: bool
    arrival: int
    enter: int = -1
    col: int = -1
    milestone: int = 0
    had_pre: bool = False
    had_act: bool = False


@dataclass
class Bank:
    index: int
    rank: int
    group: int  # bank group index within the controller (rank * bank_groups + bg)
    open_row: int = -1
    hits: int = 0
    close_pending: bool = False
    ready: list = field(default_factory=lambda: [0] * N_ENTRIES)


@dataclass
class Rank:
    acts: list = field(default_factory=list)  # last four ACT clocks
    ref_ready: int = 0


class Controller:
    """One channel's controller: banks, queues, refresh and the command-bus choice."""

    def __init__(self, model: ReferenceDram, index: int):
        cfg = model.cfg
        self.m = model
        self.index = index
        nr = cfg.ranks * cfg.pseudo_channels
        bpr = cfg.bank_groups * cfg.banks_per_group
        self.banks = [Bank(b, b // bpr, b // cfg.banks_per_group) for b in range(nr * bpr)]
        self.ranks = [Rank() for _ in range(nr)]
        self.per_bank = cfg.controller.command_queues == "per_bank"
        self.queues = [[] for _ in range(len(self.banks) if self.per_bank else nr)]
        self.read_q: list[Access] = []
        self.write_q: list[Access] = []
        self.active: list[Access] = []
        self.rr = len(self.queues) - 1
        self.write_drain = 0
        self.write_mode = False
        self.refq: list[int] = []
        c = cfg.controller
        self.refresh = c.refresh
        # rank_staggered: one rank (of every pseudo-channel's ranks) each tREFI / ranks
        self.ref_interval = cfg.timing.REFI // nr if c.refresh == "rank_staggered" else cfg.timing.REFI
        self.next_ref = self.ref_interval if c.refresh != "none" else BIG
        self.next_ref_rank = 0

    # --- helpers ---------------------------------------------------------------
    def queue_of(self, a: Access) -> list:
        return self.queues[a.bank if self.per_bank else a.rank]

    def needed(self, a: Access) -> int:
        bank = self.banks[a.bank]
        if bank.open_row == a.row:
            return WR if a.is_write else RD
        return ACT if bank.open_row == -1 else PRE

    def ready_time(self, cmd: int, bank: Bank) -> int:
        if cmd == ACT:
            acts = self.ranks[bank.rank].acts
            faw = acts[0] + self.m.cfg.timing.FAW if len(acts) == 4 else -BIG
            return max(bank.ready[ACT_ROW], bank.ready[ACT_WIN], bank.ready[ACT_REF], faw)
        if cmd == PRE:
            return bank.ready[PRE_ROW]
        entries = RD_ENTRIES if cmd == RD else WR_ENTRIES
        return max(bank.ready[e] for e in entries)

    def has_work(self) -> bool:
        return bool(self.read_q or self.write_q or self.active or self.refq
                    or any(self.queues) or any(b.close_pending for b in self.banks))

    # --- one clock -------------------------------------------------------------
    def tick(self, t: int) -> bool:
        cfg = self.m.cfg
        fr_fcfs = cfg.controller.structure == "fr_fcfs"
        closed = cfg.controller.page_policy == "closed"
        if t >= self.next_ref:
            if self.refresh == "rank_staggered":
                self.refq.append(self.next_ref_rank)
                self.next_ref_rank = (self.next_ref_rank + 1) % len(self.ranks)
            else:
                self.refq.extend(range(len(self.ranks)))
            self.next_ref += self.ref_interval

        choice = None  # (command, bank, access or None)
        if fr_fcfs:
            ready = [a for a in self.active if self.ready_time(self.needed(a), self.banks[a.bank]) <= t]
            if ready:
                a = min(ready, key=lambda x: x.index)
                choice = (self.needed(a), self.banks[a.bank], a)
        refreshing = self.refq[0] if self.refq else -1
        if choice is None and self.refq:
            choice = self.refresh_command(t, refreshing, fr_fcfs)
        if choice is None and not fr_fcfs:
            choice = self.bank_queue_command(t, refreshing, closed)
        if choice is None and fr_fcfs and not self.refq:
            choice = self.buffer_command(t)
        if choice is None and fr_fcfs and closed:
            choice = self.close_command(t)
        moved = False
        if choice is not None:
            self.issue(t, *choice)
        if not fr_fcfs:
            moved = self.schedule_transaction()
        return choice is not None or moved

    def refresh_command(self, t: int, r: int, fr_fcfs: bool):
        open_banks = [b for b in self.banks if b.rank == r and b.open_row != -1]
        for bank in open_banks:
            if fr_fcfs and any(a.bank == bank.index for a in self.active):
                return None  # Ramulator: the refresh waits for the active row's request
            if bank.ready[PRE_ROW] <= t:
                return (PRE, bank, None)
            if fr_fcfs:
                return None  # only the head of the priority buffer is tried
        if not open_banks and self.ranks[r].ref_ready <= t:
            return (REF, None, None)
        return None

    def bank_queue_command(self, t: int, refreshing: int, closed: bool):
        cfg = self.m.cfg
        bpr = cfg.bank_groups * cfg.banks_per_group
        n = len(self.queues)
        for k in range(1, n + 1):
            q = (self.rr + k) % n
            queue = self.queues[q]
            qrank = q // bpr if self.per_bank else q
            if qrank == refreshing:
                continue
            if closed:
                banks = [self.banks[q]] if self.per_bank else [b for b in self.banks if b.rank == q]
                for bank in banks:
                    if not bank.close_pending:
                        continue
                    wanted = any(a.bank == bank.index and a.row == bank.open_row for a in queue)
                    if wanted or bank.open_row == -1:
                        bank.close_pending = False
                        continue
                    if bank.ready[PRE_ROW] <= t:
                        self.rr = q
                        return (PRE, bank, None)
            for i, a in enumerate(queue):
                bank = self.banks[a.bank]
                cmd = self.needed(a)
                if self.ready_time(cmd, bank) > t:
                    continue
                if cmd == PRE:
                    if any(x.bank == a.bank for x in queue[:i]):
                        continue  # an earlier entry still needs this bank
                    if bank.hits < cfg.controller.row_hit_cap and any(
                        x.bank == a.bank and x.row == bank.open_row for x in queue[i:]
                    ):
                        continue  # let the pending row hits go first
                self.rr = q
                return (cmd, bank, a)
        return None

    def buffer_command(self, t: int):
        cfg = self.m.cfg
        c = cfg.controller
        if not self.write_mode:
            if len(self.write_q) > c.write_drain_high or (not self.read_q and self.write_q):
                self.write_mode = True
        elif len(self.write_q) < c.write_drain_low and self.read_q:
            self.write_mode = False
        buf = self.write_q if self.write_mode else self.read_q
        for a in buf:
            bank = self.banks[a.bank]
            cmd = self.needed(a)
            if self.ready_time(cmd, bank) > t:
                continue
            if cmd == PRE:
                if any(x.bank == a.bank for x in self.active):
                    continue
                if bank.hits < c.row_hit_cap and any(
                    x.bank == a.bank and x.row == bank.open_row for x in buf
                ):
                    continue
            return (cmd, bank, a)
        return None

    def close_command(self, t: int):
        for bank in self.banks:
            if not bank.close_pending:
                continue
            wanted = bank.open_row == -1 or any(a.bank == bank.index for a in self.active) or any(
                a.bank == bank.index and a.row == bank.open_row for a in self.read_q + self.write_q
            )
            if wanted:
                bank.close_pending = False
                continue
            if bank.ready[PRE_ROW] <= t:
                return (PRE, bank, None)
        return None

    # --- issuing -----------------------------------------------------------------
    def issue(self, t: int, cmd: int, bank: Bank | None, a: Access | None) -> None:
        m = self.m
        cfg = m.cfg
        tm = cfg.timing
        rank = self.refq[0] if cmd == REF else bank.rank
        if a is not None:
            if not a.is_write:
                self.attribute(t, cmd, bank, a)
            a.milestone = t
            a.had_pre |= cmd == PRE
            a.had_act |= cmd == ACT
        m.log_command(t, cmd, self.index, rank, bank, a.row if a is not None else
                      (bank.open_row if bank is not None else -1))
        if cmd == REF:
            for b in self.banks:
                if b.rank == rank:
                    b.ready[ACT_REF] = max(b.ready[ACT_REF], t + tm.RFC)
            self.ranks[rank].ref_ready = max(self.ranks[rank].ref_ready, t + tm.RFC)
            self.refq.pop(0)
            return
        # every bank of the controller, by its relation to the issuing bank
        rpp = cfg.ranks
        for other in self.banks:
            if other is bank:
                scope = "same_bank"
            elif other.group == bank.group:
                scope = "same_bankgroup"
            elif other.rank == bank.rank:
                scope = "other_bankgroup"
            elif other.rank // rpp == bank.rank // rpp:
                scope = "other_rank"
            else:
                continue  # another pseudo-channel: its own banks and data bus
            for entry, gap in m.gaps[(scope, COMMANDS[cmd])]:
                other.ready[entry] = max(other.ready[entry], t + gap)
        if cmd == ACT:
            bank.open_row = a.row
            bank.hits = 0
            acts = self.ranks[bank.rank].acts
            acts.append(t)
            if len(acts) > 4:
                acts.pop(0)
        elif cmd == PRE:
            bank.open_row = -1
            bank.hits = 0
            bank.close_pending = False
            self.ranks[bank.rank].ref_ready = max(self.ranks[bank.rank].ref_ready, t + tm.RP)
        else:
            bank.hits += 1
        if a is None:
            return
        if cmd in (RD, WR):
            a.col = t
            m.finish(a, t)
            for q in (self.queue_of(a), self.active, self.read_q, self.write_q):
                if a in q:
                    q.remove(a)
                    break
            if cfg.controller.page_policy == "closed":
                bank.close_pending = True
        elif cmd == ACT and cfg.controller.structure == "fr_fcfs" and a not in self.active:
            (self.write_q if a.is_write else self.read_q).remove(a)
            self.active.append(a)

    def attribute(self, t: int, cmd: int, bank: Bank, a: Access) -> None:
        """Split the read's wait since its last milestone into causes (see sim.memory.dram)."""
        if cmd == ACT:
            acts = self.ranks[bank.rank].acts
            faw = acts[0] + self.m.cfg.timing.FAW if len(acts) == 4 else -BIG
            causes = [(ROW, bank.ready[ACT_ROW]), (REFRESH, bank.ready[ACT_REF]),
                      (WINDOW, max(bank.ready[ACT_WIN], faw))]
        elif cmd == PRE:
            causes = [(ROW, bank.ready[PRE_ROW])]
        else:
            causes = [(ROW, bank.ready[RD_ENTRIES[0]]), (TURN, bank.ready[RD_ENTRIES[2]])]
        cur = a.milestone
        for cause, until in causes:
            if until > cur:
                d = min(until, t) - cur
                self.m.breakdown[cause] += d
                cur += d
        self.m.breakdown[QUEUED] += t - cur

    def schedule_transaction(self) -> bool:
        """bank_queues: move at most one transaction into its command queue."""
        c = self.m.cfg.controller
        if self.write_drain == 0:
            idle = not any(self.queues)
            if len(self.write_q) >= c.write_drain_high or (
                len(self.write_q) > c.write_drain_low and idle
            ) or (self.write_q and not self.read_q and idle):
                self.write_drain = len(self.write_q)
        draining = self.write_drain > 0
        source = self.write_q if draining else self.read_q
        for a in source:
            queue = self.queue_of(a)
            if len(queue) < c.bank_queue:
                queue.append(a)
                source.remove(a)
                if draining:
                    self.write_drain -= 1
                return True
        return False


class ReferenceDram:
    def __init__(self, cfg: DramConfig, accesses: list[Access], requests_per_clock: int,
                 with_log: bool):
        self.cfg = cfg
        self.accesses = accesses
        self.k = requests_per_clock
        self.gaps = self._gaps(cfg)
        self.controllers = [Controller(self, i) for i in range(cfg.channels)]
        self.breakdown = [0] * 6
        self.log: list[tuple] | None = [] if with_log else None
        self.next_access = 0
        self.done = 0
        self.end = 0

    @staticmethod
    def _gaps(cfg: DramConfig) -> dict:
        dense = compile_table(cfg.timing)
        gaps = {}
        for s, scope in enumerate(SCOPES):
            for x, cmd in enumerate(COMMANDS):
                gaps[(scope, cmd)] = [(e, int(dense[s, x, e])) for e in range(N_ENTRIES)
                                      if dense[s, x, e] >= 0]
        return gaps

    def log_command(self, t, cmd, controller, rank, bank, row) -> None:
        if self.log is None:
            return
        cfg = self.cfg
        channel = controller * cfg.pseudo_channels + rank // cfg.ranks
        if cmd == REF:
            self.log.append((t, cmd, channel, rank % cfg.ranks, -1, -1, -1))
        else:
            bg = (bank.index // cfg.banks_per_group) % cfg.bank_groups
            self.log.append((t, cmd, channel, rank % cfg.ranks, bg,
                             bank.index % cfg.banks_per_group, row))

    def finish(self, a: Access, t: int) -> None:
        tm = self.cfg.timing
        if a.is_write:
            fin = t + tm.CWL + tm.BURST
        else:
            fin = t + tm.CL + tm.BURST
            self.breakdown[TRANSFER] += tm.CL + tm.BURST
        self.end = max(self.end, fin)
        self.done += 1

    def admit(self, t: int) -> bool:
        """Front end: trace order, at most K per clock, stop at the first that cannot enter."""
        c = self.cfg.controller
        admitted = 0
        while self.next_access < len(self.accesses) and admitted < self.k:
            a = self.accesses[self.next_access]
            if a.arrival > t:
                break
            ctrl = self.controllers[a.channel]
            q, cap = (ctrl.write_q, c.write_queue) if a.is_write else (ctrl.read_q, c.read_queue)
            if len(q) >= cap:
                break
            q.append(a)
            a.enter = a.milestone = t
            self.next_access += 1
            admitted += 1
        return admitted > 0

    def clock(self, env: simpy.Environment):
        tck = self.cfg.tck_ps
        t = self.accesses[0].arrival if self.accesses else 0
        yield env.timeout(t * tck)
        while self.done < len(self.accesses):
            for ctrl in self.controllers:
                ctrl.tick(t)
            self.admit(t)
            nxt = t + 1
            if not any(ctrl.has_work() for ctrl in self.controllers):
                # nothing queued anywhere: jump to the next arrival or refresh
                candidates = [ctrl.next_ref for ctrl in self.controllers]
                if self.next_access < len(self.accesses):
                    candidates.append(self.accesses[self.next_access].arrival)
                nxt = max(nxt, min(candidates))
            yield env.timeout((nxt - t) * tck)
            t = nxt

    def run(self) -> int:
        env = simpy.Environment()
        env.process(self.clock(env))
        env.run()
        return self.end


def run_reference(cfg: DramConfig, acc, requests_per_clock: int, with_log: bool = False):
    """Engine entry point with the same inputs and outputs as sim.memory.dram.run_fast."""
    from sim.memory.dram import RawResult

    accesses = [
        Access(i, int(acc.controller[i]), int(acc.rank[i]), int(acc.bankgroup[i]), int(acc.bank[i]),
               int(acc.row[i]), bool(acc.is_write[i]), int(acc.arrival[i]))
        for i in range(len(acc))
    ]
    model = ReferenceDram(cfg, accesses, requests_per_clock, with_log)
    end = model.run()
    kind = np.array([2 if a.had_pre else 1 if a.had_act else 0 for a in accesses], np.int8)
    log = np.array(model.log, np.int64).reshape(-1, 7) if with_log else None
    return RawResult(
        end,
        np.array([a.enter for a in accesses], np.int64),
        np.array([a.col for a in accesses], np.int64),
        kind,
        np.array(model.breakdown, np.int64),
        log,
    )
