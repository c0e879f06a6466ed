"""``python -m tests.e2e.faulty_stack local ...``: `tokengate local` with a fault in its state file.

The fault comes through the store's test hook (tokengate.local.store.fault_hook), set from the
environment:

- ``FAULTY_STACK_KILL_AT=N``: the process kills itself (SIGKILL, nothing flushed, nothing closed)
  at the N-th write boundary of its commits since it started, after saying which on stderr;
- ``FAULTY_STACK_FULL=PATH``: while PATH exists, every commit fails as on a full disk
  (SQLite's "database or disk is full", raised while a row is written).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from pathlib import Path

from tokengate.cli import main
from tokengate.local import store

KILLED_PREFIX = "faulty stack: killed at "


def install(environ: dict[str, str]) -> None:
    kill_at = int(environ.get("FAULTY_STACK_KILL_AT", "0"))
    full = environ.get("FAULTY_STACK_FULL")
    seen = [0]

    def hook(boundary: str) -> None:
        seen[0] += 1
        if seen[0] == kill_at:
            sys.stderr.write(f"{KILLED_PREFIX}{boundary.split(' ', maxsplit=1)[0]}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        if full and Path(full).exists() and boundary.startswith(("secret ", "item ")):
            raise sqlite3.OperationalError("database or disk is full")

    store.fault_hook = hook


if __name__ == "__main__":
    install(dict(os.environ))
    raise SystemExit(main())
