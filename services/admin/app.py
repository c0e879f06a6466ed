"""Admin API: one Lambda behind AWS_IAM routes. Routes parse and validate; the use cases in
``tokengate_core.admin`` decide."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.admin import clients, guardrails, imports, keys, usage_reports
from tokengate_core.admin.api import (
    ClientPage,
    ClientView,
    ErrorBody,
    ImportClientRequest,
    ImportedClient,
    IssueClientRequest,
    IssuedClient,
    KeyRingView,
    LeakReportRequest,
    LeakReportResult,
    LeakResult,
    MigrationReport,
    Status,
    UpdateClientRequest,
    UsageReport,
    declared_names,
    validation_details,
)
from tokengate_core.admin.context import AdminContext
from tokengate_core.admin.guardrails import GuardrailsView, SetGuardrailsRequest
from tokengate_core.admin.request_body import accept_body, parse_json
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.deployment.routes import admin_route
from tokengate_core.errors import (
    BadRequestError,
    ForbiddenError,
    RouteNotFoundError,
    TokengateError,
    UnavailableError,
    ValidationFailedError,
)
from tokengate_core.lifecycle.leaks import Incomplete, LeakResponder, Report
from tokengate_core.records.model import Timestamp
from tokengate_core.records.rules import CLIENT_NAME_PATTERN, TENANT_PATTERN
from tokengate_core.runtime.aws import (
    make_guardrails,
    make_last_used_query,
    make_publisher,
    make_registry,
    make_store,
    make_usage_query,
)
from tokengate_core.runtime.observability import log_redacted_event, make_logger, safe_error

SPEC = FUNCTIONS["admin"]
settings = AdminSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
tracer = Tracer(service=SPEC.service)
# debug=False: Powertools' debug mode (POWERTOOLS_DEV) would print every raw event, headers included.
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_json, debug=False)


def _audit(action: str, **fields: Any) -> None:
    logger.info("audit", extra={"audit_action": action, **fields})


admin_context = AdminContext(
    store=make_store(settings, settings.kms_key_id),
    settings=settings,
    registry=make_registry(settings),
    audit=_audit,
    events=make_publisher(settings, SPEC.service),
    usage_query=make_usage_query(settings),
    guardrails=make_guardrails(settings),
    last_used_query=make_last_used_query(settings),
)

leaks = LeakResponder(admin_context, action=settings.leak_action, events=admin_context.events, audit=_audit)

TenantPath = Annotated[str, Path(pattern=TENANT_PATTERN, description="Tenant id")]
ClientPath = Annotated[str, Path(description="Client id (the token's key id)")]
ERRORS: dict[int, Any] = {
    code: {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    for code, text in (
        (400, "Invalid request"),
        (403, "Caller has no IAM identity, or may not loosen the tenant's guardrails"),
        (404, "No such client in this tenant"),
        (409, "Conflict"),
        (413, "Request body too large"),
        (415, "Request body is not JSON"),
        (422, "Validation error"),
        (503, "Secrets Manager unavailable"),
    )
}


def _responses(status: int, description: str) -> dict[int, Any]:
    """The success response (Powertools fills its schema from the return type) plus the errors."""
    return {status: {"description": description}, **ERRORS}


def _actor() -> str:
    """The IAM caller, as API Gateway's AWS_IAM authorization filled it; no identity, no change."""
    iam = app.current_event.request_context.authorizer.iam
    arn = iam.user_arn if iam else None
    if not arn:
        raise ForbiddenError("request carries no IAM identity")
    return arn


def _error_body(error: TokengateError, details: list[dict[str, Any]] | None = None) -> str:
    return ErrorBody(code=error.code, message=error.message, details=details).model_dump_json(exclude_none=True)


def _error(error: TokengateError, details: list[dict[str, Any]] | None = None) -> Response[Any]:
    """Every error response: one of the TokengateError codes, so the list of codes is the code."""
    return Response(
        status_code=error.status, content_type=content_types.APPLICATION_JSON, body=_error_body(error, details)
    )


@app.exception_handler(TokengateError)
def _domain_error(error: TokengateError) -> Response[Any]:
    if error.status >= 500:
        logger.warning("request failed", extra={"code": error.code, **safe_error(error)})
    return _error(error)


@functools.cache
def _declared_names() -> frozenset[str]:
    """Built at the first 422 of a container, not at its cold start."""
    return declared_names(openapi_document())


@app.exception_handler(RequestValidationError)
def _validation_error(error: RequestValidationError) -> Response[Any]:
    details = validation_details(error.errors(), _declared_names())
    return _error(ValidationFailedError("request failed validation"), details)


@app.not_found
def _not_found(_: Exception) -> Response[Any]:
    return _error(RouteNotFoundError("no such route"))


def _within_stage(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Powertools routes on ``rawPath`` minus as many characters as ``/<stage>`` has, without
    looking at them; a path that does not start with the stage is none of this function's routes."""
    event = resolver.current_event
    stage = event.request_context.stage
    if stage != "$default" and not event.raw_path.startswith(f"/{stage}/"):
        return _error(RouteNotFoundError("no such route"))
    return next_middleware(resolver)


app.use([_within_stage])


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[Any]:
    logger.error("unexpected error", extra=safe_error(error))
    return _error(TokengateError("internal error"))


Handler = TypeVar("Handler", bound=Callable[..., Any])


def _route(name: str, status: int, description: str) -> Callable[[Handler], Handler]:
    """Register ``name`` from ``ADMIN_ROUTES``, the one table of admin paths."""
    route = admin_route(name)
    return app.route(route.resolver_path, route.method, responses=_responses(status, description))


@_route("issue_client", 201, "Issued; the token is shown once")
def issue_client(tenant: TenantPath, body: Annotated[IssueClientRequest, Body()]) -> Response[IssuedClient]:
    return _issued(HTTPStatus.CREATED, clients.issue(admin_context, tenant, body, _actor()))


@_route("list_clients", 200, "A page of clients (never tokens)")
def list_clients(
    tenant: TenantPath,
    *,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=4096)] = None,
    status: Annotated[Status | None, Query()] = None,
    name: Annotated[
        str | None, Query(pattern=CLIENT_NAME_PATTERN, description="Only the client of this name (one read)")
    ] = None,
    unused_since: Annotated[
        datetime | None,
        Query(description="Only clients not used at or after this time (ISO 8601 with a zone), within the page"),
    ] = None,
    sort: Annotated[
        Literal["last_used_at"] | None, Query(description="last_used_at: least recently used first, within the page")
    ] = None,
) -> ClientPage:
    if name is not None:
        if next_token is not None:
            raise BadRequestError("next_token does not apply to a lookup by name: it answers one page")
        return clients.find(admin_context, tenant, name, status=status)
    if unused_since is not None and unused_since.tzinfo is None:
        raise BadRequestError("unused_since needs a time zone (e.g. 2026-11-01T00:00:00Z)")
    return clients.list_page(
        admin_context, tenant, limit=limit, next_token=next_token, status=status, unused_since=unused_since, sort=sort
    )


@_route("get_client", 200, "The client (never its token)")
def get_client(tenant: TenantPath, client_id: ClientPath) -> ClientView:
    return clients.get(admin_context, tenant, client_id)


@_route("update_client", 200, "The updated client")
def update_client(
    tenant: TenantPath, client_id: ClientPath, body: Annotated[UpdateClientRequest, Body()]
) -> ClientView:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return clients.update(admin_context, tenant, client_id, changes, _actor())


@_route("revoke_client", 200, "Revoked (recoverable); idempotent")
def revoke_client(tenant: TenantPath, client_id: ClientPath) -> ClientView:
    return clients.revoke(admin_context, tenant, client_id, _actor())


@_route("restore_client", 200, "Restored; idempotent")
def restore_client(tenant: TenantPath, client_id: ClientPath) -> ClientView:
    return clients.restore(admin_context, tenant, client_id, _actor())


@_route("rotate_client", 200, "Rotated; the new token is shown once")
def rotate_client(tenant: TenantPath, client_id: ClientPath) -> Response[IssuedClient]:
    return _issued(HTTPStatus.OK, clients.rotate(admin_context, tenant, client_id, _actor()))


@_route("get_keys", 200, "The signing keys (names and ages, never values)")
def get_keys() -> KeyRingView:
    _actor()
    return keys.keyring_view(admin_context)


@_route("rotate_keys", 200, "A new signing key; old keys keep verifying")
def rotate_keys() -> KeyRingView:
    return keys.rotate_keyring(admin_context, _actor())


@_route("migrate", 200, "Clients issued before tagged tokens brought up to date")
def migrate() -> MigrationReport:
    remaining = app.lambda_context.get_remaining_time_in_millis
    return keys.migrate(admin_context, _actor(), lambda: remaining() / 1000)


@_route("client_usage", 200, "Allowed and denied requests per hour or day")
def client_usage(
    tenant: TenantPath,
    client_id: ClientPath,
    granularity: Annotated[Literal["hour", "day"], Query()] = "hour",
    from_: Annotated[
        Timestamp | None, Query(alias="from", description="ISO 8601 with zone; default 24 h or 30 d ago")
    ] = None,
    to: Annotated[Timestamp | None, Query(description="ISO 8601 with zone; default now")] = None,
) -> UsageReport:
    end = to or datetime.now(UTC)
    start = from_ or end - (timedelta(days=1) if granularity == "hour" else timedelta(days=30))
    return usage_reports.report(admin_context, tenant, client_id, granularity=granularity, start=start, end=end)


@_route("get_guardrails", 200, "The tenant's guardrails and the live clients that break them")
def get_guardrails(tenant: TenantPath) -> GuardrailsView:
    _actor()
    return guardrails.show(admin_context, tenant)


@_route("set_guardrails", 200, "Set; loosening is refused (403) where the deployment reserves it")
def set_guardrails(tenant: TenantPath, body: Annotated[SetGuardrailsRequest, Body()]) -> GuardrailsView:
    return guardrails.put(admin_context, tenant, body, _actor(), route="tenant")


@_route("override_guardrails", 200, "Set, loosened or not (a deployment admin's route)")
def override_guardrails(tenant: TenantPath, body: Annotated[SetGuardrailsRequest, Body()]) -> GuardrailsView:
    return guardrails.put(admin_context, tenant, body, _actor(), route="deployment")


@_route("import_client", 201, "Imported: callers holding the token keep working (the token is never shown)")
def import_client(body: Annotated[ImportClientRequest, Body()]) -> Response[ImportedClient]:
    imported = imports.import_client(admin_context, body, _actor())
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=imported)


@_route("report_leaks", 200, "Each reported token: ours or not, and what was done to its client")
def report_leaks(body: Annotated[LeakReportRequest, Body()]) -> LeakReportResult:
    actor = _actor()
    reports = [Report(token, url=body.url, source=body.source) for token in body.tokens]
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis
    try:
        outcomes = leaks.respond(reports, actor, lambda: remaining() / 1000)
    except Incomplete as error:
        raise UnavailableError(f"{error}; what was done stays done: report again") from None
    results = [LeakResult(label=o.label, state=o.state, client_id=o.client_id, tenant=o.tenant) for o in outcomes]
    return LeakReportResult(results=results)


def _issued(status: int, issued: IssuedClient) -> Response[IssuedClient]:
    """A response carrying a token: never cached by anything between us and the caller."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=issued,
        headers={"cache-control": "no-store"},
    )


def openapi_document() -> dict[str, Any]:
    return app.get_openapi_schema(
        title="tokengate admin API",
        version="1.0.0",
        description="Issue, list, show, update, revoke, restore and rotate per-client tokens; read and set"
        " each tenant's guardrails. "
        "Every route needs a SigV4 signature (AWS_IAM) for service execute-api.",
    ).model_dump(mode="json", by_alias=True, exclude_none=True)


@app.route(admin_route("openapi").resolver_path, admin_route("openapi").method, include_in_schema=False)
def openapi() -> dict[str, Any]:
    return openapi_document()


# Responses carry issued tokens: none goes to X-Ray. Events carry SigV4 credentials: logged only redacted.
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@log_redacted_event(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        checked = accept_body(event)
    except TokengateError as error:
        # Refused before routing, in the shape the resolver gives every other error.
        return {
            "statusCode": error.status,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": _error_body(error),
            "isBase64Encoded": False,
            "cookies": [],
        }
    return app.resolve(checked, context)
