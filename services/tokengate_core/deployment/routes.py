"""The route table: the API's routes and which function serves each, how the authorizer is
asked (identity sources, its result cache) and what the stage maps from its answer, and the admin
function's own routes (which the tenant-admin policy grants). The CDK stack and the local stack
are both built from it; the functions themselves are in ``functions``.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from tokengate_core.deployment.authorizer_facts import DELIVERY_METHOD, DELIVERY_PATH, DELIVERY_ROUTE_KEY
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName

# FUNCTIONS and FunctionName: the local stack also reads them from here, beside the routes;
# DELIVERY_ROUTE_KEY, beside the route it names.
__all__ = ["DELIVERY_ROUTE_KEY", "FUNCTIONS", "FunctionName"]


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


#: Where a client fetches its current token with a still-valid one (services/delivery).
DELIVERY_ROUTE = Route(DELIVERY_METHOD, DELIVERY_PATH, "delivery", "CUSTOM")

#: GitHub's secret scanning alerts (services/leaks): the one route without gateway authorization.
LEAKS_ROUTE = Route("POST", "/leaks/github", "leaks", "NONE")

ROUTES: tuple[Route, ...] = (
    Route("ANY", "/invoke", "main", "CUSTOM"),
    DELIVERY_ROUTE,
    Route("ANY", "/admin/{proxy+}", "admin", "AWS_IAM"),
    LEAKS_ROUTE,
)

#: The response header that carries the authorizer's token status to the client on every
#: CUSTOM-authorized route (``records.view.TOKEN_STATUS_KEY``: "current", or "grace; ends=<ISO
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
_GUARDRAILS = "/admin/tenants/{tenant}/guardrails"

ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute("issue_client", "POST", _CLIENTS),
    AdminRoute("list_clients", "GET", _CLIENTS),
    AdminRoute("get_client", "GET", _CLIENT),
    AdminRoute("update_client", "PATCH", _CLIENT),
    AdminRoute("revoke_client", "DELETE", _CLIENT),
    AdminRoute("restore_client", "POST", _CLIENT + "/restore"),
    AdminRoute("rotate_client", "POST", _CLIENT + "/rotate"),
    AdminRoute("client_usage", "GET", _CLIENT + "/usage"),
    AdminRoute("get_guardrails", "GET", _GUARDRAILS),
    # Tightens; loosens too unless the deployment reserves that (tokengate_core.admin.guardrails).
    AdminRoute("set_guardrails", "PUT", _GUARDRAILS),
    AdminRoute("openapi", "GET", "/admin/openapi.json"),
    # Deployment-wide: no tenant grant reaches these.
    AdminRoute("get_keys", "GET", "/admin/keys"),
    AdminRoute("rotate_keys", "POST", "/admin/keys/rotate"),
    AdminRoute("migrate", "POST", "/admin/migrate"),
    # A tenant's guardrails, loosened or not: outside /admin/tenants/{tenant}/, so no tenant grant
    # reaches it however the deployment is set (IAM: .../PUT/admin/guardrails/<tenant>).
    AdminRoute("override_guardrails", "PUT", "/admin/guardrails/{tenant}"),
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
