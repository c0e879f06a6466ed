"""What ``GET /token`` answers: the client's current token, to a caller the authorizer let through.

Whoever holds the previous token during its grace window can fetch the new one. That is the
point (a client with no IAM identity picks up a scheduled rotation with what it holds), and the
limit: rotation is hygiene, revocation is the answer to a leaked token.
"""

from __future__ import annotations

import time
from typing import Any

from tokengate_core.errors import NotFoundError, RevokedError, TokengateError
from tokengate_core.records.model import utcnow_from
from tokengate_core.records.store import SecretsStore
from tokengate_core.tokens import format as tokens


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def deliver(store: SecretsStore, caller: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(status, body, log fields) for one request; ``caller`` is the authorizer's context."""
    tenant = caller.get("tenant") if isinstance(caller, dict) else None
    key_id = caller.get("client_id") if isinstance(caller, dict) else None
    if not isinstance(tenant, str) or not isinstance(key_id, str) or not tokens.is_key_id(key_id):
        body = _error("forbidden", "no authorized client")
        return 403, body, {"outcome": "no_caller"}
    fields: dict[str, Any] = {"tenant": tenant, "client_id": key_id}
    try:
        record = store.get(key_id)
    except (NotFoundError, RevokedError):
        return 403, _error("forbidden", "client is not active"), {**fields, "outcome": "gone"}
    except TokengateError as error:
        return 503, _error(error.code, "try again shortly"), {**fields, "outcome": error.code}
    if record.tenant != tenant or record.status_at(utcnow_from(time.time())) != "active":
        return 403, _error("forbidden", "client is not active"), {**fields, "outcome": "inactive"}
    if not record.token_fetch:
        body = _error("token_fetch_disabled", "this client does not fetch its token here")
        return 403, body, {**fields, "outcome": "disabled"}
    if record.token is None:
        # An imported client's current token is the one the caller presented: nothing new to give
        # until the first rotation mints one of ours (fetched here then, with the imported token).
        body = _error("not_rotated", "the token you hold is this client's current token; none is newer")
        return 409, body, {**fields, "outcome": "imported"}
    body = {
        "client_id": record.key_id,
        "tenant": record.tenant,
        "token": record.token.get_secret_value(),
        "rotated_at": record.rotated_at.isoformat() if record.rotated_at else None,
        "previous_token_valid_until": record.previous.valid_until.isoformat() if record.previous else None,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }
    return 200, body, {**fields, "outcome": "delivered"}
