"""The client record: scope patterns, the secret string as its only unmasked form, the fields it
refuses, rotation's previous digest and the status at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from tests.support import SIGN
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.rules import scope_regex
from tokengate_core.tokens import format as tokens

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(**changes: object) -> ClientRecord:
    key = tokens.new_key_id()
    data: dict[str, object] = {
        "key_id": key,
        "token": tokens.generate(key, SIGN),
        "tenant": "acme",
        "client_name": "bot",
        "scopes": ["*"],
        "created_at": NOW,
        "created_by": "alice",
        "updated_at": NOW,
        "updated_by": "alice",
    }
    data.update(changes)
    return ClientRecord.model_validate(data)


@pytest.mark.parametrize(
    ("scope", "request_key", "matches"),
    [
        ("*", "DELETE /anything/at/all", True),
        ("GET /invoke", "GET /invoke", True),
        ("GET /invoke", "POST /invoke", False),
        ("GET /invoke", "GET /invoke/x", False),
        ("ANY /invoke", "PATCH /invoke", True),
        ("* /invoke", "PUT /invoke", True),
        ("GET /reports/*", "GET /reports/2026", True),
        ("GET /reports/*", "GET /reports/2026/01", False),
        ("GET /reports/**", "GET /reports/2026/01", True),
        ("GET /a.b", "GET /aXb", False),
    ],
)
def test_scope_patterns(scope: str, request_key: str, matches: bool) -> None:
    assert bool(scope_regex(scope).match(request_key)) is matches


def test_record_round_trips_through_the_secret_string_only() -> None:
    rec = record()
    text = rec.to_secret_string()
    assert rec.own_token in text
    assert ClientRecord.from_secret_string(text) == rec
    # Everywhere else the token is masked.
    assert rec.own_token not in repr(rec)
    assert rec.own_token not in rec.model_dump_json()


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant": "Acme"},
        {"client_name": "has space"},
        {"scopes": []},
        {"scopes": ["GET invoke"]},
        {"token": SecretStr("tg_short")},
        {"key_id": "UPPER"},
        {"created_at": datetime(2026, 1, 1)},  # naive timestamps are refused
        {"unknown": 1},
    ],
)
def test_invalid_records_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        record(**changes)


def test_rotation_keeps_the_old_digest_for_the_grace_period() -> None:
    rec = record()
    new_token = tokens.generate(rec.key_id, SIGN)
    rotated = rec.rotated(new_token, NOW, "bob")
    assert rotated.own_token == new_token
    assert rotated.previous is not None
    assert rotated.previous.sha256 == tokens.digest(rec.own_token).hex()
    assert rotated.previous.valid_until == NOW + timedelta(seconds=rec.rotation.grace_seconds)
    assert rotated.rotated_at == NOW
    assert rotated.updated_by == "bob"


def test_rotation_without_grace_keeps_no_previous() -> None:
    rec = record(rotation={"grace_seconds": 0})
    assert rec.rotated(tokens.generate(rec.key_id, SIGN), NOW, "bob").previous is None


def test_status() -> None:
    assert record().status_at(NOW) == "active"
    assert record(enabled=False).status_at(NOW) == "disabled"
    assert record(expires_at=NOW).status_at(NOW) == "expired"
    assert record(expires_at=NOW + timedelta(seconds=1)).status_at(NOW) == "active"


def test_with_changes_validates() -> None:
    with pytest.raises(ValidationError):
        record().with_changes({"scopes": ["nope"]}, NOW, "bob")
