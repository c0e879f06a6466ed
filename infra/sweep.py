"""The daily sweep: an EventBridge rule on a schedule invokes it (context ``sweepSchedule``).

It reports what is about to end (``Client Expiring`` events, for expiries and grace windows
ending within ``expiryWarningDays``) and takes imported tokens that no client accepts out of the
keyring. Its role reads client secrets (the prefix grant), lists them (ListSecrets takes no
resource), may write the keyring secret alone, and puts its event types on the bus
(infra/events.py, through FunctionSpec.emits). With ``staleAfterDays`` it also reads the clients'
last use (BatchGetItem on the ``used#`` items only), and with ``staleAction: disable`` it may
disable a client as the leak function does (the same use case, so the same grant).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_DECRYPT, KMS_ENCRYPT, LEAK_ACTIONS, READ_ACTIONS, TokenSecrets
from infra.table import LAST_USED_READ_ACTIONS, NameTable
from tokengate_core.authorize import last_used
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
        table: NameTable,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = assets.settings
        environment = assets.environment(SweepSettings)
        stale = settings.stale_after_days is not None
        if stale:
            # A deploy-time token: it joins after validation, as in the other functions.
            environment[SweepSettings.env_name("table_name")] = table.table.table_name
        handler = assets.function(self, "sweep", environment)
        self.function = handler.function
        if stale and settings.stale_action == "disable":
            actions = sorted({*READ_ACTIONS, *LEAK_ACTIONS["disable"]})
            secrets.grant(self, handler.role, actions, kms_actions=KMS_ENCRYPT)
        else:
            secrets.grant(self, handler.role, READ_ACTIONS, kms_actions=KMS_DECRYPT)
        if stale:
            table.grant(self, handler.role, LAST_USED_READ_ACTIONS, leading_keys=[f"{last_used.KEY_PREFIX}*"])
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
