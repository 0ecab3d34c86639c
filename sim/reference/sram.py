"""SimPy reference model of the scratchpad SRAM + atomic unit: the executable specification.

Semantics: see the docstring of sim/memory/sram.py. Time is integer picoseconds; every delay
is a whole number of SRAM clocks, so every event happens on a clock edge.

Structure
    * One process per access (a request split at bank-interleave boundaries), spawned by a
      source process at the access's ready clock in (request index, piece index) order.
    * Per bank: ``issue`` (Resource, capacity 1) is the bank's in-order issue queue: an access
      enters it when ready and leaves it when it starts, so accesses start in arrival order.
      ``ports`` (Resource, capacity ports_per_bank) is held for the access's occupancy.
    * Atomic unit: ``atomic_issue`` (capacity 1) is the unit's in-order issue queue;
      ``atomic_slots`` (capacity ops_per_clock) is held for one clock per started atomic, so at
      most ops_per_clock atomics start per clock.
    * Same word: each atomic waits for the completion event of the previous atomic (by
      request index) to its 8-byte word.

Only the head of an issue queue asks for a port or an atomic slot, and once available to it
neither can be taken by anyone else, so acquiring them one after the other starts the access
at the first clock where all are available, which is what the specification asks.
SimPy resources grant strictly first come first served; accesses enqueue in index order at
equal times because the source spawns them in that order.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.memory.sram import ATOMIC_WORD_BYTES, READ, WRITE, SramResult, is_atomic
from sim.memory.sram_config import SramConfig


class _Bank:
    def __init__(self, env: simpy.Environment, ports: int):
        self.issue = simpy.Resource(env, capacity=1)
        self.ports = simpy.Resource(env, capacity=ports)
        self.accesses = 0
        self.busy_clocks = 0


class SramReference:
    def __init__(self, cfg: SramConfig, req: np.ndarray):
        self.cfg = cfg
        self.req = req
        self.clk = cfg.clock_ps
        self.env = simpy.Environment()
        self.banks = [_Bank(self.env, cfg.ports_per_bank) for _ in range(cfg.banks)]
        self.atomic_issue = simpy.Resource(self.env, capacity=1)
        self.atomic_slots = simpy.Resource(self.env, capacity=cfg.atomic.ops_per_clock)
        self.last_atomic_to_word: dict[int, simpy.Event] = {}
        self.completion_clock = np.zeros(req.shape[0], dtype=np.int64)
        self.bank_conflict_stall_clocks = 0
        self.atomic_stall_clocks = 0
        self.accesses = 0

    # -- splitting ---------------------------------------------------------------------------
    def pieces(self, addr: int, size: int):
        """(bank, bytes) for each interleave unit touched by [addr, addr + size), in order."""
        interleave = self.cfg.bank_interleave_bytes
        end = addr + size
        while addr < end:
            unit = addr // interleave
            piece_end = min(end, (unit + 1) * interleave)
            yield unit % self.cfg.banks, piece_end - addr
            addr = piece_end

    def occupancy(self, nbytes: int) -> int:
        return -(-nbytes // self.cfg.bytes_per_clock_per_port)

    # -- processes ---------------------------------------------------------------------------
    def source(self):
        env = self.env
        for i, (arrival, addr, size, op) in enumerate(
            zip(
                self.req["arrival_ps"].tolist(),
                self.req["addr"].tolist(),
                self.req["size"].tolist(),
                self.req["op"].tolist(),
                strict=True,
            )
        ):
            ready = -(-arrival // self.clk)  # first clock edge at or after arrival
            if ready * self.clk > env.now:
                yield env.timeout(ready * self.clk - env.now)
            if is_atomic(op):
                word = addr // ATOMIC_WORD_BYTES
                previous = self.last_atomic_to_word.get(word)
                done = env.event()
                self.last_atomic_to_word[word] = done
                ((bank, nbytes),) = self.pieces(addr, size)  # validated: never split
                env.process(self.atomic(i, ready, bank, nbytes, previous, done))
            else:
                for bank, nbytes in self.pieces(addr, size):
                    env.process(self.access(i, ready, bank, nbytes))

    def access(self, i: int, ready: int, b: int, nbytes: int):
        env, bank = self.env, self.banks[b]
        occ = self.occupancy(nbytes)
        with bank.issue.request() as turn:
            yield turn
            port = bank.ports.request()
            yield port
        start = env.now // self.clk
        self.bank_conflict_stall_clocks += start - ready
        self.count(bank, occ)
        self.finish(i, start + occ + self.cfg.latency)
        yield env.timeout(occ * self.clk)
        bank.ports.release(port)

    def atomic(self, i: int, ready: int, b: int, nbytes: int, previous, done):
        env, bank = self.env, self.banks[b]
        occ = self.occupancy(nbytes)
        turn = bank.issue.request()
        unit_turn = self.atomic_issue.request()  # enqueue at both in-order queues on arrival
        yield turn
        port = bank.ports.request()
        yield port
        bank_ok = env.now // self.clk
        yield unit_turn
        if previous is not None:
            yield previous  # result of the previous atomic to this word
        slot = self.atomic_slots.request()
        yield slot
        start = env.now // self.clk
        bank.issue.release(turn)
        self.atomic_issue.release(unit_turn)
        env.process(self.hold_slot(slot))
        self.bank_conflict_stall_clocks += bank_ok - ready
        self.atomic_stall_clocks += start - bank_ok
        self.count(bank, occ)
        result = start + occ + self.cfg.atomic.latency
        self.finish(i, result)
        env.process(self.signal_at(done, result))
        yield env.timeout(occ * self.clk)
        bank.ports.release(port)

    def hold_slot(self, slot):
        yield self.env.timeout(self.clk)  # an atomic-unit issue slot lasts one clock
        self.atomic_slots.release(slot)

    def signal_at(self, event: simpy.Event, clock: int):
        yield self.env.timeout(clock * self.clk - self.env.now)
        event.succeed()

    # -- bookkeeping ---------------------------------------------------------------------------
    def count(self, bank: _Bank, occ: int):
        bank.accesses += 1
        bank.busy_clocks += occ
        self.accesses += 1

    def finish(self, i: int, clock: int):
        self.completion_clock[i] = max(self.completion_clock[i], clock)

    def run(self) -> SramResult:
        self.env.process(self.source())
        self.env.run()
        ops = self.req["op"]
        sizes = self.req["size"].astype(np.int64)
        atomic = is_atomic(ops)
        completion = self.completion_clock * self.clk
        stats = {
            "bank_accesses": np.array([b.accesses for b in self.banks], dtype=np.int64),
            "bank_busy_clocks": np.array([b.busy_clocks for b in self.banks], dtype=np.int64),
            "bank_conflict_stall_clocks": int(self.bank_conflict_stall_clocks),
            "atomic_count": int(atomic.sum()),
            "atomic_stall_clocks": int(self.atomic_stall_clocks),
            "bytes_read": int(sizes[(ops == READ) | atomic].sum()),
            "bytes_written": int(sizes[(ops == WRITE) | atomic].sum()),
            "accesses": int(self.accesses),
            "end_time_ps": int(completion.max()) if completion.size else 0,
        }
        return SramResult(completion_ps=completion, stats=stats)


def run_reference(cfg: SramConfig, req: np.ndarray) -> SramResult:
    """Run the SimPy model on validated requests (use sim.memory.sram.simulate_sram)."""
    return SramReference(cfg, req).run()
