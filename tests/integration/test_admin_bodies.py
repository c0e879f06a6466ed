"""Request bodies through the admin handler: whatever a caller sends is a 4xx with the documented
error shape, never a 5xx, and a refused body changes nothing and costs no Secrets Manager call."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import AdminResponse, admin_event, call_admin, call_admin_event, issue, send_body
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.admin.request_body import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"
VALID = json.dumps({"client_name": "ci-bot"})


def assert_refused(response: AdminResponse, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.body["code"] == code
    assert set(response.body) == ({"code", "message", "details"} if status == 422 else {"code", "message"})
    assert isinstance(response.body["message"], str) and response.body["message"]


def nested(depth: int) -> str:
    """A body nested ``depth`` deep, the outermost level being the object itself."""
    return '{"client_name": "x", "scopes": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


HOSTILE: list[tuple[str, dict[str, Any], int, str]] = [
    # -- media type: 415
    ("text/plain", {"body": VALID, "content_type": "text/plain"}, 415, "unsupported_media_type"),
    (
        "octet-stream",
        {"body": VALID, "content_type": "application/octet-stream", "base64_encoded": True},
        415,
        "unsupported_media_type",
    ),
    (
        "form",
        {"body": "client_name=ci-bot", "content_type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    (
        "multipart",
        {
            "body": '--b\r\nContent-Disposition: form-data; name="client_name"\r\n\r\nx\r\n--b--\r\n',
            "content_type": "multipart/form-data; boundary=b",
        },
        415,
        "unsupported_media_type",
    ),
    ("no content type", {"body": VALID, "content_type": None}, 415, "unsupported_media_type"),
    ("json lookalike", {"body": VALID, "content_type": "application/jsonp"}, 415, "unsupported_media_type"),
    (
        "utf-16 charset",
        {"body": VALID.encode("utf-16"), "content_type": "application/json; charset=utf-16", "base64_encoded": True},
        415,
        "unsupported_media_type",
    ),
    (
        "gzip",
        {"body": gzip.compress(VALID.encode()), "base64_encoded": True, "headers": {"content-encoding": "gzip"}},
        415,
        "unsupported_media_type",
    ),
    # -- size: 413
    ("100k-deep nesting", {"body": "[" * 100_000 + "]" * 100_000}, 413, "body_too_large"),
    ("one byte too many", {"body": json.dumps({"client_name": "x" * (MAX_BODY_BYTES - 18)})}, 413, "body_too_large"),
    ("too large base64", {"body": b"[" * (MAX_BODY_BYTES + 1), "base64_encoded": True}, 413, "body_too_large"),
    # -- not UTF-8 JSON within limits: 400
    ("nested one level too deep", {"body": nested(MAX_JSON_DEPTH + 1)}, 400, "invalid_json"),
    ("5,000-digit integer", {"body": '{"client_name": "x", "ttl_seconds": ' + "9" * 5000 + "}"}, 400, "invalid_json"),
    (
        "number one character too long",
        {"body": '{"ttl_seconds": ' + "1" * (MAX_NUMBER_CHARS + 1) + "}"},
        400,
        "invalid_json",
    ),
    ("5,000-digit fraction", {"body": '{"ttl_seconds": 0.' + "1" * 5000 + "}"}, 400, "invalid_json"),
    ("NaN", {"body": '{"client_name": "x", "ttl_seconds": NaN}'}, 400, "invalid_json"),
    ("Infinity", {"body": '{"client_name": "x", "ttl_seconds": -Infinity}'}, 400, "invalid_json"),
    ("utf-16 with BOM", {"body": VALID.encode("utf-16"), "base64_encoded": True}, 400, "invalid_json"),
    ("utf-16 without BOM", {"body": VALID.encode("utf-16-le"), "base64_encoded": True}, 400, "invalid_json"),
    ("invalid utf-8", {"body": b'{"client_name": "\xff\xfe"}', "base64_encoded": True}, 400, "invalid_json"),
    ("overlong utf-8", {"body": b'{"client_name": "\xc0\xaf"}', "base64_encoded": True}, 400, "invalid_json"),
    ("utf-8 BOM", {"body": "\ufeff" + VALID}, 400, "invalid_json"),
    ("lone surrogate", {"body": '{"client_name": "\ud800"}'}, 400, "invalid_json"),
    ("truncated", {"body": VALID[:-1]}, 400, "invalid_json"),
    ("trailing garbage", {"body": VALID + "}"}, 400, "invalid_json"),
    ("unterminated string", {"body": '{"client_name": "' + '\\"[' * 3000}, 400, "invalid_json"),
]


@pytest.mark.parametrize(("case", "request_", "status", "code"), HOSTILE, ids=[c[0] for c in HOSTILE])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_hostile_bodies_are_refused_before_any_backend_call(
    emulator: SecretsManagerEmulator, case: str, request_: dict[str, Any], status: int, code: str, method: str
) -> None:
    path = BASE if method == "POST" else f"{BASE}/7gcwj9lfd4pw7m56qdlj"
    options = dict(request_)
    body = options.pop("body")
    assert_refused(send_body(method, path, body, **options), status, code)
    assert emulator.calls() == 0


def test_invalid_base64_is_400(emulator: SecretsManagerEmulator) -> None:
    for garbage in ("not base64!", "eyJh", "é"):
        event = admin_event("POST", BASE)
        event["body"], event["isBase64Encoded"] = garbage, True
        assert_refused(call_admin_event(event), 400, "invalid_json")
    assert emulator.calls() == 0


def test_the_limits_are_the_documented_ones() -> None:
    """Exactly at each limit the body parses and reaches validation (422); one past it, it does not."""
    assert_refused(send_body("POST", BASE, nested(MAX_JSON_DEPTH)), 422, "validation_error")
    at_size = json.dumps({"client_name": "x" * (MAX_BODY_BYTES - 19)})
    assert len(at_size.encode()) == MAX_BODY_BYTES
    assert_refused(send_body("POST", BASE, at_size), 422, "validation_error")
    longest = '{"client_name": "x", "ttl_seconds": ' + "1" * MAX_NUMBER_CHARS + "}"
    assert_refused(send_body("POST", BASE, longest), 422, "validation_error")
    # Brackets inside strings are text, not nesting.
    brackets = json.dumps({"client_name": "[{" * 100, "scopes": ['"]}\\' * 100]})
    assert_refused(send_body("POST", BASE, brackets), 422, "validation_error")


@pytest.mark.parametrize("body", ["null", "[]", '"ci-bot"', "17", "true", "{}"])
def test_well_formed_bodies_of_the_wrong_shape_are_422(body: str) -> None:
    assert_refused(send_body("POST", BASE, body), 422, "validation_error")
    assert call_admin("GET", BASE).body["items"] == []


def test_an_empty_body_is_no_body_whatever_its_declared_type() -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json", None):
        assert_refused(send_body("POST", BASE, "", content_type), 422, "validation_error")
    client_id, _ = issue("acme", "ci-bot")
    # A client library that labels every request (even one without a body) must still work.
    rotated = send_body("POST", f"{BASE}/{client_id}/rotate", "", "application/x-www-form-urlencoded")
    assert rotated.status == 200, rotated.body


@pytest.mark.parametrize(
    "request_",
    [
        {"content_type": "application/json; charset=UTF-8"},
        {"content_type": 'application/json;charset="utf-8"'},
        {"content_type": "Application/JSON"},
        {"base64_encoded": True},
        {"headers": {"content-encoding": "identity"}},
    ],
)
def test_json_bodies_are_accepted_however_api_gateway_passes_them(request_: dict[str, Any]) -> None:
    response = send_body("POST", BASE, VALID, **request_)
    assert response.status == 201, response.body
    assert response.body["client"]["client_name"] == "ci-bot"


content_types = st.sampled_from(
    [None, "application/json", "text/plain", "application/json; charset=utf-16", "application/x-www-form-urlencoded"]
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
        max_leaves=20,
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=content_types, encoded=st.booleans(), method=st.sampled_from(["POST", "PATCH"]))
def test_no_body_is_ever_a_5xx(body: bytes, content_type: str | None, encoded: bool, method: str) -> None:
    path = BASE if method == "POST" else f"{BASE}/7gcwj9lfd4pw7m56qdlj"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        encoded = True  # API Gateway cannot pass these bytes as text
    response = send_body(method, path, body, content_type, base64_encoded=encoded)
    assert response.status < 500, response.body
    if response.status >= 400:
        assert set(response.body) <= {"code", "message", "details"} and response.body["code"]
        assert "Traceback" not in json.dumps(response.body)
