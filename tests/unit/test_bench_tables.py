"""The benchmark's counting helpers (bench/tables.py) count what the request path calls, by
operation and partition, and the in-memory table answers the feed's Query as DynamoDB (moto) does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench.tables import CallCounter, ItemTable, KeyringSecrets, call_key
from tokengate_core.records import feed
from tokengate_core.records.index import index_key

TABLE = "bench-tables"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _fill(client: Any, table: ItemTable | None = None, entries: int = 7) -> None:
    """Feed entries 1..entries (and the counter), plus items of other partitions around them."""
    for n in range(1, entries + 1):
        client.update_item(
            TableName=TABLE,
            Key=feed.head_key(),
            UpdateExpression="ADD seq :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        client.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": feed.FEED_PK},
                "sk": {"S": feed.entry_sk(n)},
                "key_id": {"S": f"k{n}"},
                "kind": {"S": "issue"},
            },
        )
        client.put_item(TableName=TABLE, Item={"pk": {"S": f"index#k{n}"}, "sk": {"S": "client"}, "doc": {"S": "{}"}})
        client.put_item(TableName=TABLE, Item={"pk": {"S": "fee"}, "sk": {"S": feed.entry_sk(n)}})
        if table is not None:
            table.append(f"k{n}", "issue")


def test_call_key_names_the_operation_and_the_partition() -> None:
    get = {"TableName": TABLE, "Key": index_key("abc")}
    query = {
        "KeyConditionExpression": "pk = :feed AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":feed": {"S": "feed"}, ":low": {"S": "1"}, ":high": {"S": "9"}},
    }
    assert call_key("DynamoDB_20120810.GetItem", get) == "GetItem index"
    assert call_key("DynamoDB_20120810.Query", query) == "Query feed"
    assert call_key("DynamoDB_20120810.UpdateItem", {"Key": {"pk": {"S": "used#abc"}}}) == "UpdateItem used"
    assert call_key("DynamoDB_20120810.PutItem", {"Item": {"pk": {"S": "feed"}}}) == "PutItem feed"
    assert call_key("DynamoDB_20120810.Scan", {}) == "Scan ?"
    ring = "tokengate/clients/keyring"
    assert call_key("secretsmanager.GetSecretValue", {"SecretId": ring}, ring) == "GetSecretValue keyring"
    assert (
        call_key("secretsmanager.GetSecretValue", {"SecretId": "tokengate/clients/abc"}, ring)
        == "GetSecretValue secret"
    )
    assert call_key("secretsmanager.GetSecretValue", {"SecretId": ring}) == "GetSecretValue secret"


def test_call_counter_counts_every_request_a_client_sends(dynamodb: Any) -> None:
    _fill(dynamodb, entries=3)
    counter = CallCounter("ring")
    counter.attach(dynamodb)
    dynamodb.get_item(TableName=TABLE, Key=index_key("k1"))
    dynamodb.get_item(TableName=TABLE, Key=index_key("k2"))
    feed.read_entries(dynamodb, TABLE, 0, limit=2)  # two pages
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.get_item(TableName="missing", Key=index_key("k1"))  # an error answer is a request too
    assert counter.calls == {"GetItem index": 3, "Query feed": 2}
    counter.reset()
    assert not counter.calls


def test_call_counter_on_a_session_counts_its_clients_secrets(dynamodb: Any) -> None:
    import botocore.session

    session = botocore.session.get_session()
    counter = CallCounter("ring")
    counter.attach(session)
    secrets: Any = session.create_client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(Name="ring", SecretString="x")
    secrets.get_secret_value(SecretId="ring")
    secrets.get_secret_value(SecretId="ring")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId="client")
    assert counter.calls == {"CreateSecret secret": 1, "GetSecretValue keyring": 2, "GetSecretValue secret": 1}


def test_item_table_answers_the_feed_as_dynamodb_does(dynamodb: Any) -> None:
    table = ItemTable(TABLE)
    _fill(dynamodb, table)
    for after, limit in ((0, 100), (0, 2), (3, 2), (6, 1), (7, 5), (9, 5)):
        assert feed.read_entries(table, TABLE, after, limit=limit) == feed.read_entries(  # type: ignore[arg-type]
            dynamodb, TABLE, after, limit=limit
        ), (after, limit)
    assert feed.head(table, TABLE) == feed.head(dynamodb, TABLE) == 7  # type: ignore[arg-type]


def test_item_table_counts_a_readers_calls() -> None:
    table = ItemTable(TABLE)
    reader = feed.FeedReader(table, TABLE)  # type: ignore[arg-type]
    assert reader.read(0.0) == feed.FeedRead((), True)  # the first read: the head only
    table.append("a")
    table.append("b")
    assert reader.read(1.0) == feed.FeedRead(("a", "b"), False)
    assert reader.read(2.0) == feed.FeedRead((), False)
    table.put({**index_key("a"), "doc": {"S": "{}"}})
    assert table.get_item(TableName=TABLE, Key=index_key("a"))["Item"]["doc"] == {"S": "{}"}
    assert table.get_item(TableName=TABLE, Key=index_key("zz")) == {}
    table.mark_used("a", 1.0)
    assert table.calls == {"GetItem feed": 1, "Query feed": 2, "GetItem index": 2, "UpdateItem used": 1}


def test_keyring_secrets_tells_the_keyring_from_a_client() -> None:
    secrets = KeyringSecrets("p/keyring", "{}")
    assert secrets.get_secret_value(SecretId="p/keyring")["SecretString"] == "{}"
    secrets.get_secret_value(SecretId="p/abc")
    assert secrets.reads == {"keyring": 1, "client": 1}
