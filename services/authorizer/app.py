"""Lambda authorizer for an HTTP API (REQUEST, payload 2.0, simple responses).

Cold start builds settings and the cache; the boto3 client waits for the first cache
miss. Any failure inside a decision denies: this handler never raises.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from tokengate_core.authorize.decision import Decision, Reason, TokenAuthorizer
from tokengate_core.authorize.settings import AuthorizerSettings
from tokengate_core.deployment.authorizer_facts import AUTHORIZER_SERVICE as SERVICE
from tokengate_core.runtime import shutdown
from tokengate_core.runtime.aws import index_client, make_reader, make_usage_backend, new_session
from tokengate_core.runtime.observability import (
    METRIC_AUTHORIZED,
    METRIC_DENIED,
    decision_dimensions,
    emit_decision,
    lazy_logger,
    safe_error,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

settings = AuthorizerSettings.from_env()
#: One botocore session for all of the authorizer's clients, built with the first of them (on the
#: first cache miss); a container serves one request at a time.
sdk_session = cache(new_session)
#: The usage counters and last use: one DynamoDB client on the same session, built at first need.
usage_table = cache(lambda: make_usage_backend(settings, sdk_session()))
authorizer = TokenAuthorizer(
    settings,
    store_factory=lambda: make_reader(settings, sdk_session()),
    dynamodb_factory=lambda: index_client(settings, sdk_session()),
    usage_factory=usage_table,
    last_used_factory=usage_table,
    # The first decision answers before the client's last use is written (at the next decision,
    # or at SIGTERM by on_sigterm): its DynamoDB client and write are not on the cold start.
    defer_first_use=True,
)

DENY: dict[str, Any] = {"isAuthorized": False}


def on_sigterm() -> None:
    """Lambda is ending this container (the shutdown extension makes it say so): write the usage
    counts it holds, within the runtime's share of the shutdown phase, and a last use not written yet."""
    try:
        lost = authorizer.drain(shutdown.BUDGET_SECONDS)
    except Exception as error:  # noqa: BLE001 - the container ends either way; say why
        lazy_logger(SERVICE, settings.log_level).error("could not write usage counts", extra=safe_error(error))
        return
    if lost:
        lazy_logger(SERVICE, settings.log_level).error("usage counts not written at shutdown", extra={"lost": lost})


shutdown.install(on_sigterm)


class InvalidEvent(ValueError):
    """The event is not a payload 2.0 REQUEST authorizer event."""


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidEvent
    return value


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvent
    return value


def read_event(event: Any) -> tuple[str | None, str, str, str, str | None, str | None]:
    """(authorization, method, route key, raw path, request id, source IP) from a payload 2.0 event.

    Hand-checked rather than a pydantic model: this is the authorizer's cold path. Every field
    must have its documented type or the event is refused; absent optional fields take API
    Gateway's defaults. Header names are case-insensitive; the lower-case one wins.
    """
    if not isinstance(event, dict):
        raise InvalidEvent
    headers = _object(event.get("headers"))
    authorization = headers.get("authorization")
    if authorization is None:
        authorization = next(
            (v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization"), None
        )
    if authorization is not None and not isinstance(authorization, str):
        raise InvalidEvent
    context = _object(event.get("requestContext"))
    http = _object(context.get("http"))
    return (
        authorization,
        _text(http.get("method"), "GET"),
        _text(event.get("routeKey"), "$default"),
        _text(event.get("rawPath"), "/"),
        _text(context.get("requestId"), "") or None,
        _text(http.get("sourceIp"), "") or None,
    )


def decide(event: Any) -> tuple[Decision, str | None]:
    try:
        authorization, method, route_key, raw_path, request_id, source_ip = read_event(event)
    except InvalidEvent:
        return Decision(Reason.INVALID_EVENT), None
    return authorizer.decide(authorization, method, route_key, raw_path, source_ip), request_id


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    try:
        decision, request_id = decide(event)
    except Exception as error:  # noqa: BLE001 - fail closed on anything unforeseen
        lazy_logger(SERVICE, settings.log_level).error("authorizer internal error", extra=safe_error(error))
        decision, request_id = Decision(Reason.INTERNAL_ERROR), None
    try:
        _record(decision, request_id)
    except Exception as error:  # noqa: BLE001 - logging must never turn a decision into an error
        lazy_logger(SERVICE, settings.log_level).warning("could not record decision", extra=safe_error(error))
    if decision.allowed and decision.context is not None:
        return {"isAuthorized": True, "context": dict(decision.context)}
    return dict(DENY)


def _record(decision: Decision, request_id: str | None) -> None:
    fields: dict[str, Any] = {
        "service": SERVICE,
        "decision": "allow" if decision.allowed else "deny",
        "reason": decision.reason.value,
        "key_id": decision.key_id,
        "tenant": decision.tenant,
        "cache": decision.cache,
        "grace": decision.grace,
        "imported": decision.imported,
        "correlation_id": request_id,
    }
    if decision.degraded:
        fields["usage_degraded"] = True  # DynamoDB failed: the fail-open/closed rule decided
    emit_decision(
        SERVICE,
        METRIC_AUTHORIZED if decision.allowed else METRIC_DENIED,
        fields,
        decision_dimensions(decision.tenant, settings.metric_tenant_dimension),
        namespace=settings.metrics_namespace,
        cache=decision.cache,
    )
