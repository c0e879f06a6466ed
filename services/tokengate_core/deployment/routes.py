"""The one route and function table: the CDK stack and the local stack are both built from it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Protocol

from tokengate_core.lifecycle.detail_types import DetailType

FunctionName = Literal["authorizer", "main", "admin", "rotation", "delivery", "sweep", "leaks"]


class EnvSettings(Protocol):
    """A function's settings class: pydantic models, and the authorizer's hand-validated one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Any: ...
    @classmethod
    def env_names(cls) -> list[str]: ...
    def to_env(self) -> dict[str, str]: ...


class FunctionSpec(NamedTuple):
    name: FunctionName
    handler: str  # module.attribute, relative to the services/ asset root
    #: The settings class's name in tokengate_core.deployment.config: resolved when asked for, so that this
    #: table, which every handler imports at cold start, does not import pydantic's models.
    settings_class: str
    service: str  # POWERTOOLS_SERVICE_NAME
    description: str
    memory_mb: int  # memory also buys CPU; cold starts (imports, model builds) are CPU-bound
    timeout_seconds: int
    #: The lifecycle events it publishes: its role may put exactly these on the deployment's bus.
    emits: frozenset[DetailType] = frozenset()

    @property
    def settings(self) -> type[EnvSettings]:
        from tokengate_core.deployment import config

        settings: type[EnvSettings] = getattr(config, self.settings_class)
        return settings

    @property
    def traced(self) -> bool:
        """X-Ray active tracing, and Powertools Tracer in the handler: the admin and rotation
        functions, whose Secrets Manager calls (RotateSecret above all) are worth a trace and
        whose volume is small. Not the authorizer and main, on every request's path, where
        Tracer's import and patching would lengthen each cold start and sampling bill per request."""
        from tokengate_core.deployment.config import TracerSettings

        return issubclass(self.settings, TracerSettings)


class Route(NamedTuple):
    method: str
    path: str
    function: FunctionName
    #: CUSTOM: the Lambda authorizer (a client's token); AWS_IAM: SigV4; NONE: the function itself
    #: authenticates every request (the leak endpoint checks GitHub's signature first thing).
    authorization: Literal["CUSTOM", "AWS_IAM", "NONE"]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


FUNCTIONS: dict[FunctionName, FunctionSpec] = {
    # On every uncached request's path: 512 MB keeps the cold start short. Its Secrets Manager calls
    # give up after 2 x 1 s and it then denies, so 5 s is ample (API Gateway allows authorizers 10 s).
    "authorizer": FunctionSpec(
        "authorizer",
        "authorizer.app.handler",
        "AuthorizerSettings",
        "tokengate-authorizer",
        "Lambda authorizer: checks per-client bearer tokens",
        memory_mb=512,
        timeout_seconds=5,
    ),
    # Returns a small JSON body built from the authorizer's context: no I/O at all.
    "main": FunctionSpec(
        "main",
        "main.app.handler",
        "MainSettings",
        "tokengate-main",
        "Protected integration behind the authorizer",
        memory_mb=256,
        timeout_seconds=5,
    ),
    # Validation and the OpenAPI models are the heaviest imports; a write makes a handful of calls at
    # 5 s read timeout, and a control-plane call (10 s) may need its undo (10 s more). 25 s stays
    # under the HTTP API's 30 s integration limit, so a slow call ends as the function's own
    # (logged) error rather than a bare 503 from API Gateway.
    "admin": FunctionSpec(
        "admin",
        "admin.app.handler",
        "AdminSettings",
        "tokengate-admin",
        "Admin API: issue, list, revoke, rotate tokens",
        memory_mb=512,
        timeout_seconds=25,
        emits=frozenset(
            {
                DetailType.ISSUED,
                DetailType.UPDATED,
                DetailType.ROTATED,
                DetailType.REVOKED,
                DetailType.RESTORED,
                DetailType.LEAKED,
            }
        ),
    ),
    # Secrets Manager invokes one step per call, each one or two Secrets Manager calls.
    "rotation": FunctionSpec(
        "rotation",
        "rotation.app.handler",
        "RotationSettings",
        "tokengate-rotation",
        "Secrets Manager rotation function for client tokens",
        memory_mb=256,
        timeout_seconds=60,
        emits=frozenset({DetailType.ROTATED}),
    ),
    # One GetSecretValue per call; a client calls it a few times per rotation.
    "delivery": FunctionSpec(
        "delivery",
        "delivery.app.handler",
        "DeliverySettings",
        "tokengate-delivery",
        "Hands a client its current token when it presents a still-valid one",
        memory_mb=256,
        timeout_seconds=10,
    ),
    # Once a day by default: pages of ListSecrets, then the records of clients changed within the
    # longest grace window, eight at a time; minutes leave room for many thousands of clients.
    "sweep": FunctionSpec(
        "sweep",
        "sweep.app.handler",
        "SweepSettings",
        "tokengate-sweep",
        "Daily sweep: reports expiring clients and ending grace windows, prunes imported tokens",
        memory_mb=256,
        timeout_seconds=300,
        emits=frozenset({DetailType.EXPIRING}),
    ),
    # GitHub's secret scanning alerts: a signature check, then a few Secrets Manager calls per
    # leaked client of ours, ten at a time. It stops starting work 5 s before its timeout, which
    # stays under API Gateway's 30 s integration limit so the answer always goes out.
    "leaks": FunctionSpec(
        "leaks",
        "leaks.app.handler",
        "LeakSettings",
        "tokengate-leaks",
        "GitHub secret scanning partner endpoint: revokes leaked tokens",
        memory_mb=512,
        timeout_seconds=28,
        emits=frozenset({DetailType.LEAKED, DetailType.REVOKED, DetailType.UPDATED}),
    ),
}

#: Where a client fetches its current token with a still-valid one (services/delivery).
DELIVERY_ROUTE = Route("GET", "/token", "delivery", "CUSTOM")
DELIVERY_ROUTE_KEY = DELIVERY_ROUTE.route_key

#: GitHub's secret scanning alerts (services/leaks): the one route without gateway authorization.
LEAKS_ROUTE = Route("POST", "/leaks/github", "leaks", "NONE")

ROUTES: tuple[Route, ...] = (
    Route("ANY", "/invoke", "main", "CUSTOM"),
    DELIVERY_ROUTE,
    Route("ANY", "/admin/{proxy+}", "admin", "AWS_IAM"),
    LEAKS_ROUTE,
)

#: The response header that carries the authorizer's token status to the client on every
#: CUSTOM-authorized route (``record_view.TOKEN_STATUS_KEY``: "current", or "grace; ends=<ISO
#: time>" when the client used its previous token during the grace window).
TOKEN_STATUS_HEADER = "Tokengate-Token-Status"


def authorizer_response_headers() -> dict[str, str]:
    """Response headers the stage sets from the authorizer's context (header -> context key): in AWS
    through each CUSTOM-authorized integration's response parameter mapping, locally by the gateway."""
    # Imported here: the functions import this module at cold start and need no record reader from it.
    from tokengate_core.records.view import TOKEN_STATUS_KEY

    return {TOKEN_STATUS_HEADER: TOKEN_STATUS_KEY}


def mapped_status_codes() -> tuple[int, ...]:
    """The integration status codes those headers are mapped on. API Gateway maps response
    parameters per status code (200-599) and has no wildcard, so every registered code in that
    range is listed: whatever an integration answers, the client still learns it is in grace."""
    from http import HTTPStatus

    return tuple(status.value for status in HTTPStatus if 200 <= status.value <= 599)


#: The authorizer's identity source; with API Gateway's result cache on, the route key joins it.
IDENTITY_SOURCE = "$request.header.Authorization"
ROUTE_IDENTITY_SOURCE = "$context.routeKey"
#: With the result cache on, the method joins too: ``ANY /invoke`` is one route for every method,
#: and a client's scopes are per method and route.
METHOD_IDENTITY_SOURCE = "$context.httpMethod"
STAGE_DEFAULT = "dev"


def authorizer_cache_allowed(usage_control: bool) -> bool:
    """Whether API Gateway's authorizer result cache may be on. A cached allow is served without
    invoking the authorizer, so it would let a client's requests past its rate limit, its quota and
    its IP allowlist (an allowlist is checked against each request's source IP, which is not part
    of the cache key): with usage control the cache stays off. The CDK stack and the local stack
    both check their settings against this one rule."""
    return not usage_control


def identity_sources(cache_enabled: bool) -> list[str]:
    """The authorizer's identity sources: the header alone, or header + route + method when API
    Gateway caches results (so a cached decision is never reused for another route or method)."""
    if cache_enabled:
        return [IDENTITY_SOURCE, ROUTE_IDENTITY_SOURCE, METHOD_IDENTITY_SOURCE]
    return [IDENTITY_SOURCE]


class AdminRoute(NamedTuple):
    """One operation of the admin function. API Gateway hands every ``/admin/...`` request to it
    (``ANY /admin/{proxy+}``), so this table, not the gateway, decides which admin paths exist:
    the admin function registers exactly these, and the tenant-admin policy grants exactly these."""

    name: str
    method: str
    path: str  # OpenAPI template: {tenant}, {client_id}

    @property
    def resolver_path(self) -> str:
        """The path in Powertools' ``<param>`` syntax."""
        return _PARAM.sub(r"<\1>", self.path)

    @property
    def tenant_scoped(self) -> bool:
        return self.path.startswith(TENANT_ADMIN_PREFIX)


_PARAM = re.compile(r"\{(\w+)\}")
TENANT_ADMIN_PREFIX = "/admin/tenants/{tenant}/"
_CLIENTS = "/admin/tenants/{tenant}/clients"
_CLIENT = _CLIENTS + "/{client_id}"

ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("issue_client", "POST", _CLIENTS),
    AdminRoute("list_clients", "GET", _CLIENTS),
    AdminRoute("get_client", "GET", _CLIENT),
    AdminRoute("update_client", "PATCH", _CLIENT),
    AdminRoute("revoke_client", "DELETE", _CLIENT),
    AdminRoute("restore_client", "POST", _CLIENT + "/restore"),
    AdminRoute("rotate_client", "POST", _CLIENT + "/rotate"),
    AdminRoute("client_usage", "GET", _CLIENT + "/usage"),
    AdminRoute("openapi", "GET", "/admin/openapi.json"),
    # Deployment-wide: no tenant grant reaches these.
    AdminRoute("get_keys", "GET", "/admin/keys"),
    AdminRoute("rotate_keys", "POST", "/admin/keys/rotate"),
    AdminRoute("migrate", "POST", "/admin/migrate"),
    # A token callers already hold becomes a client of the tenant the body names (see imports.py).
    AdminRoute("import_client", "POST", "/admin/imports"),
    # Tokens found leaked elsewhere: the same response as to GitHub's alerts.
    AdminRoute("report_leaks", "POST", "/admin/leaks"),
)


def admin_route(name: str) -> AdminRoute:
    return next(route for route in ADMIN_ROUTES if route.name == name)


#: HTTP API stage names: letters, digits, ``-`` and ``_`` (so never ``/``, ``*`` or ``?``).
STAGE_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"


def tenant_admin_resources(api_arn_prefix: str, tenant: str, stage: str) -> list[str]:
    """The execute-api resource ARNs that make an IAM principal admin of one tenant, one stage.

    One ARN per (method, tenant route) of ``ADMIN_ROUTES``, each
    ``<api>/<stage>/<METHOD>/admin/tenants/<tenant>/<rest>`` with ``*`` only where the route has a
    path parameter. IAM's ``*`` matches any characters, ``/`` included, so a wildcard anywhere
    before the tenant could absorb another tenant's whole path (``<api>/dev/*/admin/tenants/acme/*``
    matches ``<api>/dev/GET/admin/tenants/globex/clients/x/admin/tenants/acme/x``). Here the
    first wildcard comes after ``/admin/tenants/<tenant>/``, so every ARN these patterns match
    starts with that literal text: the request went to this stage, used this method, and its path
    starts with this tenant's segment. A stage name and a method cannot contain ``/``, so the
    segment after ``/admin/tenants/`` is the one the admin function reads the tenant from. What a
    ``*`` then absorbs lies behind the tenant segment, where the function expects a client id
    (its route parameter never spans a ``/``) or a fixed route suffix, and answers 404 otherwise.
    Percent-encoding changes nothing: should the ARN carry the decoded path while the function
    routes on the raw one, ``acme`` spelt ``%61cme`` fails the tenant pattern (422) and an encoded
    ``/`` leaves a raw path that matches no route (404). The tenant and stage are checked so that
    neither can bring a wildcard of its own.
    """
    # Imported here: the functions import this module at cold start and need no models from it.
    from tokengate_core.records.rules import TENANT_PATTERN

    if not re.fullmatch(TENANT_PATTERN, tenant):
        raise ValueError(f"not a tenant id: {tenant!r}")
    if not re.fullmatch(STAGE_PATTERN, stage):
        raise ValueError(f"not a stage name: {stage!r}")
    resources: list[str] = []
    for route in ADMIN_ROUTES:
        if not route.tenant_scoped:
            continue
        path = _PARAM.sub("*", route.path.replace("{tenant}", tenant, 1))
        resource = f"{api_arn_prefix}/{stage}/{route.method}{path}"
        if resource not in resources:
            resources.append(resource)
    return resources
