"""The local stack's AWS_IAM check: botocore signs, the verifier recomputes with botocore and compares."""

from __future__ import annotations

import hashlib
import json
import re
import time
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tenant_policy_cases import OLD_PATTERN, STAGE, TENANT, legitimate, refused
from tokengate.local.iam import (
    EXPIRES_NEGATIVE,
    EXPIRES_NOT_A_NUMBER,
    EXPIRES_TOO_LONG,
    FORBIDDEN,
    INVALID_TOKEN,
    MAX_PRESIGN_EXPIRES,
    SIGNATURE_MISMATCH,
    Denial,
    Identity,
    IncomingCall,
    SigV4Verifier,
)
from tokengate.local.principals import Principal, PrincipalDirectory, api_arn, execute_api_arn, iam_match
from tokengate.sigv4 import SignedRequest, sign
from tokengate_core.deployment.routes import tenant_admin_resources

REGION = "us-east-1"
API = api_arn(REGION, "123456789012", "tglocal001")
URL = "http://127.0.0.1:8080/dev/admin/tenants/acme/clients"
RESOURCE = execute_api_arn(API, "dev", "GET", "/admin/tenants/acme/clients")
ADMIN = Principal(
    access_key_id="AKIAADMINAAAAAAAAAAA",
    secret_access_key="admin-secret-access-key-0123456789",
    arn="arn:aws:iam::123456789012:user/admin",
    allow=[f"{API}/*"],
)
ROLE = Principal(
    access_key_id="ASIAROLEAAAAAAAAAAAA",
    secret_access_key="role-secret-access-key-0123456789",
    session_token="session-token-value",
    arn="arn:aws:sts::123456789012:assumed-role/ops/alice",
    allow=tenant_admin_resources(API, "acme", "dev"),
)


def creds(principal: Principal, *, secret: str | None = None, token: str | None = None) -> Credentials:
    session = principal.session_token.get_secret_value() if principal.session_token else None
    return Credentials(
        principal.access_key_id, secret or principal.secret_access_key.get_secret_value(), token or session
    )


def verifier(offset: float = 0.0) -> SigV4Verifier:
    return SigV4Verifier(PrincipalDirectory(ADMIN, None), REGION, clock=lambda: time.time() + offset)


def arrived(
    signed: SignedRequest, *, method: str | None = None, url: str | None = None, body: bytes | None = None
) -> IncomingCall:
    """The request as the server sees it: Host from the URL, every header as sent."""
    parts = urlsplit(url or signed.url)
    headers = [(k.lower(), v) for k, v in signed.headers.items() if k.lower() != "content-length"]
    headers.append(("host", parts.netloc))
    return IncomingCall(
        method or signed.method,
        parts.scheme,
        parts.path,
        parts.query,
        headers,
        signed.body if body is None else body,
    )


def denied(result: Identity | Denial) -> str:
    assert isinstance(result, Denial), result
    assert result.status == 403
    return result.message


def test_a_botocore_signature_verifies_and_names_the_caller() -> None:
    signed = sign("GET", URL, credentials=creds(ADMIN), region=REGION)
    identity = verifier().verify(arrived(signed), RESOURCE)
    assert isinstance(identity, Identity)
    event = identity.to_event()
    assert event == {
        "accessKey": ADMIN.access_key_id,
        "accountId": "123456789012",
        "callerId": event["callerId"],
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": ADMIN.arn,
        "userId": event["callerId"],
    }
    assert re.fullmatch(r"AIDA[0-9A-F]{17}", event["callerId"])


def test_a_signed_body_verifies() -> None:
    body = json.dumps({"client_name": "x"}).encode()
    signed = sign(
        "POST", URL, credentials=creds(ADMIN), region=REGION, body=body, headers={"content-type": "application/json"}
    )
    assert isinstance(verifier().verify(arrived(signed), RESOURCE), Identity)


def test_no_signature_at_all_is_forbidden() -> None:
    call = IncomingCall("GET", "http", "/dev/admin/x", "", [("host", "127.0.0.1:8080")], b"")
    assert denied(verifier().verify(call, RESOURCE)) == FORBIDDEN
    bearer = IncomingCall("GET", "http", "/dev/admin/x", "", [("authorization", "Bearer tg_x")], b"")
    assert denied(verifier().verify(bearer, RESOURCE)) == FORBIDDEN


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: arrived(s, method="DELETE"),
        lambda s: arrived(s, url=s.url.replace("/acme/", "/other/")),
        lambda s: arrived(s, url=s.url + "?limit=5"),
        lambda s: arrived(s, body=b'{"client_name":"y"}'),
        lambda s: arrived(s, url=s.url.replace("127.0.0.1:8080", "localhost:8080")),
    ],
    ids=["method", "path", "query", "body", "host"],
)
def test_any_tampering_is_a_signature_mismatch(tamper: object) -> None:
    signed = sign("POST", URL, credentials=creds(ADMIN), region=REGION, body=b'{"client_name":"x"}')
    assert denied(verifier().verify(tamper(signed), RESOURCE)) == SIGNATURE_MISMATCH  # type: ignore[operator]


def test_a_signed_header_cannot_change() -> None:
    signed = sign("GET", URL, credentials=creds(ADMIN), region=REGION, headers={"x-tenant-hint": "acme"})
    call = arrived(signed)
    changed = IncomingCall(
        call.method, call.scheme, call.raw_path, call.raw_query,
        [(k, "other" if k == "x-tenant-hint" else v) for k, v in call.headers], call.body,
    )  # fmt: skip
    assert denied(verifier().verify(changed, RESOURCE)) == SIGNATURE_MISMATCH


def test_wrong_secret_is_a_mismatch_and_unknown_key_an_invalid_token() -> None:
    wrong = sign("GET", URL, credentials=creds(ADMIN, secret="not-the-secret-0123456789"), region=REGION)
    assert denied(verifier().verify(arrived(wrong), RESOURCE)) == SIGNATURE_MISMATCH
    stranger = sign("GET", URL, credentials=Credentials("AKIASTRANGERAAAAAAAA", "x" * 40), region=REGION)
    assert denied(verifier().verify(arrived(stranger), RESOURCE)) == INVALID_TOKEN


def test_content_sha256_header_must_match_the_body_sent() -> None:
    body = b'{"client_name":"x"}'
    declared = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    signed = sign("POST", URL, credentials=creds(ADMIN), region=REGION, body=body, headers=declared)
    assert isinstance(verifier().verify(arrived(signed), RESOURCE), Identity)
    assert denied(verifier().verify(arrived(signed, body=b'{"client_name":"y"}'), RESOURCE)) == SIGNATURE_MISMATCH


def test_clock_skew_is_five_minutes_either_way() -> None:
    signed = sign("GET", URL, credentials=creds(ADMIN), region=REGION)
    assert isinstance(verifier(offset=240).verify(arrived(signed), RESOURCE), Identity)
    late = denied(verifier(offset=600).verify(arrived(signed), RESOURCE))
    stamp = signed.headers["X-Amz-Date"]
    assert re.fullmatch(
        rf"Signature expired: {stamp} is now earlier than \d{{8}}T\d{{6}}Z \(\d{{8}}T\d{{6}}Z - 5 min\.\)", late
    )
    early = denied(verifier(offset=-600).verify(arrived(signed), RESOURCE))
    assert early.startswith(f"Signature not yet current: {stamp} is still later than ")


def test_credential_scope_must_be_this_region_and_execute_api() -> None:
    other_region = sign("GET", URL, credentials=creds(ADMIN), region="eu-west-1")
    assert denied(verifier().verify(arrived(other_region), RESOURCE)).startswith(
        "Credential should be scoped to a valid region, not 'eu-west-1'."
    )
    request = AWSRequest(method="GET", url=URL)
    SigV4Auth(creds(ADMIN), "s3", REGION).add_auth(request)
    s3 = SignedRequest("GET", URL, {k: str(v) for k, v in request.headers.items()}, b"")
    assert (
        denied(verifier().verify(arrived(s3), RESOURCE))
        == "Credential should be scoped to correct service: 'execute-api'. "
    )


def test_presigned_url_verifies_until_it_expires() -> None:
    signed = sign("GET", URL + "?limit=5", credentials=creds(ADMIN), region=REGION, presign_expires=60)
    assert "Authorization" not in signed.headers
    assert isinstance(verifier().verify(arrived(signed), RESOURCE), Identity)
    assert denied(verifier(offset=120).verify(arrived(signed), RESOURCE)).startswith("Signature expired: ")
    tampered = arrived(signed, url=signed.url.replace("limit=5", "limit=6"))
    assert denied(verifier().verify(tampered, RESOURCE)) == SIGNATURE_MISMATCH


def test_session_token_must_be_the_principals() -> None:
    check = SigV4Verifier(_Fixed(ROLE), REGION)
    resource = execute_api_arn(API, "dev", "GET", "/admin/tenants/acme/clients")
    ok = sign("GET", URL, credentials=creds(ROLE), region=REGION)
    identity = check.verify(arrived(ok), resource)
    assert isinstance(identity, Identity)
    assert identity.to_event()["userId"].endswith(":alice") and identity.to_event()["userId"].startswith("AROA")
    no_token = sign(
        "GET", URL, credentials=Credentials(ROLE.access_key_id, "role-secret-access-key-0123456789"), region=REGION
    )
    assert denied(check.verify(arrived(no_token), resource)) == INVALID_TOKEN
    forged = sign("GET", URL, credentials=creds(ROLE, token="forged"), region=REGION)
    assert denied(check.verify(arrived(forged), resource)) == INVALID_TOKEN


def test_a_tenant_scoped_principal_is_refused_another_tenant_with_aws_words() -> None:
    check = SigV4Verifier(_Fixed(ROLE), REGION)
    other = "http://127.0.0.1:8080/dev/admin/tenants/acmex/clients"
    resource = execute_api_arn(API, "dev", "GET", "/admin/tenants/acmex/clients")
    signed = sign("GET", other, credentials=creds(ROLE), region=REGION)
    assert denied(check.verify(arrived(signed), resource)) == (
        f"User: {ROLE.arn} is not authorized to perform: execute-api:Invoke on resource: {resource}"
    )


class _Fixed(PrincipalDirectory):
    def __init__(self, principal: Principal) -> None:
        super().__init__(ADMIN, None)
        self._principal = principal

    def lookup(self, access_key_id: str) -> Principal | None:
        return self._principal if access_key_id == self._principal.access_key_id else super().lookup(access_key_id)


def test_a_tenant_admin_principal_gets_the_tenants_routes_only() -> None:
    """The grant tenant_policy prints and the CDK stack attaches, as a local principal."""
    principal = ROLE.model_copy(update={"allow": tenant_admin_resources(API, TENANT, STAGE)})
    assert all(principal.may_invoke(arn) for arn in legitimate(API))
    assert not any(principal.may_invoke(arn) for arn in refused(API))
    stretched = "/admin/tenants/globex/clients/x/admin/tenants/acme/x"
    assert iam_match(OLD_PATTERN.format(api=API), execute_api_arn(API, STAGE, "GET", stretched))
    check = SigV4Verifier(_Fixed(principal), REGION)
    signed = sign("GET", f"http://127.0.0.1:8080/dev{stretched}", credentials=creds(principal), region=REGION)
    resource = execute_api_arn(API, STAGE, "GET", stretched)
    assert denied(check.verify(arrived(signed), resource)) == (
        f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: {resource}"
    )
    for method, path in (("GET", "/admin/tenants/acme/clients"), ("POST", "/admin/tenants/acme/clients/k1/rotate")):
        ok = sign(method, f"http://127.0.0.1:8080/dev{path}", credentials=creds(principal), region=REGION)
        assert isinstance(check.verify(arrived(ok), execute_api_arn(API, STAGE, method, path)), Identity)


# -- hostile and malformed signatures: always a 403 with AWS's words, never an exception ---------------


def fullwidth(text: str) -> str:
    """Digits from another script: str.isdigit(), int() and strptime all accept them."""
    return "".join(chr(0xFF10 + int(c)) if c in "0123456789" else c for c in text)


def presigned(expires: int = 60, url: str = URL + "?limit=5") -> SignedRequest:
    return sign("GET", url, credentials=creds(ADMIN), region=REGION, presign_expires=expires)


def with_query_param(signed: SignedRequest, name: str, value: str) -> IncomingCall:
    call = arrived(signed)
    pairs = [p.partition("=") for p in call.raw_query.split("&")]
    query = "&".join(f"{k}={quote(value, safe='') if k == name else v}" for k, _, v in pairs)
    return IncomingCall(call.method, call.scheme, call.raw_path, query, call.headers, call.body)


def with_header(call: IncomingCall, name: str, value: str) -> IncomingCall:
    headers = [(k, v) for k, v in call.headers if k != name] + [(name, value)]
    return IncomingCall(call.method, call.scheme, call.raw_path, call.raw_query, headers, call.body)


def test_a_presigned_url_lives_seven_days_at_most() -> None:
    week = presigned(MAX_PRESIGN_EXPIRES)
    assert isinstance(verifier(offset=MAX_PRESIGN_EXPIRES - 60).verify(arrived(week), RESOURCE), Identity)
    for expires in (MAX_PRESIGN_EXPIRES + 1, 10**9):
        # Signed correctly by botocore: only the cap refuses it.
        assert denied(verifier().verify(arrived(presigned(expires)), RESOURCE)) == EXPIRES_TOO_LONG


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 30, EXPIRES_TOO_LONG),
        ("9" * 5000, EXPIRES_TOO_LONG),
        ("0000000000000000000000000000000000000000604801", EXPIRES_TOO_LONG),
        ("-5", EXPIRES_NEGATIVE),
        ("", EXPIRES_NOT_A_NUMBER),
        (" 5", EXPIRES_NOT_A_NUMBER),
        ("1_0", EXPIRES_NOT_A_NUMBER),
        ("0x10", EXPIRES_NOT_A_NUMBER),
        (fullwidth("12"), EXPIRES_NOT_A_NUMBER),
        ("6e5", EXPIRES_NOT_A_NUMBER),
    ],
)
def test_a_malformed_expiry_is_refused_before_anything_else(value: str, message: str) -> None:
    assert denied(verifier().verify(with_query_param(presigned(), "X-Amz-Expires", value), RESOURCE)) == message


@pytest.mark.parametrize("credential", ["AKIAADMINAAAAAAAAAAA/20260101/us-east-1/execute-api", "a/b/c/d/e/f", "x"])
def test_a_credential_needs_five_elements(credential: str) -> None:
    call = with_query_param(presigned(), "X-Amz-Credential", credential)
    assert denied(verifier().verify(call, RESOURCE)) == (
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        f"got '{credential}'"
    )
    header = arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION))
    authorization = re.sub(r"Credential=[^,]+", f"Credential={credential}", dict(header.headers)["authorization"])
    assert denied(verifier().verify(with_header(header, "authorization", authorization), RESOURCE)).startswith(
        "Credential must have exactly 5 slash-delimited elements"
    )


def test_an_authorization_part_without_equal_sign_is_named() -> None:
    call = arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION))
    authorization = dict(call.headers)["authorization"].replace("Credential=", "Credential= ")
    credential = authorization.split("Credential= ")[1].split(",")[0]
    assert denied(verifier().verify(with_header(call, "authorization", authorization), RESOURCE)) == (
        f"'{credential}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
    )


@pytest.mark.parametrize(
    "key", ["AKIA\u00c4DMINAAAAAAAAAAA", "\uff21\uff2b\uff29\uff21ADMINAAAAAAAAAAA", "AKIA\x00DMINAAAAAAAAAAA", ""]
)
def test_an_access_key_nobody_could_hold_is_an_invalid_token(key: str) -> None:
    """compare_digest refuses non-ASCII text: such a key once answered 500."""
    header = arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION))
    authorization = dict(header.headers)["authorization"].replace(ADMIN.access_key_id, key)
    assert denied(verifier().verify(with_header(header, "authorization", authorization), RESOURCE)) == INVALID_TOKEN
    credential = f"{key}/{time.strftime('%Y%m%d', time.gmtime())}/{REGION}/execute-api/aws4_request"
    presigned_call = with_query_param(presigned(), "X-Amz-Credential", credential)
    assert denied(verifier().verify(presigned_call, RESOURCE)) == INVALID_TOKEN


@pytest.mark.parametrize(
    "amz_date",
    [
        # Stable ids: xdist workers collect separately, so an id must not carry the current time.
        pytest.param(fullwidth(time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())), id="fullwidth-digits"),
        "2026-01-01T00:00:00Z",
        "20260101T000000",
        "",
        pytest.param("0" * 5000, id="5000-zeros"),
    ],
)
def test_a_malformed_date_is_refused_with_awss_words(amz_date: str) -> None:
    call = with_header(arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION)), "x-amz-date", amz_date)
    message = denied(verifier().verify(call, RESOURCE))
    if amz_date:
        assert message.startswith("Date must be in ISO-8601 'basic format'. Got '")
    else:
        assert message == "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."


@pytest.mark.parametrize("date", ["Fri, 31 Dec 9999 23:59:59 -1400", "Mon, 01 Jan 0001 00:00:00 +1400", "yesterday"])
def test_an_unusable_date_header_is_refused(date: str) -> None:
    signed = sign("GET", URL, credentials=creds(ADMIN), region=REGION)
    call = arrived(signed)
    without = IncomingCall(
        call.method, call.scheme, call.raw_path, call.raw_query,
        [(k, v) for k, v in call.headers if k != "x-amz-date"] + [("date", date)], call.body,
    )  # fmt: skip
    assert isinstance(verifier().verify(without, RESOURCE), Denial)


@pytest.mark.parametrize("body", [b"", b'{"client_name":"x"}'])
def test_unsigned_payload_is_not_honoured(body: bytes) -> None:
    """execute-api always signs the body's SHA-256; UNSIGNED-PAYLOAD is an S3 feature."""
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    signed = sign("POST", URL, credentials=creds(ADMIN), region=REGION, body=body, headers=headers)
    assert "x-amz-content-sha256" in dict(arrived(signed).headers)
    assert denied(verifier().verify(arrived(signed), RESOURCE)) == SIGNATURE_MISMATCH
    upper = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest().upper()}
    shouting = sign("POST", URL, credentials=creds(ADMIN), region=REGION, body=body, headers=upper)
    assert denied(verifier().verify(arrived(shouting), RESOURCE)) == SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("query", "path_suffix", "sent_query"),
    [
        ("", "#/../../globex/clients", ""),
        ("", "\t", ""),
        ("limit=5", "", "limit=5#&status=revoked"),
        ("limit=5", "", "limit=5\n"),
    ],
)
def test_what_url_parsing_would_cut_off_is_not_signed_over(query: str, path_suffix: str, sent_query: str) -> None:
    """botocore reads the path and query from a URL: a '#' or a tab would make it sign less than
    what gets routed, so a signature for the shorter request must not pass for the longer one."""
    signed = sign("GET", URL + (f"?{query}" if query else ""), credentials=creds(ADMIN), region=REGION)
    call = arrived(signed)
    assert isinstance(verifier().verify(call, RESOURCE), Identity)
    longer = IncomingCall(call.method, call.scheme, call.raw_path + path_suffix, sent_query, call.headers, call.body)
    assert denied(verifier().verify(longer, RESOURCE)) == SIGNATURE_MISMATCH


@pytest.mark.parametrize("host", ["[", "a/b", "h#x", "127.0.0.1:port", "ä", ""])
def test_a_hostile_host_header_is_a_mismatch(host: str) -> None:
    call = with_header(arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION)), "host", host)
    assert denied(verifier().verify(call, RESOURCE)) == SIGNATURE_MISMATCH


_HOSTILE = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 Credential=/////", "9" * 400, "UNSIGNED-PAYLOAD", "%FF%00", "[::"]
)


@settings(deadline=None, max_examples=300)
@given(
    target=st.sampled_from(
        ["authorization", "x-amz-date", "date", "host", "x-amz-security-token", "x-amz-content-sha256"]
    ),
    value=_HOSTILE,
    query_name=st.sampled_from(
        ["X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Algorithm"]
    ),
)
def test_any_hostile_value_is_a_403_never_an_exception(target: str, value: str, query_name: str) -> None:
    header_signed = arrived(sign("GET", URL, credentials=creds(ADMIN), region=REGION))
    for call in (with_header(header_signed, target, value), with_query_param(presigned(), query_name, value)):
        result = verifier().verify(call, RESOURCE)
        assert isinstance(result, Identity) or result.status == 403
