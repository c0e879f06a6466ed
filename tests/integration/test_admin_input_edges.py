"""Input at the edges of what the admin API accepts: each value is refused with a 422 before
anything is written, or accepted and then works on every later request; never a 5xx."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support import AdminResponse, call_admin, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.records.model import EARLIEST_TIME, LATEST_TIME

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


def examples(n: int) -> settings:
    """Settings for a property test over the handler: the emulator fixture is shared by its examples."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


#: Every zone offset a timestamp may carry (ISO 8601 allows up to +-23:59; real zones span -12 to +14).
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
#: The ends of datetime's range in every offset, the ends of the accepted range, and anything between.
instants = st.one_of(
    st.builds(lambda o: datetime.min.replace(tzinfo=o), offsets),
    st.builds(lambda o: datetime.max.replace(tzinfo=o), offsets),
    st.sampled_from([EARLIEST_TIME, LATEST_TIME]).flatmap(
        lambda edge: st.sampled_from([edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1)])
    ),
    st.datetimes(timezones=offsets),
)
EDGES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


def in_range(moment: datetime) -> bool:
    return EARLIEST_TIME <= moment <= LATEST_TIME


def refused(response: AdminResponse) -> bool:
    assert response.status < 500, response.body
    if response.status == 422:
        assert response.body["code"] == "validation_error"
        return True
    return False


@examples(60)
@example(moment=datetime.fromisoformat(EDGES[0]))
@example(moment=datetime.fromisoformat(EDGES[1]))
@given(moment=instants)
def test_an_expiry_is_refused_outside_the_range_and_works_everywhere_inside(
    emulator: SecretsManagerEmulator, moment: datetime
) -> None:
    name = f"c-{secrets.token_hex(4)}"
    emulator.reset_counts()
    created = call_admin("POST", BASE, {"client_name": name, "expires_at": moment.isoformat()})
    assert refused(created) is not in_range(moment), created.body
    if not in_range(moment):
        assert emulator.calls() == 0  # nothing written, nothing even read
        assert call_admin("GET", BASE, query={"name": name}).body["items"] == []
        return
    assert created.status == 201, created.body
    client_id = created.body["client"]["client_id"]
    # Every later request on the client works, the expiry shown as the same instant.
    shown = call_admin("GET", f"{BASE}/{client_id}")
    assert shown.status == 200 and datetime.fromisoformat(shown.body["expires_at"]) == moment
    assert call_admin("PATCH", f"{BASE}/{client_id}", {"expires_at": moment.isoformat()}).status == 200
    assert call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False}).status == 200
    assert call_admin("POST", f"{BASE}/{client_id}/rotate").status == 200
    assert call_admin("GET", BASE, query={"name": name}).status == 200


@examples(40)
@given(moment=instants)
def test_an_update_to_an_expiry_outside_the_range_is_refused_and_changes_nothing(
    emulator: SecretsManagerEmulator, moment: datetime
) -> None:
    client_id, _ = issue("acme", f"c-{secrets.token_hex(4)}")
    emulator.reset_counts()
    response = call_admin("PATCH", f"{BASE}/{client_id}", {"expires_at": moment.isoformat()})
    assert refused(response) is not in_range(moment), response.body
    if not in_range(moment):
        assert emulator.calls() == 0


@examples(60)
@example(moment=datetime.fromisoformat(EDGES[0]), end="to")
@example(moment=datetime.fromisoformat(EDGES[1]), end="to")
@example(moment=datetime.fromisoformat(EDGES[0]), end="from")
@example(moment=datetime.fromisoformat(EDGES[1]), end="from")
@given(moment=instants, end=st.sampled_from(["from", "to"]))
def test_a_usage_range_end_outside_the_range_is_refused(
    emulator: SecretsManagerEmulator, moment: datetime, end: str
) -> None:
    response = call_admin("GET", f"{BASE}/{usage_client()}/usage", query={end: moment.isoformat()})
    assert refused(response) is not in_range(moment), response.body


def usage_client() -> str:
    """One client for every example of a test (the fixture's emulator outlives the examples)."""
    listed = call_admin("GET", BASE, query={"name": "usage"}).body["items"]
    return str(listed[0]["client_id"]) if listed else issue("acme", "usage")[0]


def test_a_naive_time_is_refused_wherever_a_time_is_taken() -> None:
    naive = "2030-01-01T00:00:00"
    assert refused(call_admin("POST", BASE, {"client_name": "x", "expires_at": naive}))
    client_id, _ = issue("acme", "x")
    assert refused(call_admin("PATCH", f"{BASE}/{client_id}", {"expires_at": naive}))
    assert refused(call_admin("GET", f"{BASE}/{client_id}/usage", query={"to": naive}))
