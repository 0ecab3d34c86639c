"""Errors a machine run reports to the user (bad streams, impossible shapes)."""

from sim.errors import UserError


class MachineError(UserError):
    """One line: 'stream S op I: reason' (or the machine-level reason)."""

    def __init__(self, reason: str, stream: int = -1, op_index: int = -1):
        self.reason, self.stream, self.op_index = reason, stream, op_index
        where = f"stream {stream} op {op_index}: " if stream >= 0 else ""
        super().__init__(where + reason)
