"""The shortcuts in moto answer exactly as moto's own: the feed's Query narrowed to its partition's
range (tokengate/moto_query.py, which the emulator applies), and ListSecrets rendering only the
page it answers (the bench's, bench/common.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bench.common import _page_before_rendering
from tests.unit.test_bench_tables import TABLE, _fill, dynamodb
from tokengate.moto_query import narrow_moto_query

__all__ = ["dynamodb"]  # the fixture, shared with the tables' tests


def test_narrowed_query_answers_as_moto_and_reads_only_the_partition(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    _fill(dynamodb, entries=12)
    requests: list[dict[str, Any]] = []
    for low, high, limit in (
        ("00000000000000000001", "9" * 20, 5),
        ("00000000000000000004", "00000000000000000009", 100),
    ):
        base = {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":p": {"S": "feed"}, ":low": {"S": low}, ":high": {"S": high}},
            "Limit": limit,
        }
        requests += [base, {**base, "ProjectionExpression": "sk, key_id"}, {**base, "ScanIndexForward": False}]
        requests.append({**base, "ExclusiveStartKey": {"pk": {"S": "feed"}, "sk": {"S": "00000000000000000006"}}})
    requests.append(
        {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "fee"}}}
    )
    requests.append(
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "feed"}, ":s": {"S": "0000000000000000001"}},
        }
    )

    def strip(answer: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    expected = [strip(dynamodb.query(**r)) for r in requests]
    monkeypatch.setattr(Table, "query", Table.query)  # restored after the test
    monkeypatch.setattr(Table, "_tokengate_narrow_query", False, raising=False)
    narrow_moto_query()

    def scan_everything(self: Any) -> list[Any]:
        raise AssertionError("the narrowed Query walked the whole table")

    monkeypatch.setattr(Table, "all_items", scan_everything)
    assert [strip(dynamodb.query(**r)) for r in requests] == expected
    assert expected[0]["Count"] == 5 and expected[-1]["Count"] == 3  # the requests do select something


def test_listing_renders_only_the_page_and_answers_as_moto(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.secretsmanager import models

    client: Any = boto3.client("secretsmanager")
    for n in range(25):
        tags = [{"Key": "tokengate:tenant", "Value": "acme" if n % 3 else "other"}]
        client.create_secret(Name=f"p/{n:02d}", SecretString="x", Tags=tags)
    client.delete_secret(SecretId="p/04")  # scheduled for deletion: listed only when asked
    requests: list[dict[str, Any]] = [
        {"MaxResults": 5},
        {"MaxResults": 5, "Filters": [{"Key": "tag-value", "Values": ["acme"]}]},
        {"MaxResults": 100, "IncludePlannedDeletion": True},
        {"Filters": [{"Key": "name", "Values": ["p/1"]}]},
    ]

    def pages(request: dict[str, Any]) -> list[tuple[list[str], bool]]:
        found, token = [], None
        while True:
            answer = client.list_secrets(**request, **({"NextToken": token} if token else {}))
            found.append(([s["Name"] for s in answer["SecretList"]], "NextToken" in answer))
            token = answer.get("NextToken")
            if not token:
                return found

    expected = [pages(r) for r in requests]
    monkeypatch.setattr(models.SecretsManagerBackend, "list_secrets", models.SecretsManagerBackend.list_secrets)
    monkeypatch.setattr(models.SecretsManagerBackend, "_bench_page_first", False, raising=False)
    _page_before_rendering()
    rendered = 0
    to_dict = models.FakeSecret.to_dict

    def counted(self: Any) -> dict[str, Any]:
        nonlocal rendered
        rendered += 1
        return to_dict(self)

    monkeypatch.setattr(models.FakeSecret, "to_dict", counted)
    assert [pages(r) for r in requests] == expected
    assert len(expected[0]) == 5 and expected[0][0][1]  # pages of 5 were cut, with a next token
    assert rendered == sum(len(names) for found in expected for names, _ in found)  # the pages only
