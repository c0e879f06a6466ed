"""What a one-tenant admin policy must allow and refuse, shared by every place that builds or
evaluates one: the printed policy, the CDK grant, the local stack's principals."""

from __future__ import annotations

from tokengate_core.deployment.routes import ADMIN_ROUTES

TENANT = "acme"
STAGE = "dev"
CLIENT_ID = "k7Qm2xZp4vR9sT1w"
#: The pattern tenant admins used to get: a wildcard stage and method in front of the tenant.
OLD_PATTERN = "{api}/*/*/admin/tenants/acme/*"


def legitimate(api: str, stage: str = STAGE) -> list[str]:
    """Every admin route of the tenant, as the resource ARN API Gateway checks for it."""
    return [
        f"{api}/{stage}/{route.method}{route.path.replace('{tenant}', TENANT).replace('{client_id}', CLIENT_ID)}"
        for route in ADMIN_ROUTES
        if route.tenant_scoped
    ]


def refused(api: str, stage: str = STAGE) -> list[str]:
    """Resources the tenant's admin must not reach, the first ones by stretching a wildcard."""
    return [
        f"{api}/{stage}/GET/admin/tenants/globex/clients/x/admin/tenants/acme/x",
        f"{api}/{stage}/DELETE/admin/tenants/globex/clients/{CLIENT_ID}/GET/admin/tenants/acme/clients",
        f"{api}/{stage}/GET/x/{stage}/GET/admin/tenants/acme/clients",
        f"{api}/{stage}/GET/admin/tenants/globex/clients",
        f"{api}/{stage}/GET/admin/tenants/acmex/clients",
        f"{api}/{stage}/GET/admin/tenants/acme",
        f"{api}/{stage}/GET/admin/tenants/acme/other",
        f"{api}/{stage}/PUT/admin/tenants/acme/clients",
        f"{api}/{stage}/DELETE/admin/tenants/acme/clients",
        f"{api}/{stage}/HEAD/admin/tenants/acme/clients",
        f"{api}/{stage}/GET/admin/openapi.json",
        # Loosening a tenant's guardrails where the deployment reserves it: a deployment admin's route.
        f"{api}/{stage}/PUT/admin/guardrails/acme",
        f"{api}/{stage}/PUT/admin/tenants/acme/guardrails/x",
        f"{api}/{stage}2/GET/admin/tenants/acme/clients",
        f"{api}x/{stage}/GET/admin/tenants/acme/clients",
    ]
