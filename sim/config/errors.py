"""Configuration errors: one line pointing at the file, line and key that is wrong."""

from __future__ import annotations

from sim.errors import UserError


class ConfigError(UserError):
    """A problem in a YAML config. str() is "{path}:{line}: {key.path}: {message}".

    key_path may be empty for problems that belong to no key (a YAML syntax
    error, an empty file); the key segment is then left out.
    """

    def __init__(self, path: str, line: int, key_path: str, message: str) -> None:
        self.path = str(path)
        self.line = int(line)
        self.key_path = key_path
        # Messages are always one line: a newline would break "file:line:" parsing.
        self.message = " ".join(str(message).split())
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: "
        if self.key_path:
            where += f"{self.key_path}: "
        return where + self.message
