"""The sweep function, on two EventBridge schedules.

The daily sweep (context ``sweepSchedule``) reports what is about to end (``Client Expiring``
events, for expiries and grace windows ending within ``expiryWarningDays``), takes imported tokens
that no client accepts out of the keyring, and with ``staleAfterDays`` reports clients unused that
long (``Client Stale``; with ``staleAction: disable`` it disables them as the leak function does,
the same use case, so the same grant). The reconciliation (every
``reconcile.RECONCILE_INTERVAL_SECONDS``, its event ``{"task": "reconcile"}``) repairs the digest
index from the secrets. Its role reads client secrets (the prefix grant), lists them (ListSecrets
takes no resource), may write the keyring secret alone, reads and writes the index and feed items
of the deployment's table, reads the clients' last use (BatchGetItem on the ``used#`` items, only
with ``staleAfterDays``), scans the table for index items (a Scan names no key, so no LeadingKeys
condition can hold it), and puts its event types on the bus (infra/events.py, through
FunctionSpec.emits).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_DECRYPT, KMS_ENCRYPT, LEAK_ACTIONS, READ_ACTIONS, TokenSecrets
from infra.table import INDEX_FEED_KEYS, LAST_USED_READ_ACTIONS, NameTable
from tokengate_core.authorize import last_used
from tokengate_core.deployment.config import SweepSettings
from tokengate_core.lifecycle.reconcile import RECONCILE_INTERVAL_SECONDS, RECONCILE_TASK

#: What writing the keyring takes (tokengate_core.tokens.imports: one PutSecretValue per change).
KEYRING_WRITE_ACTIONS = ("secretsmanager:PutSecretValue",)
#: What the reconciliation does to index and feed items (lifecycle.reconcile, records.feed).
RECONCILE_ITEM_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")


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
        # A deploy-time token: it joins after validation, as in the other functions.
        environment[SweepSettings.env_name("table_name")] = table.table.table_name
        handler = assets.function(self, "sweep", environment)
        self.function = handler.function
        if stale and settings.stale_action == "disable":
            actions = sorted({*READ_ACTIONS, *LEAK_ACTIONS["disable"]})
            secrets.grant(self, handler.role, actions, kms_actions=KMS_ENCRYPT)
        else:
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
        last_use = [(LAST_USED_READ_ACTIONS, [f"{last_used.KEY_PREFIX}*"])] if stale else []
        table.grant(self, handler.role, RECONCILE_ITEM_ACTIONS, leading_keys=INDEX_FEED_KEYS, more=last_use)
        iam.Policy(
            self,
            "IndexScan",
            roles=[handler.role],
            statements=[
                iam.PolicyStatement(sid="IndexScan", actions=["dynamodb:Scan"], resources=[table.table.table_arn])
            ],
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="tokengate: the daily sweep (Client Expiring events, imported tokens pruned)",
            schedule=events.Schedule.expression(settings.sweep_schedule),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        # A failed run is not retried: the next one, minutes later, looks at everything it would have.
        self.reconcile_rule = events.Rule(
            self,
            "ReconcileSchedule",
            description="tokengate: the digest index reconciled with the client secrets",
            schedule=events.Schedule.rate(Duration.seconds(RECONCILE_INTERVAL_SECONDS)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    event=events.RuleTargetInput.from_object({"task": RECONCILE_TASK}),
                    retry_attempts=0,
                )
            ],
        )
