"""Builders for the events API Gateway sends to the functions, a LambdaContext stand-in and a
clock that can be moved: shared by the tests and the benchmarks, so both drive the same shapes."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ADMIN_ARN = "arn:aws:iam::123456789012:user/alice"
ACCOUNT = "123456789012"


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeContext:
    """The LambdaContext attributes Powertools reads."""

    function_name: str = "tokengate-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tokengate-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def authorizer_event(
    authorization: str | None, *, route_key: str = "ANY /invoke", method: str = "GET", path: str = "/invoke"
) -> dict[str, Any]:
    """A full payload 2.0 REQUEST authorizer event, with the headers a real client and the edge add."""
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate, br",
        "content-length": "0",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "python-requests/2.32.3",
        "x-amzn-trace-id": "Root=1-67a1b2c3-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if authorization is not None:
        headers["authorization"] = authorization
    now = time.time()
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123/dev/{method}{path}",
        "identitySource": [authorization] if authorization else [],
        "routeKey": route_key,
        "rawPath": f"/dev{path}",
        "rawQueryString": "page=1",
        "cookies": [],
        "headers": headers,
        "queryStringParameters": {"page": "1"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": f"/dev{path}",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "python-requests/2.32.3",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "dev",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {},
        "stageVariables": {},
    }


def admin_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    caller_arn: str | None = ADMIN_ARN,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    authorizer: dict[str, Any] = {}
    if caller_arn is not None:
        authorizer["iam"] = {
            "accessKey": "AKIAEXAMPLE",
            "accountId": ACCOUNT,
            "callerId": "AIDAEXAMPLE",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller_arn,
            "userId": "AIDAEXAMPLE",
        }
    query = query or {}
    return {
        "version": "2.0",
        "routeKey": "ANY /admin/{proxy+}",
        "rawPath": f"/dev{path}",
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "queryStringParameters": query or None,
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "pathParameters": {"proxy": path.removeprefix("/admin/")},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "authorizer": authorizer,
            "http": {"method": method, "path": f"/dev{path}", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "ANY /admin/{proxy+}",
            "stage": "dev",
        },
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }
