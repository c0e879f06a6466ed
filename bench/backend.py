"""Section 2: what the request path calls per N requests, per scenario, beside the reference design.

Each scenario is one fresh authorizer container (``TokenAuthorizer`` with the production
defaults: TTL 3600 s while the feed is read, fallback 30 s, negative 10 s, max stale 300 s) on a
manual clock, so "within one TTL" and "past max-stale" are exact and do not depend on how fast
this machine is. What it calls is counted by operation and partition (``bench.tables``): index
GetItem, feed Query and head GetItem, last-use and usage writes, and Secrets Manager reads (a
client's secret apart from the keyring).

The counting scenarios read an in-memory copy of the emulator's index items (``ItemTable``,
DynamoDB's GetItem and Query semantics), so 10,000 clients cost no 10,000 loopback round trips;
the fault scenarios run against the emulator itself with real botocore clients and injected
faults, so a throttled or failing DynamoDB answers as AWS does.
"""

from __future__ import annotations

import math
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench import baseline
from bench.common import quiet, say
from bench.context import Bench
from bench.tables import CallCounter, ItemTable, KeyringSecrets
from tokengate.emulator import DYNAMODB, Fault, FaultKind
from tokengate.testing.gateway_events import authorizer_event

if TYPE_CHECKING:
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.authorize.settings import AuthorizerSettings

TITLE = "2. Backend calls"
#: Requests per simulated second to the one container of a counting scenario: its feed reads are
#: at most one per second, so they are at most span = requests / RATE.
RATE = 100.0
#: The fault scenarios: clients cached before the fault, requests per simulated second, and how
#: long they run (past the stated bound, fallback TTL + max stale = 330 s).
FAULT_CLIENTS = 10
FAULT_RATE = 10.0
FAULT_SPAN_S = 400.0
#: The rows of the count table: (label, count keys summed).
COLUMNS = (
    ("index GetItem", ("GetItem index",)),
    ("feed Query", ("Query feed",)),
    ("feed head", ("GetItem feed",)),
    ("last-use writes", ("UpdateItem used",)),
    ("usage writes", ("UpdateItem usage", "UpdateItem rate", "UpdateItem quota")),
    ("client GetSecretValue", ("GetSecretValue secret", "client")),
    ("keyring GetSecretValue", ("GetSecretValue keyring", "keyring")),
)


@dataclass
class ManualClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Outcome:
    requests: int
    calls: Counter[str]
    reasons: Counter[str]
    seconds: float
    #: simulated seconds from the start of the scenario of the last allowed request, and of the
    #: first request denied after it (fault scenarios)
    last_allowed_s: float = math.nan
    timeline: list[tuple[float, str]] = field(default_factory=list)

    @property
    def allowed(self) -> int:
        return self.reasons.get("allowed", 0)

    def count(self, keys: tuple[str, ...]) -> int:
        return sum(self.calls.get(k, 0) for k in keys)

    def text(self) -> str:
        parts = [f"{label} {self.count(keys):,}" for label, keys in COLUMNS if self.count(keys)]
        return f"{', '.join(parts) or 'no calls'} / {self.requests:,} requests; allowed {self.allowed:,}"


def _malformed(n: int, valid: str) -> list[str | None]:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "_-+/="
    shapes: list[Callable[[], str | None]] = [
        lambda: None,
        lambda: "",
        lambda: "Bearer ",
        lambda: "Bearer " + "".join(rng.choices(alphabet, k=rng.randint(1, 200))),
        lambda: "".join(rng.choices(alphabet, k=len(valid))),
        lambda: valid[: rng.randint(1, len(valid) - 1)],  # truncated
        lambda: valid[:-1] + ("A" if valid[-1] != "A" else "B"),  # bad checksum
        lambda: valid + "x",
        lambda: "Basic dXNlcjpwYXNz",
        lambda: "x" * 10_240,
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]


def _serve(authz: TokenAuthorizer, clock: ManualClock, headers: list[str | None], span: float) -> Outcome:
    """``headers`` in turn, spread evenly over ``span`` simulated seconds."""
    reasons: Counter[str] = Counter()
    timeline: list[tuple[float, str]] = []
    t0 = clock.now
    start = time.perf_counter()
    with quiet():
        for i, header in enumerate(headers):
            clock.now = t0 + span * i / len(headers)
            reason = authz.decide(header, "GET", "ANY /invoke", "/dev/invoke").reason.value
            reasons[reason] += 1
            timeline.append((clock.now - t0, reason))
    allowed = [t for t, r in timeline if r == "allowed"]
    return Outcome(
        len(headers), Counter(), reasons, time.perf_counter() - start, max(allowed, default=math.nan), timeline
    )


def _baseline_calls(bench: Bench, events: list[dict[str, Any]], fault: Fault | None, sample: int) -> tuple[int, int]:
    """(GetSecretValue calls, allowed) of the reference design over ``sample`` events."""
    bench.emulator.inject(fault)
    bench.emulator.reset_counts()
    allowed = sum(bool(baseline.handler(events[i % len(events)], None)["isAuthorized"]) for i in range(sample))
    calls = bench.emulator.calls("GetSecretValue")
    bench.emulator.inject(None)
    return calls, allowed


def _in_memory(
    bench: Bench, settings: AuthorizerSettings
) -> Callable[[], tuple[TokenAuthorizer, ManualClock, ItemTable, KeyringSecrets]]:
    """A fresh container over an in-memory copy of the emulator's index items and the keyring."""
    from bench.scale import index_items
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.records.secret_reader import SecretsReader
    from tokengate_core.tokens import keyring

    source: ItemTable = bench.extra.get("index_items") or index_items(bench)
    bench.extra["index_items"] = source
    name = keyring.secret_name(settings.secret_prefix)
    text = keyring_text_of(bench)

    def container() -> tuple[TokenAuthorizer, ManualClock, ItemTable, KeyringSecrets]:
        clock = ManualClock()
        table = ItemTable(settings.table_name, source.items)  # no feed entries: nothing changes meanwhile
        secrets = KeyringSecrets(name, text)
        reader = SecretsReader(secrets, settings.secret_prefix)  # type: ignore[arg-type]
        authz = TokenAuthorizer(
            settings,
            store_factory=lambda: reader,
            clock=clock,
            dynamodb_factory=lambda: table,  # type: ignore[arg-type, return-value]
            last_used_factory=lambda: table,
        )
        return authz, clock, table, secrets

    return container


def _beyond_keyring(outcome: Outcome) -> int:
    """Calls other than the keyring's read (a container reads it once per refresh interval, to tell
    a forged token or an imported one without any other read)."""
    return sum(v for k, v in outcome.calls.items() if k not in COLUMNS[6][1])


def _counted(table: ItemTable, secrets: KeyringSecrets, outcome: Outcome) -> Outcome:
    outcome.calls = Counter(table.calls) + Counter(secrets.reads)
    return outcome


def run(bench: Bench) -> None:
    from tokengate_core.authorize.settings import AuthorizerSettings
    from tokengate_core.tokens import format as tokens
    from tokengate_core.tokens import keyring

    def made_up() -> str:
        """A well-formed token (valid checksum) for a random key id with a tag no key made."""
        return "Bearer " + tokens.generate(tokens.new_key_id(), lambda signed: "0" * tokens.TAG_LENGTH)

    cfg = bench.cfg
    result = bench.result("backend", TITLE)
    n = cfg.backend_requests
    settings = AuthorizerSettings()  # production defaults, not the benchmark process's environment
    ttl, neg_ttl = settings.cache_ttl_seconds, settings.negative_cache_ttl_seconds
    container = _in_memory(bench, settings)
    rows: list[dict[str, Any]] = []

    def counted(headers: list[str | None], span: float) -> Outcome:
        authz, clock, table, secrets = container()
        return _counted(table, secrets, _serve(authz, clock, headers, span))

    def report(label: str, outcome: Outcome, ok: bool | None, target: str) -> None:
        say(f"  backend: {label}: {outcome.seconds:.1f} s")
        # Side by side: the reference design makes one GetSecretValue per request, whatever it is
        # (checked on a sample below).
        result.add(label, f"{outcome.text()}; reference design: {outcome.requests:,} GetSecretValue", target, ok)
        rows.append(
            {
                "case": label,
                "requests": outcome.requests,
                "calls": dict(outcome.calls),
                "reasons": dict(outcome.reasons),
            }
        )

    client_reads = COLUMNS[5][1]
    index_reads, feed_reads = COLUMNS[0][1], COLUMNS[1][1]

    # (a) valid tokens spread over K clients at RATE per second: within one TTL, each client once.
    for k in sorted({min(k, len(bench.clients)) for k in (10, 1_000, 10_000)}):
        headers: list[str | None] = [bench.clients[i % k].header for i in range(max(n, k))]
        span = len(headers) / RATE
        outcome = counted(headers, span)
        report(
            f"(a) valid, {k:,} clients, {span:g} s at {RATE:g}/s",
            outcome,
            outcome.count(index_reads) <= k
            and outcome.count(feed_reads) <= math.ceil(span)
            and outcome.count(client_reads) == 0
            and outcome.allowed == outcome.requests,
            f"index <= {k:,} (one per client per TTL); feed <= {math.ceil(span):,} (1/s); 0 client GetSecretValue",
        )

    # (b) malformed: rejected by length, charset or checksum before any I/O (the feed included).
    valid = bench.clients[0].token
    outcome = counted(_malformed(n, valid), n / RATE)
    report("(b) malformed tokens", outcome, _beyond_keyring(outcome) == 0, "0 calls but the keyring's")

    # (c) well-formed tokens (valid checksum) with made-up key ids: the tag fails, no read at all.
    for ids in (1_000, 10_000):
        forged = [made_up() for _ in range(ids)]
        outcome = counted([forged[i % ids] for i in range(max(n, ids))], max(n, ids) / RATE)
        report(f"(c) made-up key ids, {ids:,} ids", outcome, _beyond_keyring(outcome) == 0, "0 calls but the keyring's")

    # (c') tokens tokengate minted whose client is gone (purged): only a deployment key makes these.
    sign = keyring.parse(keyring_text_of(bench)).signer(0.0)
    for ids, span in ((10, 0.9 * neg_ttl), (1_000, 0.9 * neg_ttl), (10, 60.0)):
        unknown = [f"Bearer {tokens.generate(tokens.new_key_id(), sign)}" for _ in range(ids)]
        windows = max(1, math.ceil(span / neg_ttl))
        bound = ids * (windows + (1 if windows > 1 else 0))  # a window boundary can split one id's fetches
        outcome = counted([unknown[i % ids] for i in range(n)], span)
        report(
            f"(c') purged clients' ids, {ids:,} ids over {span:g} s",
            outcome,
            outcome.count(index_reads) <= bound and outcome.count(client_reads) == 0,
            f"index <= {ids:,} per {neg_ttl:g} s negative TTL ({bound:,})",
        )

    started = time.perf_counter()
    faults = _faults(bench, settings, result, rows)
    say(f"  backend: (d) faults: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()

    # The baseline: one GetSecretValue per request whatever comes in (checked on a sample).
    # A throttled call is retried with backoff (seconds each), so that case gets fewer requests.
    sample, throttled_sample = 20, 3
    events = [authorizer_event(c.header) for c in bench.clients[:10]]
    cases = (
        ("valid", events, None, sample),
        ("malformed", [authorizer_event(h) for h in _malformed(sample, valid)], None, sample),
        ("made-up ids", [authorizer_event(made_up())], None, sample),
        ("throttled", events, Fault("throttle"), throttled_sample),
    )
    base = {label: _baseline_calls(bench, evs, fault, size) for label, evs, fault, size in cases}
    sizes = {label: size for label, _, _, size in cases}
    say(f"  backend: the reference design: {time.perf_counter() - started:.1f} s")
    per_request = {label: calls / sizes[label] for label, (calls, _) in base.items()}
    result.add(
        "baseline, every case",
        ", ".join(f"{label} {v:.1f} GetSecretValue/request" for label, v in per_request.items())
        + f" => ~{10_000 * min(per_request.values()):,.0f}+ per 10k; "
        f"throttled allowed {base['throttled'][1]}/{throttled_sample}",
        "10,000 per 10k (reference)",
    )
    result.data.update(rows=rows, baseline=base)
    result.notes.append(
        f"One fresh container per scenario: `TokenAuthorizer` with the production defaults (TTL {ttl:g} s while "
        f"the change feed is read, fallback {settings.fallback_ttl_seconds:g} s, negative TTL {neg_ttl:g} s, max "
        f"stale {settings.max_stale_seconds:g} s, one attempt per DynamoDB read) on a manual clock; a valid-token "
        f"scenario spreads its requests at {RATE:g} per simulated second. Counted per call by operation and "
        "partition: index GetItem, feed Query and head GetItem, last-use writes (one per client per hour per "
        "container), usage writes (none: these clients have no usage policy), and Secrets Manager reads, a "
        "client's secret apart from the keyring (read at a container's first decision and every 300 s). The "
        "counting scenarios read an in-memory copy of the emulator's index items with DynamoDB's GetItem and "
        "Query semantics (`bench/tables.py`); the fault scenarios run against the emulator. A client lookup "
        "never reads Secrets Manager: the authorizer's role may read only the keyring. The reference design "
        f"was checked on {sample} requests per case ({throttled_sample} throttled, each retried with backoff): "
        "at least one GetSecretValue per request whatever the input "
        f"({', '.join(f'{k}: {c} calls for {sizes[k]}' for k, (c, _) in base.items())}), so 10,000 per 10,000, "
        "and a throttled Secrets Manager denies everyone."
    )
    result.notes.append(faults)


def keyring_text_of(bench: Bench) -> str:
    from bench.scale import keyring_text

    text: str = bench.extra.setdefault("keyring_text", keyring_text())
    return text


def _faults(bench: Bench, settings: AuthorizerSettings, result: Any, rows: list[dict[str, Any]]) -> str:
    """DynamoDB throttled, then failing (every call answers 500), from the moment the container's
    cache is warm: each client is served from its entry until ``max_stale`` after it was fetched,
    then denied (fail closed), within the stated bound; reads stay at one per client per
    negative TTL and one feed Query per second."""
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.records import feed
    from tokengate_core.records.secret_reader import SecretsReader
    from tokengate_core.runtime.aws import index_client, make_usage_backend, new_session, secretsmanager_client
    from tokengate_core.tokens import keyring

    em = bench.emulator
    clients = bench.clients[:FAULT_CLIENTS]
    warm = [c.header for c in clients]
    requests = int(FAULT_SPAN_S * FAULT_RATE)
    headers: list[str | None] = [warm[i % len(warm)] for i in range(requests)]
    bound = settings.fallback_ttl_seconds + settings.max_stale_seconds
    neg = settings.negative_cache_ttl_seconds
    summary: list[str] = []
    kinds: tuple[tuple[str, FaultKind], ...] = (("throttled", "throttle"), ("down (every call 500)", "error"))
    for label, kind in kinds:
        counter = CallCounter(keyring.secret_name(settings.secret_prefix))
        session = counter.attach(new_session())
        reader = SecretsReader(secretsmanager_client(settings, session), settings.secret_prefix)
        table = index_client(settings, session)
        usage = make_usage_backend(settings, session)
        clock = ManualClock()
        authz = TokenAuthorizer(
            settings,
            store_factory=lambda reader=reader: reader,  # type: ignore[misc]
            clock=clock,
            usage_factory=lambda usage=usage: usage,  # type: ignore[misc]
            dynamodb_factory=lambda table=table: table,  # type: ignore[misc]
            last_used_factory=lambda usage=usage: usage,  # type: ignore[misc]
        )
        with quiet():
            for header in warm:
                authz.decide(header, "GET", "ANY /invoke", "/dev/invoke")
        clock.now += 1.0
        em.inject(Fault(kind, service=DYNAMODB))
        counter.reset()
        try:
            outcome = _serve(authz, clock, headers, FAULT_SPAN_S)
        finally:
            em.inject(None)
        outcome.calls = Counter(counter.calls)
        after = [r for t, r in outcome.timeline if t > bound]
        fetch_bound = len(clients) * (math.ceil(FAULT_SPAN_S / neg) + 1)
        index = outcome.count(COLUMNS[0][1])
        feed_queries = outcome.count(COLUMNS[1][1])
        ok = (
            outcome.last_allowed_s <= bound
            and bool(after)
            and all(r == "backend_unavailable" for r in after)
            and index <= fetch_bound
            and feed_queries <= math.ceil(FAULT_SPAN_S) + 1
            and outcome.count(COLUMNS[5][1]) == 0
        )
        result.add(
            f"(d) DynamoDB {label}, {len(clients)} cached clients, {FAULT_SPAN_S:g} s at {FAULT_RATE:g}/s",
            f"{outcome.text()}; last allowed {outcome.last_allowed_s:.0f} s after the fault began, "
            f"denied from then on ({len(after):,} requests past {bound:g} s: "
            f"{', '.join(f'{k} {v:,}' for k, v in Counter(after).items())}); {outcome.seconds:.1f} s wall",
            f"allowed <= {bound:g} s (fallback TTL + max stale), then denied; index <= {fetch_bound:,} "
            f"(1 per client per {neg:g} s); feed <= 1/s",
            ok,
        )
        rows.append(
            {
                "case": f"d {kind}",
                "requests": outcome.requests,
                "calls": dict(outcome.calls),
                "reasons": dict(outcome.reasons),
            }
        )
        summary.append(f"{label}: last allowed at {outcome.last_allowed_s:.0f} s, {index:,} index reads")
    return (
        f"(d) DynamoDB throttled, then answering 500 to every call, from the moment a container has cached "
        f"{len(clients)} clients (the emulator's faults, real botocore clients, one attempt each): the feed read "
        f"fails every second, so after {feed.FEED_FALLBACK_SECONDS:g} s without one the cache falls back to its "
        f"{settings.fallback_ttl_seconds:g} s TTL; past it each client is served stale-if-error until "
        f"{settings.max_stale_seconds:g} s after its fetch and then denied as backend_unavailable (fail closed), "
        f"within the stated {bound:g} s (fallback TTL + max stale, docs/architecture.md); meanwhile each client "
        f"costs one index read per {neg:g} s negative TTL and its last-use write one attempt per 10 s ("
        + "; ".join(summary)
        + ")."
    )
