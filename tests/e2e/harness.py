"""Run the local stack and the CLI as a user does: separate processes, real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore.credentials import Credentials

from tokengate.local.process import READY_PREFIX

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
T = TypeVar("T")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment minus what would change the stack's behaviour unasked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENGATE_", "PYTEST_"))}
    env.pop("AWS_ENDPOINT_URL_SECRETS_MANAGER", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    state_dir: Path
    env: dict[str, str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    url: str = ""
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def credentials(self) -> Credentials:
        data = json.loads((self.state_dir / "credentials.json").read_text())
        return Credentials(data["access_key_id"], data["secret_access_key"])

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        return int(self.process.returncode)

    def output(self) -> str:
        return "".join(self.stdout) + "\n--- stderr ---\n" + "".join(self.stderr)


def start_stack(
    state_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    module: str = "tokengate.cli",
) -> RunningStack:
    """`tokengate local --port 0` in a subprocess (``module``: another entry point that runs the
    same CLI, e.g. with a fault injected); returns once the ready line is printed."""
    env = child_env(extra_env)
    command = [sys.executable, "-m", module, "local", "--port", "0", "--state-dir", str(state_dir), *args]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    stack = RunningStack(process=process, state_dir=state_dir, env=env)
    ready = threading.Event()

    def drain(stream: Any, sink: list[str], watch: bool) -> None:
        # Keep reading to the end: a full pipe would block the server's logging.
        for line in stream:
            sink.append(line)
            if watch and line.startswith(READY_PREFIX):
                stack.url = line[len(READY_PREFIX) :].strip()
                ready.set()
        ready.set()

    # The banner is on stderr; stdout is the functions' JSON logs.
    for stream, sink, watch in ((process.stdout, stack.stdout, False), (process.stderr, stack.stderr, True)):
        thread = threading.Thread(target=drain, args=(stream, sink, watch), daemon=True)
        thread.start()
        stack._threads.append(thread)
    ready.wait(START_TIMEOUT)
    if not stack.url:
        stack.stop(signal.SIGKILL)
        raise AssertionError(f"local stack did not become ready:\n{stack.output()}")
    return stack


def run_cli(
    stack: RunningStack | None, *args: str, endpoint: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One `tokengate` command in its own process, pointed at the stack."""
    tail: list[str] = []
    if stack is not None:
        tail = ["--endpoint", endpoint or stack.url, "--state-dir", str(stack.state_dir)]
    return subprocess.run(
        [sys.executable, "-m", "tokengate.cli", *args, *tail],
        cwd=REPO,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_json(stack: RunningStack, *args: str) -> Any:
    result = run_cli(stack, *args, "--output", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


def curl(url: str, headers: Mapping[str, str] | None = None) -> HttpResult:
    """GET as the README does (`curl -H ...`), or with http.client where curl is not installed."""
    headers = dict(headers or {})
    if shutil.which("curl"):
        command = ["curl", "-sS", "-D", "-", "--max-time", "20"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        done = subprocess.run([*command, url], capture_output=True, text=True, timeout=30, check=True)
        head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        parsed = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:]) if k}
        return HttpResult(status, _json(body), parsed)
    return request("GET", url, headers=headers)


def invoke(stack: RunningStack, token: str) -> HttpResult:
    """GET /invoke with ``token`` as the Authorization header, as a client calls the API."""
    return curl(f"{stack.url}/invoke", {"Authorization": token})


def request(method: str, url: str, *, body: bytes = b"", headers: Mapping[str, str] | None = None) -> HttpResult:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=20)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        # http.client sets Content-Length from the body actually sent (a tampered body may differ).
        sent_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-length"}
        connection.request(method, target, body=body or None, headers=sent_headers)
        response = connection.getresponse()
        data = response.read().decode("utf-8", "replace")
        return HttpResult(response.status, _json(data), {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def forged(key_id: str) -> str:
    """A well-formed token (valid checksum) for ``key_id`` whose tag no key of any deployment made."""
    import secrets

    from tokengate_core.tokens import format as tokens

    return tokens.generate(key_id, lambda _signed: tokens.encode_tag(secrets.token_bytes(12)))


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 20.0) -> T:
    """Poll until ``done(probe())``, at most ``timeout`` seconds; return the last result either way."""
    deadline = time.monotonic() + timeout
    result = probe()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.2)
        result = probe()
    return result


def secret_file(folder: Path, name: str, value: str) -> Path:
    """A file holding ``value`` that only its owner may read, as a token or a secret is kept."""
    path = folder / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def events(stack: RunningStack) -> list[dict[str, Any]]:
    """Every lifecycle event the stack's events.jsonl holds, as `tokengate events tail` prints them."""
    result = run_cli(
        None, "events", "tail", "--no-follow", "-n", "10000", "-o", "json", "--state-dir", str(stack.state_dir)
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def of_client(stack: RunningStack, client_id: str) -> list[dict[str, Any]]:
    return [e for e in events(stack) if e["detail"]["client_id"] == client_id]
