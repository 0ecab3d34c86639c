"""SimPy machine reference (sim/reference/machine.py) against hand-computed expectations.

Every expected number below is derived by hand from the specification in the docstring of
sim/machine/model.py, on the tiny machine of tests/machine_specs.py:
cycle 1000 ps; 1 die, 2 cores; per core 1 MTP of 4 threads + 1 STP (threads 0-3 MTP and 4 STP
of core 0, 5-9 of core 1); pipelines 0, 1 (core 0), 2, 3 (core 1), DMA engines 4, 5;
2x2 mesh (node = y*2 + x), cores at nodes 0 and 1, controllers at nodes 2 and 3, host node 3;
hop 1 cycle, 16 B/cycle links, 8 B headers; DRAM tCK 625 ps, controller latency 2, access 8 B,
fields co:4 bg:1 ba:1 ro:10 from bit 0 of the access index, CL 22 CWL 16 RCD 22 RP 22 RAS 52
RTP 12 WR 24 CCD_L 8 RRD_S 4 BURST 4; scratchpad clock 1000 ps, 4 banks of 8 B, latency 2,
8 B/clock, atomic latency 4.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from sim.machine.errors import MachineError
from sim.machine.model import FLAG_POSTED, STALL_NAMES
from sim.machine.stats import die_link, host_link, mesh_link
from sim.reference.machine import run_reference
from tests.machine_specs import spec
from workloads.ops import (
    ATOMIC,
    DRAM,
    HOST,
    OP_DTYPE,
    PIM,
    SCOPE_CORE,
    SCOPE_MACHINE,
    SP_LOCAL,
    SP_REMOTE,
    ArrayStreams,
    atomic,
    barrier,
    compute,
    dma,
    load,
    store,
    stream,
    wait,
)

C = 1000  # core cycle, ps
S = {name: i for i, name in enumerate(STALL_NAMES)}


def run(*streams, chunk=256, **overrides):
    return run_reference(spec(**overrides), ArrayStreams([stream(s) for s in streams]), chunk)


def stalls(st, thread):
    """Non-zero stalls of a thread by name."""
    return {n: int(st.stall_ps[thread, i]) for n, i in S.items() if st.stall_ps[thread, i]}


def check_identity(st):
    """ops * cycle + stalls == done time, for every thread with a stream."""
    for th in np.flatnonzero(st.thread_done_ps >= 0):
        assert st.thread_ops[th] * C + st.stall_ps[th].sum() == st.thread_done_ps[th], th


# ----------------------------------------------------------------------------- scratchpad
def test_local_scratchpad_load():
    # issue at 0; ready r = 0; bank 0 start 0, occupancy ceil(8/8) = 1, end 0+1+2 = 3 clocks
    st = run([load(0, 8, SP_LOCAL)])
    assert st.thread_done_ps[0] == 3000
    assert stalls(st, 0) == {"scratchpad": 3000 - 0 - C}
    assert (st.sp_requests[0], st.sp_bytes_read[0], st.sp_bytes_written[0]) == (1, 8, 0)
    assert st.load_count[0] == 1 and st.load_latency_ps[0] == 3000
    assert st.end_ps == 3000 and st.link_packets.sum() == 0
    assert st.thread_done_ps[1] == -1  # no stream


def test_local_scratchpad_bank_conflict():
    # at cycle 0 pipeline 0 (thread 0) runs before pipeline 1 (thread 4, the STP):
    # thread 0 reads 32 B at 0: banks 0-3 start 0, end 3 -> 3000; thread 4 reads 8 B at 32
    # (unit 4 -> bank 0, port busy until 1): start 1, end 1 + 1 + 2 = 4 -> 4000
    st = run([load(0, 32, SP_LOCAL)], [], [], [], [load(32, 8, SP_LOCAL)])
    assert st.thread_done_ps[0] == 3000 and st.thread_done_ps[4] == 4000
    assert stalls(st, 4) == {"scratchpad": 4000 - C}
    assert st.sp_bytes_read[0] == 40 and st.sp_requests[0] == 2


def test_local_scratchpad_atomic():
    # atomic: start 0, occupancy 1, end 0 + 1 + atomic latency 4 = 5 clocks
    st = run([atomic(0, space=SP_LOCAL)])
    assert st.thread_done_ps[0] == 5000
    assert stalls(st, 0) == {"atomic": 4000}
    assert (st.sp_atomics[0], st.sp_bytes_read[0], st.sp_bytes_written[0]) == (1, 8, 8)
    assert st.load_count[0] == 0


def test_remote_scratchpad_load():
    # core 0 (node 0) -> core 1 (node 1): link +x of node 0, 8 B = 1 slot, slot 0, arrives
    # 0 + 1 - 1 + 1 = cycle 1. Core 1's scratchpad: r = 1, end 1+1+2 = 4 -> 4000. Response
    # 16 B (1 slot) on -x of node 1 at cycle 4, arrives cycle 5 -> done 5000.
    st = run([load(0, 8, SP_REMOTE, core=1)])
    s = spec()
    assert st.thread_done_ps[0] == 5000
    assert stalls(st, 0) == {"network": 1000 + (5000 - 4000), "scratchpad": 5000 - C - 2000}
    assert st.sp_requests[1] == 1 and st.sp_bytes_read[1] == 8 and st.sp_requests[0] == 0
    out, back = mesh_link(s, 0, 0, 0), mesh_link(s, 0, 1, 1)
    assert (st.link_packets[out], st.link_bytes[out], st.link_busy_slots[out]) == (1, 8, 1)
    assert (st.link_packets[back], st.link_bytes[back], st.link_busy_slots[back]) == (1, 16, 1)
    assert st.link_packets.sum() == 2


def test_network_stall_capped():
    # a fast scratchpad (100 ps clock, latency 0): the request arrives at 1000, r = 10,
    # end 10 + 1 = 11 clocks = 1100 ps, the response leaves at cycle 2 and arrives at 3000.
    # transits 1000 + 1900 = 2900 > dn - t - cycle = 2000: network 2000, scratchpad 0
    st = run([load(0, 8, SP_REMOTE, core=1)], sp_clock_ps=100, sp_latency=0)
    assert st.thread_done_ps[0] == 3000
    assert stalls(st, 0) == {"network": 2000}


def test_remote_own_core_is_local():
    st = run([load(0, 8, SP_REMOTE, core=0)])
    assert st.thread_done_ps[0] == 3000 and st.link_packets.sum() == 0


def test_remote_scratchpad_on_other_die():
    # 2 dies: core 2 is die 1's core 0 at node 0 = the gateway, so the path is the die link
    # only: 8 B / 32 B per cycle = 1 slot at cycle 0, arrives 0 + 1 - 1 + die_link_latency 20
    # (the die-link latency replaces hop_latency) = 20. Serve r = 20, end 23; response on the
    # die link 1 -> 0 at 23, arrives 43 -> 43000.
    st = run([load(0, 8, SP_REMOTE, core=2)], dies=2)
    s = spec(dies=2)
    assert st.thread_done_ps[0] == 43000
    assert stalls(st, 0) == {"network": 20000 + 20000, "scratchpad": 43000 - C - 40000}
    assert st.link_packets[die_link(s, 0, 1)] == 1 and st.link_packets[die_link(s, 1, 0)] == 1
    assert st.sp_requests[2] == 1


# ----------------------------------------------------------------------------- DRAM
def test_one_dram_load_idle_machine():
    # addr 0: unit 0, controller 0 at node 2, local 0, access 0 = (bank 0, row 0).
    # request 8 B: node 0 -> 2 is one +y hop, slot 0, arrives cycle 1 (1000 ps).
    # e = ceil(1000/625) + 2 = 4; closed bank: ACT 4, column-ready 4 + RCD 22 = 26;
    # data d >= 26 + CL 22 = 48, bus free -> [48, 52), access ends 52 -> 32500 ps.
    # response 16 B leaves at ceil(32.5) = 33, -y of node 2, arrives 34 -> 34000.
    st = run([load(0, 8, DRAM, bypass=True)])
    s = spec()
    assert st.thread_done_ps[0] == 34000
    net = (1000 - 0) + (34000 - 32500)
    assert stalls(st, 0) == {"network": net, "dram": 34000 - C - net}
    assert st.dram_requests.tolist() == [1, 0] and st.dram_accesses.tolist() == [1, 0]
    assert st.dram_bytes_read.tolist() == [8, 0] and st.dram_row_hits.tolist() == [0, 0]
    assert st.link_bytes[mesh_link(s, 0, 0, 2)] == 8
    assert st.link_bytes[mesh_link(s, 0, 2, 3)] == 16
    assert st.timeline[0, 32500 // 10_000] == 8 and st.timeline[:2].sum() == 8
    assert st.end_ps == 34000
    assert st.load_latency_ps[0] == 34000 and st.l1_misses[0] == 0


def test_dram_bytes_are_request_bytes():
    # 32 B accesses: an 8 B load still counts 8 B (timing as in the test above)
    st = run([load(0, 8, DRAM, bypass=True)], access_bytes=32)
    assert st.thread_done_ps[0] == 34000
    assert st.dram_bytes_read.tolist() == [8, 0] and st.timeline[:2].sum() == 8


def test_dram_row_hit():
    # second load (addr 8 = access 1: column 1, same bank and row) issues at 34000:
    # arrives cycle 35 = 35000 ps, e = 56 + 2 = 58; hit: c = max(58, 26 + CCD_L 8) = 58,
    # d = 58 + 22 = 80, ends 84 -> 52500; response leaves 53, arrives 54 -> 54000.
    st = run([load(0, 8, DRAM, bypass=True), load(8, 8, DRAM, bypass=True)])
    assert st.thread_done_ps[0] == 54000
    assert st.dram_row_hits[0] == 1 and st.dram_accesses[0] == 2


def test_dram_row_conflict():
    # addr 1024: unit 16 -> controller 0, local 8*64 = 512, access 64 -> row 1 of bank 0.
    # precharge-ready after the first access = max(ACT 4 + RAS 52, column 26 + RTP 12) = 56;
    # arrives 35000, e = 58: PRE 58, ACT max(58 + RP 22, RRD 4 + 4) = 80, c = 102,
    # d = 124, ends 128 -> 80000; response leaves 80, arrives 81 -> 81000.
    st = run([load(0, 8, DRAM, bypass=True), load(1024, 8, DRAM, bypass=True)])
    assert st.thread_done_ps[0] == 81000
    assert st.dram_row_hits[0] == 0 and st.dram_accesses[0] == 2


def test_dram_second_controller():
    # addr 64: unit 1 -> controller 1 at node 3: path 0 -> +x (node 1) -> +y (node 3): 2 hops,
    # arrives cycle 2; e = ceil(2000/625) + 2 = 6, ACT 6, c 28, d 50, ends 54 -> 33750;
    # response leaves 34: node 3 -x to node 2, -y to node 0, arrives 36 -> 36000.
    st = run([load(64, 8, DRAM, bypass=True)])
    assert st.thread_done_ps[0] == 36000
    assert st.dram_requests.tolist() == [0, 1]


def test_dram_atomic():
    # request 16 B arrives cycle 1, e = 4; atomic unit starts at 4; read access: ACT 4,
    # c 26, d 48, ends 52; result 52 + 4 = 56 (35000 ps) -> response leaves cycle 35,
    # arrives 36 -> 36000. Write-back at 56: row hit, c = max(56, 34) = 56,
    # d = 56 + CWL 16 = 72, ends 76 -> 47500 ps = the end time.
    st = run([atomic(0)])
    assert st.thread_done_ps[0] == 36000
    net = 1000 + (36000 - 35000)
    assert stalls(st, 0) == {"network": net, "atomic": 36000 - C - net}
    assert st.dram_atomics[0] == 1 and st.dram_accesses[0] == 2 and st.dram_row_hits[0] == 1
    assert (st.dram_bytes_read[0], st.dram_bytes_written[0]) == (8, 8)
    assert st.end_ps == 47500


def test_l1_miss_then_hits():
    # miss: requests the 64 B line; 8 accesses ending 52 + 8k (hits at column-ready steps of
    # CCD_L), last 108 -> 67500; response 8 + 64 = 72 B = 5 slots from cycle 68, arrives
    # 68 + 5 - 1 + 1 = 73 -> 73000; the line is inserted at the ARRIVE (cycle 1) with fill
    # 73000. Thread 1 issues its LOAD at cycle 1 (after the ARRIVE, class 0 first): a hit,
    # done max(1000 + 2*1000, 73000) = 73000. Thread 0's second load at 73000 hits: 75000.
    st = run([load(0), load(8)], [load(16)])
    assert st.thread_done_ps[0] == 75000 and st.thread_done_ps[1] == 73000
    net = 1000 + (73000 - 67500)
    assert stalls(st, 0) == {"network": net, "dram": 73000 - C - net, "cache": 1000}
    assert stalls(st, 1) == {"issue": 1000, "cache": 73000 - 1000 - C}
    assert st.l1_misses[0] == 1 and st.l1_hits[0] == 2
    assert st.dram_bytes_read[0] == 64


def test_l1_store_does_not_allocate():
    st = run([store(0), load(0)])
    assert st.l1_misses[0] == 1 and st.l1_hits[0] == 0


def test_host_load():
    # node 0 -> host node 3: +x of node 0 (cycle 0 -> 1), +y of node 1 (1 -> 2), host link
    # out (slot 2, + host_link_latency 50 -> 52); host memory 100 cycles -> 152; host link
    # back (152 -> 202), -x of node 3 (202 -> 203), -y of node 2 (203 -> 204) -> 204000.
    st = run([load(0, 8, HOST)])
    s = spec()
    assert st.thread_done_ps[0] == 204000
    net = 52000 + (204000 - 152000)
    assert stalls(st, 0) == {"network": net, "host": 204000 - C - net}
    assert st.host_bytes_read[0] == 8
    assert st.link_packets[host_link(s, 0, False)] == 1
    assert st.link_packets[host_link(s, 0, True)] == 1


# ----------------------------------------------------------------------------- pipelines
def test_compute_mtp_vs_stp():
    # thread 0 (MTP): 5 cycles; thread 4 (STP, speedup 2): ceil(5/2) = 3 cycles
    st = run([compute(5)], [], [], [], [compute(5)])
    assert st.thread_done_ps[0] == 5000 and st.thread_done_ps[4] == 3000
    assert stalls(st, 0) == {"compute": 4000} and stalls(st, 4) == {"compute": 2000}
    assert st.core_issue_slots[0] == 5 + 3
    assert st.thread_done_ps[1] == -1  # an empty stream counts as no stream


def test_compute_holds_the_mtp():
    # thread 0 holds the MTP for 3 cycles, thread 1 issues at 3000
    st = run([compute(3)], [compute(3)])
    assert st.thread_done_ps[0] == 3000 and st.thread_done_ps[1] == 6000
    assert stalls(st, 1) == {"issue": 3000, "compute": 2000}


def test_round_robin_one_op_per_cycle():
    # 4 MTP threads with one local store each issue at cycles 0, 1, 2, 3
    st = run(*[[store(8 * i, 8, SP_LOCAL)] for i in range(4)])
    assert st.thread_done_ps[:4].tolist() == [1000, 2000, 3000, 4000]
    assert [stalls(st, i).get("issue", 0) for i in range(4)] == [0, 1000, 2000, 3000]


def test_posted_store_stall():
    # 64 B stores to DRAM: request 72 B = 5 slots on +y of node 0.
    # store 0 at 0: slots 0-4, arrives 5; store 1 at 1: slots 5-9, arrives 10.
    # store 2 at cycle 2: both kept arrivals (5000, 10000) > 2000 -> ready moves to 5000,
    # posted += 3000; issues at 5000 (slots 10-14, arrives 15), done 6000.
    st = run([store(0, 64), store(0, 64), store(0, 64)])
    assert st.thread_done_ps[0] == 6000
    assert stalls(st, 0) == {"posted": 3000}
    # DRAM (controller 0, bank 0, row 0): store 0 arrives 5000, e = 10: ACT 10, c 32,
    # writes d = c + CWL: 48 + 8k, end 52 + 8k (k = 0..7), column-ready 96 after;
    # store 1: e = 18, c = 96 + 8k, d = 112 + 8k; store 2: e = 26, c = 160 + 8k,
    # d = 176 + 8k, last end 176 + 56 + 4 = 236 clocks = 147500 ps. Each store is
    # acknowledged (an 8 B response nobody waits for): the last ack leaves at cycle 148 on
    # -y of node 2 and arrives at 149 = the end time.
    assert st.end_ps == 149000
    assert st.dram_bytes_written[0] == 3 * 64 and st.dram_row_hits[0] == 23


def test_posted_slot_is_never_taken_from_an_op_in_flight():
    # max_posted 2. A: 64 B store to controller 1 (node 3) at 0: +x of node 0 slots 0-4,
    # +y of node 1 slots 5-9, arrives 10000. B: local store at 1000 (arrives 1000).
    # C at 2000: slots [10000, 1000], 1000 is free -> C takes B's slot; +x slots 5-9,
    # +y 10-14, arrives 15000. D (local) at 3000: slots [10000, 15000] both in flight ->
    # ready moves to 10000 (posted 7000), done 11000.
    st = run([store(64, 64, DRAM), store(0, 8, SP_LOCAL), store(64, 64, DRAM),
              store(8, 8, SP_LOCAL)])
    assert st.thread_done_ps[0] == 11000
    assert stalls(st, 0) == {"posted": 7000}


def test_posted_atomic_is_not_blocking():
    st = run([atomic(0, space=DRAM), (ATOMIC, DRAM, FLAG_POSTED, 0, 8, 0, 0, 0, 0, 0, 0)])
    # the blocking atomic is done at 36000 (see test_dram_atomic); the posted one at 37000
    assert st.thread_done_ps[0] == 37000 and st.dram_atomics[0] == 2


# ----------------------------------------------------------------------------- barriers
def test_barrier_release():
    # thread 0: COMPUTE 3 (holds the MTP until 3000), thread 1 issues its barrier at 3000,
    # thread 0 at 4000: release 4000 + 40 cycles (machine scope) = 44000.
    st = run([compute(3), barrier()], [barrier()])
    assert st.thread_done_ps[:2].tolist() == [44000, 44000]
    assert stalls(st, 0) == {"issue": 1000, "compute": 2000, "barrier": 44000 - 4000 - C}
    assert stalls(st, 1) == {"issue": 3000, "barrier": 44000 - 3000 - C}


def test_barrier_done_never_before_next_cycle():
    # latency 0: released at its own arrival 0, but a done time is never before t + cycle
    # (done 0 would give barrier -1000 and issue +1000)
    st = run([barrier(SCOPE_CORE), store(0, 8, SP_LOCAL)], barrier_latency=(0, 0, 0))
    assert st.thread_done_ps[0] == 2000 and stalls(st, 0) == {}


def test_barrier_ignores_empty_streams():
    # stream 1 is empty: thread 1 is no participant; released at 0 + 40 cycles
    st = run([barrier()], [])
    assert st.thread_done_ps[:2].tolist() == [40000, -1]


def test_barrier_waits_for_posted_arrivals():
    # a 64 B store arrives at 5000 (see test_posted_store_stall): the thread arrives at the
    # core barrier (latency 2) at max(1000, 5000), released at 7000
    st = run([store(0, 64), barrier(SCOPE_CORE)])
    assert st.thread_done_ps[0] == 7000
    assert stalls(st, 0) == {"barrier": 7000 - 1000 - C}


# ----------------------------------------------------------------------------- DMA
def test_dma_wait():
    # DMA 64 B DRAM 0 -> local scratchpad 0, one chunk. Thread: DMA at 0 (done 1000); the
    # DMA engine (pipeline 4) issues the read at 0: 8 B request arrives cycle 1; 8 accesses
    # end 52 + 8k, last 108 -> 67500; response 72 B (5 slots) from 68, arrives 73 -> 73000.
    # write at 73000 into the scratchpad: r = 73, 8 pieces on banks 0,1,2,3,0,1,2,3: the
    # first four start 73, the others 74, last end 74 + 1 + 2 = 77 -> ack 77000.
    # WAIT issued at 1000: done max(2000, 77000).
    st = run([dma(DRAM, 0, SP_LOCAL, 0, 64, handle=1), wait(1)])
    assert st.thread_done_ps[0] == 77000
    assert stalls(st, 0) == {"dma_wait": 77000 - 1000 - C}
    assert st.dma_jobs[0] == 1 and st.dma_bytes[0] == 64
    assert st.sp_bytes_written[0] == 64 and st.dram_bytes_read[0] == 64
    assert st.end_ps == 77000


def test_dma_chunks_cut_at_interleave_boundary():
    # 64 B from DRAM 32: cut at the interleave boundary 64 into [32, 64) (controller 0,
    # local 32 = accesses 4-7) and [64, 96) (controller 1, local 0 = accesses 0-3).
    # slot 0 reads chunk 1 at cycle 0: arrives 1, e = 4: ACT 4, data 48/56/64/72, ends 76
    # (47500 ps); response 40 B = 3 slots from cycle 48 on -y of node 2, arrives 51.
    # slot 1 reads chunk 2 at cycle 1 (one issue per cycle): +x of node 0 then +y of node 1,
    # arrives 3, e = ceil(3000/625) + 2 = 7: ACT 7, data 51/59/67/75, ends 79 (49375 ps);
    # response leaves 50: -x of node 3 slots 50-52 (arrives 53), -y of node 2 slots 53-55
    # (arrives 56). Writes: chunk 1 at 51 into banks 0-3, ends 54; chunk 2 at 56 ends 59.
    st = run([dma(DRAM, 32, SP_LOCAL, 0, 64, handle=0), wait(0)])
    assert st.dram_requests.tolist() == [1, 1] and st.dram_bytes_read.tolist() == [32, 32]
    assert st.thread_done_ps[0] == 59000 and st.end_ps == 59000
    assert stalls(st, 0) == {"dma_wait": 59000 - 1000 - C}


def test_dma_chunks_are_greedy():
    # 100 B from DRAM 32: [32, 64) (cut at the boundary 64), then a full 64 B chunk
    # [64, 128) (it ends at the next boundary), then [128, 132): controllers 0, 1, 0
    st = run([dma(DRAM, 32, SP_LOCAL, 0, 100, handle=0)])
    assert st.dram_requests.tolist() == [2, 1] and st.dram_bytes_read.tolist() == [36, 64]
    assert st.sp_requests[0] == 3 and st.sp_bytes_written[0] == 100


def test_dma_handle_reuse_after_wait():
    st = run([dma(SP_LOCAL, 0, SP_LOCAL, 64, 8, handle=0), wait(0),
              dma(SP_LOCAL, 0, SP_LOCAL, 64, 8, handle=0), wait(0)])
    assert st.dma_jobs[0] == 2


def test_dma_engine_starts_in_the_queueing_cycle():
    # the job is queued at 0 by pipeline 0; the DMA engine (pipeline 4, after every core
    # pipeline) reads at 0: end 0 + 1 + 2 -> 3000; writes at 3000 (addr 64: bank 0, free at
    # 1): end 6 -> ack 6000. WAIT issued at 1000 is done at 6000.
    st = run([dma(SP_LOCAL, 0, SP_LOCAL, 64, 8, handle=0), wait(0)])
    assert st.thread_done_ps[0] == 6000 and st.end_ps == 6000
    assert (st.sp_bytes_read[0], st.sp_bytes_written[0], st.sp_requests[0]) == (8, 8, 2)


def test_dma_wait_after_completion():
    # a scratchpad-to-scratchpad copy of 8 B: read at 0 (done 3000), write at 3000
    # (r 3, end 6 -> 6000). COMPUTE 10 ends at 11000 > 6000: WAIT done 12000
    st = run([dma(SP_LOCAL, 0, SP_LOCAL, 64, 8, handle=0), compute(10), wait(0)])
    assert st.thread_done_ps[0] == 12000
    assert stalls(st, 0) == {"compute": 9000}


# ----------------------------------------------------------------------------- errors
def expect_error(streams, stream_index, op_index, words, **overrides):
    with pytest.raises(MachineError) as e:
        run(*streams, **overrides)
    msg = str(e.value)
    assert msg.startswith(f"stream {stream_index} op {op_index}: "), msg
    for w in words:
        assert w in msg, msg
    assert (e.value.stream, e.value.op_index) == (stream_index, op_index)


def test_error_scratchpad_out_of_range():
    expect_error([[compute(1)], [compute(1), compute(1), load(4090, 8, SP_LOCAL)]],
                 1, 2, ["scratchpad", "outside"])


def test_error_wait_unknown_handle():
    expect_error([[compute(1), wait(3)]], 0, 1, ["never issued"])


def test_error_barrier_stream_ends_early():
    # thread 0 waits at the machine barrier (its op 0); thread 1's stream ends after its
    # op 0: the barrier op that can never complete is named
    expect_error([[barrier()], [compute(1)]], 0, 0, ["barrier can never complete"])


def test_barrier_as_last_op_is_fine():
    # thread 1 ends with a barrier it waits at: not an error (released at 4000 + 40 cycles)
    st = run([compute(3), barrier()], [barrier()])
    assert st.thread_done_ps[1] == 44000


def test_error_barrier_after_stream_ended():
    # thread 4 (STP) ends at cycle 0, threads 1, 2, 3 at cycles 5, 6, 7 (thread 0 holds the
    # MTP until 5000); thread 0 reaches the barrier (its op 1) at 8000
    expect_error([[compute(5), barrier()], [compute(1)], [compute(1)], [compute(1)],
                  [compute(1)]], 0, 1, ["barrier can never complete"])


def test_error_more_streams_than_threads():
    expect_error([[compute(1)]] * 11, 10, 0, ["streams"])


@pytest.mark.parametrize("op, words", [
    (load(-8, 8, SP_LOCAL), ["scratchpad"]),
    (load(0, 8, SP_REMOTE, core=2), ["remote core"]),
    (load(2 * (8 << 16), 8, DRAM), ["DRAM address"]),
    (load(-1, 8, HOST), ["host address"]),
    (load(0, 0, DRAM), ["size"]),
    (dma(SP_REMOTE, 0, SP_LOCAL, 0, 8, 0, dst_core=1), ["remote scratchpad"]),
    (dma(DRAM, 0, SP_LOCAL, 0, 8, handle=8), ["handle"]),
    (dma(DRAM, 0, SP_LOCAL, 0, 8, handle=0, count=0), ["DMA count"]),
    ((PIM, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0), ["PIM"]),
    ((9, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0), ["unknown op"]),
    ((0, 7, 0, 0, 8, 0, 0, 0, 0, 0, 0), ["memory space"]),
])
def test_error_bad_ops(op, words):
    expect_error([[compute(1), op]], 0, 1, words)


def test_error_dram_access_crossing_interleave():
    expect_error([[compute(1), load(56, 16, DRAM)]], 0, 1, ["interleave"])


def test_error_dma_handle_reused_while_running():
    expect_error([[dma(DRAM, 0, SP_LOCAL, 0, 64, handle=1),
                   dma(DRAM, 0, SP_LOCAL, 128, 64, handle=1)]], 0, 1, ["handle", "still running"])


def test_error_mismatched_barrier_ids():
    expect_error([[barrier(SCOPE_MACHINE, 1)], [barrier(SCOPE_MACHINE, 2)]], 1, 0, ["id"])


def test_error_calendar_horizon():
    # horizon 8 clocks: the DRAM data burst at 48 is reserved during the ARRIVE at 1000 ps
    expect_error([[load(0, 8, DRAM, bypass=True)]], 0, 0, ["calendar horizon exceeded"],
                 calendar_slots=16)


# ----------------------------------------------------------------------------- random mix
def random_streams(seed, n_streams=10, n_ops=120, barriers=(40, 80)):
    rng = random.Random(seed)
    s = spec()
    out = []
    for _ in range(n_streams):
        ops, handles = [], []
        for i in range(n_ops):
            if i in barriers:
                ops.append(barrier(SCOPE_MACHINE, i))
                continue
            k = rng.randrange(10)
            if k == 0:
                ops.append(compute(rng.randint(1, 6)))
            elif k in (1, 2):
                size = 8 * rng.randint(1, 4)  # within one 64 B interleave unit
                addr = 64 * rng.randrange(32) + rng.randrange(0, 64 - size + 1, 8)
                ops.append(load(addr, size, DRAM, bypass=rng.random() < 0.5))
            elif k == 3:
                size = 8 * rng.randint(1, 8)
                addr = 64 * rng.randrange(1024) + rng.randrange(0, 64 - size + 1, 8)
                ops.append(store(addr, size, DRAM))
            elif k == 4:
                sp_space = rng.choice([SP_LOCAL, SP_REMOTE])
                ops.append(load(rng.randrange(0, s.sp_size - 64, 8), 8 * rng.randint(1, 8),
                                sp_space, core=rng.randrange(s.cores)))
            elif k == 5:
                ops.append(store(rng.randrange(0, s.sp_size - 64, 8), 8, SP_REMOTE,
                                 core=rng.randrange(s.cores)))
            elif k == 6:
                space = rng.choice([DRAM, SP_LOCAL, SP_REMOTE])
                kind = rng.randrange(3) | (FLAG_POSTED if rng.random() < 0.3 else 0)
                ops.append((ATOMIC, space, kind, rng.randrange(s.cores), 8,
                            rng.randrange(0, 1024, 8), 0, 0, 0, 0, 0))
            elif k == 7:
                ops.append(rng.choice([load(rng.randrange(0, 4096, 8), 8, HOST),
                                       store(rng.randrange(0, 4096, 8), 16, HOST)]))
            elif k == 8 and len(handles) < s.max_handles:
                h = min(set(range(s.max_handles)) - set(handles))
                handles.append(h)
                src = rng.choice([(DRAM, rng.randrange(0, 1 << 15, 8)),
                                  (SP_LOCAL, rng.randrange(0, 1024, 8)),
                                  (HOST, rng.randrange(0, 1 << 12, 8))])
                dst = rng.choice([(SP_LOCAL, 2048), (SP_REMOTE, 3072), (DRAM, 1 << 15),
                                  (HOST, 1 << 13)])
                ops.append(dma(src[0], src[1], dst[0], dst[1], rng.choice([8, 24, 100]), h,
                               count=rng.randint(1, 3), stride=128, stride2=112,
                               dst_core=rng.randrange(s.cores)))
            elif handles:
                ops.append(wait(handles.pop(rng.randrange(len(handles)))))
            else:
                ops.append(compute(1))
        out.append(np.array(ops, OP_DTYPE))
    return out


class CountingSource(ArrayStreams):
    """Records every next_chunk request (to check the engine reads in chunks)."""

    def __init__(self, streams):
        super().__init__(streams)
        self.asked = []

    def next_chunk(self, s, max_ops):
        self.asked.append(max_ops)
        return super().next_chunk(s, max_ops)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_mix_stall_identity_and_chunking(seed):
    streams = random_streams(seed)
    src = CountingSource(streams)
    st = run_reference(spec(), src, 7)
    assert set(src.asked) == {7}
    check_identity(st)
    assert (st.thread_done_ps[:10] > 0).all()
    assert st.end_ps >= st.thread_done_ps.max()
    assert (st.stall_ps >= 0).all()
    # issue slots: every op one, COMPUTE n on the MTP n, on the STP ceil(n / 2)
    slots = np.zeros(2, np.int64)
    for th, ops in enumerate(streams):
        core, stp = divmod(th, 5)[0], th % 5 == 4
        n = np.where(ops["op"] == 3, ops["size"], 1)
        slots[core] += (np.where(ops["op"] == 3, -(-n // 2), 1) if stp else n).sum()
    assert st.core_issue_slots.tolist() == slots.tolist()
    assert st.timeline[:spec().controllers].sum() == (st.dram_bytes_read.sum()
                                                       + st.dram_bytes_written.sum())
    assert st.dma_jobs.sum() > 0 and st.l1_hits.sum() > 0
    # the same streams read one op at a time give identical statistics
    assert st.equal(run_reference(spec(), ArrayStreams(streams), 1)) == []
