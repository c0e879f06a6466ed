"""GitHub's secret scanning partner endpoint (``POST /leaks/github``, no gateway authorization).

Every request is authenticated here before anything else: unsigned, mis-signed, or signed with a
key GitHub does not list is a 401 with no read and no change. A signed alert is answered in
GitHub's feedback format, after each live leaked token of ours has had its client revoked (or
disabled). No token is ever logged: the log line counts matches and names the clients acted on.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import LeakSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.errors import TokengateError
from tokengate_core.lifecycle import github
from tokengate_core.lifecycle.events import ACTOR_GITHUB, BufferedEvents
from tokengate_core.lifecycle.leaks import (
    MAX_BODY_BYTES,
    BadReport,
    Incomplete,
    LeakResponder,
    github_feedback,
    parse_github_reports,
    summary,
)
from tokengate_core.runtime.aws import (
    make_alert_memory,
    make_publisher,
    make_registry,
    make_shared_key_list,
    make_store,
)
from tokengate_core.runtime.observability import make_logger, safe_error

SPEC = FUNCTIONS["leaks"]
settings = LeakSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
keys = github.GitHubKeys(
    url=settings.github_keys_url,
    file=settings.github_keys_file,
    ttl=settings.github_keys_ttl_seconds,
    timeout=settings.github_keys_timeout_seconds,
    shared=make_shared_key_list(settings),
)
publisher = make_publisher(settings, SPEC.service)
#: The events of one alert, sent together at its end (ten per PutEvents call).
pending = BufferedEvents()


def _audit(action: str, **fields: Any) -> None:
    logger.info("audit", extra={"audit_action": action, **fields})


client_settings = settings.client_settings()
# The client use cases revoke and disable here exactly as in the admin API. This function never
# issues a client, so it never claims a name: its role may touch no name claim, only the shared
# copy of GitHub's keys and the items that remember alerts.
admin_context = AdminContext(
    store=make_store(client_settings),
    settings=client_settings,
    registry=make_registry(client_settings),
    audit=_audit,
    events=pending,
)
responder = LeakResponder(
    admin_context,
    action=settings.leak_action,
    events=pending,
    audit=_audit,
    memory=make_alert_memory(settings),  # a replayed alert changes nothing (lifecycle/alerts.py)
)


def _answer(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    logger.warning("leak report refused", extra={"code": code, "status": status})
    return _answer(status, {"code": code, "message": message})


def _body(event: dict[str, Any]) -> bytes | None:
    """The raw body as GitHub sent it (what the signature covers), or None when over the cap."""
    text = event.get("body") or ""
    if not isinstance(text, str):
        return b""
    if event.get("isBase64Encoded") is True:
        if len(text) > (MAX_BODY_BYTES + 2) // 3 * 4:
            return None
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return b""
    else:
        raw = text.encode("utf-8", "surrogatepass")
    return raw if len(raw) <= MAX_BODY_BYTES else None


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    key_id, signature = headers.get(github.KEY_ID_HEADER), headers.get(github.SIGNATURE_HEADER)
    if not isinstance(key_id, str) or not isinstance(signature, str) or not key_id or not signature:
        return _error(401, "unsigned", "the alert carries no GitHub signature")
    body = _body(event)
    if body is None:
        return _error(413, "body_too_large", f"an alert is at most {MAX_BODY_BYTES} bytes")
    try:
        key = keys.key(key_id)
    except github.KeysUnavailable:
        return _error(503, "keys_unavailable", "GitHub's signing keys cannot be read now; deliver again later")
    if key is None or not github.verify(key, signature, body):
        return _error(401, "invalid_signature", "the signature does not verify with the key GitHub lists")
    try:
        reports = parse_github_reports(body)
    except BadReport as error:
        return _error(400, "invalid_report", str(error))
    started = time.monotonic()
    budget = context.get_remaining_time_in_millis() / 1000 if context is not None else SPEC.timeout_seconds
    try:
        outcomes = responder.respond(reports, ACTOR_GITHUB, lambda: budget - (time.monotonic() - started))
    except Incomplete as error:
        return _error(503, "incomplete", f"{error}; what was done stays done: deliver again")
    except TokengateError as error:
        logger.warning("leak report failed", extra={"code": error.code, **safe_error(error)})
        return _answer(503, {"code": error.code, "message": "try again later"})
    finally:
        pending.flush(publisher)
    logger.info("leak report", extra=summary(outcomes))
    return _answer(200, github_feedback(reports, outcomes))
