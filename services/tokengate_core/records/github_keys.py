"""GitHub's secret scanning key list as the deployment keeps it: one item of its DynamoDB table,
shared by every container of the leak function.

Without it each container fetched the list itself, unauthenticated, from Lambda's shared
addresses, where GitHub allows 60 requests an hour per address (GitHub REST API, "Rate limits for
the REST API": primary rate limit for unauthenticated users). With it the deployment asks GitHub
at most once per TTL: a container that finds the shared copy stale claims the refresh with a
conditional write, and only the one that wins fetches; the others go on with the copy held.

The item is public data (GitHub publishes the list) and the leak function's role may touch no other
partition (``dynamodb:LeadingKeys``, infra/leaks.py). No TTL attribute: a stale copy is still what
verifies alerts while GitHub cannot be reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from tokengate_core.errors import UnavailableError
from tokengate_core.records.names import PARTITION_KEY, SORT_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: The one partition the leak function's role may read and write.
PARTITION = "github#secret-scanning"
_KEY = {PARTITION_KEY: {"S": PARTITION}, SORT_KEY: {"S": "public-keys"}}
#: What the leak function does with it: read the copy, claim a refresh and store the list fetched.
ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")


class SharedCopy(NamedTuple):
    body: bytes  # the key list as GitHub served it
    fetched_at: float  # epoch seconds


class SharedKeyList:
    """The deployment's copy of GitHub's key list. Every failure is an UnavailableError: the caller
    then falls back to its own copy, or to GitHub."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def read(self) -> SharedCopy | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=_KEY).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise _unavailable(error) from None
        body, fetched_at = (item or {}).get("body", {}).get("S"), (item or {}).get("fetched_at", {}).get("N")
        if body is None or fetched_at is None:
            return None
        return SharedCopy(body.encode("utf-8"), float(fetched_at))

    def claim_refresh(self, now: float, *, stale_before: float | None, retry_after: float) -> bool:
        """Whether this container is the one to fetch the list now: no other claimed a refresh in
        the last ``retry_after`` seconds and, unless ``stale_before`` is None (a key id GitHub may
        have just added), the copy was fetched before ``stale_before``."""
        condition = "(attribute_not_exists(claimed_at) OR claimed_at <= :retry)"
        values = {":now": {"N": _number(now)}, ":retry": {"N": _number(now - retry_after)}}
        if stale_before is not None:
            condition += " AND (attribute_not_exists(fetched_at) OR fetched_at <= :stale)"
            values[":stale"] = {"N": _number(stale_before)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_KEY,
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _unavailable(error) from None
        except BotoCoreError as error:
            raise _unavailable(error) from None
        return True

    def store(self, body: bytes, fetched_at: float) -> None:
        """Keep a list fetched at ``fetched_at``, unless a newer one is kept already."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_KEY,
                UpdateExpression="SET body = :body, fetched_at = :at",
                ConditionExpression="attribute_not_exists(fetched_at) OR fetched_at < :at",
                ExpressionAttributeValues={":body": {"S": body.decode("utf-8")}, ":at": {"N": _number(fetched_at)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(error) from None
        except BotoCoreError as error:
            raise _unavailable(error) from None


def _number(value: float) -> str:
    return f"{value:.3f}"


def _unavailable(error: Exception) -> UnavailableError:
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    return UnavailableError(f"DynamoDB unavailable ({code or type(error).__name__})")
