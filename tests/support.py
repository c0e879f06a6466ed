"""Test helpers on top of tokengate.events: call the admin handler and issue clients."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tokengate.events import ACCOUNT, ADMIN_ARN, FakeClock, FakeContext, admin_event, authorizer_event

__all__ = ["ACCOUNT", "ADMIN_ARN", "AdminResponse", "FakeClock", "FakeContext", "admin_event", "authorizer_event"]


@dataclass
class AdminResponse:
    status: int
    body: Any
    headers: dict[str, str]


def call_admin(method: str, path: str, body: Any = None, **kwargs: Any) -> AdminResponse:
    from admin import app as admin_app

    response = admin_app.handler(admin_event(method, path, body, **kwargs), FakeContext())
    text = response.get("body") or "null"
    return AdminResponse(response["statusCode"], json.loads(text), response.get("headers") or {})


def issue(tenant: str, name: str, **fields: Any) -> tuple[str, str]:
    """Issue a client through the admin API; return (client_id, token)."""
    response = call_admin("POST", f"/admin/tenants/{tenant}/clients", {"client_name": name, **fields})
    assert response.status == 201, response.body
    return response.body["client"]["client_id"], response.body["token"]
