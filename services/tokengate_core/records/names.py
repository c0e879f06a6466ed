"""Client names, unique per tenant: one DynamoDB item per (tenant, name) naming its key id.

Key ids are random, so Secrets Manager's atomic CreateSecret no longer keeps names unique. A
conditional PutItem does: of two concurrent issues of one name, exactly one claims it. A claim
outlives a revoke (the client can be restored under its name) and is taken over only once its
secret is gone for good (purged after the recovery window, or never created by a failed issue).

The same conditional write picks which of concurrent restores of one revoked client reports the
restore (:meth:`NameRegistry.claim_restore`): RestoreSecret succeeds for each of them, so Secrets
Manager cannot tell which one changed the client.

The table is the one DynamoDB table of a deployment (``TOKENGATE_TABLE_NAME``); its key schema
is defined here and the CDK stack and the local stack both build the table from it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tokengate_core.records.index import translate as _translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION_KEY = "pk"
SORT_KEY = "sk"
#: Items whose windows have passed carry this epoch-seconds attribute; DynamoDB's TTL removes them.
TTL_ATTRIBUTE = "expires_at"
#: A claim's sort key is this plus the client name; its partition key names the tenant.
CLAIM_PREFIX = "client-name#"


def key_schema() -> list[dict[str, str]]:
    return [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": SORT_KEY, "KeyType": "RANGE"}]


def attribute_definitions() -> list[dict[str, str]]:
    return [{"AttributeName": PARTITION_KEY, "AttributeType": "S"}, {"AttributeName": SORT_KEY, "AttributeType": "S"}]


def create_table(client: DynamoDBClient, name: str) -> None:
    """The local stack's and the tests' table (in AWS the CDK stack creates it)."""
    try:
        client.create_table(
            TableName=name,
            KeySchema=key_schema(),  # type: ignore[arg-type]
            AttributeDefinitions=attribute_definitions(),  # type: ignore[arg-type]
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise


def claim_holder(item: Mapping[str, Any]) -> str | None:
    """The key id a claim item names; None when there is no claim (a claim always names one)."""
    value = item.get("key_id", {}).get("S")
    return str(value) if value else None


class NameRegistry:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @property
    def client(self) -> DynamoDBClient:
        """The table's client (the digest index and the change feed share it)."""
        return self._client

    @property
    def table(self) -> str:
        return self._table

    @staticmethod
    def _key(tenant: str, name: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": f"tenant#{tenant}"}, SORT_KEY: {"S": f"{CLAIM_PREFIX}{name}"}}

    def claim(self, tenant: str, name: str, key_id: str) -> str | None:
        """Claim ``name`` for ``key_id``; return None on success, else the key id holding it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**self._key(tenant, name), "key_id": {"S": key_id}, "claimed_at": {"N": str(int(time.time()))}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _translate(error) from None
        except BotoCoreError as error:
            raise _translate(error) from None
        holder = self.holder(tenant, name)
        return holder if holder is not None else self.claim(tenant, name, key_id)

    def holder(self, tenant: str, name: str) -> str | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=self._key(tenant, name), ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise _translate(error) from None
        return claim_holder(item.get("Item", {}))

    def take_over(self, tenant: str, name: str, old_key_id: str, new_key_id: str) -> bool:
        """Move a claim whose client is gone to ``new_key_id``, unless someone else moved it first."""
        return self._put_if(
            {**self._key(tenant, name), "key_id": {"S": new_key_id}, "claimed_at": {"N": str(int(time.time()))}},
            "key_id = :old",
            {":old": {"S": old_key_id}},
        )

    def claim_restore(self, key_id: str, revoked_at: datetime, *, keep_for: timedelta) -> bool:
        """Whether this caller is the first to report undoing the revocation of ``key_id`` made
        at ``revoked_at`` (its DeletedDate: the same for every caller that saw that revocation, new
        for the next one). The item outlives the revocation by ``keep_for``, then DynamoDB's TTL
        removes it."""
        revocation = revoked_at.isoformat()
        return self._put_if(
            {
                PARTITION_KEY: {"S": f"client#{key_id}"},
                SORT_KEY: {"S": "restore"},
                "revoked_at": {"S": revocation},
                TTL_ATTRIBUTE: {"N": str(int((revoked_at + keep_for).timestamp()))},
            },
            "attribute_not_exists(pk) OR revoked_at <> :revocation",
            {":revocation": {"S": revocation}},
        )

    def _put_if(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        """A conditional PutItem: whether it was written (False: the condition did not hold)."""
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _translate(error) from None
        except BotoCoreError as error:
            raise _translate(error) from None

    def release(self, tenant: str, name: str, key_id: str) -> None:
        """Give a name back (undoing a failed issue); a claim someone else holds is left alone."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(tenant, name),
                ConditionExpression="key_id = :mine",
                ExpressionAttributeValues={":mine": {"S": key_id}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _translate(error) from None
        except BotoCoreError as error:
            raise _translate(error) from None
