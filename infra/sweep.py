"""The daily sweep: an EventBridge rule on a schedule invokes it (context ``sweepSchedule``).

It reports what is about to end (``Client Expiring`` events, for expiries and grace windows
ending within ``expiryWarningDays``) and takes imported tokens that no client accepts out of the
keyring. Its role reads client secrets (the prefix grant), lists them (ListSecrets takes no
resource), may write the keyring secret alone, and puts its one event type on the bus
(infra/events.py, through FunctionSpec.emits).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_DECRYPT, KMS_ENCRYPT, READ_ACTIONS, TokenSecrets
from tokengate_core.deployment.config import SweepSettings

#: What writing the keyring takes (tokengate_core.tokens.imports: one PutSecretValue per change).
KEYRING_WRITE_ACTIONS = ("secretsmanager:PutSecretValue",)


class Sweep(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
        keyring_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = assets.settings
        environment = assets.environment(SweepSettings)
        handler = assets.function(self, "sweep", environment)
        self.function = handler.function
        secrets.grant(self, handler.role, READ_ACTIONS, kms_actions=KMS_DECRYPT)
        secrets.grant_list(self, handler.role)
        keyring_write = [
            iam.PolicyStatement(
                sid="KeyringWrite", actions=list(KEYRING_WRITE_ACTIONS), resources=[keyring_secret.secret_arn]
            )
        ]
        if secrets.kms_key is not None:
            keyring_write.append(
                iam.PolicyStatement(
                    sid="KeyringKey",
                    actions=list(KMS_ENCRYPT),
                    resources=[secrets.kms_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{secrets.stack.region}.amazonaws.com",
                            "kms:EncryptionContext:SecretARN": keyring_secret.secret_arn,
                        }
                    },
                )
            )
        iam.Policy(self, "KeyringWrite", roles=[handler.role], statements=keyring_write)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="tokengate: the daily sweep (Client Expiring events, imported tokens pruned)",
            schedule=events.Schedule.expression(settings.sweep_schedule),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
