"""The admin API's function and its rights, plus the per-tenant admin grant.

The admin routes use AWS_IAM authorization: a caller needs ``execute-api:Invoke`` on the route.
``tenant_admin_statement`` scopes that to one tenant's routes in one stage, one resource per
method and route of ``ADMIN_ROUTES`` (``.../<stage>/<METHOD>/admin/tenants/<tenant>/clients/*``...),
so an IAM principal can be made admin of exactly one tenant.
"""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundle import function_code
from infra.functions import FunctionAssets
from infra.secrets import KMS_ENCRYPT, MANAGE_ACTIONS, TokenSecrets
from infra.table import (
    ADMIN_PARTITIONS,
    INDEX_FEED_KEYS,
    INDEX_WRITE_ACTIONS,
    ITEM_ACTIONS,
    LAST_USED_READ_ACTIONS,
    USAGE_REPORT_ACTIONS,
    NameTable,
)
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.routes import tenant_admin_resources


def api_arn_prefix(scope: Construct, api_id: str) -> str:
    """``arn:<partition>:execute-api:<region>:<account>:<api id>`` for this stack's account and region."""
    return Stack.of(scope).format_arn(service="execute-api", resource=api_id, arn_format=ArnFormat.NO_RESOURCE_NAME)


def tenant_admin_statement(scope: Construct, api_id: str, tenant: str, stage: str) -> iam.PolicyStatement:
    """``execute-api:Invoke`` on one tenant's admin routes in ``stage``. The stage and each method
    are named, never wildcards: see ``tenant_admin_resources`` for why that keeps the grant to
    this tenant's paths. Raises ValueError for a tenant id or stage that could widen it."""
    return iam.PolicyStatement(
        sid=f"TokengateTenantAdmin{re.sub('[^A-Za-z0-9]', '', tenant.title())}",
        actions=["execute-api:Invoke"],
        resources=tenant_admin_resources(api_arn_prefix(scope, api_id), tenant, stage),
    )


class Admin(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
        names: NameTable,
        rotation_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = assets.environment(AdminSettings)
        # Deploy-time values (tokens) join after validation: the model checks literal values only.
        environment[AdminSettings.env_name("table_name")] = names.table.table_name
        environment[AdminSettings.env_name("rotation_function_arn")] = rotation_function.function_arn
        if secrets.kms_key is not None:
            environment[AdminSettings.env_name("kms_key_id")] = secrets.kms_key.key_arn
        # Its asset bundles zxcvbn, the imported-token strength estimate (bundle.py).
        handler = assets.function(self, "admin", environment, code=function_code("admin"))
        self.function = handler.function
        secrets.grant(self, handler.role, MANAGE_ACTIONS, kms_actions=KMS_ENCRYPT)
        names.grant(
            self,
            handler.role,
            sorted({*ITEM_ACTIONS, *USAGE_REPORT_ACTIONS, *INDEX_WRITE_ACTIONS, *LAST_USED_READ_ACTIONS}),
            leading_keys=(*ADMIN_PARTITIONS, *INDEX_FEED_KEYS),
        )

        secrets.grant_list(self, handler.role)

        # RotateSecret needs the caller to hold lambda:InvokeFunction on the rotation function
        # (Secrets Manager API reference, RotateSecret, "Required permissions").
        iam.Policy(
            self,
            "PassRotationFunction",
            roles=[handler.role],
            statements=[
                iam.PolicyStatement(
                    sid="RotationFunction",
                    actions=["lambda:InvokeFunction"],
                    resources=[rotation_function.function_arn],
                )
            ],
        )
