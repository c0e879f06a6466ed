"""The emulated HTTP API stage over real HTTP (uvicorn on a thread), with stand-in functions, so each
API Gateway rule is observed exactly: the 2.0 event, the response rules, the authorizer's rules."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from botocore.credentials import Credentials

from tokengate.local.asgi import asgi_app
from tokengate.local.gateway import Gateway, StageConfig
from tokengate.local.iam import SigV4Verifier
from tokengate.local.principals import Principal, PrincipalDirectory, api_arn
from tokengate.local.runtime import Invocation
from tokengate.sigv4 import sign
from tokengate_core.deployment.functions import FunctionName

REGION, ACCOUNT, API_ID = "us-east-1", "123456789012", "tglocal001"
ADMIN = Principal(
    access_key_id="AKIAADMINAAAAAAAAAAA",
    secret_access_key="admin-secret-access-key-0123456789",
    arn=f"arn:aws:iam::{ACCOUNT}:user/admin",
    allow=[f"{api_arn(REGION, ACCOUNT, API_ID)}/*"],
)
ALLOW = {"isAuthorized": True, "context": {"tenant": "acme", "client_id": "k1"}}


@dataclass
class StandIn:
    """A function: records each event, answers with ``respond``; tracks how many run at once."""

    respond: Callable[[dict[str, Any]], Invocation]
    events: list[dict[str, Any]] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, event: Any) -> Invocation:
        with self.lock:
            self.events.append(event)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            return self.respond(event)
        finally:
            with self.lock:
                self.running -= 1


def returns(value: Any) -> Callable[[dict[str, Any]], Invocation]:
    return lambda _event: Invocation(value=value)


@dataclass
class Stage:
    url: str
    authorizer: StandIn
    main: StandIn
    admin: StandIn
    leaks: StandIn

    def call(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Any:
        host, port = self.url.split("//")[1].split("/")[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
        try:
            connection.putrequest(method, path)
            for name, value in headers:
                connection.putheader(name, value)
            if body:
                connection.putheader("content-length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@contextmanager
def running(
    authorizer: StandIn | None = None,
    main: StandIn | None = None,
    admin: StandIn | None = None,
    cache_ttl: float = 0,
    leaks: StandIn | None = None,
) -> Iterator[Stage]:
    functions: dict[FunctionName, StandIn] = {
        "authorizer": authorizer or StandIn(returns(ALLOW)),
        "main": main or StandIn(returns({"ok": True})),
        "admin": admin or StandIn(returns({"statusCode": 200, "body": "{}"})),
        "leaks": leaks or StandIn(returns({"statusCode": 200, "body": "[]"})),
    }
    config = StageConfig("dev", REGION, ACCOUNT, API_ID, authorizer_cache_ttl=cache_ttl)
    gateway = Gateway(config, functions, SigV4Verifier(PrincipalDirectory(ADMIN, None), REGION))
    executor = ThreadPoolExecutor(max_workers=16)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(asgi_app(gateway, executor), log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield Stage(f"http://127.0.0.1:{sock.getsockname()[1]}/dev", *functions.values())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        executor.shutdown(wait=False)
        sock.close()


def json_body(raw: bytes) -> Any:
    return json.loads(raw.decode())


# -- the 2.0 request event ---------------------------------------------------------------------------


def test_the_integration_event_is_payload_2_0() -> None:
    with running() as stage:
        status, headers, _ = stage.call(
            "GET",
            "/dev/invoke?a=1&a=2&b=&c=x%20y",
            [
                ("Authorization", "tok"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
                ("Cookie", "c1=v1; c2=v2"),
                ("User-Agent", "tests/1"),
            ],
        )
    assert status == 200
    event = stage.main.events[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /invoke"
    assert event["rawPath"] == "/dev/invoke"
    assert event["rawQueryString"] == "a=1&a=2&b=&c=x%20y"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["authorization"] == "tok"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": "x y"}
    assert "pathParameters" not in event and "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert {k: context[k] for k in ("accountId", "apiId", "routeKey", "stage")} == {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "routeKey": "ANY /invoke",
        "stage": "dev",
    }
    assert context["domainName"] == stage.url.split("//")[1].split("/")[0]
    assert context["http"] == {
        "method": "GET",
        "path": "/dev/invoke",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1",
    }
    assert context["requestId"] == dict((k.lower(), v) for k, v in headers)["apigw-requestid"]
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    assert context["authorizer"] == {"lambda": {"tenant": "acme", "client_id": "k1"}}


def test_the_authorizer_event_is_a_2_0_request_event_without_body() -> None:
    with running() as stage:
        stage.call("POST", "/dev/invoke", [("Authorization", "tok"), ("content-type", "text/plain")], b"hello")
    event = stage.authorizer.events[0]
    assert event["type"] == "REQUEST" and event["version"] == "2.0"
    assert event["routeArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/dev/POST/invoke"
    assert event["identitySource"] == ["tok"]
    assert "body" not in event and "authorizer" not in event["requestContext"]
    assert stage.main.events[0]["body"] == "hello" and stage.main.events[0]["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [
        ("application/json", b'{"a":1}', False),
        ("application/problem+json; charset=utf-8", b"{}", False),
        ("text/csv", b"a,b", False),
        ("application/octet-stream", b"\x00\xff\x10", True),
        ("image/png", b"\x89PNG", True),
        ("application/json", b"\xff\xfe", True),  # not UTF-8: binary after all
    ],
)
def test_binary_bodies_are_base64_encoded(content_type: str, body: bytes, encoded: bool) -> None:
    with running() as stage:
        stage.call("POST", "/dev/invoke", [("Authorization", "t"), ("content-type", content_type)], body)
    event = stage.main.events[0]
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == body


def test_the_admin_route_gets_the_greedy_path_and_the_iam_caller() -> None:
    with running() as stage:
        signed = sign("GET", f"{stage.url}/admin/tenants/acme/clients", credentials=Credentials(
            ADMIN.access_key_id, ADMIN.secret_access_key.get_secret_value()), region=REGION)  # fmt: skip
        status, _, _ = stage.call("GET", "/dev/admin/tenants/acme/clients", list(signed.headers.items()))
    assert status == 200
    event = stage.admin.events[0]
    assert event["routeKey"] == "ANY /admin/{proxy+}"
    assert event["pathParameters"] == {"proxy": "tenants/acme/clients"}
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["userArn"] == ADMIN.arn and iam["accessKey"] == ADMIN.access_key_id
    assert iam["cognitoIdentity"] is None and iam["principalOrgId"] is None
    assert not stage.authorizer.events


def test_the_greedy_path_takes_any_character() -> None:
    with running() as stage:
        path = "/dev/admin/tenants/acme/clients/a%0D%0Ab%2Fc%F0%9F%99%82"
        signed = sign("GET", f"{stage.url}{path[4:]}", credentials=Credentials(
            ADMIN.access_key_id, ADMIN.secret_access_key.get_secret_value()), region=REGION)  # fmt: skip
        status, _, _ = stage.call("GET", path, list(signed.headers.items()))
    assert status == 200
    event = stage.admin.events[0]
    assert event["rawPath"] == path
    assert event["pathParameters"] == {"proxy": "tenants/acme/clients/a\r\nb/c\U0001f642"}


def test_an_unsigned_admin_call_never_reaches_the_function() -> None:
    with running() as stage:
        status, _, body = stage.call("GET", "/dev/admin/tenants/acme/clients")
    assert (status, json_body(body)) == (403, {"message": "Forbidden"})
    assert not stage.admin.events


@pytest.mark.parametrize("path", ["/dev/nope", "/prod/invoke", "/dev/admin/", "/dev/admin", "/dev/invoke/", "/"])
def test_unknown_routes_are_api_gateways_404(path: str) -> None:
    with running() as stage:
        status, _, body = stage.call("GET", path, [("Authorization", "t")])
    assert (status, json_body(body)) == (404, {"message": "Not Found"})
    assert not stage.main.events and not stage.authorizer.events


# -- the 2.0 response rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body"),
    [
        ({"message": "hi"}, 200, "application/json", b'{"message":"hi"}'),
        ("plain words", 200, "application/json", b"plain words"),
        ([1, 2], 200, "application/json", b"[1,2]"),
        ({"statusCode": 201, "body": "made"}, 201, "text/plain; charset=utf-8", b"made"),
        ({"statusCode": 204}, 204, "text/plain; charset=utf-8", b""),
        (
            {"statusCode": 200, "headers": {"content-type": "image/gif"}, "body": "R0lGODk=", "isBase64Encoded": True},
            200,
            "image/gif",
            b"GIF89",
        ),
        ({"statusCode": "200", "body": "x"}, 500, "application/json", b'{"message":"Internal Server Error"}'),
        (
            {"statusCode": 200, "body": {"not": "a string"}},
            500,
            "application/json",
            b'{"message":"Internal Server Error"}',
        ),
    ],
)
def test_response_rules(value: Any, status: int, content_type: str, body: bytes) -> None:
    with running(main=StandIn(returns(value))) as stage:
        got_status, headers, got_body = stage.call("GET", "/dev/invoke", [("Authorization", "t")])
    assert (got_status, got_body) == (status, body)
    assert dict((k.lower(), v) for k, v in headers)["content-type"] == content_type


def test_headers_and_cookies_are_honoured() -> None:
    value = {
        "statusCode": 200,
        "headers": {"X-One": "1", "cache-control": "no-store"},
        "cookies": ["a=1", "b=2; Path=/"],
    }
    with running(main=StandIn(returns(value))) as stage:
        _, headers, _ = stage.call("GET", "/dev/invoke", [("Authorization", "t")])
    lowered = [(k.lower(), v) for k, v in headers]
    assert ("x-one", "1") in lowered and ("cache-control", "no-store") in lowered
    assert [v for k, v in lowered if k == "set-cookie"] == ["a=1", "b=2; Path=/"]


@pytest.mark.parametrize("error", ["ValueError", "timeout"])
def test_a_failed_integration_is_a_500(error: str) -> None:
    with running(main=StandIn(lambda _e: Invocation(error=error))) as stage:
        status, _, body = stage.call("GET", "/dev/invoke", [("Authorization", "t")])
    assert (status, json_body(body)) == (500, {"message": "Internal Server Error"})


# -- the Lambda authorizer ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [[], [("Authorization", "")]], ids=["missing", "empty"])
def test_no_identity_source_is_401_without_invoking_the_authorizer(headers: list[tuple[str, str]]) -> None:
    with running() as stage:
        status, _, body = stage.call("GET", "/dev/invoke", headers)
    assert (status, json_body(body)) == (401, {"message": "Unauthorized"})
    assert not stage.authorizer.events and not stage.main.events


def test_a_deny_is_403_and_the_integration_is_not_invoked() -> None:
    with running(authorizer=StandIn(returns({"isAuthorized": False}))) as stage:
        status, _, body = stage.call("GET", "/dev/invoke", [("Authorization", "t")])
    assert (status, json_body(body)) == (403, {"message": "Forbidden"})
    assert not stage.main.events


@pytest.mark.parametrize(
    "outcome",
    [Invocation(error="timeout"), Invocation(error="RuntimeError"), Invocation(value={"allow": True}),
     Invocation(value={"isAuthorized": "yes"}), Invocation(value=None)],
    ids=["timeout", "raised", "no-isAuthorized", "not-bool", "null"],
)  # fmt: skip
def test_an_authorizer_failure_is_500(outcome: Invocation) -> None:
    with running(authorizer=StandIn(lambda _e: outcome)) as stage:
        status, _, body = stage.call("GET", "/dev/invoke", [("Authorization", "t")])
    assert (status, json_body(body)) == (500, {"message": "Internal Server Error"})
    assert not stage.main.events


def test_authorizer_results_are_cached_by_identity_source_when_configured() -> None:
    with running(cache_ttl=300) as stage:
        for token in ("a", "a", "b", "a"):
            assert stage.call("GET", "/dev/invoke", [("Authorization", token)])[0] == 200
    assert [e["identitySource"] for e in stage.authorizer.events] == [
        ["a", "ANY /invoke", "GET"],
        ["b", "ANY /invoke", "GET"],
    ]
    assert len(stage.main.events) == 4
    assert stage.main.events[1]["requestContext"]["authorizer"]["lambda"] == ALLOW["context"]


def test_a_cached_decision_never_answers_for_another_method() -> None:
    with running(cache_ttl=300) as stage:
        assert stage.call("GET", "/dev/invoke", [("Authorization", "a")])[0] == 200
        assert stage.call("POST", "/dev/invoke", [("Authorization", "a")])[0] == 200
        assert stage.call("GET", "/dev/invoke", [("Authorization", "a")])[0] == 200
    assert [e["identitySource"][2] for e in stage.authorizer.events] == ["GET", "POST"]


def test_denials_are_cached_too_and_nothing_is_cached_by_default() -> None:
    deny = StandIn(returns({"isAuthorized": False}))
    with running(authorizer=deny, cache_ttl=300) as stage:
        assert [stage.call("GET", "/dev/invoke", [("Authorization", "x")])[0] for _ in range(3)] == [403] * 3
    assert len(deny.events) == 1
    with running() as stage:
        for _ in range(3):
            stage.call("GET", "/dev/invoke", [("Authorization", "x")])
    assert len(stage.authorizer.events) == 3


def test_requests_are_served_concurrently() -> None:
    gate = threading.Barrier(4, timeout=10)

    def wait_for_peers(_event: dict[str, Any]) -> Invocation:
        gate.wait()  # returns only once four invocations are in flight together
        return Invocation(value={"ok": True})

    main = StandIn(wait_for_peers)
    with running(main=main) as stage, ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: stage.call("GET", "/dev/invoke", [("Authorization", "t")])[0], range(4)))
    assert statuses == [200] * 4
    assert main.most_at_once == 4


# -- a route without gateway authorization (the leak endpoint) ----------------------------------------


def test_a_route_without_authorization_reaches_its_function_as_sent() -> None:
    with running() as stage:
        body = b'[{"token":"x","type":"t","url":"","source":"content"}]'
        headers = [("content-type", "application/json"), ("github-public-key-signature", "sig")]
        status, _, raw = stage.call("POST", "/dev/leaks/github", headers, body)
        assert (status, raw) == (200, b"[]")
        assert stage.authorizer.events == [] and stage.admin.events == []
        (event,) = stage.leaks.events
        assert event["routeKey"] == "POST /leaks/github" and "authorizer" not in event["requestContext"]
        assert event["body"] == body.decode() and event["headers"]["github-public-key-signature"] == "sig"
        # Only its method: anything else is API Gateway's 404.
        assert stage.call("GET", "/dev/leaks/github")[0] == 404
