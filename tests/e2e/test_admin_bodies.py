"""Hostile admin request bodies over real HTTP, signed as a real caller signs them: the local HTTP
API stage passes them on exactly as API Gateway would (binary ones base64-encoded), and each one
is a 4xx with the documented error shape."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.e2e.harness import HttpResult, RunningStack, request
from tests.e2e.signing import admin
from tokengate.local.location import DEFAULT_REGION
from tokengate.sigv4 import sign
from tokengate_core.admin.request_body import MAX_BODY_BYTES

pytestmark = pytest.mark.e2e
TENANT_PATH = "/admin/tenants/bodies/clients"
VALID = json.dumps({"client_name": "ci-bot"}).encode()


def send(stack: RunningStack, body: bytes, headers: dict[str, str], path: str = TENANT_PATH) -> HttpResult:
    signed = sign(
        "POST", stack.url + path, credentials=stack.credentials, region=DEFAULT_REGION, body=body, headers=headers
    )
    return request("POST", signed.url, body=body, headers=signed.headers)


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (VALID, {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"client_name=ci-bot", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b"\x00\x01\xff" + VALID, {"content-type": "application/octet-stream"}, 415, "unsupported_media_type"),
        (
            gzip.compress(VALID),
            {"content-type": "application/json", "content-encoding": "gzip"},
            415,
            "unsupported_media_type",
        ),
        (VALID.decode().encode("utf-16"), {"content-type": "application/json"}, 400, "invalid_json"),
        (b'{"client_name": "\xff"}', {"content-type": "application/json"}, 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, {"content-type": "application/json"}, 413, "body_too_large"),
        (b"[" * 9 + b"]" * 9, {"content-type": "application/json"}, 400, "invalid_json"),
        (
            b'{"client_name": "x", "ttl_seconds": ' + b"9" * 5000 + b"}",
            {"content-type": "application/json"},
            400,
            "invalid_json",
        ),
    ],
    ids=["text", "form", "binary", "gzip", "utf-16", "bad utf-8", "100k deep", "9 deep", "5000 digits"],
)
def test_hostile_bodies_are_4xx_over_http(
    stack: RunningStack, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    result = send(stack, body, headers)
    assert result.status == status, result.body
    assert result.body["code"] == code and result.body["message"]
    assert set(result.body) == {"code", "message"}
    assert admin(stack, "GET", TENANT_PATH).body["items"] == []


def test_a_body_past_the_limit_is_413_and_one_at_it_is_read(stack: RunningStack) -> None:
    at_limit = json.dumps({"client_name": "x" * (MAX_BODY_BYTES - 19)}).encode()
    assert len(at_limit) == MAX_BODY_BYTES
    read = send(stack, at_limit, {"content-type": "application/json"})
    assert (read.status, read.body["code"]) == (422, "validation_error")
    past = send(stack, at_limit[:-2] + b'x"}', {"content-type": "application/json"})
    assert (past.status, past.body["code"]) == (413, "body_too_large")


def test_a_json_body_with_a_charset_is_read(stack: RunningStack) -> None:
    body = json.dumps({"client_name": "charset"}).encode()
    issued = send(stack, body, {"content-type": "application/json; charset=utf-8"}, "/admin/tenants/bodies-ok/clients")
    assert issued.status == 201, issued.body
    assert issued.body["client"]["client_name"] == "charset"
