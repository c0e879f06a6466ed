"""Input at the edges of what the admin API accepts: each value is refused with a 422 before
anything is written, or accepted and then works on every later request; never a 5xx."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support import AdminResponse, call_admin, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.authorize.cache import UsagePolicy
from tokengate_core.authorize.usage import UsageGate
from tokengate_core.authorize.usage_table import DynamoUsage
from tokengate_core.records.model import EARLIEST_TIME, LATEST_TIME, RateLimit
from tokengate_core.records.rules import MAX_BURST, MAX_RATE_PER_SECOND

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
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()


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


# -- rates: a bounded precision ------------------------------------------------------------------------

#: Any float JSON can carry, and many of the rates the rule allows.
any_rate = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(int(MAX_RATE_PER_SECOND)), places=4).map(float),
    st.sampled_from([1e-300, 5e-324, 1e-5, 0.00015, 1 / 3, 0.1 + 0.2, MAX_RATE_PER_SECOND + 0.0001]),
)


def rate_accepted(rate: float) -> bool:
    """The rule as documented: at least 0.0001, at most 100,000, at most 4 decimal places."""
    return 0.0001 <= rate <= MAX_RATE_PER_SECOND and Decimal(repr(rate)).as_tuple().exponent >= -4  # type: ignore[operator]


@examples(80)
@given(rate=any_rate)
def test_a_rate_is_refused_beyond_its_precision_and_range(rate: float) -> None:
    client_id = usage_client()
    response = call_admin("PATCH", f"{BASE}/{client_id}", {"rate_limit": {"requests_per_second": rate, "burst": 1}})
    assert refused(response) is not rate_accepted(rate), response.body
    if response.status == 422:
        assert [d["loc"] for d in response.body["details"]] == [["body", "rate_limit", "requests_per_second"]]
    else:
        assert response.body["rate_limit"]["requests_per_second"] == rate


def dynamodb_number(text: str) -> bool:
    """What DynamoDB stores as a number: at most 38 significant digits, a magnitude from 1E-130 to
    under 1E+126 (Amazon DynamoDB Developer Guide, "Supported data types and naming rules")."""
    value = Decimal(text)
    if not value.is_finite():
        return False
    if value == 0:
        return True
    return len(value.normalize().as_tuple().digits) <= 38 and Decimal("1E-130") <= abs(value) < Decimal("1E126")


class RecordingDynamoDB:
    """Takes a rate bucket's UpdateItem calls, refusing every other one as a contended bucket would
    (with the item, as ReturnValuesOnConditionCheckFailure gives it), and records each number sent."""

    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.calls = 0

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        values = request["ExpressionAttributeValues"]
        self.numbers += [v["N"] for v in values.values() if "N" in v]
        if self.calls % 2:
            error = Exception("ConditionalCheckFailedException")
            error.response = {  # type: ignore[attr-defined]
                "Error": {"Code": "ConditionalCheckFailedException"},
                "Item": {"tat": {"N": values[":now"]["N"]}},
            }
            raise error
        return {}


@settings(max_examples=200)
@given(rate=any_rate, burst=st.integers(1, MAX_BURST), step=st.floats(0.001, 10**6))
def test_every_rate_the_rule_allows_writes_numbers_dynamodb_stores(rate: float, burst: int, step: float) -> None:
    """A number DynamoDB cannot store fails the write, and a rate limit fails open: so no rate the
    record accepts may lead to one."""
    try:
        RateLimit(requests_per_second=rate, burst=burst)
    except ValidationError:
        assume(False)
    dynamodb = RecordingDynamoDB()
    gate = UsageGate(lambda: DynamoUsage(dynamodb, "table"))  # type: ignore[arg-type]
    policy = UsagePolicy(rate=(rate, burst), quota=None, networks=None, on_limit="deny")
    for i in range(6):
        assert not gate.admit("k", policy, None, NOW + i * step).degraded
    assert dynamodb.numbers and all(dynamodb_number(n) for n in dynamodb.numbers), dynamodb.numbers
