"""Tag values: whatever the caller's ARN holds, every value written is one Secrets Manager accepts."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import pytest

from tests.support import SIGN
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.store import TAG_CREATED_BY, TAG_VALUE_PATTERN, record_tags, tag_list, tag_value
from tokengate_core.tokens import format as tokens

#: A role session name may hold ``[\w+=,.@-]``: the comma is outside what a tag value allows.
SESSION_ARN = "arn:aws:sts::123456789012:assumed-role/Admins/alice@example.com,ops"


def record(actor: str) -> ClientRecord:
    key = tokens.new_key_id()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return ClientRecord.model_validate(
        {
            "key_id": key,
            "token": tokens.generate(key, SIGN),
            "tenant": "acme",
            "client_name": "bot",
            "scopes": ["*"],
            "expires_at": now,
            "created_at": now,
            "created_by": actor,
            "updated_at": now,
            "updated_by": actor,
        }
    )


def allowed_by_aws(value: str) -> bool:
    """Secrets Manager's documented rule, checked independently of TAG_VALUE_PATTERN: letters,
    separators and numbers (Unicode L, Z, N) plus ``_ . : / = + - @``, at most 256 characters."""
    return len(value) <= 256 and all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in value)


@pytest.mark.parametrize(
    "value",
    [
        SESSION_ARN,
        "arn:aws:iam::123456789012:user/path/alice",
        "line\nbreak\ttab",
        'quote"star*question?percent%',
        "ünïcödé,λ",
        "x" * 300,
        "",
    ],
)
def test_every_value_comes_out_allowed(value: str) -> None:
    cleaned = tag_value(value)
    assert allowed_by_aws(cleaned), cleaned
    assert re.fullmatch(TAG_VALUE_PATTERN, cleaned)
    assert tag_value(cleaned) == cleaned  # idempotent: sanitizing twice changes nothing


def test_an_allowed_arn_is_kept_as_is_and_a_session_name_loses_only_its_comma() -> None:
    plain = "arn:aws:iam::123456789012:user/alice+ops=1@example.com"
    assert tag_value(plain) == plain
    assert tag_value(SESSION_ARN) == SESSION_ARN.replace(",", "_")


def test_record_tags_are_sanitized_while_the_record_keeps_the_exact_actor() -> None:
    client = record(SESSION_ARN)
    tags = record_tags(client)
    assert tags[TAG_CREATED_BY] == tag_value(SESSION_ARN)
    assert all(allowed_by_aws(v) for v in tags.values())
    assert client.created_by == client.updated_by == SESSION_ARN


def test_every_tag_written_goes_through_the_sanitizer() -> None:
    written = tag_list({"tokengate:revoked-by": SESSION_ARN, "k": "a,b"})
    assert written == [
        {"Key": "tokengate:revoked-by", "Value": tag_value(SESSION_ARN)},
        {"Key": "k", "Value": "a_b"},
    ]
