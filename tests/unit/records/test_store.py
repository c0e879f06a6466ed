"""The store of client secrets: the tag values it writes (whatever the caller's ARN holds, each one
Secrets Manager accepts), its calls (each on the right client, each a real client method), and AWS's
errors as domain errors."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from tests.support import SIGN, store_calls
from tests.unit.aws_in_memory import Failing, client_error
from tokengate_core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RevokedError,
    TokengateError,
    UnavailableError,
)
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.secret_reader import translate
from tokengate_core.records.store import (
    CONTROL_PLANE_OPERATIONS,
    TAG_CREATED_BY,
    TAG_VALUE_PATTERN,
    SecretsStore,
    record_tags,
    tag_list,
    tag_value,
)
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


def test_control_plane_calls_and_only_they_use_the_control_client() -> None:
    calls = store_calls()
    assert len(calls) >= 15  # the scan sees the calls (a refactor that hides them fails here)
    for operation, client in calls:
        expected = "_control" if operation in CONTROL_PLANE_OPERATIONS else "_client"
        assert client == expected, f"{operation} is made on self.{client}"
    assert {op for op, _ in calls} >= CONTROL_PLANE_OPERATIONS


def test_every_call_is_an_operation_of_the_secrets_manager_client() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    for operation, _ in store_calls():
        assert callable(getattr(client, operation, None)), operation
        assert getattr(client, operation).__name__ == operation  # what _call names in its messages


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ResourceNotFoundException"), NotFoundError),
        (client_error("InvalidRequestException", "secret is marked deleted"), RevokedError),
        (client_error("InvalidRequestException", "scheduled for deletion"), RevokedError),
        (client_error("InvalidNextTokenException"), BadRequestError),
        (client_error("InvalidParameterException", "bad"), BadRequestError),
        (client_error("MalformedPolicyDocumentException"), BadRequestError),
        (client_error("ResourceExistsException"), ConflictError),
        (client_error("ThrottlingException"), UnavailableError),
        (client_error("SomethingNew", status=503), UnavailableError),
        (client_error("AccessDeniedException", status=403), UnavailableError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), UnavailableError),
    ],
)
def test_aws_errors_become_domain_errors(error: Exception, expected: type[TokengateError]) -> None:
    assert type(translate(error)) is expected


def test_domain_errors_pass_and_anything_else_says_only_its_type() -> None:
    revoked = RevokedError("client is revoked")
    assert translate(revoked) is revoked
    other = translate(RuntimeError("a message that may hold a secret"))
    assert type(other) is TokengateError and "secret" not in str(other) and "RuntimeError" in str(other)


def test_a_control_plane_timeout_says_the_outcome_is_unknown(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    timing_out: Any = Failing(real, "delete_secret", ReadTimeoutError(endpoint_url="x"))
    store = SecretsStore(real, "p/", control_client=timing_out)
    with pytest.raises(UnavailableError, match=r"did not answer DeleteSecret in time.*may still take effect"):
        store.schedule_deletion("k" * 20, 7)
