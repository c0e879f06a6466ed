"""Last use: what the authorizer writes (at most once per client, container and interval, nothing on
the warm path otherwise), how containers agree, how DynamoDB's faults are absorbed, and what the
admin API shows, filters and sorts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import FakeClock, call_admin, issue
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.authorize.last_used import INTERVAL_SECONDS, RETRY_SECONDS
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.runtime.aws import make_store

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"
MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()
WRITES = f"{DYNAMODB}:UpdateItem"


def container(clock: FakeClock, *, defer_first_use: bool = False, **overrides: Any) -> TokenAuthorizer:
    settings = AuthorizerSettings(**{"usage_timeout_seconds": 5.0, **overrides})
    return TokenAuthorizer(
        settings, store_factory=lambda: make_store(settings), clock=clock, defer_first_use=defer_first_use
    )


def shown(client_id: str) -> Any:
    response = call_admin("GET", f"{BASE}/{client_id}")
    assert response.status == 200, response.body
    return response.body["last_used_at"]


def at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def test_a_new_client_was_never_used_and_its_first_request_is_shown(emulator: SecretsManagerEmulator) -> None:
    client_id, token = issue("acme", "fresh")
    assert shown(client_id) is None
    clock = FakeClock(now=MORNING)
    assert container(clock).decide(token, "GET", "ANY /invoke").allowed
    assert shown(client_id) == at(MORNING)


def test_one_write_per_client_per_container_per_interval_and_none_on_the_warm_path(
    emulator: SecretsManagerEmulator,
) -> None:
    _, token = issue("acme", "busy")
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    emulator.reset_counts()
    for _ in range(2000):  # 2,000 requests over 40 minutes: one write
        assert authz.decide(token, "GET", "ANY /invoke").allowed
        clock.advance(1.2)
    assert emulator.calls(WRITES) == 1
    clock.advance(INTERVAL_SECONDS)  # the next interval: one more
    for _ in range(100):
        authz.decide(token, "GET", "ANY /invoke")
    assert emulator.calls(WRITES) == 2
    # Everything else it asked DynamoDB was a read: the index item and the change feed.
    reads = emulator.calls(f"{DYNAMODB}:GetItem") + emulator.calls(f"{DYNAMODB}:Query")
    assert emulator.dynamodb_calls() == 2 + reads


def test_a_token_that_does_not_match_is_no_use_but_a_disabled_clients_token_is(
    emulator: SecretsManagerEmulator,
) -> None:
    client_id, token = issue("acme", "probed")
    other_id, other = issue("acme", "paused")
    assert call_admin("PATCH", f"{BASE}/{other_id}", {"enabled": False}).status == 200
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    wrong = token[:-12] + ("A" if token[-12] != "A" else "B") + token[-11:]
    assert not authz.decide(wrong, "GET", "ANY /invoke").allowed
    assert shown(client_id) is None
    assert authz.decide(other, "GET", "ANY /invoke").reason is Reason.DISABLED
    assert shown(other_id) == at(MORNING)


def test_containers_keep_the_latest_use_whatever_order_they_write_in(emulator: SecretsManagerEmulator) -> None:
    client_id, token = issue("acme", "shared")
    late, early = FakeClock(now=MORNING + 600), FakeClock(now=MORNING)
    assert container(late).decide(token, "GET", "ANY /invoke").allowed
    assert container(early).decide(token, "GET", "ANY /invoke").allowed  # older: refused by the condition
    assert shown(client_id) == at(MORNING + 600)


def test_many_containers_write_once_each_at_most(emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "fleet")
    clock = FakeClock(now=MORNING)
    fleet = [container(clock) for _ in range(16)]
    emulator.reset_counts()
    for i in range(1600):
        assert fleet[i % 16].decide(token, "GET", "ANY /invoke").allowed
        clock.advance(0.5)
    assert emulator.calls(WRITES) == 16


def test_a_failing_dynamodb_never_fails_the_decision_is_counted_and_retried_later(
    emulator: SecretsManagerEmulator,
) -> None:
    client_id, token = issue("acme", "unlucky")
    clock = FakeClock(now=MORNING)
    authz = container(clock, usage_timeout_seconds=0.2)
    # The last-use writes fail; the index and the feed still answer.
    emulator.inject(Fault("error", service=DYNAMODB, operations=frozenset({"UpdateItem"})))
    try:
        for _ in range(50):
            assert authz.decide(token, "GET", "ANY /invoke").allowed
        assert authz.last_used.failures == 1  # not one per request: the next try waits
        clock.advance(RETRY_SECONDS)
        assert authz.decide(token, "GET", "ANY /invoke").allowed
        assert authz.last_used.failures == 2
    finally:
        emulator.inject(None)
    clock.advance(RETRY_SECONDS)
    assert authz.decide(token, "GET", "ANY /invoke").allowed
    assert shown(client_id) == at(clock())


def test_a_hanging_dynamodb_costs_one_timeout_and_allows(emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "hung")
    clock = FakeClock(now=MORNING)
    authz = container(clock, usage_timeout_seconds=0.2)
    emulator.inject(Fault("hang", service=DYNAMODB, operations=frozenset({"UpdateItem"}), hang_seconds=1.0))
    try:
        assert authz.decide(token, "GET", "ANY /invoke").allowed
        assert authz.last_used.failures == 1
    finally:
        emulator.inject(None)


def test_the_listing_filters_unused_clients_and_sorts_least_recently_used_first(
    emulator: SecretsManagerEmulator,
) -> None:
    ids = {name: issue("acme", name) for name in ("never", "old", "recent")}
    clock = FakeClock(now=MORNING - 86400 * 30)
    container(clock).decide(ids["old"][1], "GET", "ANY /invoke")
    clock.now = MORNING
    container(clock).decide(ids["recent"][1], "GET", "ANY /invoke")

    page = call_admin("GET", BASE, query={"unused_since": at(MORNING - 86400)})
    assert page.status == 200, page.body
    names = {item["client_name"] for item in page.body["items"]}
    assert names == {"never", "old"}

    page = call_admin("GET", BASE, query={"sort": "last_used_at"})
    assert [item["client_name"] for item in page.body["items"]] == ["never", "old", "recent"]
    assert page.body["items"][2]["last_used_at"] == at(MORNING)


@pytest.mark.parametrize(
    "query",
    [
        {"unused_since": "yesterday"},
        {"unused_since": "2026-11-01T00:00:00"},
        {"sort": "name"},
        {"sort": ""},
    ],
)
def test_a_nonsense_filter_or_sort_is_a_4xx(query: dict[str, str]) -> None:
    response = call_admin("GET", BASE, query=query)
    assert 400 <= response.status < 500, response.body
    assert response.body["code"]


def test_a_failing_read_of_last_use_is_a_503_not_a_wrong_answer(emulator: SecretsManagerEmulator) -> None:
    issue("acme", "listed")
    emulator.inject(Fault("error", operations=frozenset({"BatchGetItem"}), service=DYNAMODB))
    try:
        response = call_admin("GET", BASE, query={"unused_since": at(MORNING)})
    finally:
        emulator.inject(None)
    assert response.status == 503, response.body


def test_the_handlers_first_decision_answers_before_the_write_made_at_the_next_one_or_at_the_end(
    emulator: SecretsManagerEmulator,
) -> None:
    """The authorizer's handler defers a container's first write (defer_first_use): that decision
    costs no write, and the use it saw is stored with its own time by the next decision or drain()."""
    first_id, first = issue("acme", "first")
    second_id, second = issue("acme", "second")
    clock = FakeClock(now=MORNING)
    authz = container(clock, defer_first_use=True)
    emulator.reset_counts()
    assert authz.decide(first, "GET", "ANY /invoke").allowed
    assert emulator.calls(WRITES) == 0 and shown(first_id) is None
    clock.advance(60)
    assert authz.decide(second, "GET", "ANY /invoke").allowed
    assert (shown(first_id), shown(second_id)) == (at(MORNING), at(MORNING + 60))

    ending = container(clock, defer_first_use=True)
    clock.advance(60)
    assert ending.decide(second, "GET", "ANY /invoke").allowed
    assert shown(second_id) == at(MORNING + 60)
    assert ending.drain(0.25) == 0  # Lambda ends the container: its SIGTERM writes the use
    assert shown(second_id) == at(MORNING + 120)
