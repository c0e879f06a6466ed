"""A revoke reaches a warm authorizer through the change feed: on the local stack (the same code on
the embedded moto DynamoDB), with the deployed cache lifetimes, a client cached for an hour is
denied within 2 s of the admin's 200. A correctness bound (polled with a deadline), not a speed
figure: those are in `make bench`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import write_principals
from tests.e2e.harness import RunningStack, request, start_stack
from tests.e2e.signing import admin

pytestmark = pytest.mark.e2e

#: From the admin's 200 on a revoke to the authorizer's deny.
REVOCATION_BOUND_SECONDS = 2.0


@pytest.fixture(scope="module")
def deployed_ttls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack with the authorizer's default cache lifetimes (an hour while the feed is read)."""
    state_dir = tmp_path_factory.mktemp("feed") / "state"
    write_principals(state_dir)
    running = start_stack(state_dir)
    yield running
    running.stop()


def test_a_revoke_is_denied_within_two_seconds_of_the_admins_answer(deployed_ttls: RunningStack) -> None:
    stack = deployed_ttls
    issued = admin(stack, "POST", "/admin/tenants/feed/clients", {"client_name": "cached"})
    assert issued.status == 201, issued
    token, client_id = issued.body["token"], issued.body["client"]["client_id"]
    invoke = f"{stack.url}/invoke"
    for _ in range(3):  # now cached by the authorizer, for an hour
        assert request("GET", invoke, headers={"Authorization": token}).status == 200

    revoked = admin(stack, "DELETE", f"/admin/tenants/feed/clients/{client_id}")
    assert revoked.status == 200, revoked
    deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
    statuses = []
    while time.monotonic() < deadline:
        statuses.append(request("GET", invoke, headers={"Authorization": token}).status)
        if statuses[-1] == 403:
            break
        time.sleep(0.05)
    assert statuses[-1] == 403, f"still allowed {REVOCATION_BOUND_SECONDS} s after the revoke: {statuses}"
    assert request("GET", invoke, headers={"Authorization": token}).status == 403
