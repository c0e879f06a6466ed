"""The CLI's one failure type and its exit statuses.

Every expected failure becomes a :class:`CliError`, which ``main`` prints as one line on standard
error (``error: <code>: <message>``, or ``{"code": ..., "message": ...}`` with ``--output json``)
and turns into the exit status below, so scripts can tell a refusal by the API from a mistake on
the command line from an endpoint that is not there.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def unechoed(message: str, argv: Sequence[str]) -> str:
    """``message`` without anything from the command line that could be a token: a token of any
    deployment (whole or cut), and any other value as long as the shortest token an import takes,
    however it was given (``--opt VALUE``, ``--opt=VALUE``, a stray word), unless it reads as a URL
    or a path. A token never belongs on the command line (other users of the machine can read it),
    so an error never repeats one put there by mistake (``token fetch --token X``, say)."""
    from tokengate_core.admin.strength import MIN_STRONG_LENGTH
    from tokengate_core.runtime.observability import redact_event

    values = {word.partition("=")[2] if word.startswith("-") else word for word in argv}
    hidden = [v for v in values if len(v) >= MIN_STRONG_LENGTH and not _url_or_path(v)]
    for value in sorted(hidden, key=len, reverse=True):
        message = message.replace(value, f"[{len(value)} characters, not shown]")
    shown: str = redact_event(message)
    return shown


def _url_or_path(value: str) -> bool:
    return "://" in value or value.startswith(("/", "./", "../", "~"))
