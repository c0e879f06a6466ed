"""The token status header as the stage maps it, the 503 when a change cannot be saved, and the
rotate-due control's input."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_local_gateway import StandIn, returns, running
from tokengate.local.control import MAX_ADVANCE_DAYS, parse_advance
from tokengate.local.gateway import HttpResponse, map_authorizer_headers
from tokengate.local.runtime import STATE_NOT_SAVED, Invocation
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER, mapped_status_codes
from tokengate_core.records.view import TOKEN_STATUS_KEY

GRACE = "grace; ends=2026-12-01T00:00:00Z"
IN_GRACE = {"isAuthorized": True, "context": {"tenant": "acme", "client_id": "k1", TOKEN_STATUS_KEY: GRACE}}
HEADER = TOKEN_STATUS_HEADER.lower()


def headers_named(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


# -- the token status header ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 403, 404, 503])
def test_every_custom_response_carries_the_status_from_the_authorizer_context(status: int) -> None:
    main = StandIn(returns({"statusCode": status, "headers": {TOKEN_STATUS_HEADER: "made up by the backend"}}))
    with running(authorizer=StandIn(returns(IN_GRACE)), main=main) as stage:
        got, headers, _ = stage.call("GET", "/dev/invoke", [("authorization", "tg_x")])
    assert got == status
    assert headers_named(headers, HEADER) == [GRACE], "overwritten, exactly once"


def test_a_status_code_outside_the_mapping_passes_through_unmapped() -> None:
    assert 299 not in mapped_status_codes()
    with running(authorizer=StandIn(returns(IN_GRACE)), main=StandIn(returns({"statusCode": 299}))) as stage:
        got, headers, _ = stage.call("GET", "/dev/invoke", [("authorization", "tg_x")])
    assert got == 299 and headers_named(headers, HEADER) == []


def test_no_header_when_the_integration_fails_or_the_route_is_iam_authorized() -> None:
    failing = StandIn(lambda _event: Invocation(error="RuntimeError"))
    with running(authorizer=StandIn(returns(IN_GRACE)), main=failing) as stage:
        got, headers, _ = stage.call("GET", "/dev/invoke", [("authorization", "tg_x")])
        assert got == 500 and headers_named(headers, HEADER) == []  # API Gateway's own 500
        got, headers, _ = stage.call("GET", "/dev/admin/openapi.json")
        assert got == 403 and headers_named(headers, HEADER) == []


def test_a_change_the_stack_could_not_save_is_a_503_from_the_function_or_the_authorizer() -> None:
    unsaved = StandIn(lambda _event: Invocation(error=STATE_NOT_SAVED))
    with running(authorizer=StandIn(returns(IN_GRACE)), main=unsaved) as stage:
        got, _, body = stage.call("GET", "/dev/invoke", [("authorization", "tg_x")])
        assert (got, json.loads(body)) == (503, {"message": "Service Unavailable"})
    with running(authorizer=unsaved, main=StandIn(returns({"statusCode": 200}))) as stage:
        got, _, body = stage.call("GET", "/dev/invoke", [("authorization", "tg_x")])
        assert (got, json.loads(body)) == (503, {"message": "Service Unavailable"})


def test_a_context_without_the_key_maps_nothing() -> None:
    response = HttpResponse(200, [("content-type", "application/json")], b"{}")
    map_authorizer_headers(response, {"tenant": "acme"})
    assert response.headers == [("content-type", "application/json")]
    map_authorizer_headers(response, {TOKEN_STATUS_KEY: "current"})
    assert response.headers == [("content-type", "application/json"), (HEADER, "current")]


# -- rotate-due ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "days"),
    [(b"", 0.0), (b"{}", 0.0), (b'{"advance_days": 7}', 7.0), (b'{"advance_days": 0.5}', 0.5)],
)
def test_advance_days_is_read_from_the_body(body: bytes, days: float) -> None:
    assert parse_advance(body) == days


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b"NaN",
        b'{"advance_days": -1}',
        b'{"advance_days": "7"}',
        b'{"advance_days": true}',
        b'{"advance_days": NaN}',
        json.dumps({"advance_days": MAX_ADVANCE_DAYS + 1}).encode(),
    ],
)
def test_advance_days_out_of_range_or_not_a_number_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_advance(body)
