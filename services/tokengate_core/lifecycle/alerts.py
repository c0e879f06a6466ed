"""GitHub's alerts already answered, so that a replayed one changes nothing.

GitHub signs an alert's body and nothing else (no time, no nonce), so a captured alert verifies
for as long as GitHub lists its key, and whoever saw one can send it again. Revoking is
idempotent, but a replay that comes after an admin restored the client would revoke it again: a
restore would not stick. So each match of ours, once handled, is remembered by a digest of its
token and URL (never the token), with what it was judged (its label), for
:data:`MEMORY_DAYS`; a match seen again is answered with that label and nothing is done. The same
token reported at another URL is a new leak and is acted on.

A match is remembered after its client was handled, never before: a function that stops in
between leaves it unremembered, and GitHub's redelivery then finishes the work (a no-op for what
was done). The items live in the deployment's table under their own partition keys
(:data:`KEY_PREFIX`), which is all the leak function's role may touch there, and DynamoDB's TTL
removes them. DynamoDB deletes expired items within days, not at once, and reads return them
until then ("Items that are past their expiration, but have not yet been deleted can still show
up in reads", Amazon DynamoDB Developer Guide, "Using time to live (TTL) in DynamoDB"), so a read
ignores an item past its time; the local stack, whose DynamoDB never expires items, behaves the
same through this rule.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tokengate_core.errors import UnavailableError
from tokengate_core.records.names import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: The partition keys of remembered matches: the leak function's role may touch no other item.
KEY_PREFIX = "alert#"
SORT_VALUE = "match"
#: How long a handled match is remembered. GitHub's signature never expires, so this bounds how
#: long a restore sticks against a replay; a replay after it is treated as a new report.
MEMORY_DAYS = 365


def match_digest(token: str, url: str) -> str:
    """What a match is remembered by: SHA-256 of its token and URL (the token cannot be read back)."""
    match = token.encode("utf-8", "surrogatepass") + b"\0" + url.encode("utf-8", "surrogatepass")
    return hashlib.sha256(match).hexdigest()


class AlertMemory:
    """Matches already handled, in the deployment's DynamoDB table."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    @staticmethod
    def _key(digest: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": f"{KEY_PREFIX}{digest}"}, SORT_KEY: {"S": SORT_VALUE}}

    def recall(self, digest: str) -> str | None:
        """The label the match was given, if it was handled within :data:`MEMORY_DAYS`."""
        try:
            found = self._client.get_item(TableName=self._table, Key=self._key(digest), ConsistentRead=True)
        except Exception as error:  # noqa: BLE001 - any failure is the backend's
            raise UnavailableError(f"DynamoDB unavailable ({type(error).__name__})") from None
        item = found.get("Item") or {}
        expires = item.get(TTL_ATTRIBUTE, {}).get("N")
        label = item.get("label", {}).get("S")
        if label is None or expires is None or float(expires) <= self._clock():
            return None
        return str(label)

    def remember(self, digest: str, label: str) -> None:
        now = self._clock()
        item = {
            **self._key(digest),
            "label": {"S": label},
            "handled_at": {"N": str(int(now))},
            TTL_ATTRIBUTE: {"N": str(int(now) + MEMORY_DAYS * 86400)},
        }
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except Exception as error:  # noqa: BLE001 - any failure is the backend's
            raise UnavailableError(f"DynamoDB unavailable ({type(error).__name__})") from None
