"""The CLI's one failure type and its exit statuses.

Every expected failure becomes a :class:`CliError`, which ``main`` prints as one line on standard
error (``error: <code>: <message>``, or ``{"code": ..., "message": ...}`` with ``--output json``)
and turns into the exit status below, so scripts can tell a refusal by the API from a mistake on
the command line from an endpoint that is not there.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

#: For --help and the docs: every status the CLI exits with.
EXIT_STATUSES = {
    EXIT_OK: "ok",
    EXIT_API_ERROR: "the API refused (or a rotation failed)",
    EXIT_USAGE: "usage: a bad option, value or setting",
    EXIT_UNREACHABLE: "the endpoint or the credentials are not available",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


class CliError(Exception):
    def __init__(self, code: str, message: str, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.exit_code = exit_code
