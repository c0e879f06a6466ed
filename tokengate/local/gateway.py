"""An HTTP API stage in front of the Lambda handlers: routes, authorization, payload format 2.0.

The route table is tokengate_core.deployment.routes.ROUTES (the one the CDK stack deploys). Everything API
Gateway does between the socket and the function is here, on plain request and response values
(tokengate.local.asgi serves it over HTTP with Starlette): the identity
source check and the Lambda authorizer (with its optional result cache), AWS_IAM (SigV4 and
execute-api:Invoke), the 2.0 request event, the 2.0 response rules, with API Gateway's own
error bodies, and the response parameter mapping that the CDK stack puts on every CUSTOM
integration (headers from the authorizer's context, tokengate_core.deployment.routes).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from tokengate.local.iam import Denial, IncomingCall, SigV4Verifier
from tokengate.local.principals import api_arn, execute_api_arn
from tokengate.local.runtime import STATE_NOT_SAVED, Invocation
from tokengate_core.deployment.routes import (
    IDENTITY_SOURCE,
    METHOD_IDENTITY_SOURCE,
    ROUTE_IDENTITY_SOURCE,
    FunctionName,
    Route,
    authorizer_response_headers,
    identity_sources,
    mapped_status_codes,
)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request payload quota
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")
_TEXT_SUFFIXES = ("+json", "+xml")


#: With the result cache on, the deployed stack's identity sources (one definition, in routes.py).
CACHED_IDENTITY_SOURCES = tuple(identity_sources(cache_enabled=True))


class Invoker(Protocol):
    def invoke(self, event: Any) -> Invocation: ...


@dataclass(frozen=True)
class StageConfig:
    stage: str
    region: str
    account_id: str
    api_id: str
    authorizer_cache_ttl: float = 0.0

    @property
    def api_arn(self) -> str:
        return api_arn(self.region, self.account_id, self.api_id)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    scheme: str
    http_version: str
    raw_path: str  # as sent, percent-encoded, with the /stage prefix
    path: str  # decoded, without the stage prefix
    raw_query: str
    headers: Sequence[tuple[str, str]]  # lower-case names, arrival order, repeats kept
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    def as_call(self) -> IncomingCall:
        return IncomingCall(self.method, self.scheme, self.raw_path, self.raw_query, self.headers, self.body)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def message_response(status: int, message: str, extra_headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
    """API Gateway's own responses: ``{"message": "..."}`` as JSON."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json"), *extra_headers], body)


def internal_error() -> HttpResponse:
    return message_response(500, "Internal Server Error")


def failed_invocation(invocation: Invocation) -> HttpResponse:
    """A function that failed is API Gateway's 500; one whose changes the local stack could not save
    (a full disk) is a 503: nothing was changed, and trying again later may work."""
    if invocation.error == STATE_NOT_SAVED:
        return message_response(503, "Service Unavailable")
    return internal_error()


class Gateway:
    def __init__(
        self,
        config: StageConfig,
        functions: Mapping[FunctionName, Invoker],
        verifier: SigV4Verifier,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._functions = functions
        self._verifier = verifier
        self._clock = clock
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._auth_cache_lock = threading.Lock()

    # -- one request ------------------------------------------------------------------------------

    def handle(self, route: Route, request: HttpRequest, path_params: Mapping[str, str]) -> HttpResponse:
        request_id = base64.b64encode(secrets.token_bytes(11)).decode()
        response = self._handle(route, request, dict(path_params), request_id)
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _handle(self, route: Route, request: HttpRequest, path_params: dict[str, str], request_id: str) -> HttpResponse:
        now = self._clock()
        base = self._base_event(route, request, path_params, request_id, now)
        if route.authorization == "CUSTOM":
            outcome = self._lambda_authorizer(route, request, base)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorizer: dict[str, Any] | None = {"lambda": outcome}
        elif route.authorization == "AWS_IAM":
            resource = execute_api_arn(self.config.api_arn, self.config.stage, request.method, request.path)
            identity = self._verifier.verify(request.as_call(), resource)
            if isinstance(identity, Denial):
                return message_response(identity.status, identity.message, [("x-amzn-errortype", identity.error_type)])
            authorizer = {"iam": identity.to_event()}
        else:
            authorizer = None  # NONE: the function authenticates the request itself

        event = dict(base)
        if authorizer is not None:
            event["requestContext"] = {**base["requestContext"], "authorizer": authorizer}
        body, encoded = _event_body(request)
        if body is not None:
            event["body"] = body
        event["isBase64Encoded"] = encoded
        invocation = self._functions[route.function].invoke(event)
        if not invocation.ok:
            return failed_invocation(invocation)
        response = integration_response(invocation.value)
        if authorizer is not None and "lambda" in authorizer:
            map_authorizer_headers(response, authorizer["lambda"])
        return response

    # -- the Lambda authorizer --------------------------------------------------------------------

    def _lambda_authorizer(
        self, route: Route, request: HttpRequest, base: dict[str, Any]
    ) -> HttpResponse | dict[str, Any]:
        ttl = self.config.authorizer_cache_ttl
        sources = identity_values(CACHED_IDENTITY_SOURCES if ttl > 0 else (IDENTITY_SOURCE,), route, request)
        if sources is None:
            # API Gateway answers this itself: the authorizer is never invoked.
            return message_response(401, "Unauthorized")
        key = tuple(sources)
        cached = self._cached_decision(key) if ttl > 0 else None
        if cached is None:
            event = {
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": execute_api_arn(self.config.api_arn, self.config.stage, request.method, request.path),
                "identitySource": sources,
                **base,
            }
            invocation = self._functions["authorizer"].invoke(event)
            cached = _simple_authorizer_result(invocation)
            if cached is None:
                return failed_invocation(invocation)
            if ttl > 0:
                with self._auth_cache_lock:
                    self._auth_cache[key] = (self._clock() + ttl, cached)
        if not cached["isAuthorized"]:
            return message_response(403, "Forbidden")
        return dict(cached.get("context") or {})

    def _cached_decision(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        with self._auth_cache_lock:
            entry = self._auth_cache.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._auth_cache[key]
                return None
            return entry[1]

    # -- the 2.0 event ----------------------------------------------------------------------------

    def _base_event(
        self, route: Route, request: HttpRequest, path_params: dict[str, str], request_id: str, now: float
    ) -> dict[str, Any]:
        """Everything the integration and the authorizer events share (no body, no authorizer)."""
        headers = _event_headers(request, now)
        cookies = [c.strip() for k, v in request.headers if k == "cookie" for c in v.split(";") if c.strip()]
        query: dict[str, list[str]] = defaultdict(list)
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query[name].append(value)
        host = request.header("host") or ""
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
        }
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if query:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
        event["requestContext"] = {
            "accountId": self.config.account_id,
            "apiId": self.config.api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": f"HTTP/{request.http_version}",
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": self.config.stage,
            "time": _clf_time(now),
            "timeEpoch": int(now * 1000),
        }
        if path_params:
            event["pathParameters"] = path_params
        return event


# -- helpers ----------------------------------------------------------------------------------------


def identity_values(sources: Sequence[str], route: Route, request: HttpRequest) -> list[str] | None:
    """The identity sources' values, or None when one is missing or empty (API Gateway's 401)."""
    values: list[str] = []
    for source in sources:
        value: str | None
        if source.startswith("$request.header."):
            value = request.header(source.removeprefix("$request.header.").lower())
        elif source.startswith("$request.querystring."):
            name = source.removeprefix("$request.querystring.")
            found = [v for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k == name]
            value = ",".join(found) if found else None
        elif source == ROUTE_IDENTITY_SOURCE:
            value = route.route_key
        elif source == METHOD_IDENTITY_SOURCE:
            value = request.method
        else:
            raise ValueError(f"identity source {source} is not emulated")
        if not value:
            return None
        values.append(value)
    return values


def _event_headers(request: HttpRequest, now: float) -> dict[str, str]:
    """Lower-cased, repeats joined by commas; cookies go to ``cookies``; API Gateway's own added."""
    headers: dict[str, list[str]] = defaultdict(list)
    for name, value in request.headers:
        if name != "cookie":
            headers[name].append(value)
    headers["x-forwarded-for"].append(request.source_ip)
    host = request.header("host") or ""
    port = host.rsplit(":", 1)[1] if ":" in host else ("443" if request.scheme == "https" else "80")
    headers.setdefault("x-forwarded-port", [port])
    headers.setdefault("x-forwarded-proto", [request.scheme])
    headers.setdefault("x-amzn-trace-id", [f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"])
    return {k: ",".join(v) for k, v in headers.items()}


def _event_body(request: HttpRequest) -> tuple[str | None, bool]:
    """Text media types pass as text; anything else (or undecodable bytes) is base64-encoded."""
    if not request.body:
        return None, False
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    textual = content_type.startswith(_TEXT_TYPES) or content_type.endswith(_TEXT_SUFFIXES)
    if textual:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _simple_authorizer_result(invocation: Invocation) -> dict[str, Any] | None:
    """A valid simple response, or None (API Gateway answers 500 for an error or a malformed result)."""
    value = invocation.value
    if not invocation.ok or not isinstance(value, dict) or not isinstance(value.get("isAuthorized"), bool):
        return None
    context = value.get("context")
    if context is not None and not isinstance(context, dict):
        return None
    return {"isAuthorized": value["isAuthorized"], "context": context}


_MAPPED_STATUS_CODES = frozenset(mapped_status_codes())
_AUTHORIZER_RESPONSE_HEADERS = authorizer_response_headers()


def map_authorizer_headers(response: HttpResponse, context: Mapping[str, Any]) -> None:
    """The integration's response parameters, as the CDK stack sets them: for a mapped status code,
    ``overwrite:header.<name>`` from ``$context.authorizer.<key>`` (a key the context lacks maps
    nothing here)."""
    if response.status not in _MAPPED_STATUS_CODES:
        return
    for header, key in _AUTHORIZER_RESPONSE_HEADERS.items():
        if context.get(key) is None:
            continue
        name = header.lower()
        response.headers[:] = [(k, v) for k, v in response.headers if k != name]
        response.headers.append((name, _header_value(context[key])))


def integration_response(value: Any) -> HttpResponse:
    """Payload 2.0 response rules: a dict with statusCode is a response; anything else is inferred
    as a 200 JSON body (a string is the body itself)."""
    if isinstance(value, dict) and "statusCode" in value:
        return _explicit_response(value)
    body = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return HttpResponse(200, [("content-type", "application/json")], body.encode("utf-8"))


def _explicit_response(value: dict[str, Any]) -> HttpResponse:
    status = value["statusCode"]
    headers = value.get("headers") or {}
    cookies = value.get("cookies") or []
    body = value.get("body")
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(cookies, list)
        or not (body is None or isinstance(body, str))
    ):
        return internal_error()
    out = [(str(k).lower(), _header_value(v)) for k, v in headers.items()]
    out += [("set-cookie", str(c)) for c in cookies]
    if not any(k == "content-type" for k, _ in out):
        out.append(("content-type", "text/plain; charset=utf-8"))
    raw = b""
    if body is not None:
        if value.get("isBase64Encoded") is True:
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return internal_error()
        else:
            raw = body.encode("utf-8")
    return HttpResponse(status, out, raw)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clf_time(now: float) -> str:
    t = time.gmtime(now)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
