"""GitHub's key list, shared by the leak function's containers through the deployment's table.

GitHub allows 60 unauthenticated requests an hour per address and Lambda's addresses are shared,
so the deployment asks GitHub once per TTL (a minute apart at most while it fails or an alert names
an unknown key), and an alert signed with a key once had verifies whatever GitHub answers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import FakeContext, issue
from tests.support_github import Clock, KeyListEndpoint, SigningKey, alert_body, alert_event
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator
from tokengate_core.deployment.config import LeakSettings
from tokengate_core.lifecycle import github
from tokengate_core.records.github_keys import SharedKeyList
from tokengate_core.runtime.aws import make_shared_key_list

TTL = 3600.0
CURRENT, NEXT = SigningKey("current-key"), SigningKey("next-key")


def container(shared: SharedKeyList, fetch: KeyListEndpoint, clock: Clock) -> github.GitHubKeys:
    """One leak function container's keys, as its cold start builds them."""
    return github.GitHubKeys(
        url="https://api.github.com/meta/public_keys/secret_scanning",
        file=None,
        ttl=TTL,
        timeout=1,
        shared=shared,
        fetch=fetch,
        clock=clock,
    )


@pytest.fixture
def shared(emulator: SecretsManagerEmulator) -> SharedKeyList:
    return make_shared_key_list(LeakSettings())


def test_containers_share_one_copy_and_the_deployment_asks_github_once_per_ttl(shared: SharedKeyList) -> None:
    fetch, clock = KeyListEndpoint(CURRENT), Clock(time.time())
    containers = [container(shared, fetch, clock) for _ in range(5)]
    for _ in range(3):
        assert all(c.key(CURRENT.key_id) is not None for c in containers)
    assert fetch.requests == 1
    fresh = container(shared, fetch, clock)  # a cold start later on reads the shared copy
    assert fresh.key(CURRENT.key_id) is not None and fetch.requests == 1
    clock.now += TTL + 1
    assert all(c.key(CURRENT.key_id) is not None for c in [*containers, fresh])
    assert fetch.requests == 2  # the one container that claimed the refresh
    clock.now += TTL / 2
    assert all(c.key(CURRENT.key_id) is not None for c in containers)
    assert fetch.requests == 2


def test_a_key_added_by_github_is_fetched_once_and_made_up_ids_cost_at_most_one_request_a_minute(
    shared: SharedKeyList,
) -> None:
    fetch, clock = KeyListEndpoint(CURRENT), Clock(time.time())
    containers = [container(shared, fetch, clock) for _ in range(5)]
    assert containers[0].key(CURRENT.key_id) is not None and fetch.requests == 1
    for minute in range(10):
        clock.now += 61
        for c in containers:
            for n in range(20):  # an outsider's made-up key ids, in every container
                assert c.key(f"made-up-{minute}-{n}") is None
    assert fetch.requests <= 1 + 10
    fetch.keys.append(NEXT)
    clock.now += 61
    assert containers[3].key(NEXT.key_id) is not None  # GitHub signs with a key it just added
    asked = fetch.requests
    assert all(c.key(NEXT.key_id) is not None for c in containers)  # the others take the shared copy
    assert fetch.requests == asked


def test_while_github_fails_a_known_key_verifies_in_every_container_even_a_new_one(shared: SharedKeyList) -> None:
    fetch, clock = KeyListEndpoint(CURRENT), Clock(time.time())
    first = container(shared, fetch, clock)
    assert first.key(CURRENT.key_id) is not None
    fetch.failing = True
    asked = fetch.requests
    for hour in range(1, 25):
        clock.now += TTL
        assert first.key(CURRENT.key_id) is not None, hour
        assert container(shared, fetch, clock).key(CURRENT.key_id) is not None, hour  # a cold start
    assert fetch.requests - asked <= 24  # at most one request per refresh due, for the deployment
    fetch.failing = False
    clock.now += 61
    assert first.key(CURRENT.key_id) is not None
    assert container(shared, fetch, clock).key(CURRENT.key_id) is not None


def test_without_the_table_a_container_asks_github_itself(
    emulator: SecretsManagerEmulator, shared: SharedKeyList
) -> None:
    fetch, clock = KeyListEndpoint(CURRENT), Clock(time.time())
    emulator.inject(Fault("error", None, service=DYNAMODB))
    keys = container(shared, fetch, clock)
    assert keys.key(CURRENT.key_id) is not None and fetch.requests == 1
    fetch.failing = True
    clock.now += 2 * TTL
    assert keys.key(CURRENT.key_id) is not None


def test_the_leak_function_verifies_alerts_with_the_shared_copy_of_its_table(
    emulator: SecretsManagerEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leaks import app

    fetch, clock = KeyListEndpoint(CURRENT), Clock(time.time())
    monkeypatch.setattr(app, "keys", container(make_shared_key_list(app.settings), fetch, clock))
    _, token = issue("acme", "leaky")
    body = alert_body(token)

    def deliver() -> Any:
        return app.handler(alert_event(body, CURRENT), FakeContext())["statusCode"]  # type: ignore[arg-type]

    assert deliver() == 200
    fetch.failing = True
    clock.now += 10 * TTL
    # Another container, cold, while GitHub refuses us: the deployment's copy verifies the alert.
    monkeypatch.setattr(app, "keys", container(make_shared_key_list(app.settings), fetch, clock))
    assert deliver() == 200
