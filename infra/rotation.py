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
from infra.table import INDEX_FEED_KEYS, INDEX_WRITE_ACTIONS, NameTable
from tokengate_core.deployment.config import RotationSettings


class Rotation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
        table: NameTable,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = assets.environment(RotationSettings)
        # The table's name is a deploy-time token: it joins after validation.
        environment[RotationSettings.env_name("table_name")] = table.table.table_name
        handler = assets.function(self, "rotation", environment)
        self.function = handler.function
        secrets.grant(self, handler.role, ROTATE_ACTIONS, kms_actions=KMS_ENCRYPT)
        # setSecret and finishSecret write the digest index and announce on the change feed.
        table.grant(self, handler.role, INDEX_WRITE_ACTIONS, leading_keys=INDEX_FEED_KEYS)
        self.function.add_permission(
            "SecretsManagerInvoke",
            principal=iam.ServicePrincipal("secretsmanager.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=Aws.ACCOUNT_ID,
        )
