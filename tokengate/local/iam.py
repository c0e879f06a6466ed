"""AWS_IAM authorization as API Gateway applies it: SigV4 verification, then execute-api:Invoke.

The signature is recomputed with botocore's own signer on an ``AWSRequest`` rebuilt from the
request as it arrived (same signed headers, same X-Amz-Date, same body), and compared with
``hmac.compare_digest``. Nothing cryptographic is written here, and no encoding either: the query
is decoded (:func:`query_parameters`), then botocore encodes and sorts it as SigV4 says. Who may
sign, and what each one may invoke, is :mod:`tokengate.local.principals`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from tokengate.local.principals import Principal, PrincipalDirectory
from tokengate.sigv4 import SERVICE, query_parameters

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
#: A SigV4 signing key is valid for seven days, so a presigned URL can be too, and no longer.
MAX_PRESIGN_EXPIRES = 604_800
DEFAULT_PRESIGN_EXPIRES = 900

# API Gateway's own words, so a client's error handling can be tried locally.
FORBIDDEN = "Forbidden"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
CREDENTIAL_ELEMENTS = (
    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'"
)
MISSING_EQUAL_SIGN = "'{}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'."
# X-Amz-Expires: the words AWS answers with (S3's) where a presigned URL's expiry is out of range.
EXPIRES_NOT_A_NUMBER = "X-Amz-Expires should be a number"
EXPIRES_NEGATIVE = "X-Amz-Expires must be non-negative"
EXPIRES_TOO_LONG = (
    "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
    f"than {MAX_PRESIGN_EXPIRES} seconds"
)
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
#: Stands in for the Host in the URL botocore parses: the host header is signed as sent, and a
#: hostile one ('[', '/', '#') must not change how the path and query are read.
_URL_HOST = "verifier.invalid"


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Denial:
    message: str
    error_type: str
    status: int = 403


@dataclass(frozen=True)
class Identity:
    principal: Principal
    access_key: str

    def to_event(self) -> dict[str, Any]:
        """requestContext.authorizer.iam, as API Gateway fills it for payload 2.0."""
        return {
            "accessKey": self.access_key,
            "accountId": self.principal.account_id,
            "callerId": self.principal.caller_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.principal.arn,
            "userId": self.principal.caller_id,
        }


@dataclass(frozen=True)
class IncomingCall:
    """The request as it arrived: raw path and query (still percent-encoded), every header value."""

    method: str
    scheme: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # lower-case names, in arrival order, repeats kept
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return ",".join(values) if values else None


@dataclass(frozen=True)
class _Signature:
    access_key: str
    scope_date: str
    scope_region: str
    scope_service: str
    scope_terminator: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    security_token: str | None
    presigned: bool
    expires: int | None


class _RebuiltRequestSigner:
    """Signs with exactly the headers the caller signed (botocore would pick its own set)."""

    def __init__(self, signed_headers: list[str]) -> None:
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        selected = HTTPHeaders()
        for name in self._signed_headers:
            for value in request.headers.get_all(name) or []:
                selected[name] = value
        return selected


class _HeaderSigner(_RebuiltRequestSigner, SigV4Auth):
    def __init__(self, credentials: Credentials, region: str, signed_headers: list[str]) -> None:
        _RebuiltRequestSigner.__init__(self, signed_headers)
        SigV4Auth.__init__(self, credentials, SERVICE, region)


class _QuerySigner(_RebuiltRequestSigner, SigV4QueryAuth):
    def __init__(self, credentials: Credentials, region: str, signed_headers: list[str], expires: int) -> None:
        _RebuiltRequestSigner.__init__(self, signed_headers)
        SigV4QueryAuth.__init__(self, credentials, SERVICE, region, expires=expires)


class SigV4Verifier:
    def __init__(self, principals: PrincipalDirectory, region: str, clock: Callable[[], float] = time.time) -> None:
        self._principals = principals
        self.region = region
        self._clock = clock

    def verify(self, call: IncomingCall, resource_arn: str) -> Identity | Denial:
        parsed = self._parse(call)
        if isinstance(parsed, Denial):
            return parsed
        problem = self._check_scope_and_time(parsed)
        if problem is not None:
            return problem
        principal = self._principals.lookup(parsed.access_key)
        if principal is None or not self._token_ok(principal, parsed.security_token):
            return Denial(INVALID_TOKEN, "UnrecognizedClientException")
        if not self._signature_ok(call, parsed, principal):
            return Denial(SIGNATURE_MISMATCH, "InvalidSignatureException")
        if not principal.may_invoke(resource_arn):
            return Denial(
                f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: {resource_arn}",
                "AccessDeniedException",
            )
        return Identity(principal=principal, access_key=parsed.access_key)

    # -- parsing ----------------------------------------------------------------------------------

    def _parse(self, call: IncomingCall) -> _Signature | Denial:
        authorization = call.header("authorization")
        query = dict(parse_qsl(call.raw_query, keep_blank_values=True))
        if authorization is not None and authorization.startswith(ALGORITHM + " "):
            return self._parse_header(call, authorization)
        if "X-Amz-Algorithm" in query:
            return self._parse_query(query)
        return Denial(FORBIDDEN, "ForbiddenException")

    def _parse_header(self, call: IncomingCall, authorization: str) -> _Signature | Denial:
        fields: dict[str, str] = {}
        for part in re.split(r"[\s,]+", authorization[len(ALGORITHM) + 1 :]):
            key, sep, value = part.partition("=")
            if not sep and part:
                return Denial(MISSING_EQUAL_SIGN.format(part, authorization), "IncompleteSignatureException")
            if sep:
                fields[key] = value
        required = ("Credential", "Signature", "SignedHeaders")
        missing = [f"Authorization header requires '{k}' parameter." for k in required if k not in fields]
        amz_date = call.header("x-amz-date") or _date_header_as_amz(call.header("date"))
        if amz_date is None:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if missing:
            return Denial(" ".join(missing), "IncompleteSignatureException")
        assert amz_date is not None
        return self._signature(
            credential=fields["Credential"],
            signed_headers=fields["SignedHeaders"],
            signature=fields["Signature"],
            amz_date=amz_date,
            security_token=call.header("x-amz-security-token"),
            presigned=False,
            expires=None,
        )

    def _parse_query(self, query: dict[str, str]) -> _Signature | Denial:
        required = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
        missing = [f"AWS query-string parameters must include '{k}'." for k in required if k not in query]
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            missing.insert(0, f"X-Amz-Algorithm only supports '{ALGORITHM}'.")
        if missing:
            return Denial(" ".join(missing), "IncompleteSignatureException")
        expires = _presign_expires(query.get("X-Amz-Expires"))
        if isinstance(expires, Denial):
            return expires
        return self._signature(
            credential=query["X-Amz-Credential"],
            signed_headers=query["X-Amz-SignedHeaders"],
            signature=query["X-Amz-Signature"],
            amz_date=query["X-Amz-Date"],
            security_token=query.get("X-Amz-Security-Token"),
            presigned=True,
            expires=expires,
        )

    @staticmethod
    def _signature(
        *,
        credential: str,
        signed_headers: str,
        signature: str,
        amz_date: str,
        security_token: str | None,
        presigned: bool,
        expires: int | None,
    ) -> _Signature | Denial:
        parts = credential.split("/")
        if len(parts) != 5:
            return Denial(CREDENTIAL_ELEMENTS.format(credential), "IncompleteSignatureException")
        return _Signature(
            access_key=parts[0],
            scope_date=parts[1],
            scope_region=parts[2],
            scope_service=parts[3],
            scope_terminator=parts[4],
            signed_headers=[h.strip().lower() for h in signed_headers.split(";") if h.strip()],
            signature=signature,
            amz_date=amz_date,
            security_token=security_token,
            presigned=presigned,
            expires=expires,
        )

    # -- checks -----------------------------------------------------------------------------------

    def _check_scope_and_time(self, sig: _Signature) -> Denial | None:
        try:
            # strptime alone would also take other scripts' digits (fullwidth ones, say) for a date.
            if not _AMZ_DATE.fullmatch(sig.amz_date):
                raise ValueError(sig.amz_date)
            when = datetime.strptime(sig.amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            return Denial(
                f"Date must be in ISO-8601 'basic format'. Got '{sig.amz_date[:32]}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601",
                "IncompleteSignatureException",
            )
        if sig.scope_region != self.region:
            return Denial(
                f"Credential should be scoped to a valid region, not '{sig.scope_region}'. ",
                "InvalidSignatureException",
            )
        if sig.scope_service != SERVICE:
            return Denial(f"Credential should be scoped to correct service: '{SERVICE}'. ", "InvalidSignatureException")
        if sig.scope_terminator != "aws4_request":
            return Denial(
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{sig.scope_terminator}'. ",
                "InvalidSignatureException",
            )
        if sig.scope_date != sig.amz_date[:8]:
            return Denial(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{sig.scope_date}' != '{sig.amz_date[:8]}', from '{sig.amz_date}'.",
                "InvalidSignatureException",
            )
        if "host" not in sig.signed_headers:
            return Denial(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                "InvalidSignatureException",
            )
        now = datetime.fromtimestamp(self._clock(), UTC).replace(microsecond=0)
        # A presigned URL lives for X-Amz-Expires; a signed header request for the clock-skew window.
        window = timedelta(seconds=sig.expires) if sig.presigned and sig.expires is not None else MAX_SKEW
        if when < now - window:
            window_text = f"{sig.expires} sec." if window != MAX_SKEW else "5 min."
            earliest = _fmt(now - window)
            return Denial(
                f"Signature expired: {_fmt(when)} is now earlier than {earliest} ({_fmt(now)} - {window_text})",
                "InvalidSignatureException",
            )
        if when > now + MAX_SKEW:
            return Denial(
                f"Signature not yet current: {_fmt(when)} is still later than {_fmt(now + MAX_SKEW)} "
                f"({_fmt(now)} + 5 min.)",
                "InvalidSignatureException",
            )
        return None

    @staticmethod
    def _token_ok(principal: Principal, presented: str | None) -> bool:
        expected = principal.session_token.get_secret_value() if principal.session_token else None
        if expected is None or presented is None:
            return expected is None and presented is None
        return hmac.compare_digest(expected.encode(), presented.encode())

    def _signature_ok(self, call: IncomingCall, sig: _Signature, principal: Principal) -> bool:
        content_sha = call.header("x-amz-content-sha256")
        if content_sha is not None:
            # execute-api hashes the body itself: the header can only repeat that hash. AWS
            # documents UNSIGNED-PAYLOAD for S3 alone; a request signed with it does not verify
            # at API Gateway (a 403), and here it is the same signature mismatch.
            actual = hashlib.sha256(call.body).hexdigest()
            if not hmac.compare_digest(content_sha.encode(), actual.encode()):
                return False
        credentials = Credentials(
            principal.access_key_id,
            principal.secret_access_key.get_secret_value(),
            principal.session_token.get_secret_value() if principal.session_token else None,
        )
        headers = HTTPHeaders()
        for name, value in call.headers:
            if name in sig.signed_headers or name == "x-amz-content-sha256":
                headers[name] = value
        try:
            query = query_parameters(call.raw_query)
        except UnicodeDecodeError:
            return False  # percent-encoded bytes that are not UTF-8: no SigV4 client signs those
        signer: SigV4Auth
        if sig.presigned:
            query = [(name, value) for name, value in query if name != "X-Amz-Signature"]
            signer = _QuerySigner(credentials, self.region, sig.signed_headers, sig.expires or 0)
        else:
            signer = _HeaderSigner(credentials, self.region, sig.signed_headers)
        url = f"{call.scheme}://{_URL_HOST}{call.raw_path}"
        parsed = urlsplit(url)
        if parsed.path != call.raw_path or parsed.query or parsed.fragment:
            # A '#', '?' or control character would make botocore sign a shorter path than the one
            # routed: such a request cannot have been signed as it arrived.
            return False
        # botocore encodes and sorts parameters given as pairs (repeats kept) as SigV4 says.
        params = cast("dict[str, Any]", query)
        request = AWSRequest(method=call.method.upper(), url=url, data=call.body, params=params)
        request.headers = headers
        request.context["timestamp"] = sig.amz_date
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        return hmac.compare_digest(expected.encode(), sig.signature.encode())


def _presign_expires(value: str | None) -> int | Denial:
    """X-Amz-Expires in seconds, or AWS's refusal. Digits only (``int`` would also take ``" 5"``,
    ``"1_0"`` or other scripts' digits), and never more than the signing key's seven days."""
    if value is None:
        return DEFAULT_PRESIGN_EXPIRES
    if re.fullmatch(r"-[0-9]+", value):
        return Denial(EXPIRES_NEGATIVE, "IncompleteSignatureException")
    if not re.fullmatch(r"[0-9]+", value):
        return Denial(EXPIRES_NOT_A_NUMBER, "IncompleteSignatureException")
    if len(value.lstrip("0")) > len(str(MAX_PRESIGN_EXPIRES)) or int(value) > MAX_PRESIGN_EXPIRES:
        return Denial(EXPIRES_TOO_LONG, "IncompleteSignatureException")
    return int(value)


def _fmt(value: datetime) -> str:
    return value.strftime(SIGV4_TIMESTAMP)


def _date_header_as_amz(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC).strftime(SIGV4_TIMESTAMP)
    except (TypeError, ValueError, OverflowError):
        return None
