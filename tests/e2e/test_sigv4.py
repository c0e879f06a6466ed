"""AWS_IAM on the admin routes over real HTTP: botocore-signed requests pass, anything else gets
API Gateway's 403 body."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import awscurl.awscurl
import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from requests_aws4auth import AWS4Auth

from tests.e2e.conftest import ROLE_SESSION, TENANT_ADMIN
from tests.e2e.harness import HttpResult, RunningStack, request
from tokengate.local.iam import EXPIRES_TOO_LONG, INVALID_TOKEN, SIGNATURE_MISMATCH
from tokengate.local.location import DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_API_ID
from tokengate.sigv4 import SERVICE, sign

pytestmark = pytest.mark.e2e


def send(
    stack: RunningStack,
    method: str,
    path: str,
    *,
    credentials: Credentials | None = None,
    body: Any = None,
    send_path: str | None = None,
    send_body: bytes | None = None,
    region: str = DEFAULT_REGION,
) -> HttpResult:
    """Sign ``path``/``body``, then send ``send_path``/``send_body`` (defaults: the signed ones)."""
    data = b"" if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if body is not None else {}
    signed = sign(
        method,
        f"{stack.url}{path}",
        credentials=credentials or stack.credentials,
        region=region,
        body=data,
        headers=headers,
    )
    url = signed.url if send_path is None else signed.url.replace(path, send_path, 1)
    return request(method, url, body=signed.body if send_body is None else send_body, headers=signed.headers)


def assert_denied(result: HttpResult, message: str) -> None:
    assert result.status == 403, result
    assert result.body == {"message": message}


def test_a_request_signed_by_botocore_passes(stack: RunningStack) -> None:
    result = send(stack, "GET", "/admin/tenants/sig/clients")
    assert result.status == 200, result
    assert result.body == {"items": [], "next_token": None}


def test_the_admin_api_sees_the_caller_as_aws_fills_it(stack: RunningStack) -> None:
    issued = send(stack, "POST", "/admin/tenants/sig/clients", body={"client_name": "who"})
    assert issued.status == 201, issued
    assert issued.body["client"]["created_by"] == f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/tokengate-local-admin"


def test_unsigned_request_is_forbidden(stack: RunningStack) -> None:
    assert_denied(request("GET", f"{stack.url}/admin/tenants/sig/clients"), "Forbidden")


def test_wrong_secret_is_a_signature_mismatch(stack: RunningStack) -> None:
    wrong = Credentials(stack.credentials.access_key, "not-the-secret-access-key-at-all")
    assert_denied(send(stack, "GET", "/admin/tenants/sig/clients", credentials=wrong), SIGNATURE_MISMATCH)


def test_tampered_body_is_a_signature_mismatch(stack: RunningStack) -> None:
    result = send(
        stack,
        "POST",
        "/admin/tenants/sig/clients",
        body={"client_name": "signed-name"},
        send_body=json.dumps({"client_name": "other-name"}).encode(),
    )
    assert_denied(result, SIGNATURE_MISMATCH)


def test_tampered_path_is_a_signature_mismatch(stack: RunningStack) -> None:
    result = send(stack, "GET", "/admin/tenants/sig/clients", send_path="/admin/tenants/other/clients")
    assert_denied(result, SIGNATURE_MISMATCH)


def test_unknown_access_key_is_an_invalid_token(stack: RunningStack) -> None:
    stranger = Credentials("AKIASTRANGERAAAAAAAA", "whatever-secret-key-0123456789")
    assert_denied(send(stack, "GET", "/admin/tenants/sig/clients", credentials=stranger), INVALID_TOKEN)


def test_credentials_scoped_to_another_region_are_refused(stack: RunningStack) -> None:
    result = send(stack, "GET", "/admin/tenants/sig/clients", region="eu-west-1")
    assert result.status == 403
    assert result.body["message"].startswith("Credential should be scoped to a valid region")


def test_expired_signature(stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    result = send(stack, "GET", "/admin/tenants/sig/clients")
    assert result.status == 403
    stamp = signed_at.strftime("%Y%m%dT%H%M%SZ")
    pattern = rf"Signature expired: {stamp} is now earlier than \d{{8}}T\d{{6}}Z \(\d{{8}}T\d{{6}}Z - 5 min\.\)"
    assert re.fullmatch(pattern, result.body["message"]), result.body


def test_tenant_scoped_principal_reaches_its_tenant_only(stack: RunningStack) -> None:
    scoped = Credentials(TENANT_ADMIN["access_key_id"], TENANT_ADMIN["secret_access_key"])
    own = send(stack, "GET", "/admin/tenants/tenant-a/clients", credentials=scoped)
    assert own.status == 200, own
    other = send(stack, "GET", "/admin/tenants/tenant-b/clients", credentials=scoped)
    resource = (
        f"arn:aws:execute-api:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:{LOCAL_API_ID}/dev/GET/admin/tenants/tenant-b/clients"
    )
    assert_denied(
        other, f"User: {TENANT_ADMIN['arn']} is not authorized to perform: execute-api:Invoke on resource: {resource}"
    )


def test_tenant_scoped_principal_cannot_stretch_into_another_tenant(stack: RunningStack) -> None:
    scoped = Credentials(TENANT_ADMIN["access_key_id"], TENANT_ADMIN["secret_access_key"])
    issued = send(stack, "POST", "/admin/tenants/tenant-a/clients", credentials=scoped, body={"client_name": "own"})
    assert issued.status == 201, issued
    client_id = issued.body["client"]["client_id"]
    rotated = send(stack, "POST", f"/admin/tenants/tenant-a/clients/{client_id}/rotate", credentials=scoped)
    assert rotated.status == 200, rotated
    for method, path in (
        ("GET", "/admin/tenants/tenant-b/clients/x/admin/tenants/tenant-a/x"),
        ("GET", "/admin/tenants/tenant-a"),
        ("PUT", "/admin/tenants/tenant-a/clients"),
        ("GET", "/admin/openapi.json"),
    ):
        result = send(stack, method, path, credentials=scoped)
        resource = f"arn:aws:execute-api:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:{LOCAL_API_ID}/dev/{method}{path}"
        assert_denied(
            result,
            f"User: {TENANT_ADMIN['arn']} is not authorized to perform: execute-api:Invoke on resource: {resource}",
        )


def test_session_token_is_required_and_checked(stack: RunningStack) -> None:
    key, secret, token = ROLE_SESSION["access_key_id"], ROLE_SESSION["secret_access_key"], ROLE_SESSION["session_token"]
    assert send(stack, "GET", "/admin/tenants/x/clients", credentials=Credentials(key, secret, token)).status == 200
    assert_denied(send(stack, "GET", "/admin/tenants/x/clients", credentials=Credentials(key, secret)), INVALID_TOKEN)
    forged = Credentials(key, secret, "FwoGZXIvYXdzEJr-forged-session-token")
    assert_denied(send(stack, "GET", "/admin/tenants/x/clients", credentials=forged), INVALID_TOKEN)
    # Its policy allows GET only.
    denied = send(
        stack,
        "POST",
        "/admin/tenants/x/clients",
        credentials=Credentials(key, secret, token),
        body={"client_name": "n"},
    )
    assert denied.status == 403 and denied.body["message"].startswith(f"User: {ROLE_SESSION['arn']} is not authorized")


def test_presigned_url(stack: RunningStack) -> None:
    signed = sign(
        "GET",
        f"{stack.url}/admin/tenants/sig/clients?limit=5",
        credentials=stack.credentials,
        region=DEFAULT_REGION,
        presign_expires=60,
    )
    assert "X-Amz-Signature=" in signed.url and "authorization" not in {k.lower() for k in signed.headers}
    assert request("GET", signed.url).status == 200
    tampered = signed.url.replace("limit=5", "limit=6")
    assert_denied(request("GET", tampered), SIGNATURE_MISMATCH)


# -- hostile signatures over HTTP: 403 with API Gateway's body, never a 500 ------------------------------


def assert_refused(result: HttpResult, message: str, error_type: str) -> None:
    assert_denied(result, message)
    assert result.headers["x-amzn-errortype"] == error_type


def test_a_presigned_url_cannot_outlive_seven_days(stack: RunningStack) -> None:
    url = f"{stack.url}/admin/tenants/sig/clients"
    signed = sign("GET", url, credentials=stack.credentials, region=DEFAULT_REGION, presign_expires=10**9)
    assert_refused(request("GET", signed.url), EXPIRES_TOO_LONG, "IncompleteSignatureException")
    huge = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=" + "9" * 400, signed.url)
    assert_refused(request("GET", huge), EXPIRES_TOO_LONG, "IncompleteSignatureException")
    week = sign("GET", url, credentials=stack.credentials, region=DEFAULT_REGION, presign_expires=604_800)
    assert request("GET", week.url).status == 200


def test_malformed_credentials_and_dates_are_refused_with_aws_words(stack: RunningStack) -> None:
    signed = sign("GET", f"{stack.url}/admin/tenants/sig/clients", credentials=stack.credentials, region=DEFAULT_REGION)
    key = stack.credentials.access_key

    def sent(**changes: str) -> HttpResult:
        return request("GET", signed.url, headers={**signed.headers, **changes})

    non_ascii = signed.headers["Authorization"].replace(key, "AKIA\u00c4" + key[5:])
    assert_refused(sent(Authorization=non_ascii), INVALID_TOKEN, "UnrecognizedClientException")
    four = re.sub(r"Credential=([^/]+)/([^/]+)/[^/]+/", r"Credential=\1/\2/", signed.headers["Authorization"])
    credential = re.search(r"Credential=([^,]+)", four)
    assert credential is not None
    assert_refused(
        sent(Authorization=four),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        f"got '{credential[1]}'",
        "IncompleteSignatureException",
    )
    bad_date = sent(**{"X-Amz-Date": "2026-01-01T00:00:00Z"})
    assert bad_date.status == 403 and bad_date.body["message"].startswith("Date must be in ISO-8601 'basic format'")


def test_unsigned_payload_is_refused_and_issues_nothing(stack: RunningStack) -> None:
    """API Gateway (execute-api) signs the body's own hash; UNSIGNED-PAYLOAD is S3's."""
    body = json.dumps({"client_name": "unsigned"}).encode()
    path = "/admin/tenants/unsigned/clients"
    headers = {"content-type": "application/json", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    signed = sign(
        "POST", stack.url + path, credentials=stack.credentials, region=DEFAULT_REGION, body=body, headers=headers
    )
    assert_refused(
        request("POST", signed.url, body=body, headers=signed.headers), SIGNATURE_MISMATCH, "InvalidSignatureException"
    )
    assert send(stack, "GET", path).body["items"] == []
    headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    hashed = sign(
        "POST", stack.url + path, credentials=stack.credentials, region=DEFAULT_REGION, body=body, headers=headers
    )
    assert request("POST", hashed.url, body=body, headers=hashed.headers).status == 201


def test_a_fragment_in_the_request_target_is_not_signed_over(stack: RunningStack) -> None:
    signed = sign("GET", f"{stack.url}/admin/tenants/sig/clients", credentials=stack.credentials, region=DEFAULT_REGION)
    parts = urlsplit(signed.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=20)
    try:
        connection.request("GET", parts.path + "#/../../other/clients", headers=signed.headers)
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert (status, body) == (403, {"message": SIGNATURE_MISMATCH})


# -- third-party signers: whatever a spec-following client puts in the query, it verifies ----------

#: Typed as a person types them (awscurl signs the query as typed; requests percent-encodes what a
#: URL cannot hold). A '+' is left out here: awscurl signs it as a plus and sends it as typed, where
#: it reads as a space (tests/unit/test_sigv4.py covers '+' with the other signers).
TYPED_QUERIES = ["q=a,b*c", "q=a b", "q=ünïcödé ☃", "q=x&q=a&limit=5", "q=(!'$@:/?)"]
ADMIN_PATH = "/admin/tenants/sig/clients"


def test_awscurl_signatures_verify(stack: RunningStack) -> None:
    for query in TYPED_QUERIES:
        response = awscurl.awscurl.make_request(
            method="GET",
            service=SERVICE,
            region=DEFAULT_REGION,
            uri=f"{stack.url}{ADMIN_PATH}?{query}",
            headers={},
            data="",
            access_key=stack.credentials.access_key,
            secret_key=stack.credentials.secret_key,
            security_token=None,
            data_binary=False,
        )
        assert response.status_code == 200, (query, response.text)


def test_requests_aws4auth_signatures_verify(stack: RunningStack) -> None:
    auth = AWS4Auth(stack.credentials.access_key, stack.credentials.secret_key, DEFAULT_REGION, SERVICE)
    with requests.Session() as session:
        for query in [*TYPED_QUERIES, "q=a+b"]:
            response = session.get(f"{stack.url}{ADMIN_PATH}?{query}", auth=auth, timeout=20)
            assert response.status_code == 200, (query, response.text)
        params = [("q", "a+b c,d*"), ("q", "é"), ("limit", "5")]
        response = session.get(f"{stack.url}{ADMIN_PATH}", params=params, auth=auth, timeout=20)
        assert response.status_code == 200, (response.url, response.text)


def test_botocore_signatures_of_parameters_verify(stack: RunningStack) -> None:
    params = [("q", "a+b c,d*"), ("q", "é ☃"), ("limit", "5")]
    signed = AWSRequest(method="GET", url=f"{stack.url}{ADMIN_PATH}", params=params)  # type: ignore[arg-type]
    botocore.auth.SigV4Auth(stack.credentials, SERVICE, DEFAULT_REGION).add_auth(signed)
    prepared = signed.prepare()
    result = request("GET", str(prepared.url), headers={str(k): str(v) for k, v in prepared.headers.items()})
    assert result.status == 200, result
