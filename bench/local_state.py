"""Section 8: the local stack's state (state.db) under admin writes, over HTTP.

Starts the local stack (as section 5 does) on an empty folder and, through its SigV4-signed admin
API: issues 10 clients and times single issues; makes ``state_writes`` admin writes over a fixed set
of clients (disable, enable, rotate, revoke, restore, in turn), reading the stack's resident memory
after the first 200 and after the last; restarts it; issues clients up to ``state_clients`` with 8
writers and times single issues again, alone and 8 at a time; restarts it once more. Memory that
grew with every write (the stack kept a copy of what it saved) shows as a ratio above 1; a restart
that replayed past writes shows as a restart time that grows with them.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import TENANT, SectionResult, Stats, say
from bench.context import Bench
from bench.http_load import _credentials, _request, _signed, local_stack_process
from tokengate.local.store import STATE_FILE

TITLE = "8. Local stack state"
WRITERS = 8
SAMPLES = 20
#: The fixed set of clients the admin writes go round; each goes through the cycle in turn.
WRITE_SET = 30
CYCLE: tuple[tuple[str, str, dict[str, bool] | None], ...] = (
    ("PATCH", "", {"enabled": False}),
    ("PATCH", "", {"enabled": True}),
    ("POST", "/rotate", None),
    ("DELETE", "", None),
    ("POST", "/restore", None),
)
#: Memory is read after this many writes, and after all of them.
EARLY_WRITES = 200


class Admin:
    """The admin API of one running stack, signed as its local admin."""

    def __init__(self, base: str, state_dir: Path) -> None:
        self.clients = f"{base}/admin/tenants/{TENANT}/clients"
        self.credentials = _credentials(state_dir)

    def call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        signed_url, headers = _signed(method, url, self.credentials, data)
        status, payload = _request(method, signed_url, headers, data)
        return status, json.loads(payload) if payload else None

    def issue(self, name: str) -> str:
        status, body = self.call("POST", self.clients, {"client_name": name})
        if status != 201:
            raise RuntimeError(f"issuing {name} failed: HTTP {status}")
        return str(body["client"]["client_id"])

    def timed_issue(self, name: str, ids: list[str] | None = None) -> float:
        """One issue's latency (µs); its client id goes to ``ids``."""
        start = time.perf_counter()
        client_id = self.issue(name)
        elapsed = (time.perf_counter() - start) * 1e6
        if ids is not None:
            ids.append(client_id)
        return elapsed

    def write(self, n: int, ids: list[str]) -> None:
        method, suffix, body = CYCLE[(n // len(ids)) % len(CYCLE)]
        status, _ = self.call(method, f"{self.clients}/{ids[n % len(ids)]}{suffix}", body)
        if status != 200:
            raise RuntimeError(f"admin write {n} ({method} {suffix or 'client'}) failed: HTTP {status}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc: resident memory is read on Linux only")


def _started(state_dir: Path, work: Callable[[Admin, Any], None] = lambda _a, _p: None) -> float:
    """Seconds from launch to the ready line (then ``work`` runs on the running stack)."""
    started = time.perf_counter()
    with local_stack_process(state_dir) as (base, process):
        ready = time.perf_counter() - started
        work(Admin(base, state_dir), process)
    return ready


@dataclass
class Measured:
    total: int
    clients: int
    rss_mb: dict[str, float] = field(default_factory=dict)
    latency: dict[str, Stats] = field(default_factory=dict)
    start_s: dict[str, float] = field(default_factory=dict)
    state_db_mb: float = 0.0

    def writes(self, admin: Admin, process: Any) -> None:
        """10 clients, single issues timed, then the writes with memory read along the way."""
        ids = [admin.issue(f"state-{i:03d}") for i in range(10)]
        samples = [admin.timed_issue(f"state-{i:03d}", ids) for i in range(10, 10 + SAMPLES)]
        self.latency["10 clients, one writer"] = Stats.of_us(samples)
        say(f"  state: {self.total:,} admin writes over {WRITE_SET} clients")
        self.rss_mb["start"] = _rss_mb(process.pid)
        for n in range(self.total):
            admin.write(n, ids[:WRITE_SET])
            if n + 1 in (EARLY_WRITES, self.total):
                self.rss_mb[str(n + 1)] = _rss_mb(process.pid)

    def grow(self, admin: Admin, _process: Any) -> None:
        """Up to ``clients`` clients, then single issues timed alone and 8 at a time."""
        say(f"  state: issuing up to {self.clients:,} clients with {WRITERS} writers")
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(admin.issue, [f"bulk-{i:05d}" for i in range(10 + SAMPLES, self.clients)]))
        samples = [admin.timed_issue(f"late-{i:03d}") for i in range(SAMPLES)]
        self.latency[f"{self.clients:,} clients, one writer"] = Stats.of_us(samples)
        with ThreadPoolExecutor(WRITERS) as pool:
            together = list(pool.map(admin.timed_issue, [f"busy-{i:03d}" for i in range(WRITERS * 5)]))
        self.latency[f"{self.clients:,} clients, {WRITERS} writers"] = Stats.of_us(together)


def run(bench: Bench) -> None:
    cfg = bench.cfg
    measured = Measured(cfg.state_writes, cfg.state_clients)
    with tempfile.TemporaryDirectory(prefix="tokengate-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        say("  state: first start, 10 clients, then the writes")
        measured.start_s["empty folder"] = _started(state_dir, measured.writes)
        measured.start_s["30 clients, after the writes"] = _started(state_dir)
        _started(state_dir, measured.grow)
        measured.start_s[f"{cfg.state_clients:,} clients"] = _started(state_dir)
        measured.state_db_mb = (state_dir / STATE_FILE).stat().st_size / 2**20
    _report(bench.result("state", TITLE), measured)


def _report(result: SectionResult, measured: Measured) -> None:
    rss, total = measured.rss_mb, measured.total
    early, late = rss[str(EARLY_WRITES)], rss[str(total)]
    ratio = late / early
    per_write_kb = (late - early) * 1024 / max(1, total - EARLY_WRITES)
    result.add(
        f"memory after {total:,} admin writes / after {EARLY_WRITES}",
        f"{ratio:.3f}x ({late:,.1f} MB / {early:,.1f} MB, {per_write_kb:+,.2f} KB per write; "
        f"{rss['start']:,.1f} MB before the writes)",
        "<= 1.10x",
        ratio <= 1.10,
    )
    for name, stats in measured.latency.items():
        result.add(f"issue latency, {name}", stats.text("ms"))
    starts = measured.start_s
    result.add(
        "start to ready: " + " / ".join(starts),
        " / ".join(f"{s:,.2f} s" for s in starts.values()) + f" (state.db {measured.state_db_mb:,.1f} MB)",
    )
    result.data.update(
        rss_mb=rss,
        start_s=starts,
        state_db_mb=measured.state_db_mb,
        latency_us={k: v.__dict__ for k, v in measured.latency.items()},
    )
    result.notes.append(
        f"The local stack as its own process (`tokengate local`, as in section 5), driven through its SigV4-signed "
        f"admin API, one request at a time unless stated. The {total:,} admin writes go round {WRITE_SET} clients, "
        f"each disabled, enabled, rotated, revoked and restored in turn; each write is one SQLite transaction of "
        f"the rows it changed (the client's secret, its index item, the change feed's counter and new entry), "
        f"committed with fsync before the answer. Memory is the "
        f"stack's resident set (VmRSS) after {EARLY_WRITES} writes and after all of them; CPython rarely gives "
        f"memory back, so anything kept per write would show in the ratio. A start reads state.db whole (every "
        f"current row, validated) and replays no past write: it grows with the rows held, not with the writes "
        f"that made them (the second start follows {total:,} writes, the third holds {measured.clients:,} clients), "
        f"except the change feed's entries, one per write, which DynamoDB's TTL removes after a day in AWS and "
        f"the local stack keeps; "
        f"most of a start is importing the stack and warming one container per function. With {WRITERS} writers "
        f"at once each issue waits for the others: the embedded moto serves one call at a time "
        f"(tokengate.emulator), and the machine has 2 cores."
    )
