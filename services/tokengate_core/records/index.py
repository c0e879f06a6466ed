"""The digest index: one DynamoDB item per client holding exactly what the authorizer decides with.

The item lives in the deployment's table, beside the name claims (:mod:`.names`):
``pk = "index#<key id>"``, ``sk = "client"``, and

- ``doc``: the client's record as its secret holds it, with ``token`` removed and ``sha256`` (the
  digest of the current token, an imported one included) added; ``pending_sha256`` while a
  rotation is between setSecret and finishSecret. Never a token.
- ``state``: ``active`` or ``revoked`` (the secret is scheduled for deletion).
- ``tenant``: the doc's tenant again, so a doc copied onto another client's item reads as corrupt.
- ``version``: 1 on the first write, one more on each write after it. Every write is conditional
  on the version it read (or on there being no item), so of two writers racing (an admin change
  and a reconciliation), the one that read older data loses and reads again.
- ``changed_at``: when it was last written (ISO 8601, UTC).

Secrets Manager stays the source of truth; the index is the shared cache every authorizer
container reads instead (an eventually consistent GetItem costs half a read unit, a consistent
one a whole one: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).

Light on purpose: the authorizer imports this module for the key, so botocore is imported only
where a failed call is translated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tokengate_core.errors import ConflictError, TokengateError, UnavailableError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

    from tokengate_core.records.model import ClientRecord

INDEX_PREFIX = "index#"
#: The most keys one BatchGetItem may name (DynamoDB's limit).
BATCH_READ_LIMIT = 100
INDEX_SORT_KEY = "client"
ACTIVE = "active"
REVOKED = "revoked"
STATES = (ACTIVE, REVOKED)
#: How often a writer reads the item again after losing a conditional write to another writer:
#: each round has a winner, so this many writers racing for one client all get through.
WRITE_ATTEMPTS = 10
#: The expected version of an item whose ``version`` is not a number (not written by this module).
UNREADABLE_VERSION = -1


class IndexItemError(ValueError):
    """An index item that is not one this module wrote; the message names an attribute, never a value."""


class IndexEntry(NamedTuple):
    """An index item's attributes, checked for shape (the doc itself is parsed by its reader)."""

    key_id: str
    tenant: str
    doc: str
    state: str
    version: int
    changed_at: str

    @property
    def revoked(self) -> bool:
        return self.state == REVOKED


def index_pk(key_id: str) -> str:
    return f"{INDEX_PREFIX}{key_id}"


def index_key(key_id: str) -> dict[str, Any]:
    """The item's key in DynamoDB's attribute-value form."""
    return {"pk": {"S": index_pk(key_id)}, "sk": {"S": INDEX_SORT_KEY}}


def index_doc(record: ClientRecord, *, pending_sha256: str | None = None) -> str:
    """The doc for ``record``: its secret's document without the token, with the current digest."""
    data = record.model_dump(mode="json", exclude={"token"})
    if data.get("imported_sha256") is None:
        data.pop("imported_sha256", None)  # as in the secret: only imported clients carry it
    data["sha256"] = record.current_sha256
    if pending_sha256 is not None:
        data["pending_sha256"] = pending_sha256
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def encode(
    record: ClientRecord,
    state: str,
    *,
    version: int,
    changed_at: datetime,
    pending_sha256: str | None = None,
) -> dict[str, Any]:
    """The whole item for ``record`` in ``state``, written as ``version``."""
    if state not in STATES:
        raise ValueError(f"unknown index state {state!r}")
    return {
        **index_key(record.key_id),
        "doc": {"S": index_doc(record, pending_sha256=pending_sha256)},
        "state": {"S": state},
        "tenant": {"S": record.tenant},
        "version": {"N": str(version)},
        "changed_at": {"S": changed_at.astimezone(UTC).isoformat()},
    }


def _attribute(item: dict[str, Any], name: str, kind: str) -> str:
    value = item.get(name)
    text = value.get(kind) if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise IndexItemError(f"invalid {name}")
    return text


def decode(item: dict[str, Any], key_id: str) -> IndexEntry:
    """The item read for ``key_id``, its attributes checked; IndexItemError when it is not ours."""
    if _attribute(item, "pk", "S") != index_pk(key_id) or _attribute(item, "sk", "S") != INDEX_SORT_KEY:
        raise IndexItemError("invalid key")
    state = _attribute(item, "state", "S")
    if state not in STATES:
        raise IndexItemError("invalid state")
    version = _attribute(item, "version", "N")
    if not version.isdigit():
        raise IndexItemError("invalid version")
    return IndexEntry(
        key_id=key_id,
        tenant=_attribute(item, "tenant", "S"),
        doc=_attribute(item, "doc", "S"),
        state=state,
        version=int(version),
        changed_at=_attribute(item, "changed_at", "S"),
    )


def _condition_failed(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def translate(error: Exception) -> TokengateError:
    """A failed DynamoDB call as the domain's error: nothing raw leaves this module."""
    from botocore.exceptions import BotoCoreError, ClientError  # loaded by then: the failed call was botocore's

    if isinstance(error, TokengateError):
        return error
    if isinstance(error, ClientError):
        return UnavailableError(f"DynamoDB unavailable ({error.response.get('Error', {}).get('Code') or 'error'})")
    if isinstance(error, BotoCoreError):
        return UnavailableError(f"DynamoDB unreachable ({type(error).__name__})")
    return TokengateError(f"unexpected index error ({type(error).__name__})")


class ClientIndex:
    """Reads and conditional writes of index items."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def append(self, key_id: str, kind: str) -> int:
        """Announce a change of ``key_id`` on the change feed (records.feed): after the index write."""
        from tokengate_core.records import feed

        return feed.append(self._client, self._table, key_id, kind)

    def get_item(self, key_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        """The raw item, or None; UnavailableError when DynamoDB fails."""
        try:
            response = self._client.get_item(TableName=self._table, Key=index_key(key_id), ConsistentRead=consistent)
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
            raise translate(error) from None
        item = response.get("Item")
        return dict(item) if item else None

    def get_items(self, key_ids: Sequence[str], *, consistent: bool = True) -> dict[str, dict[str, Any] | None]:
        """Up to :data:`BATCH_READ_LIMIT` items in one BatchGetItem: key id -> raw item, or None when
        there is none. A key DynamoDB left unprocessed (BatchGetItem may) is absent from the answer;
        UnavailableError when the call fails."""
        keys = list(dict.fromkeys(key_ids))[:BATCH_READ_LIMIT]
        if not keys:
            return {}
        request: Any = {self._table: {"Keys": [index_key(key_id) for key_id in keys], "ConsistentRead": consistent}}
        try:
            response: dict[str, Any] = dict(self._client.batch_get_item(RequestItems=request))
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
            raise translate(error) from None
        found: dict[str, dict[str, Any]] = {}
        for item in response.get("Responses", {}).get(self._table, []):
            pk = item.get("pk", {}).get("S", "")
            if pk.startswith(INDEX_PREFIX):
                found[pk.removeprefix(INDEX_PREFIX)] = dict(item)
        left = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        unprocessed = {str(key.get("pk", {}).get("S", "")).removeprefix(INDEX_PREFIX) for key in left}
        return {key_id: found.get(key_id) for key_id in keys if key_id not in unprocessed}

    def get(self, key_id: str, *, consistent: bool = True) -> IndexEntry | None:
        """The entry, read consistently by default (writers base a conditional write on it)."""
        item = self.get_item(key_id, consistent=consistent)
        return None if item is None else decode(item, key_id)

    def put(
        self,
        record: ClientRecord,
        state: str,
        *,
        expected_version: int | None,
        now: datetime | None = None,
        pending_sha256: str | None = None,
    ) -> int | None:
        """Write ``record`` in ``state`` if the item is still at ``expected_version`` (None: if
        there is no item; UNREADABLE_VERSION: if its version is not a number). The version
        written, or None when another writer changed the item first."""
        version = 1 if expected_version in (None, UNREADABLE_VERSION) else expected_version + 1
        item = encode(
            record, state, version=version, changed_at=now or datetime.now(UTC), pending_sha256=pending_sha256
        )
        condition: dict[str, Any]
        if expected_version is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif expected_version == UNREADABLE_VERSION:
            condition = {
                "ConditionExpression": "attribute_exists(pk) AND NOT attribute_type(version, :number)",
                "ExpressionAttributeValues": {":number": {"S": "N"}},
            }
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error or a lost race
            if _condition_failed(error):
                return None
            raise translate(error) from None
        return version

    def revoke(self, key_id: str, *, now: datetime | None = None) -> bool:
        """Mark the item revoked in one conditional UpdateItem (no read of the record needed, so a
        client whose secret no longer parses can still be revoked); its version moves, so a writer
        racing it loses. False when there is no item: the authorizer denies a client it cannot find."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=index_key(key_id),
                UpdateExpression="SET #state = :revoked, changed_at = :now ADD version :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":revoked": {"S": REVOKED},
                    ":now": {"S": (now or datetime.now(UTC)).astimezone(UTC).isoformat()},
                    ":one": {"N": "1"},
                },
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
            if _condition_failed(error):
                return False
            raise translate(error) from None
        return True

    def version(self, key_id: str) -> int | None:
        """The item's version, read consistently: None without an item, UNREADABLE_VERSION when
        its version is not one this module wrote (a corrupt item is replaced, not kept)."""
        item = self.get_item(key_id, consistent=True)
        if item is None:
            return None
        text = item.get("version", {}).get("N") if isinstance(item.get("version"), dict) else None
        return int(text) if isinstance(text, str) and text.isdigit() else UNREADABLE_VERSION

    def write(
        self,
        record: ClientRecord,
        state: str,
        *,
        now: datetime | None = None,
        pending_sha256: str | None = None,
    ) -> int:
        """Write ``record`` in ``state`` over whatever is there, each attempt conditional on the
        version just read: the writer that just changed the client (and so holds its newest data)
        wins over one racing it. ConflictError after WRITE_ATTEMPTS lost races."""
        for _ in range(WRITE_ATTEMPTS):
            expected = self.version(record.key_id)
            written = self.put(record, state, expected_version=expected, now=now, pending_sha256=pending_sha256)
            if written is not None:
                return written
        raise ConflictError("the client's index item changed concurrently; retry")
