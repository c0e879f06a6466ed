"""The change feed on moto's DynamoDB: appends number their entries, a reader applies what it has
not seen, holds a gap, and resyncs when the gap lasts or an entry names no client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError

from tests.unit.aws_in_memory import Failing, client_error
from tokengate_core.errors import UnavailableError
from tokengate_core.records import feed
from tokengate_core.records.feed import FEED_GAP_SECONDS, FeedRead, FeedReader, append, entry_sk, head, read_entries
from tokengate_core.records.names import TTL_ATTRIBUTE, create_table
from tokengate_core.tokens import format as tokens

TABLE = "tokengate"
T0 = 1_800_000_000.0


@pytest.fixture
def dynamodb(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, TABLE)
    yield client


def keys(count: int) -> list[str]:
    return [tokens.new_key_id() for _ in range(count)]


def put_entry(dynamodb: Any, seq: int, key_id: str | None) -> None:
    """An entry written by hand: one a writer put late (after its counter moved), or a broken one."""
    item: dict[str, Any] = {"pk": {"S": "feed"}, "sk": {"S": entry_sk(seq)}, "kind": {"S": "revoke"}}
    if key_id is not None:
        item["key_id"] = {"S": key_id}
    dynamodb.put_item(TableName=TABLE, Item=item)


def bump_head(dynamodb: Any) -> int:
    """The counter moves but no entry is written (a writer that failed between its two calls)."""
    answer = dynamodb.update_item(
        TableName=TABLE,
        Key=feed.head_key(),
        UpdateExpression="ADD seq :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["seq"]["N"])


def test_appends_are_numbered_from_one_and_expire_after_a_day(dynamodb: Any) -> None:
    a, b = keys(2)
    assert head(dynamodb, TABLE) == 0
    assert append(dynamodb, TABLE, a, "issue", now=T0) == 1
    assert append(dynamodb, TABLE, b, "revoke", now=T0 + 1) == 2
    assert head(dynamodb, TABLE, consistent=True) == 2
    entries = read_entries(dynamodb, TABLE, 0)
    assert [(e.seq, e.key_id, e.kind) for e in entries] == [(1, a, "issue"), (2, b, "revoke")]
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "feed"}, "sk": {"S": entry_sk(2)}})["Item"]
    assert item[TTL_ATTRIBUTE] == {"N": str(int(T0) + 1 + 24 * 3600)}
    assert read_entries(dynamodb, TABLE, 1) == entries[1:]
    with pytest.raises(ValueError, match="unknown feed kind"):
        append(dynamodb, TABLE, a, "explode")


def test_a_first_read_starts_at_the_head_and_forgets_what_it_held(dynamodb: Any) -> None:
    old, new = keys(2)
    append(dynamodb, TABLE, old, "issue")
    reader = FeedReader(dynamodb, TABLE)
    assert reader.read(T0) == FeedRead((), True)
    assert reader.last == 1
    append(dynamodb, TABLE, new, "revoke")
    assert reader.read(T0 + 1) == FeedRead((new,), False)
    assert reader.read(T0 + 2) == FeedRead((), False)
    assert reader.last == 2


def test_entries_past_a_gap_apply_at_once_and_the_gap_closes_when_its_entry_arrives(dynamodb: Any) -> None:
    reader = FeedReader(dynamodb, TABLE)
    reader.read(T0)
    a, b, c = keys(3)
    late = bump_head(dynamodb)
    append(dynamodb, TABLE, b, "revoke")
    append(dynamodb, TABLE, c, "disable")
    assert reader.read(T0 + 1) == FeedRead((b, c), False)
    assert reader.last == 0  # held below the missing entry
    assert reader.read(T0 + 2) == FeedRead((), False)  # nothing applied twice
    put_entry(dynamodb, late, a)
    assert reader.read(T0 + 2.5) == FeedRead((a,), False)
    assert reader.last == 3


def test_a_gap_that_lasts_resyncs_and_moves_past_it(dynamodb: Any) -> None:
    reader = FeedReader(dynamodb, TABLE)
    reader.read(T0)
    bump_head(dynamodb)
    (b,) = keys(1)
    append(dynamodb, TABLE, b, "revoke")
    assert reader.read(T0 + 1) == FeedRead((b,), False)
    assert reader.read(T0 + 1 + FEED_GAP_SECONDS - 0.01) == FeedRead((), False)
    assert reader.read(T0 + 1 + FEED_GAP_SECONDS) == FeedRead((), True)
    assert reader.last == 2
    (c,) = keys(1)
    append(dynamodb, TABLE, c, "update")
    assert reader.read(T0 + 10) == FeedRead((c,), False)


def test_out_of_order_entries_apply_in_any_order(dynamodb: Any) -> None:
    reader = FeedReader(dynamodb, TABLE)
    reader.read(T0)
    a, b = keys(2)
    first, second = bump_head(dynamodb), bump_head(dynamodb)
    put_entry(dynamodb, second, b)
    assert reader.read(T0 + 1) == FeedRead((b,), False)
    put_entry(dynamodb, first, a)
    assert reader.read(T0 + 2) == FeedRead((a,), False)
    assert reader.last == 2


def test_an_entry_naming_no_client_resyncs(dynamodb: Any) -> None:
    reader = FeedReader(dynamodb, TABLE)
    reader.read(T0)
    put_entry(dynamodb, bump_head(dynamodb), None)
    assert reader.read(T0 + 1) == FeedRead((), True)
    assert reader.last == 1


def test_more_unread_entries_than_a_read_takes_resyncs(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "PAGE_LIMIT", 2)
    monkeypatch.setattr(feed, "MAX_PAGES", 2)
    reader = FeedReader(dynamodb, TABLE)
    reader.read(T0)
    for key in keys(5):
        append(dynamodb, TABLE, key, "update")
    result = reader.read(T0 + 1)
    assert result.resync and len(result.changed) == 4
    assert reader.last == 4
    assert reader.read(T0 + 2).changed != ()  # the fifth is read next time


def test_the_counter_and_checkpoint_are_not_entries(dynamodb: Any) -> None:
    (a,) = keys(1)
    append(dynamodb, TABLE, a, "issue")
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "feed"}, "sk": {"S": feed.RECONCILED_SK}})
    assert [e.seq for e in read_entries(dynamodb, TABLE, 0)] == [1]


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ("query", client_error("ThrottlingException")),
        ("query", client_error("InternalServerError", status=500)),
        ("query", ConnectTimeoutError(endpoint_url="http://127.0.0.1")),
        ("get_item", client_error("ProvisionedThroughputExceededException")),
    ],
)
def test_a_failed_read_raises_unavailable_and_applies_nothing(dynamodb: Any, operation: str, error: Exception) -> None:
    (a,) = keys(1)
    healthy = FeedReader(dynamodb, TABLE)
    healthy.read(T0)
    append(dynamodb, TABLE, a, "revoke")
    failing: Any = Failing(dynamodb, operation, error)
    reader = FeedReader(failing, TABLE)
    reader.last = healthy.last if operation == "query" else None
    with pytest.raises(UnavailableError):
        reader.read(T0 + 1)
    assert reader.last == (0 if operation == "query" else None)


def test_a_failed_append_raises_unavailable(dynamodb: Any) -> None:
    (a,) = keys(1)
    with pytest.raises(UnavailableError):
        append(cast(Any, Failing(dynamodb, "put_item", client_error("ThrottlingException"))), TABLE, a, "revoke")
    # The counter moved without an entry: the number is a gap that readers resync over.
    assert head(dynamodb, TABLE, consistent=True) == 1 and read_entries(dynamodb, TABLE, 0) == []
