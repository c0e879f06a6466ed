"""The rotation function: Secrets Manager calls it, one rotation step per invocation.

Secrets Manager may invoke it only on behalf of this account (``aws:SourceAccount``), which keeps
another account's secret from using it as its rotation function (confused deputy).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_ENCRYPT, ROTATE_ACTIONS, TokenSecrets
from tokengate_core.deployment.config import RotationSettings


class Rotation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = assets.environment(RotationSettings)
        handler = assets.function(self, "rotation", environment)
        self.function = handler.function
        secrets.grant(self, handler.role, ROTATE_ACTIONS, kms_actions=KMS_ENCRYPT)
        self.function.add_permission(
            "SecretsManagerInvoke",
            principal=iam.ServicePrincipal("secretsmanager.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=Aws.ACCOUNT_ID,
        )
