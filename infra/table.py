"""The deployment's DynamoDB table: which key id holds each (tenant, client name), the usage
counters of clients with a usage policy, the GitHub alerts already answered, and the digest index
and change feed the authorizer reads clients from.

Key ids are random, so the table is what keeps client names unique per tenant (a conditional
PutItem, see tokengate_core.records.names, where the key schema and the TTL attribute are defined).
The authorizer keeps rate-limit buckets, quota counters and hourly usage counts in it too
(tokengate_core.authorize.usage), under their own partition keys, expired by the same TTL attribute.
On demand, because claims come one per issue and usage writes follow the traffic of limited
clients; point-in-time recovery, because a lost claim lets a second client take a live client's
name; encrypted with the AWS owned key, or with the stack's customer-managed key when one is
configured. It is retained by `cdk destroy`, like the client secrets whose names it records
(docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from tokengate_core.authorize import last_used
from tokengate_core.authorize.usage_table import USAGE_PARTITION_PREFIX
from tokengate_core.records import guardrails
from tokengate_core.records import names as registry
from tokengate_core.records.feed import FEED_PK
from tokengate_core.records.index import INDEX_PREFIX

#: What the admin function does with the table (NameRegistry): claim, look up, release a name (and
#: read and replace a tenant's guardrails, GuardrailStore: a subset of these).
ITEM_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")
#: What the authorizer does with it (tokengate_core.authorize.usage_table.DynamoUsage): take leases and add usage
#: counts (conditional UpdateItem). A refused lease returns the counter with the refusal, so the
#: authorizer never reads the table.
USAGE_COUNTER_ACTIONS = ("dynamodb:UpdateItem",)
#: What the admin function reads usage reports with (tokengate_core.authorize.usage_table.read_usage): one
#: client's hourly counts, a key-condition Query on its own partition.
USAGE_REPORT_ACTIONS = ("dynamodb:Query",)
#: What the admin function reads clients' last use with (usage_table.read_last_used): a page's
#: items in one BatchGetItem.
LAST_USED_READ_ACTIONS = ("dynamodb:BatchGetItem",)

#: The partitions the admin function's calls name (``dynamodb:LeadingKeys``): name and restore claims,
#: usage counts and last use (read only), tenants' guardrails; never the authorizer's rate and quota items, GitHub's
#: keys or the leak function's alerts.
ADMIN_PARTITIONS = tuple(
    f"{prefix}*"
    for prefix in (
        registry.TENANT_PARTITION_PREFIX,
        registry.CLIENT_PARTITION_PREFIX,
        USAGE_PARTITION_PREFIX,
        guardrails.PARTITION_PREFIX,
        last_used.KEY_PREFIX,
    )
)

#: What the leak function does with it (tokengate_core.lifecycle.alerts.AlertMemory): read and write
#: the items that remember answered alerts, under their own partition keys only.
ALERT_MEMORY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")

#: The digest index and the change feed (tokengate_core.records.index and .feed): their partitions.
INDEX_FEED_KEYS = (f"{INDEX_PREFIX}*", FEED_PK)
#: What the authorizer does there: GetItem of one index item per lookup and of the feed's head,
#: Query of the feed's new entries, BatchGetItem of the cached clients a feed read names. It can
#: read no client secret: the index holds digests only.
INDEX_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
#: What a writer does there (admin, rotation, leaks): read an item's version and put it
#: conditionally, mark it revoked and move the feed's counter (UpdateItem), put a feed entry.
INDEX_WRITE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")

#: DynamoDB decrypts the table key on the caller's behalf; data keys never leave DynamoDB, so
#: reads and writes need nothing else from KMS.
KMS_ACTIONS = ("kms:Decrypt",)

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


def _key_attribute(key_type: str) -> dynamodb.Attribute:
    """The table's HASH or RANGE attribute, as tokengate_core.records.names defines it."""
    types = {a["AttributeName"]: a["AttributeType"] for a in registry.attribute_definitions()}
    (name,) = [k["AttributeName"] for k in registry.key_schema() if k["KeyType"] == key_type]
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])


def _leading_keys(keys: Sequence[str] | None) -> dict[str, Any] | None:
    if keys is None:
        return None
    operator = "StringLike" if any("*" in key for key in keys) else "StringEquals"
    return {f"ForAllValues:{operator}": {"dynamodb:LeadingKeys": list(keys)}}


class NameTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, kms_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.kms_key = kms_key
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_key_attribute("HASH"),
            sort_key=_key_attribute("RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if kms_key else dynamodb.TableEncryption.DEFAULT,
            encryption_key=kms_key,
            time_to_live_attribute=registry.TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant(
        self,
        scope: Construct,
        role: iam.IRole,
        actions: Sequence[str],
        *,
        leading_keys: Sequence[str] | None = None,
        more: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
    ) -> iam.Policy:
        """A policy named TableAccess under ``scope``: exactly ``actions`` on this table and on
        no other (no Scan, no index, no other table), plus the key's Decrypt through DynamoDB for
        this table when the table has a customer-managed key. With ``leading_keys``, only on items
        whose partition key matches one of them (``*`` a wildcard; ``dynamodb:LeadingKeys``, which
        IAM checks for item calls: "Using IAM policy conditions for fine-grained access control",
        Amazon DynamoDB Developer Guide). ``more``: further (actions, leading keys) statements."""
        statements = [
            iam.PolicyStatement(
                sid=f"Table{i or ''}",
                actions=list(granted),
                resources=[self.table.table_arn],
                conditions=_leading_keys(keys),
            )
            for i, (granted, keys) in enumerate([(actions, leading_keys), *more])
        ]
        if self.kms_key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="TableKey",
                    actions=list(KMS_ACTIONS),
                    resources=[self.kms_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com",
                            # DynamoDB names the table in the encryption context of every call it makes.
                            "kms:EncryptionContext:aws:dynamodb:tableName": self.table.table_name,
                        }
                    },
                )
            )
        return iam.Policy(scope, "TableAccess", statements=statements, roles=[role])
