"""Bank-level PIM at the request level: the all-bank sequence's spacings, the internal
bandwidth multiple it gives on hbm3 (against a hand calculation), and the machine's PIM op."""

from __future__ import annotations

import dataclasses
from math import ceil

import numpy as np
import pytest

from sim.config.memory import load_memory_config
from sim.engine import run_machine
from sim.machine.errors import MachineError
from sim.memory.pim_sequence import PimTiming, all_bank_sequence, columns_of
from tests.machine_specs import spec as tiny
from workloads import ops as O
from workloads.ops import ArrayStreams

ENGINES = ["reference", "fast"]
# AttAcc and Duplex assume bank-level PIM sees 16x the external bandwidth (AttAcc's
# simulator: 2 ranks x 16 banks / 2, one column per bank every tCCD_L = 2 tCCD_S)
ASSUMED_MULTIPLE = 16


# ----------------------------------------------------------------------------- sequence
def test_every_spacing_of_the_sequence_on_hbm3():
    d = load_memory_config("hbm3")
    t = d.timing
    tm = PimTiming.from_dram(d)
    cpr = d.columns // d.burst_length  # 32 column commands per 1 KB row
    # start mid-row (column 5 of row 7) and end mid-row, three rows in all
    first, n = 7 * cpr + 5, 2 * cpr + 10
    seq = all_bank_sequence(tm, 100, first, n)
    assert len(seq.columns) == n and len(seq.acts) == len(seq.pres) == 3
    per_row = [cpr - 5, cpr, n - (cpr - 5) - cpr]
    k = 0
    for i, (act, pre) in enumerate(zip(seq.acts, seq.pres, strict=True)):
        cols = seq.columns[k:k + per_row[i]]
        k += per_row[i]
        assert cols[0] - act == t.RCD_RD  # ACT -> first column
        assert np.all(np.diff(cols) == t.CCD_L)  # lockstep columns at tCCD_L
        assert pre - act >= t.RAS and pre - cols[-1] >= t.RTP
        assert pre == max(act + t.RAS, cols[-1] + t.RTP)  # as early as both allow
        if i:
            assert act - seq.pres[i - 1] >= t.RP and act - seq.acts[i - 1] >= t.RC
            assert act == max(seq.pres[i - 1] + t.RP, seq.acts[i - 1] + t.RC)
    assert seq.acts[0] == 100
    assert seq.done == seq.columns[-1] + t.CL + t.BURST
    assert seq.free == seq.pres[-1] + t.RP
    assert seq.internal_bytes == 16 * n * 32  # every bank, one 32 B column per command


def test_columns_of_a_byte_range():
    tm = PimTiming.from_dram(load_memory_config("hbm3"))  # 32 B columns
    assert columns_of(tm, 0, 1) == (0, 1)
    assert columns_of(tm, 31, 2) == (0, 2)  # straddles a column boundary
    assert columns_of(tm, 64, 1024) == (2, 32)
    with pytest.raises(ValueError):
        all_bank_sequence(tm, 0, tm.rows * tm.columns_per_row - 1, 2)


def _multiple_by_hand(d) -> tuple[float, float, float]:
    """(multiple, column-rate factor, row efficiency) from the preset's numbers.

    Inside a row every bank delivers one column (bus width x BL bits) every tCCD_L, while
    the pins deliver one every tCCD_S: banks x tCCD_S / tCCD_L. Each row then costs tRCD
    before its first column, tRTP after its last (tRAS is shorter, checked), and tRP to
    precharge: the row efficiency is columns x tCCD_L over that whole period.
    """
    t = d.timing
    banks = d.ranks * d.bank_groups * d.banks_per_group
    row_bytes = d.columns * d.bus_width // 8  # 1 KB page
    column_bytes = d.bus_width * d.burst_length // 8
    cols = row_bytes // column_bytes
    busy = t.RCD_RD + (cols - 1) * t.CCD_L + t.RTP
    assert busy >= t.RAS and busy + t.RP >= t.RC  # neither tRAS nor tRC binds
    period_s = (busy + t.RP) * d.tck_ps * 1e-12
    internal = banks * row_bytes / period_s
    data_rate = d.burst_length / (t.BURST * d.tck_ps * 1e-12)  # transfers per pin per s
    external = d.bus_width / 8 * data_rate  # bus width x data rate
    return internal / external, banks * t.CCD_S / t.CCD_L, cols * t.CCD_L / (busy + t.RP)


def _measured_multiple(d, rows: int) -> float:
    tm = PimTiming.from_dram(d)
    seq = all_bank_sequence(tm, 0, 0, rows * tm.columns_per_row)
    internal = seq.internal_bytes / ((seq.free - seq.acts[0]) * d.tck_ps * 1e-12)
    return internal / d.peak_bytes_per_s * d.scheduled_channels  # over one pseudo-channel


def test_internal_bandwidth_multiple_on_hbm3():
    d = load_memory_config("hbm3")
    hand, column_rate, efficiency = _multiple_by_hand(d)
    measured = _measured_multiple(d, rows=2000)
    print(f"\nhbm3 all-bank PIM: measured {measured:.3f}x the pseudo-channel's pins, by hand "
          f"{hand:.3f}x (= {column_rate:g}x column rate x {efficiency:.3f} row efficiency); "
          f"AttAcc/Duplex assume {ASSUMED_MULTIPLE}x")
    assert measured == pytest.approx(hand, rel=0.02)
    # 16 banks x 2/4 = 8x while streaming a row; 128 of every 177 clocks stream
    assert column_rate == 8 and hand == pytest.approx(16 * 1024 / 177 / 32 * 2, rel=1e-9)
    assert hand < ASSUMED_MULTIPLE


def test_two_rank_stack_streams_at_attaccs_16x():
    """AttAcc's 8-high stack has 2 ranks (32 banks) per pseudo-channel: its 16x is the
    column rate inside a row; the row switches take it down by the same efficiency."""
    d = dataclasses.replace(load_memory_config("hbm3"), ranks=2)
    hand, column_rate, efficiency = _multiple_by_hand(d)
    assert column_rate == ASSUMED_MULTIPLE
    tm = PimTiming.from_dram(d)
    one_row = all_bank_sequence(tm, 0, 0, tm.columns_per_row)
    span = one_row.columns[-1] - one_row.columns[0] + d.timing.CCD_L  # the row's column time
    inside = tm.banks * tm.row_bytes / span / (tm.column_bytes / d.timing.BURST)
    assert inside == ASSUMED_MULTIPLE
    assert _measured_multiple(d, rows=2000) == pytest.approx(hand, rel=0.02)
    print(f"\n2-rank hbm3: {column_rate:g}x inside a row, {hand:.2f}x with row switches")


# ----------------------------------------------------------------------------- machine
# tiny machine (tests/machine_specs.py): 2x2 mesh, core 0 at node 0, controllers at nodes
# 2 and 3; 1 ns core cycle, tCK 625 ps, controller latency 2; 4 banks, 8 B accesses,
# 16 per 128 B row; tRCD 22, tRAS 52, tRP 22, tRTP 12, tCCD_L 8, CL 22, BURST 4.
def _pim_then_loads(engine: str, load_addr: int):
    s = tiny()
    streams = [O.stream([O.pim(0, 256)]), O.stream([O.load(load_addr, 8, bypass=True)])]
    return s, run_machine(s, ArrayStreams(streams), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_pim_op_takes_the_sequence_time(engine):
    s, st = _pim_then_loads(engine, 64)
    # the request (8 B header) crosses one link: issued at cycle 0, at node 2 by cycle 1
    e = ceil(1000 / s.tck_ps) + s.controller_latency  # 4: every bank closed
    # 256 B per bank from address 0: columns 0..31, rows 0 and 1 of 16 columns each
    last0 = e + s.RCD + 15 * s.CCD_L  # 146
    pre0 = max(e + s.RAS, last0 + s.RTP)  # 158
    act1 = pre0 + s.RP  # 180
    last1 = act1 + s.RCD + 15 * s.CCD_L  # 322
    pre1 = max(act1 + s.RAS, last1 + s.RTP)  # 334
    done_ps = (last1 + s.CL + s.BURST) * s.tck_ps  # 217,500: the response leaves
    back = (ceil(done_ps / s.cycle_ps) + s.hop_latency) * s.cycle_ps  # one link back
    assert back == 219_000
    assert st.thread_done_ps[0] == back
    assert st.pim_ops.tolist() == [1, 0] and st.pim_bytes.tolist() == [4 * 32 * 8, 0]
    assert st.dram_requests.sum() == 1 and st.dram_bytes_read.sum() == 8  # only the load
    assert st.end_ps >= (pre1 + s.RP) * s.tck_ps
    assert st.stall_ps[0, 2] + st.stall_ps[0, 5] == back - s.cycle_ps  # dram + network


@pytest.mark.parametrize("engine", ENGINES)
def test_load_to_the_same_channel_waits_for_the_sequence(engine):
    s, st = _pim_then_loads(engine, 0)  # address 0: controller 0, where the PIM runs
    free = 334 + s.RP  # the sequence's last precharge-all + tRP (see the test above)
    act = free  # the load's bank is closed and may activate only then
    data = act + s.RCD + s.CL  # the burst on the idle data bus
    leave = (data + s.BURST) * s.tck_ps  # 252,500
    assert st.thread_done_ps[1] == (ceil(leave / s.cycle_ps) + s.hop_latency) * s.cycle_ps
    assert st.thread_done_ps[1] == 254_000


@pytest.mark.parametrize("engine", ENGINES)
def test_load_to_another_channel_does_not_wait(engine):
    s, st = _pim_then_loads(engine, 64)  # address 64: controller 1 at node 3, two links
    arrive = (1 + 1 + 1) * s.cycle_ps  # issued at cycle 1 (second thread of the MTP)
    act = ceil(arrive / s.tck_ps) + s.controller_latency  # 7
    leave = (act + s.RCD + s.CL + s.BURST) * s.tck_ps  # 34,375
    assert st.thread_done_ps[1] == (ceil(leave / s.cycle_ps) + 2 * s.hop_latency) * s.cycle_ps
    assert st.thread_done_ps[1] == 37_000


@pytest.mark.parametrize("engine", ENGINES)
def test_open_rows_are_precharged_first(engine):
    s = tiny()
    # thread 0's load opens a row of controller 0; thread 1's PIM op, a cycle later, must
    # precharge it, which the bank allows only tRAS after its ACT
    streams = [O.stream([O.load(0, 8, bypass=True)]), O.stream([O.pim(0, 8)])]
    st = run_machine(s, ArrayStreams(streams), engine=engine)
    act = ceil(1000 / s.tck_ps) + s.controller_latency  # the load's ACT at clock 4
    e = ceil(2000 / s.tck_ps) + s.controller_latency  # the PIM request's, clock 6
    pre = max(e, act + s.RAS, act + s.RCD + s.RTP)  # precharge-all at 56: tRAS binds
    assert pre == act + s.RAS
    done_ps = (pre + s.RP + s.RCD + s.CL + s.BURST) * s.tck_ps  # one column per bank
    assert st.thread_done_ps[1] == (ceil(done_ps / s.cycle_ps) + s.hop_latency) * s.cycle_ps
    assert st.thread_done_ps[1] == 80_000
    # the load itself is not disturbed: its burst was placed before the sequence
    leave = (act + s.RCD + s.CL + s.BURST) * s.tck_ps
    assert st.thread_done_ps[0] == (ceil(leave / s.cycle_ps) + s.hop_latency) * s.cycle_ps


@pytest.mark.parametrize("engine", ENGINES)
def test_kernel_and_reference_agree_on_a_pim_mix(engine):
    s = tiny()
    mix = [O.stream([O.pim(128 * k, 100 + 40 * k), O.load(64 * k, 8), O.compute(3)])
           for k in range(4)]
    ref = run_machine(s, ArrayStreams(mix), engine="reference")
    got = run_machine(s, ArrayStreams(mix), engine=engine)
    assert got.equal(ref) == []
    assert got.pim_ops.sum() == 4


BAD = {
    "past the last row": ([O.pim(0, 1024 * 128 + 1)],
                          "stream 0 op 0: PIM op streams past the last row of its banks"),
    "starts past the capacity": ([O.pim(1 << 40, 8)],
                                 "stream 0 op 0: DRAM address outside the machine's capacity"),
    "no bytes": ([O.pim(0, 0)], "stream 0 op 0: size (or DMA count) must be positive"),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_pim_ops(engine, case):
    ops, message = BAD[case]
    with pytest.raises(MachineError) as err:
        run_machine(tiny(), ArrayStreams([O.stream(ops)]), engine=engine)
    assert str(err.value) == message


@pytest.mark.parametrize("engine", ENGINES)
def test_a_whole_bank_fits(engine):
    st = run_machine(tiny(), ArrayStreams([O.stream([O.pim(0, 1024 * 128)])]), engine=engine)
    assert st.pim_bytes[0] == 4 * 1024 * 128  # 1024 rows of 128 B in each of 4 banks
