"""Hypothesis over whole authorizer events: nothing raises, and nothing but the exact token of an
enabled, unexpired, in-scope client is ever allowed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import authorizer_event, call_admin, forged, issue, minted
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.deployment.config import AdminSettings


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """A fixed set of clients in every state, made once for the whole module."""
    from tests.conftest import _EMULATOR, forget_cached_state

    _EMULATOR.reset()
    _EMULATOR.create_table(AdminSettings().table_name)
    forget_cached_state()  # a new keyring: forget any earlier world
    good_id, good = issue("acme", "good", scopes=["GET /invoke"])
    _, anyroute = issue("acme", "anyroute", scopes=["*"])
    disabled_id, disabled = issue("acme", "disabled")
    call_admin("PATCH", f"/admin/tenants/acme/clients/{disabled_id}", {"enabled": False})
    revoked_id, revoked = issue("acme", "revoked")
    call_admin("DELETE", f"/admin/tenants/acme/clients/{revoked_id}")
    expired_id, expired = issue("acme", "expired", ttl_seconds=60)
    # Expire it by moving expiry into the past through the API's own validation path.
    call_admin("PATCH", f"/admin/tenants/acme/clients/{expired_id}", {"expires_at": "2000-01-01T00:00:00Z"})
    rotated_id, before_rotation = issue("acme", "rotated", grace_seconds=0)
    after_rotation = call_admin("POST", f"/admin/tenants/acme/clients/{rotated_id}/rotate").body["token"]
    return {
        "good": good,
        "anyroute": anyroute,
        "bad": [disabled, revoked, expired, before_rotation, minted(good_id), forged(good_id)],
        "rotated": after_rotation,
        "emulator": _EMULATOR,
    }


header_values = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["Bearer", "Bearer ", "bearer\t", "Basic dXNlcjpwYXNz", "tg_", "\x00", "\u202e"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header_name=st.sampled_from(["authorization", "Authorization", "AUTHORIZATION", "x-authorization", "auth"]),
    value=header_values,
    route=st.sampled_from(["ANY /invoke", "ANY /admin/{proxy+}", "$default", "GET /x", ""]),
    method=st.sampled_from(["GET", "POST", "DELETE", "get", "", "PATCH"]),
    garbage=st.dictionaries(
        st.sampled_from(["headers", "routeKey", "requestContext", "rawPath", "version"]), json_values, max_size=2
    ),
)
def test_arbitrary_events_never_raise_and_never_allow(
    world: dict[str, Any], header_name: str, value: str, route: str, method: str, garbage: dict[str, Any]
) -> None:
    from authorizer import app

    event = authorizer_event(None, route_key=route, method=method)
    event["headers"][header_name] = value
    event.update(garbage)
    response = app.handler(event, None)
    assert response == {"isAuthorized": False}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["good", "anyroute", "bad0", "bad1", "bad2", "bad3", "bad4", "rotated"]),
    edit=st.sampled_from(["none", "prefix", "suffix", "case", "pad"]),
    route=st.sampled_from(["ANY /invoke", "ANY /other"]),
    method=st.sampled_from(["GET", "POST"]),
    scheme=st.sampled_from(["", "Bearer ", "bearer "]),
)
def test_only_the_exact_token_of_a_live_in_scope_client_is_allowed(
    world: dict[str, Any], which: str, edit: str, route: str, method: str, scheme: str
) -> None:
    from authorizer import app

    token = world["bad"][int(which[3])] if which.startswith("bad") else world[which]
    presented = {
        "none": token,
        "prefix": token[:-1],
        "suffix": token[1:],
        "case": token.swapcase(),
        "pad": token + "=",
    }[edit]
    response = app.handler(authorizer_event(scheme + presented, route_key=route, method=method), None)
    in_scope = which in ("anyroute", "rotated") or (route == "ANY /invoke" and method == "GET")
    expected = edit == "none" and which in ("good", "anyroute", "rotated") and in_scope
    assert response["isAuthorized"] is expected, (which, edit, route, method)


def test_hostile_world_costs_bounded_calls(world: dict[str, Any]) -> None:
    """After the property runs, the per-key cache held: far fewer backend calls than decisions."""
    emulator: SecretsManagerEmulator = world["emulator"]
    from authorizer import app

    emulator.reset_counts()
    started = time.monotonic()
    for _ in range(50):
        for token in [world["good"], *world["bad"]]:
            app.handler(authorizer_event(token), None)
    assert time.monotonic() - started < 60  # bounded loop, not a speed target
    # At most one miss plus one mismatch refetch per key id per negative TTL (the loop is far shorter).
    assert emulator.calls("GetSecretValue") <= 2 * (len(world["bad"]) + 1)
