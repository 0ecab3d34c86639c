"""User-facing errors: one line, no traceback, exit code 2 (see sim.cli)."""


class UserError(Exception):
    """A mistake in the user's input (config, trace, command line). str() is the one-line message."""

    exit_code = 2
