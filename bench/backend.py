"""Section 2: Secrets Manager calls per N requests, counted at the emulator (what AWS would bill).

The authorizer here is ``TokenAuthorizer`` with the production default TTLs (30 s, negative 10 s,
stale 300 s) and the real boto3 store, driven by a manual clock, so "within one TTL" is exact and
does not depend on how fast this machine is. The handler only adapts events around this object.
"""

from __future__ import annotations

import math
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import baseline
from bench.common import say
from bench.context import Bench
from tokengate.emulator import Fault
from tokengate.testing.gateway_events import authorizer_event

TITLE = "2. Backend calls"


@dataclass
class ManualClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Outcome:
    requests: int
    calls: int
    reasons: Counter[str]
    seconds: float

    @property
    def allowed(self) -> int:
        return self.reasons.get("allowed", 0)

    def per_10k(self) -> float:
        return self.calls * 10_000 / self.requests if self.requests else math.nan


def _stores() -> tuple[Any, Any]:
    """A store that keeps what it fetched (the scale section reuses the records) and the settings."""
    from tokengate_core.deployment.config import AuthorizerSettings
    from tokengate_core.records.model import ClientRecord
    from tokengate_core.records.store import SecretsStore
    from tokengate_core.runtime.aws import secretsmanager_client

    settings = AuthorizerSettings()  # production defaults, not the benchmark process's environment

    class RecordingStore(SecretsStore):
        records: dict[str, ClientRecord]

        def get(self, key_id: str, *, version_id: str | None = None, stage: str | None = None) -> ClientRecord:
            record = super().get(key_id, version_id=version_id, stage=stage)
            self.records[key_id] = record
            return record

    store = RecordingStore(secretsmanager_client(settings), settings.secret_prefix)
    store.records = {}
    return store, settings


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


def _decide_until(authz: Any, headers: list[str], seconds: float) -> Outcome:
    """Decisions for ``headers`` in turn, stopping early after ``seconds`` (a throttled backend
    makes each one slow); the calls are the caller's to count."""
    reasons: Counter[str] = Counter()
    start = time.perf_counter()
    done = 0
    for header in headers:
        reasons[authz.decide(header, "GET", "ANY /invoke", "/dev/invoke").reason.value] += 1
        done += 1
        if time.perf_counter() > start + seconds:
            break
    return Outcome(done, 0, reasons, time.perf_counter() - start)


def _baseline_calls(bench: Bench, events: list[dict[str, Any]], fault: Fault | None, sample: int) -> tuple[int, int]:
    """(GetSecretValue calls, allowed) of the reference design over ``sample`` events."""
    bench.emulator.inject(fault)
    bench.emulator.reset_counts()
    allowed = sum(bool(baseline.handler(events[i % len(events)], None)["isAuthorized"]) for i in range(sample))
    calls = bench.emulator.calls("GetSecretValue")
    bench.emulator.inject(None)
    return calls, allowed


def run(bench: Bench) -> None:
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.tokens import format as tokens
    from tokengate_core.tokens import keyring

    def made_up() -> str:
        """A well-formed token (valid checksum) for a random key id with a tag no key made."""
        return "Bearer " + tokens.generate(tokens.new_key_id(), lambda signed: "0" * tokens.TAG_LENGTH)

    cfg = bench.cfg
    em = bench.emulator
    result = bench.result("backend", TITLE)
    n = cfg.backend_requests
    store, settings = _stores()
    ttl, neg_ttl = settings.cache_ttl_seconds, settings.negative_cache_ttl_seconds

    def scenario(
        headers: list[str | None], span: float, *, warm: list[str] | None = None, fault: Fault | None = None
    ) -> tuple[Outcome, TokenAuthorizer, ManualClock]:
        clock = ManualClock()
        authz = TokenAuthorizer(settings, store_factory=lambda: store, clock=clock)
        authz.decide(made_up(), "GET", "ANY /invoke", "/dev/invoke")  # a container's keyring read, once
        for warm_header in warm or []:
            authz.decide(warm_header, "GET", "ANY /invoke", "/dev/invoke")
        em.inject(fault)
        em.reset_counts()
        start = time.perf_counter()
        reasons: Counter[str] = Counter()
        t0 = clock.now
        for i, header in enumerate(headers):
            clock.now = t0 + span * i / len(headers)
            reasons[authz.decide(header, "GET", "ANY /invoke", "/dev/invoke").reason.value] += 1
        outcome = Outcome(len(headers), em.calls("GetSecretValue"), reasons, time.perf_counter() - start)
        return outcome, authz, clock

    rows: list[dict[str, Any]] = []

    def report(label: str, outcome: Outcome, bound: float | None, target: str) -> None:
        met = None if bound is None else outcome.calls <= bound
        value = (
            f"{outcome.calls:,} calls / {outcome.requests:,} requests "
            f"({outcome.per_10k():,.0f} per 10k); allowed {outcome.allowed:,}"
        )
        result.add(label, value, target, met)
        rows.append({"case": label, "calls": outcome.calls, "requests": outcome.requests, "reasons": outcome.reasons})

    # (a) valid tokens spread over K clients within one TTL (each client is seen at least once).
    done_k: set[int] = set()
    for k in (10, 1_000, 10_000):
        k_eff = min(k, len(bench.clients))
        if k_eff in done_k:
            continue
        done_k.add(k_eff)
        if k_eff < k:
            say(f"  backend: only {k_eff} clients issued; (a) runs with {k_eff} instead of {k}")
        headers: list[str | None] = [bench.clients[i % k_eff].header for i in range(max(n, k_eff))]
        say(f"  backend: (a) {len(headers):,} valid requests over {k_eff:,} clients")
        outcome, _, _ = scenario(headers, span=0.9 * ttl)
        report(f"(a) valid, {k_eff:,} clients, one TTL", outcome, k_eff, f"<= {k_eff:,} (distinct clients)")
    bench.records.update(store.records)

    # (b) malformed: rejected by length/charset/checksum before any I/O.
    valid = bench.clients[0].token
    outcome, _, _ = scenario(_malformed(n, valid), span=0.9 * ttl)
    report("(b) malformed tokens", outcome, 0, "0")

    # (c) well-formed tokens (valid checksum) with made-up key ids: the tag fails, no read at all.
    for ids in (1_000, 10_000):
        forged = [made_up() for _ in range(ids)]
        headers = [forged[i % ids] for i in range(max(n, ids))]
        outcome, _, _ = scenario(headers, span=0.9 * neg_ttl)
        report(f"(c) made-up key ids, {ids:,} ids", outcome, 0, "0 reads (denied offline: no valid tag)")
        result.data[f"made_up_reads_per_1000_{ids}"] = 1000 * outcome.calls / len(headers)

    # (c') tokens tokengate minted whose client is gone (purged): only a deployment key makes these.
    sign = keyring.ensure(store, time.time()).signer(0.0)
    for ids, span in ((10, 0.9 * neg_ttl), (1_000, 0.9 * neg_ttl), (10, 60.0)):
        unknown = [f"Bearer {tokens.generate(tokens.new_key_id(), sign)}" for _ in range(ids)]
        headers = [unknown[i % ids] for i in range(n)]
        windows = max(1, math.ceil(span / neg_ttl))
        outcome, _, _ = scenario(headers, span=span)
        bound = ids * (windows + (1 if windows > 1 else 0))  # a window boundary can split one id's fetches
        label = f"(c') purged clients' ids, {ids:,} ids over {span:g} s"
        report(label, outcome, bound, f"<= {ids:,} per {neg_ttl:g} s negative TTL ({bound:,})")

    # (d) valid tokens while Secrets Manager throttles every call, after warming the cache.
    k_d = min(1_000, len(bench.clients))
    warm = [c.header for c in bench.clients[:k_d]]
    headers = [warm[i % k_d] for i in range(n)]
    outcome, authz, clock = scenario(headers, span=0.9 * ttl, warm=warm, fault=Fault("throttle"))
    report(f"(d) valid, {k_d:,} clients, throttled, within TTL", outcome, 0, "0 (served from cache)")

    # (d') the same cache after the TTL but inside max-stale, 10 clients: the per-key backoff allows
    # one fetch (of up to TOKENGATE_SM_MAX_ATTEMPTS calls) per client per negative TTL.
    stale_clients = 10
    stale_requests = min(n, 40 if cfg.quick else 100)
    clock.now += ttl + 1
    em.reset_counts()
    stale = _decide_until(authz, [warm[i % stale_clients] for i in range(stale_requests)], 10 if cfg.quick else 30)
    stale = Outcome(stale.requests, em.calls("GetSecretValue"), stale.reasons, stale.seconds)
    reasons, done, elapsed = stale.reasons, stale.requests, stale.seconds
    em.inject(None)
    result.add(
        "(d') throttled, past TTL, within max-stale",
        f"{stale.calls:,} calls / {stale.requests:,} requests ({stale.calls / max(1, done):.2f} per request, "
        f"{1000 * elapsed / max(1, done):,.0f} ms each); allowed {stale.allowed:,}",
        f"<= {stale_clients * settings.sm_max_attempts} ({stale_clients} clients x 1 fetch per negative TTL)",
        stale.calls <= stale_clients * settings.sm_max_attempts,
    )
    rows.append({"case": "d'", "calls": stale.calls, "requests": done, "reasons": reasons})

    # The baseline: one GetSecretValue per request whatever comes in (checked on a sample).
    sample = 20
    events = [authorizer_event(c.header) for c in bench.clients[:10]]
    cases = (
        ("valid", events, None),
        ("malformed", [authorizer_event(h) for h in _malformed(sample, valid)], None),
        ("made-up ids", [authorizer_event(made_up())], None),
        ("throttled", events, Fault("throttle")),
    )
    base = {label: _baseline_calls(bench, evs, fault, sample) for label, evs, fault in cases}
    per_request = {label: calls / sample for label, (calls, _) in base.items()}
    result.add(
        "baseline, every case",
        ", ".join(f"{label} {v:.1f}/request" for label, v in per_request.items())
        + f" => ~{10_000 * min(per_request.values()):,.0f}+ per 10k; "
        f"throttled allowed {base['throttled'][1]}/{sample}",
        "10,000 per 10k (reference)",
    )
    result.data.update(rows=[{**r, "reasons": dict(r["reasons"])} for r in rows], baseline=base)
    result.notes.append(
        f"Counted at the emulator (`SecretsManagerEmulator.calls('GetSecretValue')`), so retries count. "
        f"`TokenAuthorizer` with the production defaults (TTL {ttl:g} s, negative TTL {neg_ttl:g} s, "
        f"max stale {settings.max_stale_seconds:g} s, TOKENGATE_SM_MAX_ATTEMPTS {settings.sm_max_attempts}) "
        f"and the real "
        f"boto3 store; a manual clock spreads each scenario's {n:,} requests over the stated span. The baseline "
        f"was checked on {sample} requests per case: it makes a call per request whatever the input "
        f"({', '.join(f'{k}: {c} calls' for k, (c, _) in base.items())}), so 10,000 per 10,000."
    )
    result.notes.append(
        f"(d') past the TTL while Secrets Manager throttles: the stale entry answers (up to max-stale) and "
        f"each key id is retried at most once per negative TTL, each fetch costing up to "
        f"TOKENGATE_SM_MAX_ATTEMPTS={settings.sm_max_attempts} calls (botocore's total_max_attempts, first "
        f"call included): measured {stale.calls} calls for {done} requests over {stale_clients} clients, "
        f"{1000 * elapsed / max(1, done):,.0f} ms per request on average (the first request per client "
        f"carries botocore's retry backoff). Before the backoff, every such request retried the backend."
    )
