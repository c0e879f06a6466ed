"""A tenant's guardrails: the limits every client of the tenant must keep (the longest token
lifetime, the longest rotation period, the scope patterns a client may hold) and the usage policy a
new client gets when its issuer gives none. What breaks them, and what loosens them, is defined here.

They live in the deployment's DynamoDB table, one item per tenant (partition
``guardrails#<tenant>``, sort key ``guardrails``; the key schema is ``records.names``'), with a
version: each write is a conditional PutItem on the version it read, so of two admins writing from
one version exactly one succeeds and the other is told to read again. That condition also keeps a
check made against the version read (does this change loosen anything?) true of what it replaces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tokengate_core.errors import ConflictError, CorruptRecordError
from tokengate_core.records.index import translate as dynamodb_error
from tokengate_core.records.model import AllowedCidrs, Quota, RateLimit, RotationDays, Scopes
from tokengate_core.records.names import PARTITION_KEY, SORT_KEY
from tokengate_core.records.rules import OnLimit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: The partition of a tenant's guardrails item is this plus the tenant id (the admin role's
#: ``dynamodb:LeadingKeys`` grant names it).
PARTITION_PREFIX = "guardrails#"
ITEM_SORT_KEY = "guardrails"
#: What the admin function does with the item: read it, and replace it conditionally.
ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
#: The longest lifetime a guardrail may allow: ten years, as the admin API's ttl_seconds.
MAX_LIFETIME_DAYS = 3660
#: The highest version a tenant's guardrails reach (a bound for the request body, never met).
MAX_VERSION = 10**12

#: Why a tenant's guardrails cannot be used (500: nothing is issued in the tenant until they are set again).
CORRUPT = (
    "the tenant's guardrails item is not valid: a deployment admin sets them again (PUT /admin/guardrails/{tenant})"
)
#: Why a write based on an older version is refused (409).
CHANGED_CONCURRENTLY = "the tenant's guardrails changed since the version this change is based on: read them again"

LifetimeDays = Annotated[int, Field(ge=1, le=MAX_LIFETIME_DAYS)]


class DefaultUsagePolicy(BaseModel):
    """The usage policy a new client gets when its issuer gives none of rate_limit, quota and
    allowed_cidrs: a default, not a limit (an issuer may give another policy, or clear it later)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit: RateLimit | None = None
    quota: Quota | None = None
    allowed_cidrs: AllowedCidrs | None = None
    on_limit: OnLimit = "deny"

    @model_validator(mode="after")
    def _something(self) -> DefaultUsagePolicy:
        if self.rate_limit is None and self.quota is None and self.allowed_cidrs is None:
            raise ValueError("a default usage policy sets rate_limit, quota or allowed_cidrs (or is null)")
        return self


class Guardrails(BaseModel):
    """Every field absent or null: no limit of that kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_lifetime_days: LifetimeDays | None = Field(
        default=None,
        description="Every client has an expiry at most this many days after it is issued or updated",
    )
    max_rotation_period_days: RotationDays | None = Field(
        default=None,
        description="Every client rotates automatically, at least this often (rotation_period_days at most this)",
    )
    allowed_scopes: Scopes | None = Field(
        default=None,
        description="Every scope of a client lies within one of these patterns ('*' in a path: one segment,"
        " '**': any; method ANY: every method). A new client given no scopes gets these.",
    )
    default_usage_policy: DefaultUsagePolicy | None = Field(
        default=None, description="Applied to a new client whose issuer gives no usage policy"
    )

    @field_validator("allowed_scopes")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("allowed_scopes lists a pattern twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Guardrails:
        lifetime, period = self.max_lifetime_days, self.max_rotation_period_days
        if lifetime is not None and period is not None and period > lifetime:
            raise ValueError(
                "max_rotation_period_days exceeds max_lifetime_days: a token would expire before its"
                " required rotation; lower the rotation period or raise the lifetime"
            )
        return self

    @property
    def empty(self) -> bool:
        return self == Guardrails()


# -- what a client must keep -------------------------------------------------------------------------


def _tokens(pattern: str) -> list[str]:
    """A scope's path as tokens: ``**``, ``*`` or one literal character."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        step = 2 if pattern.startswith("**", i) else 1
        out.append(pattern[i : i + step])
        i += step
    return out


def _path_within(inner: list[str], outer: list[str]) -> bool:
    """Whether every path ``inner`` matches, ``outer`` matches too (``records.rules.scope_regex``'s
    meaning): ``**`` covers anything, ``*`` covers what stays within one segment (literal
    characters but ``/``, and ``*``), a literal covers itself. Sound, and exact for the patterns a
    tenant writes; a pattern it cannot prove covered is refused, which fails closed."""
    memo: dict[tuple[int, int], bool] = {}

    def within(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if j == len(outer):
                result = i == len(inner)
            elif outer[j] == "**":
                result = within(i, j + 1) or (i < len(inner) and within(i + 1, j))
            elif outer[j] == "*":
                result = within(i, j + 1) or (i < len(inner) and inner[i] not in ("/", "**") and within(i + 1, j))
            else:
                result = i < len(inner) and inner[i] == outer[j] and within(i + 1, j + 1)
            memo[(i, j)] = result
        return memo[(i, j)]

    return within(0, 0)


def _parts(scope: str) -> tuple[str, list[str]]:
    if scope == "*":
        return "ANY", ["/", "**"]
    method, _, path = scope.partition(" ")
    return ("ANY" if method == "*" else method), _tokens(path)


def scope_within(scope: str, pattern: str) -> bool:
    """Whether every request ``scope`` lets through, ``pattern`` lets through too."""
    method, path = _parts(scope)
    allowed_method, allowed_path = _parts(pattern)
    return allowed_method in ("ANY", method) and _path_within(path, allowed_path)


def outside(scopes: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The scopes that no pattern covers."""
    return [scope for scope in scopes if not any(scope_within(scope, p) for p in patterns)]


def problems(
    rails: Guardrails,
    *,
    expires_at: datetime | None,
    rotation_period_days: int | None,
    scopes: Sequence[str] | None,
    now: datetime,
) -> list[str]:
    """Why a client with these settings breaks the guardrails, now (nothing: it keeps them). The
    messages name the fields and the limits, never a client's own values."""
    found: list[str] = []
    if rails.max_lifetime_days is not None:
        days = rails.max_lifetime_days
        if expires_at is None:
            found.append(f"expires_at is required: tokens of this tenant live at most {days} days")
        elif expires_at > now + timedelta(days=days):
            found.append(f"expires_at is more than {days} days away (the tenant's max_lifetime_days)")
    if rails.max_rotation_period_days is not None:
        days = rails.max_rotation_period_days
        if rotation_period_days is None:
            found.append(
                f"rotation_period_days is required: clients of this tenant rotate at least every {days} days"
                " (a schedule needs reader_arn or token_fetch)"
            )
        elif rotation_period_days > days:
            found.append(f"rotation_period_days is above {days} (the tenant's max_rotation_period_days)")
    if rails.allowed_scopes is not None and scopes is not None:
        count = len(outside(scopes, rails.allowed_scopes))
        if count:
            found.append(f"{count} scope(s) lie outside the tenant's allowed_scopes")
    return found


def loosened(before: Guardrails, after: Guardrails) -> list[str]:
    """The limits ``after`` relaxes compared with ``before`` (a default usage policy is no limit)."""
    fields: list[str] = []
    for name in ("max_lifetime_days", "max_rotation_period_days"):
        old, new = getattr(before, name), getattr(after, name)
        if old is not None and (new is None or new > old):
            fields.append(name)
    old_scopes, new_scopes = before.allowed_scopes, after.allowed_scopes
    if old_scopes is not None and (new_scopes is None or outside(new_scopes, old_scopes)):
        fields.append("allowed_scopes")
    return fields


# -- the item ------------------------------------------------------------------------------------------


class StoredGuardrails(NamedTuple):
    guardrails: Guardrails
    #: 0: never set (no item); each write adds one.
    version: int
    updated_at: datetime | None
    updated_by: str | None


_NONE = StoredGuardrails(Guardrails(), 0, None, None)


class GuardrailStore:
    """One item per tenant, read consistently (a guardrail set a moment ago applies to the next issue)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(tenant: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": f"{PARTITION_PREFIX}{tenant}"}, SORT_KEY: {"S": ITEM_SORT_KEY}}

    def read(self, tenant: str) -> StoredGuardrails:
        try:
            item = self._client.get_item(TableName=self._table, Key=self._key(tenant), ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise dynamodb_error(error) from None
        found = item.get("Item")
        if not found:
            return _NONE
        try:
            rails = Guardrails.model_validate(json.loads(found["settings"]["S"]))
            return StoredGuardrails(
                rails,
                int(found["version"]["N"]),
                datetime.fromisoformat(found["updated_at"]["S"]),
                found["updated_by"]["S"],
            )
        except (KeyError, ValueError, ValidationError):
            # Fail closed: a tenant whose guardrails cannot be read issues nothing until they are set again.
            raise CorruptRecordError(CORRUPT) from None

    def version(self, tenant: str) -> int:
        """The item's version alone (0: no item), to replace guardrails that cannot be read."""
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key=self._key(tenant),
                ConsistentRead=True,
                ProjectionExpression="#version",
                ExpressionAttributeNames={"#version": "version"},
            )
        except (ClientError, BotoCoreError) as error:
            raise dynamodb_error(error) from None
        if "Item" not in item:
            return 0
        try:
            return int(item["Item"]["version"]["N"])
        except (KeyError, ValueError):
            raise CorruptRecordError(f"{CORRUPT} (its version too: delete the item)") from None

    def write(self, tenant: str, rails: Guardrails, *, based_on: int, actor: str, now: datetime) -> StoredGuardrails:
        """Replace the tenant's guardrails if they are still at version ``based_on``; else 409."""
        version = based_on + 1
        condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
        }
        if based_on:
            condition = {
                "ConditionExpression": "#version = :based_on",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":based_on": {"N": str(based_on)}},
            }
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(tenant),
                    "settings": {"S": rails.model_dump_json(exclude_none=True)},
                    "version": {"N": str(version)},
                    "updated_at": {"S": now.isoformat()},
                    "updated_by": {"S": actor},
                },
                **condition,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConflictError(CHANGED_CONCURRENTLY) from None
            raise dynamodb_error(error) from None
        except BotoCoreError as error:
            raise dynamodb_error(error) from None
        return StoredGuardrails(rails, version, now, actor)
