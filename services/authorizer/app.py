"""Lambda authorizer for an HTTP API (REQUEST, payload 2.0, simple responses).

Cold start builds settings and the cache; the boto3 client waits for the first cache
miss. Any failure inside a decision denies: this handler never raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tokengate_core.authorize import Decision, Reason, TokenAuthorizer
from tokengate_core.aws import make_store
from tokengate_core.config import AuthorizerSettings
from tokengate_core.observability import (
    METRIC_AUTHORIZED,
    METRIC_DENIED,
    decision_dimensions,
    emit_decision,
    lazy_logger,
    safe_error,
)
from tokengate_core.routes import FUNCTIONS

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SPEC = FUNCTIONS["authorizer"]
settings = AuthorizerSettings.from_env()
authorizer = TokenAuthorizer(settings, store_factory=lambda: make_store(settings))

DENY: dict[str, Any] = {"isAuthorized": False}


class _Http(BaseModel):
    model_config = ConfigDict(extra="ignore")
    method: str = "GET"
    path: str = "/"


class _RequestContext(BaseModel):
    model_config = ConfigDict(extra="ignore")
    http: _Http = _Http()
    requestId: str | None = None


class AuthorizerEvent(BaseModel):
    """The fields of a payload 2.0 REQUEST authorizer event that a decision uses."""

    model_config = ConfigDict(extra="ignore")
    routeKey: str = "$default"
    rawPath: str = "/"
    headers: dict[str, str] | None = None
    requestContext: _RequestContext = _RequestContext()

    def authorization(self) -> str | None:
        headers = self.headers or {}
        value = headers.get("authorization")
        if value is None:
            value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        return value


def decide(event: Any) -> tuple[Decision, str | None]:
    try:
        parsed = AuthorizerEvent.model_validate(event)
    except ValidationError:
        return Decision(Reason.INVALID_EVENT), None
    decision = authorizer.decide(
        parsed.authorization(), parsed.requestContext.http.method, parsed.routeKey, parsed.rawPath
    )
    return decision, parsed.requestContext.requestId


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    try:
        decision, request_id = decide(event)
    except Exception as error:  # noqa: BLE001 - fail closed on anything unforeseen
        lazy_logger(SPEC.service, settings.log_level).error("authorizer internal error", extra=safe_error(error))
        decision, request_id = Decision(Reason.INTERNAL_ERROR), None
    try:
        _record(decision, request_id)
    except Exception as error:  # noqa: BLE001 - logging must never turn a decision into an error
        lazy_logger(SPEC.service, settings.log_level).warning("could not record decision", extra=safe_error(error))
    if decision.allowed and decision.context is not None:
        return {"isAuthorized": True, "context": dict(decision.context)}
    return dict(DENY)


def _record(decision: Decision, request_id: str | None) -> None:
    fields: dict[str, Any] = {
        "service": SPEC.service,
        "decision": "allow" if decision.allowed else "deny",
        "reason": decision.reason.value,
        "key_id": decision.key_id,
        "tenant": decision.tenant,
        "cache": decision.cache,
        "grace": decision.grace,
        "correlation_id": request_id,
    }
    emit_decision(
        SPEC.service,
        METRIC_AUTHORIZED if decision.allowed else METRIC_DENIED,
        fields,
        decision_dimensions(decision.tenant, settings.metric_tenant_dimension),
        namespace=settings.metrics_namespace,
        cache=decision.cache,
    )
