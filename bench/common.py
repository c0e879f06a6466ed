"""Shared pieces: run configuration, the process environment, statistics, events and results.

Handlers read their configuration and build their loggers at import, so :func:`prepare_environment`
must run (and the emulator must be up) before any handler module is imported.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tokengate import SERVICES_DIR, use_services_path

REPO = SERVICES_DIR.parent
ACCOUNT = "123456789012"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:user/bench-admin"
TENANT = "acme"
#: The cache TTL the benchmark process gives the authorizer: long enough that entries populated at
#: the start of a section are still fresh at its end. The TTL never enters the cost of a hit.
BENCH_CACHE_TTL = 3600.0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


#: Every section a full run measures, in the order ``bench.__main__`` runs them.
SECTIONS = ("warm", "backend", "scale", "cold", "http", "usage", "propagation", "leaks", "state", "last_used")


@dataclass(frozen=True)
class BenchConfig:
    """Run counts. Every one can be set from the environment; BENCH_QUICK=1 shrinks the defaults."""

    quick: bool
    sections: tuple[str, ...]
    clients: int  # BENCH_CLIENTS: clients issued for the scale section (and the backend spreads)
    admin_issue: int  # BENCH_ADMIN_ISSUE: of those, issued through the admin handler (rate)
    service_issue: int  # BENCH_SERVICE_ISSUE: then through clients.issue + boto3 (rate); the rest in bulk
    warm_requests: int  # BENCH_WARM_REQUESTS: timed handler calls per round
    rounds: int  # BENCH_ROUNDS: rounds of warm calls (samples = rounds x warm_requests)
    baseline_requests: int  # BENCH_BASELINE_REQUESTS: timed baseline calls
    backend_requests: int  # BENCH_BACKEND_REQUESTS: requests per backend-call scenario
    cold_runs: int  # BENCH_COLD_RUNS: fresh processes per side for the cold start
    http_seconds: float  # BENCH_HTTP_SECONDS: duration of each HTTP load cell
    http_max_requests: int  # BENCH_HTTP_MAX_REQUESTS: cap per cell for the Python load generator
    state_writes: int  # BENCH_STATE_WRITES: admin writes in the local-state section (memory read at 200 and here)
    state_clients: int  # BENCH_STATE_CLIENTS: clients the local-state section grows the stack to
    write_docs: bool  # BENCH_WRITE_DOCS: rewrite docs/performance.md (default: only on full runs)
    json_path: str | None  # BENCH_JSON: also write the raw results there

    @classmethod
    def from_env(cls) -> BenchConfig:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
        chosen = os.environ.get("BENCH_SECTIONS", ",".join(SECTIONS))
        sections = tuple(s.strip() for s in chosen.split(",") if s.strip())
        write_default = "0" if quick else "1"
        return cls(
            quick=quick,
            sections=sections,
            clients=_env_int("BENCH_CLIENTS", 1_000 if quick else 10_000),
            admin_issue=_env_int("BENCH_ADMIN_ISSUE", 100 if quick else 500),
            service_issue=_env_int("BENCH_SERVICE_ISSUE", 100 if quick else 500),
            warm_requests=_env_int("BENCH_WARM_REQUESTS", 2_000 if quick else 20_000),
            rounds=_env_int("BENCH_ROUNDS", 3 if quick else 5),
            baseline_requests=_env_int("BENCH_BASELINE_REQUESTS", 20 if quick else 100),
            backend_requests=_env_int("BENCH_BACKEND_REQUESTS", 2_000 if quick else 10_000),
            cold_runs=_env_int("BENCH_COLD_RUNS", 3 if quick else 15),
            http_seconds=_env_float("BENCH_HTTP_SECONDS", 2.0 if quick else 5.0),
            http_max_requests=_env_int("BENCH_HTTP_MAX_REQUESTS", 20_000 if quick else 200_000),
            state_writes=_env_int("BENCH_STATE_WRITES", 400 if quick else 1_000),
            state_clients=_env_int("BENCH_STATE_CLIENTS", 200 if quick else 1_000),
            write_docs=os.environ.get("BENCH_WRITE_DOCS", write_default) not in ("0", "false", ""),
            json_path=os.environ.get("BENCH_JSON") or None,
        )


# -- statistics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Median and p99 (nearest rank) of samples in microseconds."""

    n: int
    median_us: float
    p99_us: float
    mean_us: float

    @classmethod
    def of_ns(cls, samples_ns: list[int]) -> Stats:
        return cls.of_us([s / 1000 for s in samples_ns])

    @classmethod
    def of_us(cls, samples_us: list[float]) -> Stats:
        if not samples_us:
            return cls(0, math.nan, math.nan, math.nan)
        ordered = sorted(samples_us)
        rank = max(1, math.ceil(0.99 * len(ordered)))
        return cls(len(ordered), statistics.median(ordered), ordered[rank - 1], statistics.fmean(ordered))

    def text(self, unit: str = "auto") -> str:
        return f"median {fmt_us(self.median_us, unit)}, p99 {fmt_us(self.p99_us, unit)} (n={self.n})"


def fmt_us(value_us: float, unit: str = "auto") -> str:
    if math.isnan(value_us):
        return "n/a"
    if unit == "ms" or (unit == "auto" and value_us >= 10_000):
        return f"{value_us / 1000:,.1f} ms"
    if unit == "s":
        return f"{value_us / 1e6:,.2f} s"
    return f"{value_us:,.1f} µs"


def time_calls(fn: Callable[[int], object], n: int) -> list[int]:
    """Time ``fn(i)`` for i in range(n), one sample per call, in nanoseconds."""
    clock = time.perf_counter_ns
    samples = [0] * n
    for i in range(n):
        start = clock()
        fn(i)
        samples[i] = clock() - start
    return samples


# -- results --------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One row of the results table."""

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def status(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


@dataclass
class SectionResult:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # markdown paragraphs for docs/performance.md
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers (BENCH_JSON)
    skipped: str | None = None

    def add(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.figures.append(Figure(self.title, name, value, target, met))


# -- environment ----------------------------------------------------------------------------------


def prepare_environment(endpoint: str) -> None:
    """The fake-AWS environment the Lambda handlers expect, pointing Secrets Manager at ``endpoint``."""
    use_services_path()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(child_environment(endpoint))


def child_environment(endpoint: str) -> dict[str, str]:
    """What a fresh process (cold start) needs besides the inherited environment."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "tokengate-bench",
        "POWERTOOLS_DEV": "false",
        "TOKENGATE_CACHE_TTL_SECONDS": str(BENCH_CACHE_TTL),
        "PYTHONPATH": os.pathsep.join([str(SERVICES_DIR), str(REPO)]),
    }


_DEVNULL: TextIO | None = None


def devnull() -> TextIO:
    global _DEVNULL  # noqa: PLW0603 - one sink for the whole run
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    return _DEVNULL


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Handlers log and emit metrics on stdout (as in Lambda): send that to /dev/null, which still
    costs the write system call a Lambda pays, but keeps the table readable."""
    with contextlib.redirect_stdout(devnull()):
        yield


def import_quietly(module: str) -> Any:
    """Import a handler module with stdout pointing at /dev/null, so its Powertools logger binds there."""
    import importlib

    with quiet():
        return importlib.import_module(module)


# -- events: the shared builders (tokengate.testing.gateway_events), so tests and benchmarks drive the same shapes --


# -- machine --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": str(os.cpu_count() or 0),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "unknown",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
    }


def say(text: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(text, file=sys.stderr, flush=True)


def speed_up_moto() -> None:
    """Two shortcuts in the emulator (moto), in this process only; neither changes a response.

    1. moto's ``SecretsStore`` resolves every name by scanning all secrets (to also accept ARNs), so
       a GetSecretValue costs O(number of secrets), about 10 ms more at 10,000 secrets: the
       10,000-client runs would measure moto. A name that is a key of the dict is the secret the
       scan would find (a name is never an ARN), so it is looked up first.
    2. moto's server lists its own package directory on disk on every request to route it
       (``list_of_moto_modules``): the listing is computed once.
    3. moto's DynamoDB Query sorts every item of the table, then walks the whole partition: the
       change feed's Query would cost O(table) (:func:`tokengate.moto_query.narrow_moto_query`, which
       the emulator applies wherever it runs; here too, for the bench's in-process backends).
    4. moto's ListSecrets renders every matching secret (``to_dict``) and then keeps one page: a
       page of 100 at 10,000 secrets rendered 10,000. Only the page's secrets are rendered here,
       the same ones, in the same order, with the same next token.
    """
    import moto.backends
    from moto.secretsmanager.models import SecretsStore

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    from tokengate.moto_query import narrow_moto_query

    narrow_moto_query()

    if getattr(SecretsStore, "_bench_fast_path", False):
        return
    _page_before_rendering()
    scan_getitem, scan_contains, scan_get = SecretsStore.__getitem__, SecretsStore.__contains__, SecretsStore.get

    def getitem(self: Any, key: str) -> Any:
        found = dict.get(self, key)
        return found if found is not None else scan_getitem(self, key)

    def contains(self: Any, key: object) -> bool:
        return dict.__contains__(self, key) or scan_contains(self, key)  # type: ignore[arg-type]

    def get(self: Any, key: str) -> Any:
        found = dict.get(self, key)
        return found if found is not None else scan_get(self, key)

    SecretsStore.__getitem__ = getitem  # type: ignore[method-assign]
    SecretsStore.__contains__ = contains  # type: ignore[method-assign]
    SecretsStore.get = get  # type: ignore[method-assign]
    SecretsStore._bench_fast_path = True  # type: ignore[attr-defined]


def _page_before_rendering() -> None:
    """ListSecrets: the page is cut from the matching secrets before they are rendered."""
    from moto.secretsmanager import models

    backend = models.SecretsManagerBackend
    if getattr(backend, "_bench_page_first", False):
        return

    def list_secrets(
        self: Any,
        filters: list[dict[str, Any]],
        max_results: int = models.MAX_RESULTS_DEFAULT,
        next_token: str | None = None,
        include_planned_deletion: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        matching = [
            secret
            for secret in self.secrets.values()
            if not (getattr(secret, "deleted_date", None) and not include_planned_deletion)
            and models._matches(secret, filters)
        ]
        page, token = self._get_secret_values_page_and_next_token(matching, max_results, next_token)
        return [secret.to_dict() for secret in page], token

    backend.list_secrets = list_secrets  # type: ignore[method-assign]
    backend._bench_page_first = True  # type: ignore[attr-defined]
