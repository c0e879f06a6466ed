"""A requests auth that signs with botocore SigV4 (service execute-api), for schemathesis and load."""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.credentials import Credentials

from tests.e2e.harness import HttpResult, RunningStack, request
from tokengate.local.location import DEFAULT_REGION
from tokengate.sigv4 import sign


class SigV4(requests.auth.AuthBase):
    def __init__(self, credentials: Credentials, region: str = DEFAULT_REGION) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        raw = prepared.body or b""
        body = raw.encode() if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
        headers = {k: str(v) for k, v in prepared.headers.items() if k.lower() == "content-type"}
        signed = sign(
            str(prepared.method),
            str(prepared.url),
            credentials=self.credentials,
            region=self.region,
            body=body,
            headers=headers,
        )
        prepared.headers.update(signed.headers)
        return prepared


def admin(stack: RunningStack, method: str, path: str, body: Any = None) -> HttpResult:
    """One signed admin call with the stack's default admin credentials."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"content-type": "application/json"} if body is not None else {}
    signed = sign(
        method, stack.url + path, credentials=stack.credentials, region=DEFAULT_REGION, body=data, headers=headers
    )
    return request(method, signed.url, body=data, headers=signed.headers)
