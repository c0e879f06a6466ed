"""The usage gate's DynamoDB adapter: the shared counters in the deployment's table (keys beside
the name claims of tokengate_core.records.names), and the admin's read of the hourly counts.

Every call is one conditional UpdateItem (or a Query, for a report). A refusal comes back with
the item (ReturnValuesOnConditionCheckFailure), so what is left is known without a read; any
other failure becomes :class:`~tokengate_core.authorize.usage.UsageUnavailable`, and the gate
applies its fail-open or fail-closed rule.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from tokengate_core.authorize import last_used
from tokengate_core.authorize.usage import RateBucket, UsageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: A client's hourly usage counts: this plus its key id (the admin role's LeadingKeys grant names it).
USAGE_PARTITION_PREFIX = "usage#"
#: The partition keys of every item the authorizer writes (its role may update only these): rate
#: buckets, quota counters and their threshold markers, hourly counts, last use.
AUTHORIZER_ITEMS = ("rate#*", "quota#*", "usage#*", f"{last_used.KEY_PREFIX}*")


def _condition_failed(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class _Refused(Exception):
    """A conditional update was refused. DynamoDB returned the item with the refusal
    (ReturnValuesOnConditionCheckFailure), so what is left is known without a read."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("condition failed")
        self.item = item

    def number(self, attribute: str) -> float | None:
        value = self.item.get(attribute, {}).get("N")
        return float(value) if value is not None else None


class DynamoUsage:
    """The shared counters, in the deployment's table (keys from tokengate_core.records.names).

    A conditional update that DynamoDB refuses comes back with the item, so a refusal says how much
    is left without a read: a refused lease costs one call, a partial one two.
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure becomes a refusal or UsageUnavailable
            if _condition_failed(error):
                raise _Refused(getattr(error, "response", {}).get("Item") or {}) from None
            raise UsageUnavailable(type(error).__name__) from None

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _update(self, key: dict[str, Any], **kwargs: Any) -> Any:
        """A conditional UpdateItem whose refusal (:class:`_Refused`) carries the item."""
        return self._call("update_item", Key=key, ReturnValuesOnConditionCheckFailure="ALL_OLD", **kwargs)

    def take_rate(self, bucket: RateBucket, n: int, now: float) -> tuple[int, float]:
        """GCRA: ``tat`` is when the bucket would be full again; taking ``n`` moves it ``n x T``
        later, allowed while it stays within ``burst x T`` of now."""
        interval = 1.0 / bucket.per_second
        tolerance = bucket.burst * interval
        key = self._key(f"rate#{bucket.key_id}", f"shard#{bucket.shard}")
        try:
            self._update(
                key,
                UpdateExpression="SET tat = :new, expires_at = :exp",
                ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                ExpressionAttributeValues={
                    ":new": {"N": repr(now + n * interval)},
                    ":now": {"N": repr(now)},
                    ":exp": {"N": str(int(now + tolerance) + 86400)},
                },
            )
            return n, 0.0
        except _Refused as refused:
            tat = refused.number("tat") or now
        for _ in range(2):
            # The bucket is in use (tat is ahead of now): take what it has left, if anything.
            available = math.floor((now + tolerance - max(tat, now)) / interval + 1e-9)
            if available < 1:
                return 0, tat - tolerance + n * interval
            n = min(n, available)
            try:
                self._update(
                    key,
                    UpdateExpression="SET tat = tat + :inc",
                    ConditionExpression="tat > :now AND tat <= :limit",
                    ExpressionAttributeValues={
                        ":inc": {"N": repr(n * interval)},
                        ":now": {"N": repr(now)},
                        ":limit": {"N": repr(now + tolerance - n * interval)},
                    },
                )
                return n, 0.0
            except _Refused as refused:  # another container took some meanwhile
                tat = refused.number("tat") or now
        return 0, now + interval

    def take_quota(self, key_id: str, period: str, n: int, limit: int, expires: int) -> tuple[int, int]:
        """(granted, the counter after the grant, or as the refusal found it): the new value
        comes back with the update (ReturnValues), so it costs nothing."""
        key = self._key(f"quota#{key_id}", period)
        used = 0
        for _ in range(2):
            try:
                answer = self._update(
                    key,
                    UpdateExpression="ADD used :n SET expires_at = :exp",
                    ConditionExpression="attribute_not_exists(used) OR used <= :max",
                    ExpressionAttributeValues={
                        ":n": {"N": str(n)},
                        ":max": {"N": str(limit - n)},
                        ":exp": {"N": str(expires)},
                    },
                    ReturnValues="UPDATED_NEW",
                )
                return n, int((answer or {}).get("Attributes", {}).get("used", {}).get("N", n))
            except _Refused as refused:
                used = int(refused.number("used") or 0)
                n = min(n, limit - used)
                if n < 1:
                    return 0, used
        return 0, used

    def claim_threshold(self, key_id: str, period: str, threshold: int, expires: int) -> bool:
        """The one claim on telling a threshold's crossing (tokengate_core.authorize.quota_alerts):
        created if absent, beside the quota's counter."""
        try:
            self._update(
                self._key(f"quota#{key_id}", f"{period}#threshold#{threshold:03d}"),
                UpdateExpression="SET expires_at = :exp",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues={":exp": {"N": str(expires)}},
            )
        except _Refused:
            return False
        return True

    def add_counts(self, key_id: str, bucket: str, counts: dict[str, int], expires: int) -> None:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":c{i}": {"N": str(value)} for i, value in enumerate(counts.values())}
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        self._call(
            "update_item",
            Key=self._key(f"{USAGE_PARTITION_PREFIX}{key_id}", bucket),
            UpdateExpression=f"ADD {adds} SET expires_at = :exp",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":exp": {"N": str(expires)}},
        )

    def mark_used(self, key_id: str, at: float) -> None:
        """The client's last use (tokengate_core.authorize.last_used): a later time already stored
        (another container's) is kept, so the item only ever moves forward."""
        try:
            self._update(
                last_used.item_key(key_id),
                UpdateExpression="SET #at = :at, expires_at = :exp",
                ConditionExpression="attribute_not_exists(#at) OR #at < :at",
                ExpressionAttributeNames={"#at": last_used.ATTRIBUTE},
                ExpressionAttributeValues={
                    ":at": {"N": str(int(at))},
                    ":exp": {"N": str(int(at) + last_used.RETENTION_DAYS * 86400)},
                },
            )
        except _Refused:
            return  # a later use is already stored


def read_usage(client: DynamoDBClient, table: str, key_id: str, start: str, end: str) -> dict[str, Counter[str]]:
    """Hourly counts between two hour buckets (inclusive), shards summed: {hour: {outcome: n}}."""
    found: dict[str, Counter[str]] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
        "ExpressionAttributeValues": {
            ":pk": {"S": f"{USAGE_PARTITION_PREFIX}{key_id}"},
            ":start": {"S": start},
            ":end": {"S": f"{end}#~"},
        },
    }
    while True:
        page = client.query(**kwargs)
        for item in page.get("Items", []):
            hour = item["sk"]["S"].split("#", 1)[0]
            counts = found.setdefault(hour, Counter())
            for name, value in item.items():
                if name not in ("pk", "sk", "expires_at") and "N" in value:
                    counts[name] += int(value["N"])
        if not page.get("LastEvaluatedKey"):
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def read_last_used(client: DynamoDBClient, table: str, key_ids: list[str]) -> dict[str, float]:
    """The last use of each of ``key_ids`` that has one (epoch seconds): BatchGetItem, 100 keys a
    call, what DynamoDB leaves unprocessed asked again."""
    found: dict[str, float] = {}
    for start in range(0, len(key_ids), 100):
        keys: list[Any] = [last_used.item_key(k) for k in dict.fromkeys(key_ids[start : start + 100])]
        for _ in range(5):
            if not keys:
                break
            answer = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": False}})
            for item in answer.get("Responses", {}).get(table, []):
                value = item.get(last_used.ATTRIBUTE, {}).get("N")
                if value is not None:
                    found[item["pk"]["S"].removeprefix(last_used.KEY_PREFIX)] = float(value)
            unprocessed: Any = answer.get("UnprocessedKeys") or {}
            keys = list((unprocessed.get(table) or {}).get("Keys") or [])
    return found
