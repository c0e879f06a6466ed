"""Section 5: the local stack end to end over HTTP on loopback, under load at several concurrencies.

Starts ``python -m tokengate.cli local --port 0 --state-dir <tmp>`` (the local stack), issues a few
clients through its SigV4-signed admin API, then loads three kinds of request: a valid token on
/invoke, an invalid one, and an admin list call. The load generator is wrk (from Debian's packages;
installed with apt-get when missing and possible, BENCH_INSTALL_WRK=0 to forbid) or, failing that,
a Python thread pool with keep-alive connections. Every cell is bounded in time and count.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import REPO, TENANT, Stats, say
from bench.context import Bench

TITLE = "5. Local stack over HTTP"
READY = re.compile(r"tokengate local stack ready: (http://\S+)")
CONCURRENCY = (1, 16, 64)
REGION = "us-east-1"


@dataclass
class Cell:
    kind: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    tool: str


# -- the local stack ------------------------------------------------------------------------------


@contextlib.contextmanager
def local_stack(state_dir: Path) -> Iterator[str]:
    """Start the stack, yield its stage URL, stop it with SIGINT (then SIGTERM, then kill)."""
    with local_stack_process(state_dir) as (url, _process):
        yield url


@contextlib.contextmanager
def local_stack_process(state_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """:func:`local_stack`, yielding its process too (to read its memory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "TOKENGATE_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokengate.cli", "local", "--port", "0", "--state-dir", str(state_dir)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        # The banner (and the ready line) goes to stderr; stdout carries the functions' JSON logs.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    url: str | None = None
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 90
        found: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:  # keep draining, so the stack never blocks on a full pipe
                lines.append(line.rstrip())
                match = READY.search(line)
                if match and not found:
                    found.append(match.group(1))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while not found and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if not found:
            raise RuntimeError(f"local stack did not become ready (exit {proc.poll()}): {lines[-5:]}")
        url = found[0]
        yield url, proc
    finally:
        if proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5)):
                proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait)
                    break
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def _credentials(state_dir: Path) -> Any:
    """The admin credentials the local stack wrote (botocore Credentials)."""
    from botocore.credentials import Credentials

    data = json.loads((state_dir / "credentials.json").read_text())

    def find(obj: Any, *names: str) -> str | None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key.lower().replace("-", "_") in names and isinstance(value, str):
                    return value
            for value in obj.values():
                found = find(value, *names)
                if found:
                    return found
        return None

    access = find(data, "access_key_id", "aws_access_key_id", "accesskeyid")
    secret = find(data, "secret_access_key", "aws_secret_access_key", "secretaccesskey")
    token = find(data, "session_token", "aws_session_token", "sessiontoken")
    if not access or not secret:
        raise RuntimeError("credentials.json has no access key id / secret access key")
    return Credentials(access, secret, token)


def _signed(method: str, url: str, credentials: Any, body: bytes = b"") -> tuple[str, dict[str, str]]:
    from tokengate.sigv4 import sign

    headers = {"content-type": "application/json"} if body else {}
    signed = sign(method, url, credentials=credentials, region=REGION, body=body, headers=headers)
    return signed.url, signed.headers


def _request(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- load generators ------------------------------------------------------------------------------


def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.environ.get("BENCH_INSTALL_WRK", "1") == "0":
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("  http: wrk missing, installing it from Debian's packages (apt-get install wrk)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(install, env=env, capture_output=True, timeout=300, check=False)
            if not shutil.which("wrk"):
                subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300, check=False)
                subprocess.run(install, env=env, capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


def _unit_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(wrk: str, kind: str, url: str, headers: dict[str, str], concurrency: int, seconds: float) -> Cell:
    # Headers go through a 0600 Lua script, not argv, so no token shows in the process list.
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        threads = min(concurrency, os.cpu_count() or 1)
        args = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency"]
        proc = subprocess.run(
            [*args, "--timeout", "10s", "-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        os.unlink(script.name)
    out = proc.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (rps and total and p50 and p99):
        raise RuntimeError(f"could not parse wrk output: {out[-500:]} {proc.stderr[-500:]}")
    return Cell(
        kind=kind,
        concurrency=concurrency,
        requests=int(total.group(1)),
        seconds=_unit_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_unit_ms(p50.group(1)),
        p99_ms=_unit_ms(p99.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        tool="wrk",
    )


def run_python(
    kind: str, url: str, headers: dict[str, str], concurrency: int, seconds: float, max_requests: int
) -> Cell:
    """Fallback load generator: one keep-alive connection per thread, bounded in time and count."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: list[list[int]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    budget = threading.Semaphore(max_requests)
    deadline = time.perf_counter() + seconds

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        while time.perf_counter() < deadline and budget.acquire(blocking=False):
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                statuses[n].append(response.status)
            except (OSError, http.client.HTTPException):
                errors[n] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
                continue
            latencies[n].append((time.perf_counter() - start) * 1e6)
        conn.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    stats = Stats.of_us(flat)
    codes = [s for st in statuses for s in st]
    return Cell(
        kind=kind,
        concurrency=concurrency,
        requests=len(flat),
        seconds=elapsed,
        rps=len(flat) / elapsed if elapsed else 0.0,
        p50_ms=stats.median_us / 1000,
        p99_ms=stats.p99_us / 1000,
        non_2xx=sum(1 for s in codes if not 200 <= s < 400),
        errors=sum(errors),
        tool="python threads",
    )


def _connection_probe(url: str, headers: dict[str, str], n: int = 21) -> tuple[float, float]:
    """Median latency (ms) of ``n`` sequential requests on one kept-alive connection, and on a new
    connection each: a large gap points at the transport (delayed ACK), not at the work."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port

    def timed(conn: http.client.HTTPConnection) -> float:
        start = time.perf_counter()
        conn.request("GET", parts.path, headers=headers)
        conn.getresponse().read()
        return (time.perf_counter() - start) * 1000

    conn = http.client.HTTPConnection(host, port, timeout=10)
    timed(conn)  # connect and warm up
    kept = sorted(timed(conn) for _ in range(n))
    conn.close()
    fresh: list[float] = []
    for _ in range(n):
        one = http.client.HTTPConnection(host, port, timeout=10)
        fresh.append(timed(one))
        one.close()
    fresh.sort()
    return kept[n // 2], fresh[n // 2]


# -- the section ----------------------------------------------------------------------------------


def run(bench: Bench) -> None:
    cfg = bench.cfg
    result = bench.result("http", TITLE)
    wrk = None if os.environ.get("BENCH_LOADGEN") == "python" else _wrk()
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="tokengate-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        say("  http: starting the local stack")
        started = time.perf_counter()
        with local_stack(state_dir) as base:
            startup_s = time.perf_counter() - started
            credentials = _credentials(state_dir)
            admin_base = f"{base}/admin/tenants/{TENANT}/clients"
            token = ""
            for i in range(20):
                body = json.dumps({"client_name": f"http-{i:02d}", "scopes": ["ANY /invoke"]}).encode()
                url, headers = _signed("POST", admin_base, credentials, body)
                status, payload = _request("POST", url, headers, body)
                if status != 201:
                    raise RuntimeError(f"issuing through the local stack failed: HTTP {status}")
                token = token or json.loads(payload)["token"]
            invalid = token[:-6] + ("A" * 6 if not token.endswith("AAAAAA") else "B" * 6)
            status_valid, _ = _request("GET", f"{base}/invoke", {"authorization": f"Bearer {token}"})
            status_invalid, _ = _request("GET", f"{base}/invoke", {"authorization": f"Bearer {invalid}"})
            keep_alive, fresh = _connection_probe(f"{base}/invoke", {"authorization": f"Bearer {invalid}"})
            list_url = f"{admin_base}?limit=100"
            for kind in ("valid token", "invalid token", "admin list"):
                for c in CONCURRENCY:
                    if kind == "admin list":
                        url, headers = _signed("GET", list_url, credentials)  # valid for the 5-minute skew
                    else:
                        url = f"{base}/invoke"
                        headers = {"authorization": f"Bearer {token if kind == 'valid token' else invalid}"}
                    say(f"  http: {kind}, concurrency {c}, {cfg.http_seconds:g} s")
                    if wrk:
                        # Unmeasured warm-up at the same concurrency: the local runtime starts one
                        # container per concurrent request, and a cold start is not a steady state.
                        run_wrk(wrk, kind, url, headers, c, 1.0)
                        cell = run_wrk(wrk, kind, url, headers, c, cfg.http_seconds)
                    else:
                        run_python(kind, url, headers, c, 1.0, cfg.http_max_requests)
                        cell = run_python(kind, url, headers, c, cfg.http_seconds, cfg.http_max_requests)
                    cells.append(cell)
    for cell in cells:
        expected = "403s" if cell.kind == "invalid token" else "non-2xx"
        bad = cell.requests - cell.non_2xx if cell.kind == "invalid token" else cell.non_2xx
        if cell.requests == 0:
            result.add(f"{cell.kind}, c={cell.concurrency}", f"no request completed in {cell.seconds:g} s")
            continue
        result.add(
            f"{cell.kind}, c={cell.concurrency}",
            f"{cell.rps:,.0f} req/s; p50 {cell.p50_ms:,.2f} ms, p99 {cell.p99_ms:,.2f} ms "
            f"({cell.requests:,} requests; {'unexpected 2xx' if cell.kind == 'invalid token' else expected}: "
            f"{bad}; socket errors {cell.errors})",
        )
    result.add(
        "one request, keep-alive vs new connection (c=1)",
        f"keep-alive median {keep_alive:,.2f} ms; new connection median {fresh:,.2f} ms",
    )
    if keep_alive > 30 and keep_alive > 5 * fresh:
        result.notes.append(
            f"A request on a kept-alive connection takes {keep_alive:,.0f} ms against {fresh:,.1f} ms on a new "
            f"one: that is the delayed-ACK timer (40 ms on Linux) meeting Nagle's algorithm, because the "
            f"stack writes a response in more than one segment on a socket without TCP_NODELAY. It caps every "
            f"keep-alive connection at about 23 requests/s, which is what the c=1 rows and the low rates at "
            f"c=16/64 show. Setting TCP_NODELAY on the listening socket (`bind()` in tokengate/local/process.py; "
            f"accepted sockets inherit it) brought it to about 1 ms in a separate check."
        )
    tool = cells[0].tool if cells else "none"
    result.data.update(cells=[c.__dict__ for c in cells], startup_s=startup_s, tool=tool)
    result.notes.append(
        f"Load generator: {tool}, {cfg.http_seconds:g} s per cell after 1 s of unmeasured warm-up at the same "
        f"concurrency, on the same 2-core machine as the stack "
        f"(they compete for the CPU). The stack took {startup_s:,.1f} s to print its ready line. Sanity: "
        f"valid token -> HTTP {status_valid}, invalid -> HTTP {status_invalid}. Valid and invalid runs present "
        f"one token each (the authorizer cache keeps it warm); the admin list returns 20 clients per call "
        f"(one ListSecrets) and is signed once per cell (SigV4 allows 5 minutes of skew)."
    )
