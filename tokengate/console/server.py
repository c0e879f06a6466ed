"""Run the console: listen on 127.0.0.1 only, print the one-time URL, open it where a browser is
available, serve until Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import threading
from collections.abc import Mapping
from typing import IO

import uvicorn

from tokengate.cli.errors import EXIT_UNREACHABLE, CliError
from tokengate.console.app import Console, build
from tokengate.console.security import Guard
from tokengate.local.location import HOST

READY_PREFIX = "tokengate console: "


def listen(port: int) -> socket.socket:
    """Bind before anything else is announced, so a busy port is one clear line."""
    try:
        return socket.create_server((HOST, port), backlog=64)
    except OSError as error:
        reason = "address already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        raise CliError(
            "unavailable", f"cannot listen on {HOST}:{port}: {reason} (pick another --port)", EXIT_UNREACHABLE
        ) from None


def graphical(environ: Mapping[str, str]) -> bool:
    """Whether a browser can be opened without taking over this terminal: Python's ``webbrowser``
    falls back to a text browser in the foreground when there is no display."""
    return sys.platform in ("darwin", "win32") or bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> None:
    import webbrowser

    with contextlib.suppress(webbrowser.Error):  # the URL is printed: the user opens it
        webbrowser.open(url, new=2)


def ready_lines(guard: Guard, console: Console) -> list[str]:
    settings = console.settings
    events = settings["events"] or "none (give --events-log-group, or --stack-name of a stack with LifecycleLogGroup)"
    return [
        f"{READY_PREFIX}{guard.login_url}",
        "  open this URL once in your browser: it logs that browser in and cannot be used again;",
        "  it is a password for this console while it runs, so share it with no one.",
        f"  admin API: {settings['target']}, signed with {settings['signed_as']}",
        f"  events:    {events}",
        "  Ctrl-C stops the console.",
    ]


def uvicorn_server(console: Console, sock: socket.socket) -> tuple[uvicorn.Server, Guard]:
    """The server for ``console`` on the listening ``sock`` (no access log: the login URL holds a secret)."""
    guard = build(console, int(sock.getsockname()[1]))
    config = uvicorn.Config(
        guard, log_level="warning", access_log=False, lifespan="off", server_header=False, timeout_graceful_shutdown=2
    )
    return uvicorn.Server(config), guard


def serve(console: Console, port: int, *, browser: bool, out: IO[str] = sys.stdout) -> int:
    """Announce, then serve until Ctrl-C. The socket listens from the start, so a browser opened
    at once waits in its backlog until uvicorn takes the connection."""
    sock = listen(port)
    try:
        server, guard = uvicorn_server(console, sock)
        out.write("\n".join(ready_lines(guard, console)) + "\n")
        out.flush()
        if browser and graphical(os.environ):
            threading.Thread(target=open_browser, args=(guard.login_url,), daemon=True).start()
        server.run(sockets=[sock])
    finally:
        sock.close()
        out.write("tokengate console stopped\n")
    return 0
