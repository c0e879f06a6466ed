"""Section 6: usage control. How close rate limits hold across containers, what they cost in
DynamoDB calls, what a limited client's decision costs, and how a quota ends.

Each simulated container is its own ``TokenAuthorizer`` with its own manual clock and its own
DynamoDB client, as a Lambda container has; all of them share the emulator's DynamoDB table,
as every container of a function shares the deployment's table. Requests are spread over the
containers at random (Lambda gives a request to any idle container) and interleaved in simulated
time, so a run of 60 simulated seconds takes as long as its decisions and DynamoDB calls do.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.backend import ManualClock
from bench.common import ADMIN_ARN, Stats, fmt_us, import_quietly, quiet, say
from bench.context import Bench, Client
from bench.tables import CallCounter
from tokengate.testing.gateway_events import authorizer_event

if TYPE_CHECKING:
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.authorize.settings import AuthorizerSettings
    from tokengate_core.authorize.usage import RateBucket, UsageBackend
    from tokengate_core.authorize.usage_table import DynamoUsage
    from tokengate_core.records.store import SecretsStore

TITLE = "6. Usage control"
TENANT = "usage-bench"
SECONDS = 60.0  # simulated
QUICK_SECONDS = 15.0
#: The sharded cases offer 6,000 requests a simulated second: a shorter span says as much.
SHARDED_SECONDS = 10.0
OVERLOAD = 3.0  # offered load, as a multiple of the limit
#: The accuracy case: under usage.SHARD_RATE, so one shard, as most clients are.
RATE, BURST = 100.0, 100
#: A rate above usage.SHARD_RATE: the client's bucket is split into shards.
SHARDED_RATE, SHARDED_BURST = 2_000.0, 2_000
#: Generous enough never to limit the cost scenarios (they measure calls, not refusals).
ROOMY_RATE, ROOMY_BURST = 10_000.0, 10_000
QUOTA = 5_000
SOURCE_IP = "203.0.113.10"  # tokengate.testing.gateway_events.authorizer_event's requestContext.http.sourceIp
ROUTE = ("GET", "ANY /invoke", "/dev/invoke")
#: The partitions of usage control's items (tokengate_core.authorize.usage_table).
USAGE_PARTITIONS = frozenset({"rate", "quota", "usage"})


class Recording:
    """A container's DynamoDB backend that remembers the size of every lease it was granted."""

    def __init__(self, inner: DynamoUsage) -> None:
        self.inner = inner
        self.rate_leases: list[int] = []
        self.quota_leases: list[int] = []

    def take_rate(self, bucket: RateBucket, n: int, now: float) -> tuple[int, float]:
        granted, retry_at = self.inner.take_rate(bucket, n, now)
        self.rate_leases.append(granted)
        return granted, retry_at

    def take_quota(self, key_id: str, period: str, n: int, limit: int, expires: int) -> tuple[int, int]:
        granted, used = self.inner.take_quota(key_id, period, n, limit, expires)
        self.quota_leases.append(granted)
        return granted, used

    def add_counts(self, key_id: str, bucket: str, counts: dict[str, int], expires: int) -> None:
        self.inner.add_counts(key_id, bucket, counts, expires)

    def claim_threshold(self, key_id: str, period: str, threshold: int, expires: int) -> bool:
        return self.inner.claim_threshold(key_id, period, threshold, expires)


@dataclass
class Container:
    clock: ManualClock
    authorizer: TokenAuthorizer
    backend: Recording
    counter: CallCounter


@dataclass
class Run:
    """What a load run came to."""

    reasons: Counter[str] = field(default_factory=Counter)
    degraded: int = 0
    dynamodb_calls: int = 0
    requests: int = 0
    wall_seconds: float = 0.0
    #: every call the containers sent, by operation and partition (bench.tables.call_key)
    calls: Counter[str] = field(default_factory=Counter)

    @property
    def allowed(self) -> int:
        return self.reasons.get("allowed", 0)

    @property
    def usage_writes(self) -> int:
        """Calls on the usage items: rate buckets, quota counters and claims, hourly counts."""
        return sum(n for key, n in self.calls.items() if key.split(" ")[-1] in USAGE_PARTITIONS)

    def other_calls(self) -> str:
        """The request path's other calls (feed, index, last use), for the figure's text."""
        rest = {key: n for key, n in self.calls.items() if key.split(" ")[-1] not in USAGE_PARTITIONS}
        return ", ".join(f"{key} {n:,}" for key, n in sorted(rest.items())) or "none"


def _settings() -> AuthorizerSettings:
    """The production defaults, except a DynamoDB timeout the emulator on a busy 2-core machine
    always meets: these runs measure the algorithm, and a timed-out call would be a fail-open
    allow (or a fail-closed refusal) that AWS's single-digit milliseconds would not cause."""
    from tokengate_core.authorize.settings import AuthorizerSettings

    return AuthorizerSettings().replace(usage_timeout_seconds=5.0)


def _factory(backend: Recording) -> Callable[[], UsageBackend]:
    return lambda: backend


def _containers(n: int, settings: AuthorizerSettings, store: SecretsStore, start: float) -> list[Container]:
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.runtime.aws import index_client, make_usage_backend, new_session

    made = []
    for _ in range(n):
        clock = ManualClock(start)
        counter = CallCounter()
        session = counter.attach(new_session())
        backend = Recording(make_usage_backend(settings, session))
        table = index_client(settings, session)
        authorizer = TokenAuthorizer(
            settings,
            lambda: store,
            clock,
            _factory(backend),
            dynamodb_factory=lambda table=table: table,  # type: ignore[misc]
            last_used_factory=lambda backend=backend: backend.inner,  # type: ignore[misc]
        )
        made.append(Container(clock, authorizer, backend, counter))
    return made


def _drive(
    bench: Bench,
    containers: list[Container],
    header: str,
    times: list[float],
    seed: int = 7,
    on_decision: Callable[[float, str], bool] | None = None,
) -> Run:
    """One request per entry of ``times`` (simulated, ascending), each to a container drawn at
    random; ``on_decision(time, reason)`` returning True stops the run early."""
    rng = random.Random(seed)
    bench.emulator.reset_counts()
    run = Run()
    started = time.perf_counter()
    for now in times:
        container = containers[rng.randrange(len(containers))]
        container.clock.now = now
        decision = container.authorizer.decide(header, *ROUTE, SOURCE_IP)
        run.reasons[decision.reason.value] += 1
        run.degraded += decision.degraded
        run.requests += 1
        if on_decision is not None and on_decision(now, decision.reason.value):
            break
    run.dynamodb_calls = bench.emulator.dynamodb_calls()
    run.calls = sum((c.counter.calls for c in containers), Counter())
    run.wall_seconds = time.perf_counter() - started
    return run


def _steady(rate: float, seconds: float, start: float) -> list[float]:
    n = round(rate * seconds)
    return [start + i / rate for i in range(n)]


def run(bench: Bench) -> None:
    from tokengate_core.admin import clients
    from tokengate_core.admin.api import IssueClientRequest
    from tokengate_core.authorize import usage
    from tokengate_core.records.model import Quota, RateLimit
    from tokengate_core.runtime.aws import make_store

    result = bench.result("usage", TITLE)
    admin = import_quietly("admin.app")
    settings = _settings()
    store = make_store(settings)
    start = math.floor(time.time() / 86_400) * 86_400 + 3_600.0  # 01:00 UTC today: a run never crosses a day

    def issue(name: str, **policy: Any) -> Client:
        with quiet():
            issued = clients.issue(
                admin.admin_context, TENANT, IssueClientRequest(client_name=name, **policy), ADMIN_ARN
            )
        return Client(issued.client.client_id, issued.token)

    def fresh(n: int) -> list[Container]:
        return _containers(n, settings, store, start)

    # -- accuracy: one client offered 3x its limit for 60 simulated seconds ---------------------------
    accuracy: dict[str, Any] = {}
    seconds = QUICK_SECONDS if bench.cfg.quick else SECONDS
    cases = [(RATE, BURST, n, seconds) for n in (4, 16)]
    cases += [(SHARDED_RATE, SHARDED_BURST, n, SHARDED_SECONDS) for n in (1, 4)]
    for rate, burst, n, span in cases:
        shards = usage.shard_count(rate)
        client = issue(f"accuracy-{int(rate)}-{n}", rate_limit=RateLimit(requests_per_second=rate, burst=burst))
        say(f"  usage: accuracy, {n} container(s), {rate:g}/s burst {burst} ({shards} shard(s)), {span:g} s")
        random.seed(n)  # the containers' shard choices, so a run can be repeated
        containers = fresh(n)
        outcome = _drive(bench, containers, client.header, _steady(OVERLOAD * rate, span, start))
        ideal = rate * span + burst
        ratio = outcome.allowed / ideal
        sharded = f", {shards} shards" if shards > 1 else ""
        result.add(
            f"accuracy, {n} container{'s' if n > 1 else ''}, {rate:,.0f}/s burst {burst:,}{sharded}, {span:g} s",
            f"{ratio:.3f} (allowed {outcome.allowed:,} of {outcome.requests:,}; ideal {ideal:,.0f}); "
            f"{outcome.usage_writes:,} usage writes ({10 * outcome.usage_writes / max(1, outcome.allowed):.1f} "
            f"per 10 allowed); degraded {outcome.degraded}; {outcome.wall_seconds:.0f} s wall",
            "0.9-1.1 of rate x t + burst",
            0.9 <= ratio <= 1.1,
        )
        accuracy[f"{rate:g}/{n}"] = {
            "ratio": ratio,
            "allowed": outcome.allowed,
            "ideal": ideal,
            "calls": outcome.dynamodb_calls,
            "usage_writes": outcome.usage_writes,
            "shards": shards,
            "first_shards": _shard_spread(containers, shards),
            "reasons": dict(outcome.reasons),
        }
    result.data["accuracy"] = accuracy

    # -- cost: DynamoDB calls per 10 allowed requests, per container ------------------------------------
    cost: dict[str, Any] = {}
    free = issue("cost-unlimited")
    for per_container in (100.0, 1_000.0):
        # A client of its own: each scenario starts at the same simulated time, on fresh buckets.
        roomy = issue(
            f"cost-limited-{per_container:g}", rate_limit=RateLimit(requests_per_second=ROOMY_RATE, burst=ROOMY_BURST)
        )
        say(f"  usage: cost, one container at {per_container:g} req/s for {SECONDS:g} s")
        outcome = _drive(bench, fresh(1), roomy.header, _steady(per_container, SECONDS, start))
        per_10 = 10 * outcome.usage_writes / max(1, outcome.allowed)
        flushes = math.ceil(SECONDS / usage.FLUSH_SECONDS)
        result.add(
            f"cost, limited client, {per_container:,.0f} req/s per container",
            f"{per_10:.2f} usage writes per 10 allowed ({outcome.usage_writes:,} for {outcome.allowed:,} "
            f"allowed of {outcome.requests:,} in {SECONDS:g} s, of which ~{flushes} count flushes); "
            f"besides: {outcome.other_calls()}",
            "<= 1 per 10 allowed",
            per_10 <= 1.0,
        )
        cost[f"{per_container:g}"] = {
            "per_10": per_10,
            "calls": outcome.dynamodb_calls,
            "usage_writes": outcome.usage_writes,
            "leases": outcome.usage_writes - flushes,
            "by_call": dict(outcome.calls),
        }
    outcome = _drive(bench, fresh(1), free.header, _steady(1_000.0, SECONDS, start))
    last_use, feed_reads = outcome.calls["UpdateItem used"], outcome.calls["Query feed"]
    result.add(
        "cost, client without a policy, 1,000 req/s",
        f"{outcome.usage_writes} usage writes for {outcome.allowed:,} allowed; besides: {outcome.other_calls()}",
        f"0 usage writes; 1 last-use write (once an hour per container); feed <= {SECONDS:g} (1/s)",
        outcome.usage_writes == 0 and last_use == 1 and feed_reads <= SECONDS,
    )
    cost["unlimited"] = dict(outcome.calls)
    result.data["cost"] = cost

    # -- quota: overshoot and what leases leave unused --------------------------------------------------
    quotas: dict[str, Any] = {}
    for n, offered, label in ((16, 300.0, "16 containers, 300 req/s"), (4, 1_000.0, "4 containers, 1,000 req/s")):
        client = issue(f"quota-{n}", quota=Quota(limit=QUOTA, period="day"))
        say(f"  usage: quota {QUOTA:,}/day, {label}, until refused for 5 s")
        containers = fresh(n)
        refused_since: list[float] = []

        def stop(now: float, reason: str, refused: list[float] = refused_since) -> bool:
            if reason != "quota_exhausted":
                refused.clear()
                return False
            refused.append(now)
            return now - refused[0] >= 5.0

        horizon = 2 * QUOTA / offered
        outcome = _drive(bench, containers, client.header, _steady(offered, horizon, start), on_decision=stop)
        largest = max((max(c.backend.quota_leases, default=0) for c in containers), default=0)
        granted = sum(sum(c.backend.quota_leases) for c in containers)
        over = max(0, outcome.allowed - QUOTA)
        unused = QUOTA - outcome.allowed
        bound = n * largest
        result.add(
            f"quota {QUOTA:,}/day, {label}",
            f"allowed {outcome.allowed:,} (over: {over}); unused {unused:,} (leased {granted:,}); "
            f"largest lease {largest:,}, so containers x lease = {bound:,}",
            "0 over; unused <= containers x lease",
            over == 0 and unused <= bound,
        )
        quotas[label] = {"allowed": outcome.allowed, "unused": unused, "largest_lease": largest, "bound": bound}
    result.data["quota"] = quotas

    # -- warm decision: a limited client when no lease or flush is due -----------------------------------
    _warm(bench, result, issue)

    result.notes.append(
        f"Accuracy: one client offered {OVERLOAD:g}x its rate, spread at random over 4 or 16 containers (each a "
        f"`TokenAuthorizer` with its own manual clock and DynamoDB client, all sharing the emulator's table; the "
        f"DynamoDB calls are real ones over loopback). The ideal is the token bucket's own bound, rate x t + "
        f"burst; the documented bound adds containers x lease (allowances out on lease, each lease about "
        f"usage.LEASE_WINDOW = {usage.LEASE_WINDOW:g} s of a container's demand). Under contention a container "
        f"that gets less than it asked for waits about a lease window before asking again, so the calls per "
        f"allowed request are bounded by attempts, not by requests. A rate above usage.SHARD_RATE "
        f"({usage.SHARD_RATE:g}/s) is split into shards; each container starts on one at random and moves to the "
        f"next when its shard runs short, so even one container gets the whole rate."
    )
    result.notes.append(
        f"Cost: one container serving a client whose limit never binds ({ROOMY_RATE:,.0f}/s), at 100 and 1,000 "
        f"requests a second for {SECONDS:g} s; every request a container's botocore clients send is counted by "
        "operation and partition (`bench/tables.py`), so a refused conditional write counts (AWS bills it as a "
        f"write too). A lease covers about {usage.LEASE_WINDOW:g} s of the container's demand, and each client's "
        f"counts are written every usage.FLUSH_SECONDS = {usage.FLUSH_SECONDS:g} s. Besides its usage writes, "
        "every serving container reads the change feed once a second, looks each client up in the digest index "
        "once per TTL, and writes each client's last use once an hour; a client without a policy costs only those."
    )
    result.notes.append(
        f"Quota: {QUOTA:,} a day, offered until it has refused for 5 simulated seconds. A quota is never "
        f"exceeded (each lease is a conditional increment of the period's counter); 'unused' is what is still out "
        f"on leases (a quota lease lasts until its period ends, so a container that sees the client again spends "
        f"it; one that stops loses it), against the documented bound containers x lease."
    )


def _shard_spread(containers: list[Container], shards: int) -> list[int]:
    """How many of the containers start on each shard of a sharded bucket."""
    spread = [0] * shards
    for container in containers:
        spread[int(container.authorizer.usage._shard_seed * shards)] += 1
    return spread


def _warm(bench: Bench, result: Any, issue: Callable[..., Client]) -> None:
    """The handler on a full payload 2.0 event, as section 1 measures it, for a client without a policy,
    one with a rate limit, and one with a rate limit, a quota and an allowlist. The clock moves 1 ms a
    call (1,000 requests a second, well under the limits), so leases and flushes come due as they would;
    the samples during which a DynamoDB call was made (counted at the emulator) are reported apart."""
    from tokengate.local.runtime import load_module_copy
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.records.model import Quota, RateLimit
    from tokengate_core.runtime.aws import make_store

    cfg = bench.cfg
    clients = {
        "no policy": issue("warm-free"),
        "rate limit": issue("warm-rate", rate_limit=RateLimit(requests_per_second=ROOMY_RATE, burst=ROOMY_BURST)),
        "rate limit, quota and allowlist": issue(
            "warm-all",
            rate_limit=RateLimit(requests_per_second=ROOMY_RATE, burst=ROOMY_BURST),
            quota=Quota(limit=10**9, period="month"),
            allowed_cidrs=["198.51.100.0/24", "203.0.113.0/24"],
        ),
    }
    with quiet():
        app = load_module_copy("authorizer.app")
    clock = ManualClock(time.time())
    settings = app.settings
    # The handler decides with the module's `authorizer`: this one runs on the manual clock.
    setattr(app, "authorizer", TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock))  # noqa: B010
    handler: Callable[[Any, Any], dict[str, Any]] = app.handler
    n = cfg.warm_requests * cfg.rounds
    em = bench.emulator
    stats: dict[str, dict[str, Any]] = {}
    for label, client in clients.items():
        event = authorizer_event(client.header)
        with quiet():
            for _ in range(2_000):  # fills the cache, takes the first leases, warms the interpreter
                clock.now += 0.001
                handler(event, None)
            quiet_ns: list[int] = []
            busy_ns: list[int] = []
            refused = 0
            say(f"  usage: warm, {label}: {n:,} handler calls")
            for _ in range(n):
                clock.now += 0.001
                before = em.dynamodb_calls()
                t0 = time.perf_counter_ns()
                answer = handler(event, None)
                elapsed = time.perf_counter_ns() - t0
                (busy_ns if em.dynamodb_calls() != before else quiet_ns).append(elapsed)
                refused += not answer.get("isAuthorized")
        if refused:
            raise RuntimeError(f"warm client ({label}) was refused {refused} times: its limit binds, a setup error")
        stats[label] = {"quiet": Stats.of_ns(quiet_ns), "busy": Stats.of_ns(busy_ns)}
    free, rate, full = (stats[k]["quiet"] for k in clients)
    result.add("warm handler, client without a policy", free.text(), "< 50 µs median", free.median_us < 50)
    result.add(
        "warm handler, rate-limited client, no lease or flush due",
        rate.text(),
        "< 60 µs median",
        rate.median_us < 60,
    )
    result.add("warm handler, rate limit + quota + allowlist, none due", full.text())
    for label in ("rate limit", "rate limit, quota and allowlist"):
        busy: Stats = stats[label]["busy"]
        share = 100 * busy.n / max(1, busy.n + stats[label]["quiet"].n)
        result.add(
            f"  {label}: calls that took a lease or flushed ({share:.1f}%)",
            busy.text(),
        )
    result.data["warm"] = {k: {kk: vv.__dict__ for kk, vv in v.items()} for k, v in stats.items()}
    result.notes.append(
        f"Warm: `authorizer.app.handler` (a private copy of the module, its `TokenAuthorizer` on a manual clock "
        f"moving 1 ms per call) on the full payload 2.0 event of section 1, {n:,} single calls per client timed "
        f"with `perf_counter_ns`, logs to /dev/null, gc on. A limited client's decision adds the allowlist "
        f"check, the local lease and the hourly count to the unlimited one's: "
        f"{fmt_us(free.median_us)} without a policy, {fmt_us(rate.median_us)} with a rate limit, "
        f"{fmt_us(full.median_us)} with all three. The calls that took a lease or wrote counts include a "
        f"DynamoDB round trip to the emulator on loopback."
    )
