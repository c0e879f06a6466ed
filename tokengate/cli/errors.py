"""The CLI's one failure type and its exit statuses.

Every expected failure becomes a :class:`CliError`, which ``main`` prints as one line
(``error: <code>: <message>``) and turns into the exit status below, so scripts can tell a refusal
by the API from a typo on the command line from an endpoint that is not there.
"""

from __future__ import annotations

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CliError(Exception):
    def __init__(self, code: str, message: str, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(f"{code}: {message}")
        self.exit_code = exit_code
