"""The shutdown extension the stack ships in a layer (infra/shutdown_extension): it registers with
the Lambda Extensions API for SHUTDOWN alone, under its own file name, waits for the event and
exits, so Lambda sends the authorizer's runtime SIGTERM first. Run against a stand-in for the
Extensions API on loopback."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.shutdown import EXTENSION_FILE

EXTENSION_ID = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"


class ExtensionsApi(ThreadingHTTPServer):
    def __init__(self, events: list[str], register_status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events = events
        self.register_status = register_status
        self.registered: list[tuple[str | None, Any]] = []
        self.polled: list[str | None] = []


class _Handler(BaseHTTPRequestHandler):
    server: ExtensionsApi

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        assert self.path == "/2020-01-01/extension/register"
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.registered.append((self.headers.get("Lambda-Extension-Name"), body))
        headers = {"Lambda-Extension-Identifier": EXTENSION_ID} if self.server.register_status == 200 else {}
        self._answer(self.server.register_status, {"functionName": "tokengate-authorizer"}, headers)

    def do_GET(self) -> None:
        assert self.path == "/2020-01-01/extension/event/next"
        self.server.polled.append(self.headers.get("Lambda-Extension-Identifier"))
        event = self.server.events.pop(0) if self.server.events else "SHUTDOWN"
        self._answer(200, {"eventType": event, "shutdownReason": "spindown", "deadlineMs": 0})


def run_extension(api: ExtensionsApi) -> subprocess.CompletedProcess[str]:
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = api.server_address[:2]
        assert isinstance(host, str)
        return subprocess.run(
            [str(EXTENSION_FILE)],
            env={"AWS_LAMBDA_RUNTIME_API": f"{host}:{port}", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        api.shutdown()
        api.server_close()


def test_it_registers_for_shutdown_only_under_its_file_name_and_exits_at_shutdown() -> None:
    api = ExtensionsApi(events=["SHUTDOWN"])
    result = run_extension(api)
    assert result.returncode == 0, result.stderr
    assert api.registered == [(Path(EXTENSION_FILE).name, {"events": ["SHUTDOWN"]})]
    assert api.polled == [EXTENSION_ID]


def test_a_refused_registration_is_an_error_not_a_loop() -> None:
    api = ExtensionsApi(events=[], register_status=403)
    result = run_extension(api)
    assert result.returncode == 1
    assert "registration refused" in result.stderr
    assert api.polled == []


def test_the_file_is_executable_and_sits_where_lambda_looks_for_extensions() -> None:
    assert EXTENSION_FILE.parent.name == "extensions"  # the layer's /opt/extensions/
    assert EXTENSION_FILE.stat().st_mode & 0o111 == 0o111
