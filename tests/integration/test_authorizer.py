"""The authorizer against the embedded Secrets Manager: every outcome, cost bounds, caching, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import FakeClock, authorizer_event, call_admin, forged, issue, minted
from tokengate.emulator import Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS, FEED_INTERVAL_SECONDS
from tokengate_core.runtime.aws import make_store
from tokengate_core.runtime.observability import (
    DIMENSION_REASON,
    DIMENSION_SERVICE,
    DIMENSION_TENANT,
    METRIC_AUTHORIZED,
    METRIC_CACHE_HIT,
    METRIC_DENIED,
    METRIC_INDEX_FETCH,
    NAMESPACE,
)
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=time.time())


def make_authorizer(clock: FakeClock, **overrides: float) -> TokenAuthorizer:
    settings = AuthorizerSettings(**{"negative_cache_ttl_seconds": 10, **overrides})
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock)


@pytest.fixture
def authz(clock: FakeClock) -> TokenAuthorizer:
    return make_authorizer(clock)


@pytest.fixture
def handler() -> Iterator[object]:
    from authorizer import app

    app.authorizer.reset()
    yield app.handler
    app.authorizer.reset()


def decide(authz: TokenAuthorizer, header: str | None, route: str = "ANY /invoke", method: str = "GET") -> Reason:
    return authz.decide(header, method, route).reason


# -- outcomes ---------------------------------------------------------------------------------------


def test_valid_token_is_allowed_raw_and_as_bearer(handler: object) -> None:
    client_id, token = issue("acme", "ci-bot", scopes=["ANY /invoke"])
    for header in (token, f"Bearer {token}", f"bearer {token}"):
        response = handler(authorizer_event(header), None)  # type: ignore[operator]
        assert response == {
            "isAuthorized": True,
            "context": {
                "tenant": "acme",
                "client_id": client_id,
                "client_name": "ci-bot",
                "scopes": "ANY /invoke",
                "token_status": "current",
            },
        }


def test_fragments_and_garbage_are_denied_without_exception(handler: object, emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "ci-bot")
    # A warm container: it has loaded the keyring (the map of imported tokens included) once.
    assert handler(authorizer_event(token), None)["isAuthorized"] is True  # type: ignore[operator]
    emulator.reset_counts()
    hostile = [
        token[:-1],
        token[1:],
        token[10:40],
        "t",
        token[:3],
        token + "x",
        "",
        " ",
        "\t\n",
        "x" * 10_240,
        "tg_" + "é" * 66,
        token[:-7] + "\x00" + token[-6:],
        "Bearer ",
        f"Bearer {token[:-2]}",
        token.upper(),
    ]
    for header in hostile:
        assert handler(authorizer_event(header), None) == {"isAuthorized": False}  # type: ignore[operator]
    assert emulator.calls("GetSecretValue") == 0, "malformed tokens must never reach Secrets Manager"


def test_every_denial_reason(authz: TokenAuthorizer, clock: FakeClock) -> None:
    soon = datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=1)
    _, token = issue("acme", "good", scopes=["GET /invoke"])
    disabled_id, disabled = issue("acme", "disabled")
    _, expiring = issue("acme", "expiring", expires_at=soon.isoformat())
    revoked_id, revoked = issue("acme", "revoked")
    assert call_admin("PATCH", f"/admin/tenants/acme/clients/{disabled_id}", {"enabled": False}).status == 200
    assert call_admin("DELETE", f"/admin/tenants/acme/clients/{revoked_id}").status == 200

    key_id = tokens.parse(token).key_id
    assert decide(authz, None) is Reason.MISSING
    assert decide(authz, "garbage") is Reason.MALFORMED
    assert decide(authz, token[:-6] + tokens.checksum(token[:-6] + "z")) is Reason.BAD_CHECKSUM
    assert decide(authz, forged(key_id)) is Reason.FORGED
    assert decide(authz, forged(tokens.new_key_id())) is Reason.FORGED
    assert decide(authz, minted(key_id)) is Reason.WRONG_SECRET
    assert decide(authz, minted(tokens.new_key_id())) is Reason.UNKNOWN_KEY_ID
    assert decide(authz, disabled) is Reason.DISABLED
    assert decide(authz, revoked) is Reason.REVOKED
    assert decide(authz, token, route="ANY /invoke", method="POST") is Reason.OUT_OF_SCOPE
    assert decide(authz, token, route="ANY /other", method="GET") is Reason.OUT_OF_SCOPE
    assert decide(authz, token) is Reason.ALLOWED
    assert decide(authz, expiring) is Reason.ALLOWED
    clock.advance(3601)
    assert decide(authz, expiring) is Reason.EXPIRED


def test_wrong_tenant_context_never_leaks(authz: TokenAuthorizer) -> None:
    _, a = issue("acme", "bot")
    _, b = issue("globex", "bot")
    da = authz.decide(a, "GET", "ANY /invoke")
    db = authz.decide(b, "GET", "ANY /invoke")
    assert da.context and da.context["tenant"] == "acme"
    assert db.context and db.context["tenant"] == "globex"
    assert da.key_id != db.key_id


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "string",
        42,
        {},
        {"headers": None},
        {"headers": 5},
        {"headers": {"authorization": 7}},
        {"headers": {"authorization": None}},
        {"headers": {"Authorization": "Bearer x"}, "requestContext": "nope"},
        {"headers": {"authorization": "x"}, "routeKey": {"a": 1}},
    ],
)
def test_malformed_events_deny_and_never_raise(handler: object, event: object) -> None:
    assert handler(event, None) == {"isAuthorized": False}  # type: ignore[operator]


def test_internal_error_fails_closed(handler: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from authorizer import app

    _, token = issue("acme", "bot")

    def explode(*_: object) -> None:
        raise RuntimeError("boom " + token)

    monkeypatch.setattr(app.authorizer, "decide", explode)
    assert handler(authorizer_event(token), None) == {"isAuthorized": False}  # type: ignore[operator]


# -- cost ---------------------------------------------------------------------------------------------


def test_n_valid_requests_for_k_clients_cost_at_most_k_calls(
    authz: TokenAuthorizer, emulator: SecretsManagerEmulator, clock: FakeClock
) -> None:
    issued = [issue("acme", f"client-{i}")[1] for i in range(5)]
    emulator.reset_counts()
    for i in range(500):
        assert decide(authz, issued[i % 5]) is Reason.ALLOWED
        clock.advance(0.01)  # 5 s in all: well inside one TTL
    assert emulator.calls("GetSecretValue") == 1  # the keyring: clients are never read from their secrets
    assert emulator.calls("dynamodb:GetItem") == 5 + 1  # one index read per client, the feed's head once
    assert emulator.calls("dynamodb:Query") <= 6  # the feed, at most once a second


def test_malformed_tokens_cost_nothing(authz: TokenAuthorizer, emulator: SecretsManagerEmulator) -> None:
    valid = minted(tokens.new_key_id())
    emulator.reset_counts()
    for i in range(2000):
        authz.decide(valid[: i % 69] if i % 2 else valid[:-1] + "!", "GET", "ANY /invoke")
    assert emulator.calls() == 0


def test_unknown_key_ids_cost_one_call_each_per_negative_ttl(
    authz: TokenAuthorizer, emulator: SecretsManagerEmulator, clock: FakeClock
) -> None:
    """Minted tokens whose client is gone (purged): only tokengate can make these."""
    guesses = [minted(tokens.new_key_id()) for _ in range(3)]
    authz.decide(forged(tokens.new_key_id()), "GET", "ANY /invoke")  # loads the keyring
    emulator.reset_counts()
    for _ in range(100):
        for guess in guesses:
            assert decide(authz, guess) is Reason.UNKNOWN_KEY_ID
    assert emulator.calls("dynamodb:GetItem") == 3 + 1  # and the feed's head, once
    clock.advance(10.1)  # negative TTL elapsed: each id is looked up once more
    for guess in guesses:
        assert decide(authz, guess) is Reason.UNKNOWN_KEY_ID
    assert emulator.calls("dynamodb:GetItem") == 6 + 1 and emulator.calls("GetSecretValue") == 0


def test_boto3_client_is_built_once_and_only_when_needed(clock: FakeClock) -> None:
    built: list[int] = []
    settings = AuthorizerSettings()

    def factory():  # type: ignore[no-untyped-def]
        built.append(1)
        return make_store(settings)

    authz = TokenAuthorizer(settings, store_factory=factory, clock=clock)
    authz.decide("garbage", "GET", "ANY /invoke")
    assert built == []
    for _ in range(3):
        authz.decide(forged(tokens.new_key_id()), "GET", "ANY /invoke")
    assert built == [1]


# -- caching bounds revocation; stale-if-error -----------------------------------------------------------


def test_revocation_takes_effect_at_the_next_feed_read(authz: TokenAuthorizer, clock: FakeClock) -> None:
    client_id, token = issue("acme", "bot")
    assert decide(authz, token) is Reason.ALLOWED
    assert call_admin("DELETE", f"/admin/tenants/acme/clients/{client_id}").status == 200
    assert decide(authz, token) is Reason.ALLOWED  # the feed was read less than a second ago
    clock.advance(FEED_INTERVAL_SECONDS)
    assert decide(authz, token) is Reason.REVOKED  # though the cached entry lives an hour
    assert call_admin("POST", f"/admin/tenants/acme/clients/{client_id}/restore").status == 200
    clock.advance(FEED_INTERVAL_SECONDS)
    assert decide(authz, token) is Reason.ALLOWED


def test_without_the_feed_a_revocation_takes_effect_within_the_fallback_bound(
    authz: TokenAuthorizer, clock: FakeClock, emulator: SecretsManagerEmulator
) -> None:
    """The feed unreadable (its Query failing), the index readable: a cached client lives its long
    TTL for FEED_FALLBACK_SECONDS after the last feed read, then the fallback TTL."""
    client_id, token = issue("acme", "bot")
    assert decide(authz, token) is Reason.ALLOWED
    emulator.inject(Fault("error", frozenset({"Query"}), service="dynamodb"))
    assert call_admin("DELETE", f"/admin/tenants/acme/clients/{client_id}").status == 200
    bound = FEED_FALLBACK_SECONDS + AuthorizerSettings().fallback_ttl_seconds
    allowed_until = 0.0
    for tick in range(int(bound) + 5):
        if decide(authz, token) is Reason.ALLOWED:
            allowed_until = float(tick)
        clock.advance(1.0)
    assert 0 < allowed_until < bound  # denied within the documented bound, not before the feed gave out
    assert decide(authz, token) is Reason.REVOKED


def test_stale_entry_answers_while_backend_fails_up_to_max_staleness(
    emulator: SecretsManagerEmulator, clock: FakeClock
) -> None:
    authz = make_authorizer(clock, max_stale_seconds=120, sm_max_attempts=1)
    _, token = issue("acme", "bot")
    _, uncached = issue("acme", "other")
    assert decide(authz, token) is Reason.ALLOWED
    for kind in ("throttle", "error"):
        emulator.inject(Fault(kind, service="dynamodb"))
        clock.advance(31)  # no feed read for 10 s, so the fallback TTL: a refetch is attempted and fails
        assert authz.decide(token, "GET", "ANY /invoke").cache == "stale"
        assert decide(authz, token) is Reason.ALLOWED
        assert decide(authz, uncached) is Reason.BACKEND_UNAVAILABLE
    clock.advance(60)  # now 122 s since the last successful fetch
    assert decide(authz, token) is Reason.BACKEND_UNAVAILABLE
    emulator.inject(None)
    clock.advance(10.1)  # the backoff after the last failure: one negative TTL
    assert decide(authz, token) is Reason.ALLOWED


def test_a_hanging_backend_is_cut_off_by_the_read_timeout(emulator: SecretsManagerEmulator, clock: FakeClock) -> None:
    """The timeout ends the wait, not the backend: a call that hangs for 30 s is given up well before
    (the bound is a budget of 1 x 0.5 s; the assertion only proves the hang did not run out)."""
    authz = make_authorizer(clock, sm_read_timeout_seconds=0.5, sm_max_attempts=1)
    _, token = issue("acme", "bot")
    emulator.inject(Fault("hang", hang_seconds=30.0))
    started = time.monotonic()
    try:
        assert decide(authz, token) is Reason.BACKEND_UNAVAILABLE
        assert time.monotonic() - started < 15
    finally:
        emulator.inject(None)
        emulator.wait_idle()


def test_grace_window_after_rotation(authz: TokenAuthorizer, clock: FakeClock) -> None:
    client_id, old = issue("acme", "bot", grace_seconds=600)
    response = call_admin("POST", f"/admin/tenants/acme/clients/{client_id}/rotate")
    assert response.status == 200
    new = response.body["token"]
    assert new != old
    assert decide(authz, new) is Reason.ALLOWED
    assert authz.decide(old, "GET", "ANY /invoke").grace is True
    assert decide(authz, old) is Reason.ALLOWED
    clock.advance(601)
    assert decide(authz, old) is Reason.WRONG_SECRET
    assert decide(authz, new) is Reason.ALLOWED


# -- logs -------------------------------------------------------------------------------------------------


def test_no_log_line_carries_a_token_or_header(handler: object, captured_logs: Callable[[], str]) -> None:
    client_id, token = issue("acme", "bot", scopes=["GET /invoke"])
    rotated = call_admin("POST", f"/admin/tenants/acme/clients/{client_id}/rotate").body["token"]
    wrong = minted(tokens.parse(token).key_id)
    for header in (token, f"Bearer {rotated}", wrong, wrong[:-1], "x" * 300):
        for method in ("GET", "POST"):
            handler(authorizer_event(header, method=method), None)  # type: ignore[operator]
    logs = captured_logs()
    assert "authorization decision" in logs
    assert '"reason":"wrong_secret"' in logs
    for secret in (token, rotated, wrong, wrong[:-1], token[25:60], rotated[25:60]):
        assert secret not in logs


def test_a_rotated_token_works_at_once_even_while_the_old_record_is_cached(
    authz: TokenAuthorizer, clock: FakeClock, emulator: SecretsManagerEmulator
) -> None:
    client_id, old = issue("acme", "bot", grace_seconds=600)
    assert decide(authz, old) is Reason.ALLOWED  # the pre-rotation record is now cached
    new = call_admin("POST", f"/admin/tenants/acme/clients/{client_id}/rotate").body["token"]
    assert authz.decide(new, "GET", "ANY /invoke").cache == "refresh"
    assert decide(authz, new) is Reason.ALLOWED
    assert decide(authz, old) is Reason.ALLOWED  # grace


def test_wrong_secrets_for_a_known_key_id_cost_one_call_per_negative_ttl(
    authz: TokenAuthorizer, clock: FakeClock, emulator: SecretsManagerEmulator
) -> None:
    """Made-up secrets never reach the backend; a genuine but superseded token (one tokengate
    minted for this id) buys one read per negative TTL, across TTL boundaries too."""
    client_id, token = issue("acme", "bot")
    assert decide(authz, token) is Reason.ALLOWED
    emulator.reset_counts()
    for _ in range(200):
        assert decide(authz, forged(client_id)) is Reason.FORGED
    assert emulator.calls() == emulator.dynamodb_calls() == 0
    superseded = minted(client_id)
    for _ in range(200):  # 100 s: ten negative TTLs
        assert decide(authz, superseded) is Reason.WRONG_SECRET
        clock.advance(0.5)
    assert emulator.calls("dynamodb:GetItem") <= 10
    assert decide(authz, token) is Reason.ALLOWED


def test_a_failing_backend_costs_one_call_per_key_per_interval(
    emulator: SecretsManagerEmulator, clock: FakeClock
) -> None:
    authz = make_authorizer(clock, max_stale_seconds=300, sm_max_attempts=1)
    _, token = issue("acme", "bot")
    assert decide(authz, token) is Reason.ALLOWED
    emulator.inject(Fault("throttle", service="dynamodb"))
    emulator.reset_counts()
    clock.advance(31)
    for _ in range(100):
        assert decide(authz, token) is Reason.ALLOWED  # stale, without a call per request
    assert (emulator.calls("dynamodb:GetItem"), emulator.calls("dynamodb:Query")) == (1, 1)
    clock.advance(10.1)
    assert decide(authz, token) is Reason.ALLOWED
    assert (emulator.calls("dynamodb:GetItem"), emulator.calls("dynamodb:Query")) == (2, 2)
    emulator.inject(None)
    clock.advance(10.1)
    # Recovered: the feed is read again (nothing changed), so the entry lives its long TTL again.
    assert authz.decide(token, "GET", "ANY /invoke").cache == "hit"
    assert emulator.calls("dynamodb:Query") == 3


def test_index_and_feed_reads_make_one_attempt(emulator: SecretsManagerEmulator, clock: FakeClock) -> None:
    authz = make_authorizer(clock, sm_max_attempts=2)
    token = minted(tokens.new_key_id())  # creates the keyring
    authz.decide(forged(tokens.new_key_id()), "GET", "ANY /invoke")  # loads it
    emulator.reset_counts()
    emulator.inject(Fault("error", service="dynamodb"))
    assert decide(authz, token) is Reason.BACKEND_UNAVAILABLE
    assert emulator.calls("dynamodb:GetItem") == 2  # the feed's head, then the index: once each


def decision_lines(captured_logs: Callable[[], str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in captured_logs().splitlines() if '"authorization decision"' in x]


def emf_metrics(line: dict[str, Any]) -> dict[str, list[list[str]]]:
    """What CloudWatch extracts from one EMF line: metric name -> its dimension sets, checking on
    the way that every metric and dimension named is a top-level member of the line."""
    extracted: dict[str, list[list[str]]] = {}
    for directive in line["_aws"]["CloudWatchMetrics"]:
        assert directive["Namespace"] == NAMESPACE
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(line[key], str) for key in dimension_set), dimension_set
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int) and metric["Unit"] == "Count"
            extracted[metric["Name"]] = directive["Dimensions"]
    return extracted


def test_each_decision_is_one_log_line_that_is_also_an_emf_metric(
    handler: object, captured_logs: Callable[[], str]
) -> None:
    _, token = issue("acme", "bot")
    handler(authorizer_event(token), None)  # type: ignore[operator]
    handler(authorizer_event(token), None)  # type: ignore[operator]
    handler(authorizer_event("garbage"), None)  # type: ignore[operator]
    lines = decision_lines(captured_logs)
    assert [line["reason"] for line in lines] == ["allowed", "allowed", "malformed"]
    by_reason = [[DIMENSION_SERVICE, DIMENSION_REASON]]
    by_service = [[DIMENSION_SERVICE]]
    # A miss, then a hit: each looked its key id up, so each also counts toward the hit ratio.
    assert emf_metrics(lines[0]) == {
        METRIC_AUTHORIZED: by_reason,
        METRIC_CACHE_HIT: by_service,
        METRIC_INDEX_FETCH: by_service,
    }
    assert (lines[0][METRIC_CACHE_HIT], lines[0][METRIC_INDEX_FETCH]) == (0, 1)
    assert (lines[1][METRIC_CACHE_HIT], lines[1][METRIC_INDEX_FETCH]) == (1, 0)
    # A token that never reached the cache is no lookup: neither a hit nor a miss.
    assert emf_metrics(lines[2]) == {METRIC_DENIED: by_reason}
    # Per-tenant metrics are off by default; the tenant is still in the log line.
    assert lines[0]["tenant"] == "acme" and lines[0][DIMENSION_TENANT] == "acme"


def test_the_per_tenant_dimension_set_is_opt_in(
    handler: object, captured_logs: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from authorizer import app

    monkeypatch.setattr(app, "settings", app.settings.replace(metric_tenant_dimension=True))
    _, token = issue("acme", "bot")
    handler(authorizer_event(token), None)  # type: ignore[operator]
    handler(authorizer_event("garbage"), None)  # type: ignore[operator]
    with_tenant, without = (emf_metrics(line) for line in decision_lines(captured_logs))
    assert with_tenant[METRIC_AUTHORIZED] == [
        [DIMENSION_SERVICE, DIMENSION_REASON],
        [DIMENSION_SERVICE, DIMENSION_TENANT],
    ]
    assert without[METRIC_DENIED] == [[DIMENSION_SERVICE, DIMENSION_REASON]]  # no tenant known: no tenant set


def test_the_metrics_go_to_the_configured_namespace(
    handler: object, captured_logs: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from authorizer import app

    monkeypatch.setattr(app, "settings", app.settings.replace(metrics_namespace="tokengate/Other"))
    handler(authorizer_event("garbage"), None)  # type: ignore[operator]
    (line,) = decision_lines(captured_logs)
    assert [d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]] == ["tokengate/Other"]


def test_index_fetches_counted_by_the_metric_are_the_calls_made(
    handler: object,
    captured_logs: Callable[[], str],
    emulator: SecretsManagerEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Misses and the refetch after a rotation each cost one index GetItem and count one fetch;
    hits cost none and count none: the metric and the bill agree while DynamoDB is healthy."""
    from authorizer import app

    # A fresh container: no refetch budget spent by an earlier test on these key ids.
    # Its clock stands still: the feed is read once, so the rotation below is found by the refetch.
    frozen = FakeClock(now=time.time())
    monkeypatch.setattr(app, "authorizer", TokenAuthorizer(app.settings, lambda: make_store(app.settings), frozen))
    client_id, old = issue("acme", "bot", grace_seconds=600)
    _, other = issue("acme", "other")
    unknown = minted(tokens.new_key_id())
    app.authorizer.decide(forged(tokens.new_key_id()), "GET", "ANY /invoke")  # the container's keyring read
    emulator.reset_counts()
    for header in (old, old, other, other, old):
        handler(authorizer_event(header), None)  # type: ignore[operator]
    calls = emulator.calls("dynamodb:GetItem") - 1  # a fresh container reads the feed's head once
    new = call_admin("POST", f"/admin/tenants/acme/clients/{client_id}/rotate").body["token"]
    emulator.reset_counts()  # the admin function's own reads are not the authorizer's
    for header in (new, new, old, unknown):
        handler(authorizer_event(header), None)  # type: ignore[operator]
    calls += emulator.calls("dynamodb:GetItem")
    lines = decision_lines(captured_logs)
    assert [line["cache"] for line in lines] == ["miss", "hit", "miss", "hit", "hit", "refresh", "hit", "hit", "miss"]
    assert sum(line[METRIC_INDEX_FETCH] for line in lines) == calls == 4
    assert sum(line[METRIC_CACHE_HIT] for line in lines) == 5
