"""Graceful shutdown: what a function does when Lambda ends its execution environment.

Lambda sends the runtime SIGTERM before it ends an environment only when an external extension is
registered, and gives the runtime up to :data:`RUNTIME_SHUTDOWN_SECONDS` (300 ms) before it moves
on and, at the end of the 2,000 ms shutdown phase, SIGKILLs what is left (AWS Lambda Developer
Guide, "Lambda Extensions API", Shutdown phase; aws-samples/graceful-shutdown-with-aws-lambda).
Python runtimes from 3.12 on deliver it to the handler's process (that sample's README, Python). The
stack registers a do-nothing extension for the functions that need it (infra/shutdown.py); their
handler module calls :func:`install` with the work to do, bounded by :data:`BUDGET_SECONDS`.

The local stack has no processes to signal (its containers are module copies in one process): it
calls the handler module's :data:`HOOK` attribute itself when it reclaims an idle container of such
a function, as Lambda would signal its runtime (tokengate.local.runtime).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tokengate_core.authorize.settings import LAMBDA_RUNTIME_ENV

RUNTIME_SHUTDOWN_SECONDS = 0.3
#: What the work may take of it: the rest is the interpreter's exit.
BUDGET_SECONDS = RUNTIME_SHUTDOWN_SECONDS - 0.05
#: The handler module's attribute that runs the work (what SIGTERM runs in Lambda).
HOOK = "on_sigterm"


def install(hook: Callable[[], None]) -> bool:
    """Under the Lambda runtime, run ``hook`` at SIGTERM, then exit; elsewhere do nothing (a test
    or the local stack imports handler modules in a process whose signals are not theirs)."""
    if LAMBDA_RUNTIME_ENV not in os.environ:
        return False
    import signal
    import sys

    def handle(_signum: int, _frame: object) -> None:
        try:
            hook()
        finally:
            sys.exit(0)

    try:
        signal.signal(signal.SIGTERM, handle)
    except ValueError:  # not the main thread: nobody here can receive the signal
        return False
    return True
