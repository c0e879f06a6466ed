"""`tokengate local`: the whole API on loopback, no AWS account, no Docker. This is the process
around the stack (tokengate.local.stack): the listening socket (bound before anything slow),
uvicorn and the signals that stop it, the ready banner, and the stop that saves the state.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shlex
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import uvicorn

from tokengate.local import location, running
from tokengate.local.event_log import EVENTS_FILE
from tokengate.local.stack import LocalOptions, LocalStack, StartupError
from tokengate.local.state import CREDENTIALS_FILE, PRINCIPALS_FILE
from tokengate.local.store import STATE_FILE

READY_PREFIX = "tokengate local stack ready: "
STOPPED_LINE = "tokengate local stack stopped"


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything slow, so a busy port fails fast with one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, a kept-alive client waits out the peer's
    # 40 ms delayed-ACK timer on every response (measured by `make bench`: 48 ms -> ~1 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = "address already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        raise StartupError(
            f"cannot listen on {host}:{port}: {reason} (is another `tokengate local` running? "
            "pick another port with --port or TOKENGATE_PORT)"
        ) from None
    sock.listen(2048)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, announcing readiness once listening, and stopping on SIGINT/SIGTERM without
    re-raising the signal afterwards (the stack still has to save its state and stop the emulator)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        import signal

        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def ready_lines(stack: LocalStack, url: str) -> list[str]:
    """The ready banner. Its CLI lines work as printed in a new terminal started in the same folder,
    whatever this one's TOKENGATE_PORT or TOKENGATE_HOME: they name the state folder when the CLI
    would not find it by itself, and the CLI finds the stack's URL in it (tokengate.local.running)."""
    options = stack.options
    where = []
    if stack.state_dir != location.discovered_state_dir(Path.cwd()):
        where.append(f"--state-dir {shlex.quote(str(stack.state_dir))}")
    flags = "".join(f" {w}" for w in where)
    # The way this stack was started is the way to reach the CLI (.venv/bin/tokengate under `make run`).
    prog = sys.argv[0] if Path(sys.argv[0]).name == "tokengate" else "tokengate"
    lines = [
        f"{READY_PREFIX}{url}",
        f'  invoke (Lambda authorizer):  curl -H "Authorization: $TOKEN" {url}/invoke',
        f"  admin API (AWS_IAM, SigV4 service execute-api, region {options.region}):  {url}/admin/...",
        f"  CLI:    {prog} clients issue --tenant acme --name my-first-client{flags}",
        f"          {prog} clients list --tenant acme{flags}",
        f"          {prog} local rotate-due --advance 30{flags}   # scheduled rotations, as if 30 days had passed",
        f"  events: {prog} events tail{flags}   # lifecycle events, as EventBridge delivers them",
        f"  console: {prog} console{flags}   # the same in a browser, on a one-time URL",
        f"  state:  {stack.state_dir} ({STATE_FILE}, {EVENTS_FILE}, {CREDENTIALS_FILE}, {PRINCIPALS_FILE})",
    ]
    stored = stack.stored
    if stored is not None and stored.migrated:
        lines.append(f"  moved {' and '.join(stored.migrated)} to {STATE_FILE} (the old files are kept, unread)")
    if stored is not None and (stored.clients or stored.keyring):
        keys = " and the signing keyring" if stored.keyring else ""
        lines.append(f"  restored {stored.clients} client secret(s){keys} from {STATE_FILE}")
    admin = stack.admin
    if admin is not None and admin.source == "generated":
        # The secret stays in the file: this output is also where the functions' logs go.
        lines.append(
            f"  admin credentials: generated now, access key id {admin.access_key_id}; the pair is in "
            f"{stack.state_dir / CREDENTIALS_FILE} (mode 0600), where the CLI reads it"
        )
    elif admin is not None and admin.source == "environment":
        lines.append("  admin credentials: from TOKENGATE_ADMIN_ACCESS_KEY_ID / TOKENGATE_ADMIN_SECRET_ACCESS_KEY")
    lines.append("  Ctrl-C stops the stack (state is saved).")
    return lines


def serve(options: LocalOptions, environ: Mapping[str, str], out: IO[str] = sys.stderr) -> int:
    """Run until SIGINT/SIGTERM; return the exit status. Raises StartupError for a fixable problem.
    The banner and the stop line go to ``out``, stderr: stdout is the functions' (their JSON logs)."""
    _configure_logging()
    sock = bind(options.host, options.port)
    port = int(sock.getsockname()[1])
    stack = LocalStack(options, environ)
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="gateway")
    try:
        stack.start()
        assert stack.gateway is not None
        url = location.stage_url(options.host, port, options.stage)

        def announce() -> None:
            running.publish_stage_url(stack.state_dir, url)
            out.write("\n".join(ready_lines(stack, url)) + "\n")
            out.flush()

        config = uvicorn.Config(
            stack.asgi_app(executor),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,
            # The source address is the TCP peer, as API Gateway's sourceIp is: uvicorn would
            # otherwise take X-Forwarded-For from any loopback caller, and with it any address
            # an IP allowlist names.
            proxy_headers=False,
        )
        _Server(config, on_ready=announce).run(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    finally:
        stack.stop()
        executor.shutdown(wait=False, cancel_futures=True)
    out.write(f"{STOPPED_LINE}\n")
    out.flush()
    return 0


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tokengate local: %(message)s"))
    root = logging.getLogger("tokengate")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
