"""User-facing errors: raised for bad input, printed by the CLI without a traceback."""

from __future__ import annotations


class SentembError(Exception):
    """A problem the user can fix (bad file, unknown name, invalid config)."""


class InputError(SentembError):
    """Bad input data; the message names the file and, where known, the line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


def unknown_name(kind: str, name: str, valid) -> SentembError:
    """An error for an unknown registry name that lists the valid ones."""
    return SentembError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")
