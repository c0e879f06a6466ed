"""Who may do what with the token secrets, scoped by their name prefix.

The admin function creates one secret per client at run time, named ``<prefix><key id>``; the
stack creates only the signing keyring, ``<prefix>keyring`` (keyring.py). Every grant therefore
names the prefix pattern
``arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix>*``, never ``*``, and never
``secretsmanager:*``. With a customer-managed KMS key, each grant also gets the key operations its
Secrets Manager calls need, only through Secrets Manager and only for secrets under the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.nag import REASON_LIST_SECRETS, REASON_SECRET_PREFIX, acknowledge

#: Reading a secret: the authorizer its keyring (only), delivery and the sweep client records.
READ_ACTIONS = ("secretsmanager:GetSecretValue",)

#: The four rotation steps (createSecret, setSecret, testSecret, finishSecret).
ROTATE_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)

#: Exactly the operations tokengate_core.records.store.SecretsStore calls, except ListSecrets (see admin.py);
#: a test derives this set from store.py, so a new call cannot ship without its grant (nor a grant
#: without its call: UpdateSecret, for one, is never called, so it is not granted).
MANAGE_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:RotateSecret",
    "secretsmanager:CancelRotateSecret",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:PutResourcePolicy",
)

#: What answering a leaked token takes, by the deployment's leak action (the leak function runs
#: the admin use cases ``clients.revoke_client`` or ``clients.update``): read the record and the
#: keyring, look at the secret, then revoke (tag, schedule deletion) or disable
#: (write the record and its tags, and move a pending rotation's label away). A test records the calls each path makes.
LEAK_ACTIONS = {
    "revoke": (
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource",
        "secretsmanager:DeleteSecret",
    ),
    "disable": (
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
    ),
}

KMS_DECRYPT = ("kms:Decrypt",)
KMS_ENCRYPT = ("kms:Decrypt", "kms:GenerateDataKey")
#: Revoking writes no secret value; disabling does.
LEAK_KMS_ACTIONS = {"revoke": KMS_DECRYPT, "disable": KMS_ENCRYPT}


class TokenSecrets:
    """The prefix every token secret lives under, and grants on it."""

    def __init__(self, scope: Construct, *, prefix: str, kms_key: kms.IKey | None = None) -> None:
        self.stack = Stack.of(scope)
        self.prefix = prefix
        self.kms_key = kms_key
        self.arn_pattern = self.stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @property
    def nag_finding(self) -> str:
        """How cdk-nag's IAM5 names the prefix pattern (pseudo parameters in angle brackets)."""
        return f"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:{self.prefix}*"

    def grant(
        self, scope: Construct, role: iam.IRole, actions: Sequence[str], *, kms_actions: Sequence[str]
    ) -> iam.Policy:
        """A policy named TokenSecretsAccess under ``scope`` giving ``role`` ``actions`` on the prefix."""
        statements = [iam.PolicyStatement(sid="TokenSecrets", actions=list(actions), resources=[self.arn_pattern])]
        if self.kms_key is not None:
            statements.append(self._kms_statement(kms_actions))
        policy = iam.Policy(scope, "TokenSecretsAccess", statements=statements, roles=[role])
        acknowledge(policy, "AwsSolutions-IAM5", REASON_SECRET_PREFIX, finding=self.nag_finding)
        return policy

    def grant_keyring(
        self, scope: Construct, role: iam.IRole, actions: Sequence[str], *, keyring_arn: str, kms_actions: Sequence[str]
    ) -> iam.Policy:
        """A policy named KeyringAccess under ``scope`` giving ``role`` ``actions`` on the signing
        keyring alone (its full ARN): no client secret."""
        statements = [iam.PolicyStatement(sid="Keyring", actions=list(actions), resources=[keyring_arn])]
        if self.kms_key is not None:
            statements.append(self._kms_statement(kms_actions, keyring_arn))
        return iam.Policy(scope, "KeyringAccess", statements=statements, roles=[role])

    def grant_list(self, scope: Construct, role: iam.IRole) -> iam.Policy:
        """A policy named ListSecrets under ``scope``: ListSecrets takes no resource, so ``*``;
        it shows names and tags, never a value."""
        policy = iam.Policy(
            scope,
            "ListSecrets",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="ListSecrets", actions=["secretsmanager:ListSecrets"], resources=["*"])
            ],
        )
        acknowledge(policy, "AwsSolutions-IAM5", REASON_LIST_SECRETS, finding="Resource::*")
        return policy

    def _kms_statement(self, actions: Sequence[str], arn: str | None = None) -> iam.PolicyStatement:
        assert self.kms_key is not None
        return iam.PolicyStatement(
            sid="TokenSecretsKey",
            actions=list(actions),
            resources=[self.kms_key.key_arn],
            conditions={
                # Only on behalf of Secrets Manager, and only for a secret under the prefix
                # (Secrets Manager puts the secret's ARN into the encryption context).
                "StringEquals": {"kms:ViaService": f"secretsmanager.{self.stack.region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:SecretARN": arn or self.arn_pattern},
            },
        )
