"""Bad op streams: one line naming the stream, the op and the reason, from both engines."""

from __future__ import annotations

import pytest

from sim.engine import run_machine
from sim.machine.errors import MachineError
from tests.machine_specs import spec as tiny
from workloads import ops as O
from workloads.ops import ArrayStreams

CASES = {
    "scratchpad beyond its size": (
        [[O.compute(1), O.load(4096, 8, O.SP_LOCAL)]],
        "stream 0 op 1: scratchpad address outside [0, scratchpad size)"),
    "remote core that does not exist": (
        [[O.load(0, 8, O.SP_REMOTE, 7)]], "stream 0 op 0: remote core does not exist"),
    "DRAM beyond capacity": (
        [[O.load(1 << 40, 8)]], "stream 0 op 0: DRAM address outside the machine's capacity"),
    "WAIT on a handle never issued": (
        [[O.compute(2)], [O.wait(3)]],
        "stream 1 op 0: WAIT on a DMA handle that was never issued"),
    "barrier that can never complete": (
        [[O.barrier(O.SCOPE_MACHINE, 0), O.compute(1)], [O.compute(50)]],
        "stream 0 op 0: barrier can never complete: a stream of its scope has ended"),
    "mismatched barrier ids": (
        [[O.barrier(O.SCOPE_MACHINE, 0)], [O.compute(3), O.barrier(O.SCOPE_MACHINE, 1)]],
        "stream 1 op 1: barrier id differs from the one the other threads wait at"),
    "PIM op outside DRAM": (
        [[(O.PIM, O.SP_LOCAL, 0, 0, 8, 0, 0, 0, 0, 0, 0)]],
        "stream 0 op 0: a PIM op names a DRAM address (space dram): only bank-level PIM is "
        "modelled"),
}


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_stream_names_stream_op_and_reason(case, engine):
    streams, message = CASES[case]
    with pytest.raises(MachineError) as err:
        run_machine(tiny(), ArrayStreams([O.stream(s) for s in streams]), engine=engine)
    assert str(err.value) == message
    assert err.value.exit_code == 2


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_more_streams_than_threads(engine):
    spec = tiny()
    streams = [O.stream([O.compute(1)])] * (spec.threads + 1)
    with pytest.raises(MachineError, match=f"{spec.threads + 1} streams but the machine has "
                                           f"{spec.threads} threads"):
        run_machine(spec, ArrayStreams(streams), engine=engine)


def test_run_with_too_many_threads_is_a_config_error(tmp_path):
    from click.testing import CliRunner

    from sim.cli import main

    exp = tmp_path / "e.yaml"
    exp.write_text("name: e\nhardware: piuma\nworkload:\n  kind: synthetic\n"
                   "  threads: 100000\n  ops_per_thread: 10\n")
    res = CliRunner().invoke(main, ["run", str(exp), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "e.yaml:5: workload.threads: 100000 threads do not fit the machine" in res.output
    assert "Traceback" not in res.output
