"""The one route and function table: the CDK stack and the local stack are both built from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tokengate_core.config import AdminSettings, AuthorizerSettings, MainSettings, RotationSettings, _EnvModel

FunctionName = Literal["authorizer", "main", "admin", "rotation"]


@dataclass(frozen=True)
class FunctionSpec:
    name: FunctionName
    handler: str  # module.attribute, relative to the services/ asset root
    settings: type[_EnvModel]
    service: str  # POWERTOOLS_SERVICE_NAME
    description: str


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
    "authorizer": FunctionSpec(
        "authorizer",
        "authorizer.app.handler",
        AuthorizerSettings,
        "tokengate-authorizer",
        "Lambda authorizer: checks per-client bearer tokens",
    ),
    "main": FunctionSpec(
        "main",
        "main.app.handler",
        MainSettings,
        "tokengate-main",
        "Protected integration behind the authorizer",
    ),
    "admin": FunctionSpec(
        "admin",
        "admin.app.handler",
        AdminSettings,
        "tokengate-admin",
        "Admin API: issue, list, revoke, rotate tokens",
    ),
    "rotation": FunctionSpec(
        "rotation",
        "admin.rotation.handler",
        RotationSettings,
        "tokengate-rotation",
        "Secrets Manager rotation function for client tokens",
    ),
}

ROUTES: tuple[Route, ...] = (
    Route("ANY", "/invoke", "main", "CUSTOM"),
    Route("ANY", "/admin/{proxy+}", "admin", "AWS_IAM"),
)

#: The authorizer's identity source; with API Gateway's result cache on, the route key joins it.
IDENTITY_SOURCE = "$request.header.Authorization"
ROUTE_IDENTITY_SOURCE = "$context.routeKey"
STAGE_DEFAULT = "dev"


def tenant_admin_resource(api_arn_prefix: str, tenant: str, stage: str = "*") -> str:
    """The execute-api resource ARN pattern that limits an IAM principal to one tenant's admin routes."""
    return f"{api_arn_prefix}/{stage}/*/admin/tenants/{tenant}/*"
