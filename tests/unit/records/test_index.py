"""The digest index item: what it holds (digests, never a token), its key, and its conditional
writes, on moto's DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from tests.unit.aws_in_memory import Failing, client_error
from tests.unit.records.test_model import NOW
from tests.unit.records.test_model import record as make_record
from tokengate_core.errors import ConflictError, UnavailableError
from tokengate_core.records.index import (
    ACTIVE,
    BATCH_READ_LIMIT,
    REVOKED,
    UNREADABLE_VERSION,
    ClientIndex,
    IndexItemError,
    decode,
    encode,
    index_key,
)
from tokengate_core.records.names import create_table
from tokengate_core.tokens import format as tokens

TABLE = "tokengate"


@pytest.fixture
def dynamodb(aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, TABLE)
    yield client


def test_the_item_holds_the_digest_and_never_the_token() -> None:
    record = make_record(previous={"sha256": "ab" * 32, "valid_until": NOW + timedelta(hours=1)})
    item = encode(record, ACTIVE, version=1, changed_at=NOW)
    assert record.own_token not in json.dumps(item)
    doc = json.loads(item["doc"]["S"])
    assert "token" not in doc
    assert doc["sha256"] == tokens.digest(record.own_token).hex()
    assert doc["previous"]["sha256"] == "ab" * 32
    assert item["pk"] == {"S": f"index#{record.key_id}"} and item["sk"] == {"S": "client"}
    assert item["tenant"] == {"S": "acme"} and item["state"] == {"S": "active"} and item["version"] == {"N": "1"}


def test_an_imported_client_keeps_its_imported_digest_as_current() -> None:
    digest = "cd" * 32
    record = make_record(token=None, imported_sha256=digest)
    doc = json.loads(encode(record, ACTIVE, version=3, changed_at=NOW)["doc"]["S"])
    assert doc["sha256"] == digest and doc["imported_sha256"] == digest


def test_a_pending_digest_is_carried_and_an_unknown_state_refused() -> None:
    record = make_record()
    doc = json.loads(encode(record, ACTIVE, version=1, changed_at=NOW, pending_sha256="ef" * 32)["doc"]["S"])
    assert doc["pending_sha256"] == "ef" * 32
    with pytest.raises(ValueError, match="unknown index state"):
        encode(record, "deleted", version=1, changed_at=NOW)


def test_decode_checks_key_state_and_version() -> None:
    record = make_record()
    item = encode(record, REVOKED, version=7, changed_at=NOW)
    entry = decode(item, record.key_id)
    assert (entry.state, entry.version, entry.tenant, entry.revoked) == (REVOKED, 7, "acme", True)
    with pytest.raises(IndexItemError, match="invalid key"):
        decode(item, tokens.new_key_id())
    for name, bad in (("state", {"S": "paused"}), ("version", {"N": "-1"}), ("doc", {"N": "1"}), ("tenant", None)):
        with pytest.raises(IndexItemError, match=f"invalid {name}"):
            decode({**item, name: bad}, record.key_id)


def test_the_first_write_wins_and_a_stale_version_loses(dynamodb: Any) -> None:
    index = ClientIndex(dynamodb, TABLE)
    record = make_record()
    assert index.put(record, ACTIVE, expected_version=None, now=NOW) == 1
    assert index.put(record, ACTIVE, expected_version=None, now=NOW) is None
    disabled = record.model_copy(update={"enabled": False})
    assert index.put(disabled, ACTIVE, expected_version=1, now=NOW) == 2
    # A writer that read version 1 (a reconciliation racing the admin) no longer overwrites it.
    assert index.put(record, ACTIVE, expected_version=1, now=NOW) is None
    stored = index.get(record.key_id)
    assert stored is not None and stored.version == 2 and json.loads(stored.doc)["enabled"] is False


def test_write_moves_the_version_on_whatever_is_there(dynamodb: Any) -> None:
    index = ClientIndex(dynamodb, TABLE)
    record = make_record()
    assert index.write(record, ACTIVE, now=NOW) == 1
    assert index.write(record, REVOKED, now=NOW + timedelta(seconds=1)) == 2
    entry = index.get(record.key_id)
    assert entry is not None and entry.revoked and entry.changed_at == (NOW + timedelta(seconds=1)).isoformat()
    assert index.get(tokens.new_key_id()) is None


def test_write_replaces_an_item_whose_version_is_not_ours(dynamodb: Any) -> None:
    index = ClientIndex(dynamodb, TABLE)
    record = make_record()
    dynamodb.put_item(TableName=TABLE, Item={**index_key(record.key_id), "version": {"S": "x"}})
    assert index.version(record.key_id) == UNREADABLE_VERSION
    assert index.write(record, ACTIVE, now=NOW) == 1
    assert index.version(record.key_id) == 1


def test_write_gives_up_after_losing_every_race(dynamodb: Any) -> None:
    class Racing:
        """Another writer bumps the version between each read and each write."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def put_item(self, **request: Any) -> Any:
            self._client.update_item(
                TableName=TABLE,
                Key=index_key(record.key_id),
                UpdateExpression="ADD version :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            return self._client.put_item(**request)

    record = make_record()
    ClientIndex(dynamodb, TABLE).write(record, ACTIVE, now=NOW)
    with pytest.raises(ConflictError):
        ClientIndex(cast(Any, Racing(dynamodb)), TABLE).write(record, REVOKED, now=NOW)
    entry = ClientIndex(dynamodb, TABLE).get(record.key_id)
    assert entry is not None and entry.state == ACTIVE


@pytest.mark.parametrize(
    "error",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("InternalServerError", status=500),
        ReadTimeoutError(endpoint_url="http://127.0.0.1"),
    ],
)
def test_dynamodb_failures_are_unavailable(dynamodb: Any, error: Exception) -> None:
    record = make_record()
    with pytest.raises(UnavailableError):
        ClientIndex(cast(Any, Failing(dynamodb, "get_item", error)), TABLE).get_item(record.key_id)
    with pytest.raises(UnavailableError):
        ClientIndex(cast(Any, Failing(dynamodb, "put_item", error)), TABLE).put(record, ACTIVE, expected_version=None)


def test_a_batch_read_answers_each_key_found_or_missing_and_drops_the_unprocessed(dynamodb: Any) -> None:
    index = ClientIndex(dynamodb, TABLE)
    kept = [make_record(), make_record(), make_record()]
    for record in kept:
        index.put(record, ACTIVE, expected_version=None, now=NOW)
    missing = tokens.new_key_id()
    ids = [kept[0].key_id, kept[1].key_id, missing, kept[0].key_id]  # a repeated key is read once
    items = index.get_items(ids)
    assert list(items) == [kept[0].key_id, kept[1].key_id, missing]
    assert items[missing] is None
    for record in kept[:2]:
        found = items[record.key_id]
        assert found is not None and decode(found, record.key_id).doc == index.get(record.key_id).doc  # type: ignore[union-attr]
    assert index.get_items([]) == {}

    class Unprocessed:
        """DynamoDB's answer when it could not read every key: those come back as UnprocessedKeys."""

        def batch_get_item(self, **request: Any) -> Any:
            keys = request["RequestItems"][TABLE]["Keys"]
            answer = dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys[:1]}})
            answer["UnprocessedKeys"] = {TABLE: {"Keys": keys[1:]}}
            return answer

    partial = ClientIndex(cast(Any, Unprocessed()), TABLE).get_items([r.key_id for r in kept])
    assert list(partial) == [kept[0].key_id] and partial[kept[0].key_id] is not None


def test_a_batch_read_names_at_most_dynamodbs_limit_of_keys(dynamodb: Any) -> None:
    seen: list[int] = []

    class Counting:
        def batch_get_item(self, **request: Any) -> Any:
            seen.append(len(request["RequestItems"][TABLE]["Keys"]))
            assert request["RequestItems"][TABLE]["ConsistentRead"] is True
            return dynamodb.batch_get_item(**request)

    ids = [tokens.new_key_id() for _ in range(BATCH_READ_LIMIT + 5)]
    assert len(ClientIndex(cast(Any, Counting()), TABLE).get_items(ids)) == BATCH_READ_LIMIT
    assert seen == [BATCH_READ_LIMIT]
