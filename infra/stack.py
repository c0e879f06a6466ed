"""The one tokengate stack, composed top to bottom from one construct per concern."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.admin import Admin, tenant_admin_statement
from infra.api import Api
from infra.authorizer import Authorizer
from infra.delivery import Delivery
from infra.functions import FunctionAssets, deployed_functions, powertools_layer, services_code
from infra.keyring import SigningKeyring
from infra.leaks import Leaks
from infra.lifecycle_log import LifecycleLog
from infra.monitoring import Monitoring
from infra.observability import Observability
from infra.outputs import ADMIN_BASE_URL, API_URL, LIFECYCLE_LOG_GROUP, OUTPUT_KEYS, TOKEN_PREFIX, function_name_output
from infra.rotation import Rotation
from infra.secrets import TokenSecrets
from infra.settings import StackSettings
from infra.sweep import Sweep
from infra.table import NameTable
from tokengate_core.deployment.config import MainSettings
from tokengate_core.deployment.routes import LEAKS_ROUTE
from tokengate_core.tokens.keyring import secret_name as keyring_secret_name


class TokenGateStack(Stack):
    """tokengate in one account and region.

    ``kms_key`` (optional): a customer-managed key for the token secrets, the keyring and the
    table. Without it, context key ``kmsKeyArn`` names an existing key; without either, Secrets
    Manager uses its AWS managed key and DynamoDB its AWS owned key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        kms_key: kms.IKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        if kms_key is None and settings.kms_key_arn:
            kms_key = kms.Key.from_key_arn(self, "SecretsKey", settings.kms_key_arn)

        observability = Observability(self, "Observability", settings=settings)
        secrets = TokenSecrets(self, prefix=settings.secret_prefix, kms_key=kms_key)
        self.keyring = SigningKeyring(self, "Keyring", prefix=settings.secret_prefix, kms_key=kms_key)
        self.names = NameTable(self, "Names", kms_key=kms_key)
        code = services_code()
        layer = powertools_layer(self)

        assets = FunctionAssets(settings, code, layer, observability.function_logs)
        self.rotation = Rotation(self, "Rotation", assets=assets, secrets=secrets)
        self.authorizer = Authorizer(self, "Authorizer", assets=assets, secrets=secrets, table=self.names)
        self.main = assets.function(self, "main", assets.environment(MainSettings), construct_id="Main")
        self.delivery = Delivery(self, "Delivery", assets=assets, secrets=secrets)
        self.admin = Admin(
            self,
            "Admin",
            assets=assets,
            secrets=secrets,
            names=self.names,
            rotation_function=self.rotation.function,
        )
        self.sweep = Sweep(
            self, "Sweep", assets=assets, secrets=secrets, keyring_secret=self.keyring.secret, table=self.names
        )
        self.leaks = Leaks(self, "Leaks", assets=assets, secrets=secrets, table=self.names)
        functions = deployed_functions(self)
        self.api = Api(
            self,
            "Api",
            settings=settings,
            functions=functions,
            token_authorizer=self.authorizer.route_authorizer,
            access_logs=observability.access_logs,
        )
        self.lifecycle_log = LifecycleLog(self, "LifecycleLog", settings=settings)
        self.monitoring = Monitoring(self, "Monitoring", settings=settings, api=self.api, functions=functions)

        outputs = {
            API_URL: self.api.url,
            ADMIN_BASE_URL: f"{self.api.url}/admin",
            **{function_name_output(name): function.function_name for name, function in functions.items()},
            "LeaksUrl": f"{self.api.url}{LEAKS_ROUTE.path}",
            "SecretPrefix": settings.secret_prefix,
            TOKEN_PREFIX: settings.token_prefix,
            "KeyringSecretName": keyring_secret_name(settings.secret_prefix),
            "TableName": self.names.table.table_name,
            LIFECYCLE_LOG_GROUP: self.lifecycle_log.log_group.log_group_name,
        }
        for key in OUTPUT_KEYS:
            CfnOutput(self, key, value=outputs[key])

    def grant_tenant_admin(self, grantee: iam.IGrantable, tenant: str) -> iam.Grant:
        """Let ``grantee`` call the admin API for ``tenant`` only: this stack's stage, each admin
        route with its own method (a wildcard stage or method could reach another tenant's path)."""
        statement = tenant_admin_statement(self, self.api.http_api.api_id, tenant, self.settings.stage)
        return iam.Grant.add_to_principal(grantee=grantee, actions=statement.actions, resource_arns=statement.resources)
