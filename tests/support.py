"""Test helpers on top of tokengate.events: call the admin handler and issue clients."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from tokengate.events import ACCOUNT, ADMIN_ARN, FakeClock, FakeContext, admin_event, authorizer_event
from tokengate_core import keyring, tokens

#: A signer for tokens that need no deployment (unit tests of the codec and the record).
SIGN = keyring.new_keyring(0.0).signer(0.0)


def forged(key_id: str) -> str:
    """A well-formed token (right checksum) whose tag no deployment key made."""
    return tokens.generate(key_id, lambda signed: "0" * tokens.TAG_LENGTH)


def minted(key_id: str) -> str:
    """A token for ``key_id`` tagged by this deployment's keyring: genuine, but not the client's."""
    from tokengate_core.aws import make_store
    from tokengate_core.config import StoreSettings

    return tokens.generate(key_id, keyring.ensure(make_store(StoreSettings()), 0.0).signer(0.0))


__all__ = [
    "ACCOUNT",
    "ADMIN_ARN",
    "SIGN",
    "AdminResponse",
    "FakeClock",
    "FakeContext",
    "admin_event",
    "authorizer_event",
    "forged",
    "minted",
]


@dataclass
class AdminResponse:
    status: int
    body: Any
    headers: dict[str, str]


def call_admin(method: str, path: str, body: Any = None, **kwargs: Any) -> AdminResponse:
    return call_admin_event(admin_event(method, path, body, **kwargs))


def call_admin_event(event: dict[str, Any]) -> AdminResponse:
    from admin import app as admin_app

    response = admin_app.handler(event, FakeContext())
    text = response.get("body") or "null"
    return AdminResponse(response["statusCode"], json.loads(text), response.get("headers") or {})


def send_body(
    method: str,
    path: str,
    body: bytes | str,
    content_type: str | None = "application/json",
    *,
    base64_encoded: bool = False,
    headers: dict[str, str] | None = None,
) -> AdminResponse:
    """An admin request with exactly this body, as API Gateway passes it (bytes it cannot pass as
    text arrive base64-encoded)."""
    event = admin_event(method, path)
    event["headers"] = {"host": "api.example.com", **(headers or {})}
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    if base64_encoded:
        raw = body.encode() if isinstance(body, str) else body
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"] = body if isinstance(body, str) else body.decode("utf-8")
    return call_admin_event(event)


def issue(tenant: str, name: str, **fields: Any) -> tuple[str, str]:
    """Issue a client through the admin API; return (client_id, token)."""
    response = call_admin("POST", f"/admin/tenants/{tenant}/clients", {"client_name": name, **fields})
    assert response.status == 201, response.body
    return response.body["client"]["client_id"], response.body["token"]


def store_calls() -> list[tuple[str, str]]:
    """(operation, client attribute) for each Secrets Manager call in store.py: the calls are
    ``self._call(self._client.<operation>, ...)`` or ``self._call(self._control.<operation>, ...)``."""
    import ast
    from pathlib import Path

    from tokengate import SERVICES_DIR

    calls = []
    for node in ast.walk(ast.parse((Path(SERVICES_DIR) / "tokengate_core" / "store.py").read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_call"):
            continue
        method = node.args[0] if node.args else None
        if isinstance(method, ast.Attribute) and isinstance(method.value, ast.Attribute):
            calls.append((method.attr, method.value.attr))
    return calls
