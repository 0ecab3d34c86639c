"""Errors a machine run reports to the user (bad streams, impossible shapes)."""

from sim.errors import UserError

# error codes of the numba kernel (sim/kernels/machine.py) and the reasons both engines give
(E_OP, E_PIM, E_SIZE, E_SP_RANGE, E_CORE, E_DRAM_RANGE, E_HOST_RANGE, E_DMA_SRC, E_HANDLE,
 E_WAIT_UNKNOWN, E_HANDLE_BUSY, E_INTERLEAVE, E_BAR_ENDED, E_BAR_ID, E_HORIZON,
 E_DEADLOCK, E_PIM_ROWS) = range(1, 18)

ERROR_TEXT = {
    E_OP: "unknown op code, memory space or barrier scope",
    E_PIM: "a PIM op names a DRAM address (space dram): only bank-level PIM is modelled",
    E_SIZE: "size (or DMA count) must be positive",
    E_SP_RANGE: "scratchpad address outside [0, scratchpad size)",
    E_CORE: "remote core does not exist",
    E_DRAM_RANGE: "DRAM address outside the machine's capacity",
    E_HOST_RANGE: "host address is negative",
    E_DMA_SRC: "a DMA source cannot be a remote scratchpad",
    E_HANDLE: "DMA handle outside [0, max_handles)",
    E_WAIT_UNKNOWN: "WAIT on a DMA handle that was never issued",
    E_HANDLE_BUSY: "DMA reuses a handle whose job is still running",
    E_INTERLEAVE: "DRAM access crosses a controller interleave boundary",
    E_BAR_ENDED: "barrier can never complete: a stream of its scope has ended",
    E_BAR_ID: "barrier id differs from the one the other threads wait at",
    E_HORIZON: "calendar horizon exceeded (raise network.calendar_slots)",
    E_DEADLOCK: "deadlock: the thread waits for something that can never happen",
    E_PIM_ROWS: "PIM op streams past the last row of its banks",
}


class MachineError(UserError):
    """One line: 'stream S op I: reason' (or the machine-level reason)."""

    def __init__(self, reason: str, stream: int = -1, op_index: int = -1):
        self.reason, self.stream, self.op_index = reason, stream, op_index
        where = f"stream {stream} op {op_index}: " if stream >= 0 else ""
        super().__init__(where + reason)
