"""The one route and function table: the CDK stack and the local stack are both built from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tokengate_core.config import (
    AdminSettings,
    AuthorizerSettings,
    MainSettings,
    RotationSettings,
    TracerSettings,
    _EnvModel,
)

FunctionName = Literal["authorizer", "main", "admin", "rotation"]


@dataclass(frozen=True)
class FunctionSpec:
    name: FunctionName
    handler: str  # module.attribute, relative to the services/ asset root
    settings: type[_EnvModel]
    service: str  # POWERTOOLS_SERVICE_NAME
    description: str
    memory_mb: int  # memory also buys CPU; cold starts (imports, model builds) are CPU-bound
    timeout_seconds: int

    @property
    def traced(self) -> bool:
        """X-Ray active tracing, and Powertools Tracer in the handler: the admin and rotation
        functions, whose Secrets Manager calls (RotateSecret above all) are worth a trace and
        whose volume is small. Not the authorizer and main, on every request's path, where
        Tracer's import and patching would lengthen each cold start and sampling bill per request."""
        return issubclass(self.settings, TracerSettings)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: FunctionName
    authorization: Literal["CUSTOM", "AWS_IAM"]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


FUNCTIONS: dict[FunctionName, FunctionSpec] = {
    # On every uncached request's path: 512 MB keeps the cold start short. Its Secrets Manager calls
    # give up after 2 x 1 s and it then denies, so 5 s is ample (API Gateway allows authorizers 10 s).
    "authorizer": FunctionSpec(
        "authorizer",
        "authorizer.app.handler",
        AuthorizerSettings,
        "tokengate-authorizer",
        "Lambda authorizer: checks per-client bearer tokens",
        memory_mb=512,
        timeout_seconds=5,
    ),
    # Returns a small JSON body built from the authorizer's context: no I/O at all.
    "main": FunctionSpec(
        "main",
        "main.app.handler",
        MainSettings,
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
        AdminSettings,
        "tokengate-admin",
        "Admin API: issue, list, revoke, rotate tokens",
        memory_mb=512,
        timeout_seconds=25,
    ),
    # Secrets Manager invokes one step per call, each one or two Secrets Manager calls.
    "rotation": FunctionSpec(
        "rotation",
        "admin.rotation.handler",
        RotationSettings,
        "tokengate-rotation",
        "Secrets Manager rotation function for client tokens",
        memory_mb=256,
        timeout_seconds=60,
    ),
}

ROUTES: tuple[Route, ...] = (
    Route("ANY", "/invoke", "main", "CUSTOM"),
    Route("ANY", "/admin/{proxy+}", "admin", "AWS_IAM"),
)

#: The authorizer's identity source; with API Gateway's result cache on, the route key joins it.
IDENTITY_SOURCE = "$request.header.Authorization"
ROUTE_IDENTITY_SOURCE = "$context.routeKey"
#: With the result cache on, the method joins too: ``ANY /invoke`` is one route for every method,
#: and a client's scopes are per method and route.
METHOD_IDENTITY_SOURCE = "$context.httpMethod"
STAGE_DEFAULT = "dev"


def identity_sources(cache_enabled: bool) -> list[str]:
    """The authorizer's identity sources: the header alone, or header + route + method when API
    Gateway caches results (so a cached decision is never reused for another route or method)."""
    if cache_enabled:
        return [IDENTITY_SOURCE, ROUTE_IDENTITY_SOURCE, METHOD_IDENTITY_SOURCE]
    return [IDENTITY_SOURCE]


def tenant_admin_resource(api_arn_prefix: str, tenant: str, stage: str = "*") -> str:
    """The execute-api resource ARN pattern that limits an IAM principal to one tenant's admin routes."""
    return f"{api_arn_prefix}/{stage}/*/admin/tenants/{tenant}/*"
