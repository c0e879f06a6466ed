"""The console as a user runs it, in this process (so coverage sees it), against a local stack in
its own process; and Debian's chromium, driven by Playwright, to look at it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.e2e.harness import RunningStack, child_env
from tokengate.cli.options import finish
from tokengate.cli.parser import build_parser
from tokengate.console.security import Guard
from tokengate.console.server import listen, uvicorn_server
from tokengate.console.settings import resolve

CHROMIUM = "/usr/bin/chromium"
#: Debian's chromium, headless, with nothing that reaches beyond this machine.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any) -> Any:
    """Debian's chromium, headless (never a browser Playwright would download)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))


@dataclass
class RunningConsole:
    guard: Guard

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.guard.port}"

    @property
    def login_url(self) -> str:
        return self.guard.login_url


@contextmanager
def running_console(stack: RunningStack, *extra: str, env: Mapping[str, str] | None = None) -> Iterator[RunningConsole]:
    """``tokengate console --port 0 --no-browser`` against ``stack``, served from a thread."""
    argv: Sequence[str] = [
        "console",
        "--port",
        "0",
        "--no-browser",
        "--endpoint",
        stack.url,
        "--state-dir",
        str(stack.state_dir),
        *extra,
    ]
    console = resolve(finish(build_parser().parse_args(argv)), child_env(env))
    sock = listen(0)
    server, guard = uvicorn_server(console, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, timeout=20), "the console did not start"
        yield RunningConsole(guard)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(0.1)
        result = check()
    return result
