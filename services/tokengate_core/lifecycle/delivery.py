"""What ``GET /token`` answers: the client's current token, to a caller the authorizer let through.

Whoever holds the previous token during its grace window can fetch the new one. That is the
point (a client with no IAM identity picks up a scheduled rotation with what it holds), and the
limit: rotation is hygiene, revocation is the answer to a leaked token.

The authorizer's decision may be up to its cache TTL old, so it is not trusted with the token:
the presented token (the request's ``Authorization`` header, which the stage passes on) is checked
again, in constant time, against the record read here, by the authorizer's own rule (the current
token, an imported one included, or the previous one inside its grace window). A token the record
no longer accepts (a client revoked or purged accepts none) gets exactly the stage's answer to a
denied request, so a stale cache tells its holder nothing it would not have learnt from a fresh
one. A request the authorizer let through
over its client's limits (``on_limit: tell_integration``) is answered 429 before any read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from tokengate_core.authorize.limited import limited
from tokengate_core.errors import NotFoundError, RevokedError, TokengateError
from tokengate_core.records.model import utcnow_from
from tokengate_core.records.store import SecretsStore
from tokengate_core.tokens import format as tokens

#: API Gateway's own body when a Lambda authorizer denies a request (with status 403).
DENIED_BODY = {"message": "Forbidden"}


class Answer(NamedTuple):
    status: int
    body: dict[str, Any]
    #: What is logged: the client and the outcome, never a token.
    fields: dict[str, Any]
    headers: Mapping[str, str] = MappingProxyType({})


class Request(NamedTuple):
    """What delivery reads from a payload 2.0 event: the authorizer's context and the token presented."""

    caller: Mapping[str, Any]
    authorization: str | None

    @classmethod
    def from_event(cls, event: Any) -> Request:
        if not isinstance(event, dict):
            return cls({}, None)
        context = event.get("requestContext")
        authorizer = context.get("authorizer") if isinstance(context, dict) else None
        caller = authorizer.get("lambda") if isinstance(authorizer, dict) else None
        headers = event.get("headers")
        headers = headers if isinstance(headers, dict) else {}
        # Payload 2.0 headers arrive lower-cased; any other spelling is read the same way.
        given = [v for k, v in headers.items() if str(k).lower() == "authorization"]
        authorization = given[0] if len(given) == 1 and isinstance(given[0], str) else None
        return cls(caller if isinstance(caller, dict) else {}, authorization)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def deliver(store: SecretsStore, request: Request) -> Answer:
    """The answer to one request."""
    caller = request.caller
    tenant, key_id = caller.get("tenant"), caller.get("client_id")
    if not isinstance(tenant, str) or not isinstance(key_id, str) or not tokens.is_key_id(key_id):
        return Answer(403, _error("forbidden", "no authorized client"), {"outcome": "no_caller"})
    fields: dict[str, Any] = {"tenant": tenant, "client_id": key_id}
    told = limited(caller)
    if told is not None:
        return Answer(429, told.body, {**fields, "outcome": told.reason}, told.headers)
    try:
        record = store.get(key_id)
    except (NotFoundError, RevokedError):
        return Answer(403, dict(DENIED_BODY), {**fields, "outcome": "gone"})  # it accepts no token at all
    except TokengateError as error:
        return Answer(503, _error(error.code, "try again shortly"), {**fields, "outcome": error.code})
    now = utcnow_from(time.time())
    presented = tokens.from_authorization_header(request.authorization)
    if presented is None or not record.accepts(presented, now) or record.tenant != tenant:
        # Checked before anything else about the record, so that such a token learns nothing of it.
        return Answer(403, dict(DENIED_BODY), {**fields, "outcome": "token_not_accepted"})
    if record.status_at(now) != "active":
        return Answer(403, _error("forbidden", "client is not active"), {**fields, "outcome": "inactive"})
    if not record.token_fetch:
        body = _error("token_fetch_disabled", "this client does not fetch its token here")
        return Answer(403, body, {**fields, "outcome": "disabled"})
    if record.token is None:
        # An imported client's current token is the one the caller presented: nothing new to give
        # until the first rotation mints one of ours (fetched here then, with the imported token).
        body = _error("not_rotated", "the token you hold is this client's current token; none is newer")
        return Answer(409, body, {**fields, "outcome": "imported"})
    body = {
        "client_id": record.key_id,
        "tenant": record.tenant,
        "token": record.token.get_secret_value(),
        "rotated_at": record.rotated_at.isoformat() if record.rotated_at else None,
        "previous_token_valid_until": record.previous.valid_until.isoformat() if record.previous else None,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }
    return Answer(200, body, {**fields, "outcome": "delivered"})
