"""The authorizer's hand-written record reader gives the pydantic model's answers, field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support import SIGN
from tokengate_core.records.index import index_doc
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.view import RecordError, parse_cached, parse_indexed, to_cached
from tokengate_core.tokens import format as tokens

KEY = tokens.new_key_id()
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def valid_record(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "key_id": KEY,
        "token": tokens.generate(KEY, SIGN),
        "tenant": "acme",
        "client_name": "ci-bot",
        "scopes": ["GET /invoke", "ANY /reports/**"],
        "enabled": True,
        "expires_at": (NOW + timedelta(days=1)).isoformat(),
        "rotation": {"period_days": None, "grace_seconds": 60},
        "previous": {"sha256": "ab" * 32, "valid_until": (NOW + timedelta(hours=1)).isoformat()},
        "token_fetch": True,
        "created_at": NOW.isoformat(),
        "created_by": "arn:aws:iam::123456789012:user/a",
        "updated_at": NOW.isoformat(),
        "updated_by": "arn:aws:iam::123456789012:user/a",
    }
    data.update(overrides)
    return data


def test_a_valid_record_reads_the_same_both_ways() -> None:
    text = json.dumps(valid_record())
    model = ClientRecord.from_secret_string(text)
    assert parse_cached(text, KEY) == to_cached(model)
    cached = parse_cached(text, KEY)
    assert cached.context["token_status"] == "current"
    assert cached.grace_context is not None
    assert cached.grace_context["token_status"] == "grace; ends=2026-11-25T09:00:00Z"


BAD_VALUES: dict[str, list[Any]] = {
    "schema_version": [2, "1"],
    "key_id": [tokens.new_key_id(), None, 5],
    "token": [None, "tg_x", 7],
    "tenant": ["Acme", "", "-acme", None, "a" * 64, ["acme"], "acme\n"],
    "client_name": ["", ".x", "a b", None, "a" * 65, 3],
    "scopes": [[], ["GET invoke"], ["FETCH /x"], [1], "GET /invoke", ["*"] * 33, None],
    "enabled": [None, "maybe"],
    "token_fetch": [None, "perhaps"],
    "expires_at": ["tomorrow", "2026-11-25T08:00:00", ""],
    # An imported digest next to a token, or malformed (the token is the valid one of valid_record).
    "imported_sha256": ["ab" * 32, "AB" * 32, "ab" * 31, "ab" * 32 + "\n", 5],
    "previous": [
        {"sha256": "ab" * 32 + "\n", "valid_until": NOW.isoformat()},
        {"sha256": "zz" * 32, "valid_until": NOW.isoformat()},
        {"sha256": "ab" * 32},
        {"sha256": "ab" * 32, "valid_until": NOW.isoformat(), "extra": 1},
        {"sha256": "ab" * 32, "valid_until": "2026-11-25T08:00:00"},
        "ab" * 32,
    ],
}

#: Encodings the model's lax mode coerces but its own writer never produces: the reader, which
#: fails closed, refuses them; the canonical form the writer makes of the same record it accepts.
NON_CANONICAL: dict[str, list[Any]] = {
    "token": [tokens.generate(tokens.new_key_id(), SIGN)],  # another client's token
    "enabled": ["true", 1],
    "token_fetch": [0, "yes"],
    "expires_at": [5],
}


def _cases(table: dict[str, list[Any]]) -> Any:
    """Parameters with stable ids (values hold random tokens; xdist workers must agree on ids)."""
    return [pytest.param(f, v, id=f"{f}-{i}") for f, values in table.items() for i, v in enumerate(values)]


@pytest.mark.parametrize(("field", "value"), _cases(BAD_VALUES))
def test_what_the_model_refuses_the_reader_refuses(field: str, value: Any) -> None:
    text = json.dumps(valid_record(**{field: value}))
    with pytest.raises((ValidationError, ValueError)):
        record = ClientRecord.from_secret_string(text)
        if record.key_id != KEY:
            raise ValueError("another key id")
    with pytest.raises(RecordError):
        parse_cached(text, KEY)


@pytest.mark.parametrize(("field", "value"), _cases(NON_CANONICAL))
def test_the_reader_refuses_what_the_writer_never_writes(field: str, value: Any) -> None:
    text = json.dumps(valid_record(**{field: value}))
    with pytest.raises(RecordError):
        parse_cached(text, KEY)
    if field != "token":
        canonical = ClientRecord.from_secret_string(text).to_secret_string()
        assert parse_cached(canonical, KEY).key_id == KEY


@settings(max_examples=200)
@given(
    tenant=st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z"),
    name=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z"),
    enabled=st.booleans(),
    token_fetch=st.booleans(),
    scopes=st.lists(st.sampled_from(["*", "GET /invoke", "ANY /a/*", "POST /b/**", "* /c"]), min_size=1, max_size=5),
    expiry_hours=st.none() | st.integers(-1000, 1000),
)
def test_any_valid_record_reads_the_same_both_ways(
    tenant: str, name: str, enabled: bool, token_fetch: bool, scopes: list[str], expiry_hours: int | None
) -> None:
    expires = None if expiry_hours is None else (NOW + timedelta(hours=expiry_hours)).isoformat()
    text = json.dumps(
        valid_record(
            tenant=tenant,
            client_name=name,
            enabled=enabled,
            token_fetch=token_fetch,
            scopes=scopes,
            expires_at=expires,
            previous=None,
        )
    )
    model = ClientRecord.from_secret_string(text)
    assert parse_cached(text, KEY) == to_cached(model) == parse_indexed(index_doc(model), KEY, tenant)


@pytest.mark.parametrize(("field", "value"), _cases(BAD_VALUES))
def test_what_the_model_refuses_the_index_reader_refuses(field: str, value: Any) -> None:
    """The same fields in an index doc (with the token's digest in place of the token)."""
    if field == "token":
        return  # an index doc holds no token: its digest is checked below
    data = valid_record(**{field: value})
    data["sha256"] = tokens.digest(data.pop("token")).hex()
    with pytest.raises(RecordError):
        parse_indexed(json.dumps(data), KEY, "acme" if field != "tenant" else str(value))


@pytest.mark.parametrize("digest", ["ab" * 31, "AB" * 32, None, 5, "ab" * 32 + "\n"])
def test_an_index_doc_needs_a_valid_digest(digest: Any) -> None:
    data = valid_record()
    del data["token"]
    data["sha256"] = digest
    with pytest.raises(RecordError):
        parse_indexed(json.dumps(data), KEY, "acme")


def test_an_imported_index_doc_keeps_its_digest_and_a_pending_one_is_read() -> None:
    model = ClientRecord.from_secret_string(json.dumps(valid_record(token=None, imported_sha256="cd" * 32)))
    cached = parse_indexed(index_doc(model, pending_sha256="ef" * 32), KEY, "acme")
    assert cached.current_digest == bytes.fromhex("cd" * 32) and cached.pending_digest == bytes.fromhex("ef" * 32)
    assert cached._replace(pending_digest=None) == to_cached(model)
    bad = json.loads(index_doc(model))
    bad["imported_sha256"] = "ab" * 32
    with pytest.raises(RecordError, match="imported_sha256"):
        parse_indexed(json.dumps(bad), KEY, "acme")


def test_an_imported_record_reads_the_same_both_ways() -> None:
    digest = "cd" * 32
    text = json.dumps(valid_record(token=None, imported_sha256=digest))
    model = ClientRecord.from_secret_string(text)
    assert model.imported and model.current_sha256 == digest
    cached = parse_cached(text, KEY)
    assert cached == to_cached(model) and cached.current_digest == bytes.fromhex(digest)
    assert parse_cached(model.to_secret_string(), KEY) == cached
    for bad in (valid_record(token=None), valid_record(token=None, imported_sha256="cd" * 31)):
        with pytest.raises(ValidationError):
            ClientRecord.from_secret_string(json.dumps(bad))
        with pytest.raises(RecordError):
            parse_cached(json.dumps(bad), KEY)


def test_a_record_written_before_imports_existed_is_written_back_unchanged() -> None:
    text = ClientRecord.from_secret_string(json.dumps(valid_record())).to_secret_string()
    assert "imported_sha256" not in json.loads(text)


@given(st.text(max_size=200) | st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
def test_garbage_never_raises_anything_but_a_record_error(text: str) -> None:
    with pytest.raises(RecordError):
        parse_cached(text, KEY)


@settings(max_examples=300)
@given(
    rate=st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(min_value="0.0001", max_value="100000", places=6).map(float)
    | st.integers(-10, 10**6)
)
def test_a_rate_reads_the_same_both_ways(rate: float) -> None:
    text = json.dumps(valid_record(rate_limit={"requests_per_second": rate, "burst": 5}))
    try:
        model = ClientRecord.from_secret_string(text)
    except ValidationError:
        with pytest.raises(RecordError):
            parse_cached(text, KEY)
        return
    assert parse_cached(text, KEY) == to_cached(model)
