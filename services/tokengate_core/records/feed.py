"""The change feed: every change to a client appends an entry naming it; each authorizer container
reads the entries it has not seen and evicts those clients from its cache.

All of it is one partition of the deployment's table (``pk = "feed"``):

- ``sk = "head"``: the counter, ``seq`` (N), one more for every entry.
- ``sk = <seq, 20 digits>``: the entry for that number: ``key_id``, ``kind``, ``at`` and the TTL
  attribute (now + FEED_TTL_SECONDS), so DynamoDB removes old entries by itself.

An append is two calls: an UpdateItem adding 1 to the counter (its answer is the entry's number)
and a PutItem of the entry. A writer that fails between them leaves a number with no entry: a gap,
which a reader notices and answers by forgetting its whole cache (a resync), so a lost entry never
leaves a revoked client cached.

A read is one Query of the entries above the last one applied, eventually consistent, projecting
only ``sk`` and ``key_id``: when nothing changed it returns no item and costs the minimum of half a
read unit (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html:
a Query's cost is the size of the items it reads, rounded up to 4 KB, halved when eventually
consistent). An eventually consistent read may miss a write made within the last second; an entry
seen late is still applied, and until it is seen the entries after it are held as a gap.

Light on purpose (the authorizer reads the feed): botocore is imported only to translate a failure.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from tokengate_core.errors import UnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FEED_PK = "feed"
HEAD_SK = "head"
#: The reconciliation's checkpoint in the feed's partition (not an entry: its sort key has letters).
RECONCILED_SK = "reconciled"
SEQ_DIGITS = 20
_HIGHEST_SK = "9" * SEQ_DIGITS
#: How long entries are kept: far longer than any cached entry lives, so a container that was idle
#: finds every change made since it cached a client (or a gap, and then resyncs).
FEED_TTL_SECONDS = 24 * 3600
#: A serving container reads the feed at most this often.
FEED_INTERVAL_SECONDS = 1.0
#: A missing entry below one already seen is waited for this long, then the reader resyncs.
FEED_GAP_SECONDS = 3.0
#: Without a successful read for this long, the authorizer's cache falls back to its short TTL.
FEED_FALLBACK_SECONDS = 10.0
#: Entries per Query page, and pages per read: more unread entries than this is a resync.
PAGE_LIMIT = 100
MAX_PAGES = 10
KINDS = frozenset(
    {"issue", "import", "update", "revoke", "restore", "rotate", "rotation", "leak", "disable", "reconcile"}
)


class FeedEntry(NamedTuple):
    seq: int
    key_id: str
    kind: str
    at: float


class FeedRead(NamedTuple):
    """What one read tells a cache: the clients to evict, and whether to forget everything."""

    changed: tuple[str, ...]
    resync: bool


def entry_sk(seq: int) -> str:
    return f"{seq:0{SEQ_DIGITS}d}"


def head_key() -> dict[str, Any]:
    return {"pk": {"S": FEED_PK}, "sk": {"S": HEAD_SK}}


def _unavailable(error: Exception) -> UnavailableError:
    from tokengate_core.records.index import translate  # botocore is loaded once a call has failed

    translated = translate(error)
    return translated if isinstance(translated, UnavailableError) else UnavailableError(translated.message)


def append(client: DynamoDBClient, table: str, key_id: str, kind: str, now: float | None = None) -> int:
    """Record that ``key_id`` changed; its entry's number. UnavailableError when DynamoDB fails
    (after the counter moved, the number is a gap every reader resyncs over)."""
    from tokengate_core.records.names import TTL_ATTRIBUTE  # a writer's module: botocore at import

    if kind not in KINDS:
        raise ValueError(f"unknown feed kind {kind!r}")
    at = time.time() if now is None else now
    try:
        answer = client.update_item(
            TableName=table,
            Key=head_key(),
            UpdateExpression="ADD seq :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        seq = int(answer["Attributes"]["seq"]["N"])
        client.put_item(
            TableName=table,
            Item={
                "pk": {"S": FEED_PK},
                "sk": {"S": entry_sk(seq)},
                "key_id": {"S": key_id},
                "kind": {"S": kind},
                "at": {"N": f"{at:.3f}"},
                TTL_ATTRIBUTE: {"N": str(int(at) + FEED_TTL_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
        raise _unavailable(error) from None
    return seq


def read_entries(client: DynamoDBClient, table: str, after: int, *, limit: int = PAGE_LIMIT) -> list[FeedEntry]:
    """Entries numbered above ``after``, oldest first, with every attribute (the reconciliation's
    read; the authorizer's is :class:`FeedReader`)."""
    found: list[FeedEntry] = []
    for item in _query(client, table, after, limit=limit, projection=False):
        key_id, kind, at = _text(item, "key_id"), _text(item, "kind"), _text(item, "at", "N")
        seq = _seq(item)
        if seq is not None and key_id and kind:
            found.append(FeedEntry(seq, key_id, kind, float(at) if at and at.replace(".", "", 1).isdigit() else 0.0))
    return found


def _text(item: dict[str, Any], name: str, kind: str = "S") -> str | None:
    """An attribute's value, or None when it is missing or not of ``kind`` (nothing here raises)."""
    value = item.get(name)
    text = value.get(kind) if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def _seq(item: dict[str, Any]) -> int | None:
    sk = _text(item, "sk")
    return int(sk) if sk is not None and len(sk) == SEQ_DIGITS and sk.isdigit() else None


def _query(client: DynamoDBClient, table: str, after: int, *, limit: int, projection: bool) -> list[dict[str, Any]]:
    """Up to MAX_PAGES pages of entries above ``after``. BETWEEN, not ``>``: the counter's and the
    checkpoint's sort keys sort after every number."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :feed AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":feed": {"S": FEED_PK},
            ":low": {"S": entry_sk(after + 1)},
            ":high": {"S": _HIGHEST_SK},
        },
        "Limit": limit,
        "ConsistentRead": False,
    }
    if projection:
        request["ProjectionExpression"] = "sk, key_id"
    items: list[dict[str, Any]] = []
    try:
        for _ in range(MAX_PAGES):
            page = client.query(**request)
            items.extend(page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                return items
            request["ExclusiveStartKey"] = start
    except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
        raise _unavailable(error) from None
    items.append({})  # more than MAX_PAGES pages: read as an entry that names no client (a resync)
    return items


def head(client: DynamoDBClient, table: str, *, consistent: bool = False) -> int:
    """The counter: the number of the last entry appended (0 before the first)."""
    try:
        item = client.get_item(TableName=table, Key=head_key(), ConsistentRead=consistent).get("Item") or {}
    except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
        raise _unavailable(error) from None
    value = _text(item, "seq", "N")
    return int(value) if value is not None and value.isdigit() else 0


class FeedReader:
    """One container's position in the feed.

    ``last`` is the highest number up to which every entry has been applied. Entries above it are
    applied as soon as they are seen, even past a missing one; ``last`` moves only over contiguous
    numbers. A gap (a number missing below one seen) that lasts FEED_GAP_SECONDS is given up on:
    the reader asks for a resync (the cache forgets everything) and moves to the highest seen.
    An entry that names no client is applied the same way at once, and so is the first read.
    """

    def __init__(self, client: DynamoDBClient, table: str, *, gap_seconds: float = FEED_GAP_SECONDS) -> None:
        self._client = client
        self._table = table
        self._gap_seconds = gap_seconds
        self.last: int | None = None
        self._seen: set[int] = set()  # numbers above ``last`` already applied
        self._gap_since: float | None = None

    def read(self, now: float) -> FeedRead:
        """One read: UnavailableError when DynamoDB fails (nothing is applied then)."""
        changed: list[str] = []
        resync = False
        if self.last is None:
            # The first read starts from the head. A container that served before it (its reads
            # failed) may hold clients changed since: it forgets them (a fresh one holds none).
            # Only the head: what was appended after it, the next read's Query finds, so a cold
            # start's first decision pays one feed read, not two.
            self.last = head(self._client, self._table)
            return FeedRead((), True)
        for item in _query(self._client, self._table, self.last, limit=PAGE_LIMIT, projection=True):
            seq = _seq(item)
            key_id = _text(item, "key_id")
            if seq is None or not key_id:
                resync = True  # a change we cannot attribute: forget everything
                if seq is not None:
                    self._seen.add(seq)
                continue
            if seq not in self._seen:
                self._seen.add(seq)
                changed.append(key_id)
        self._advance()
        if self._seen:
            self._gap_since = now if self._gap_since is None else self._gap_since
            if resync or now - self._gap_since >= self._gap_seconds:
                resync = True
        else:
            self._gap_since = None
        if resync:
            self.last = max(self._seen, default=self.last)
            self._seen.clear()
            self._gap_since = None
        return FeedRead(tuple(changed), resync)

    def _advance(self) -> None:
        assert self.last is not None
        while self.last + 1 in self._seen:
            self.last += 1
            self._seen.discard(self.last)
