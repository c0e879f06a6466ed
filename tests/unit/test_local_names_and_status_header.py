"""The local stack's name table across restarts, its shared saves, the token status header as the
stage maps it, and the rotate-due control's input."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import boto3
import pytest

from tests.unit.test_local_gateway import StandIn, returns, running
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.control import MAX_ADVANCE_DAYS, parse_advance
from tokengate.local.gateway import HttpResponse, map_authorizer_headers
from tokengate.local.runtime import Invocation
from tokengate.local.state import CoalescedSaves, TableSnapshot
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER, mapped_status_codes
from tokengate_core.records.names import NameRegistry, create_table
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


def test_a_context_without_the_key_maps_nothing() -> None:
    response = HttpResponse(200, [("content-type", "application/json")], b"{}")
    map_authorizer_headers(response, {"tenant": "acme"})
    assert response.headers == [("content-type", "application/json")]
    map_authorizer_headers(response, {TOKEN_STATUS_KEY: "current"})
    assert response.headers == [("content-type", "application/json"), (HEADER, "current")]


# -- the name table across restarts -----------------------------------------------------------------


def test_the_table_snapshot_replays_every_claim_into_a_fresh_table(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    client = boto3.session.Session().client("dynamodb", endpoint_url=emulator.url)
    table = AdminSettings().table_name
    names = NameRegistry(client, table)
    assert names.claim("acme", "billing", "a" * 20) is None
    assert names.claim("acme", "reports", "b" * 20) is None
    path = tmp_path / "table.json"
    assert TableSnapshot(client, table, path).save() == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "billing" in path.read_text()

    emulator.reset()
    create_table(client, table)
    assert names.holder("acme", "billing") is None
    assert TableSnapshot(client, table, path).restore() == 2
    assert names.holder("acme", "billing") == "a" * 20
    assert names.claim("acme", "reports", "c" * 20) == "b" * 20, "the name is still taken"


def test_no_table_snapshot_is_nothing_to_restore_and_a_broken_one_says_so(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    client = boto3.session.Session().client("dynamodb", endpoint_url=emulator.url)
    path = tmp_path / "table.json"
    snapshot = TableSnapshot(client, AdminSettings().table_name, path)
    assert snapshot.restore() == 0
    path.write_text("{broken")
    with pytest.raises(ValueError, match=r"table\.json: not valid JSON"):
        snapshot.restore()
    path.write_text(json.dumps({"format": 99, "items": []}))
    with pytest.raises(ValueError, match="unknown snapshot format 99"):
        snapshot.restore()
    path.write_text(json.dumps({"format": 1, "items": ["not an item"]}))
    with pytest.raises(ValueError, match="not a list of DynamoDB items"):
        snapshot.restore()


# -- saves after writes -----------------------------------------------------------------------------


def test_concurrent_writes_share_saves_and_each_returns_after_a_save_that_began_after_it() -> None:
    started: list[float] = []
    returned: dict[int, float] = {}
    requested: dict[int, float] = {}

    def save() -> None:
        started.append(time.monotonic())
        time.sleep(0.05)

    saves = CoalescedSaves(save)

    def write(i: int) -> None:
        requested[i] = time.monotonic()
        saves.after_write()
        returned[i] = time.monotonic()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(returned) == 20
    assert len(started) < 20, "writers shared saves"
    for i, done in returned.items():
        assert any(requested[i] <= begun <= done for begun in started), i


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
