"""Counting what the request path calls: in-memory stand-ins for the table and the keyring, and a
counter on real botocore clients.

Every count is keyed ``"<Operation> <partition>"``, the partition being the item's ``pk`` up to
its ``#`` (``index``, ``feed``, ``used``, ...) or ``secret`` for Secrets Manager: what a bill
or a partition's throughput would see.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

_PK_CONDITION = re.compile(r"\bpk\s*=\s*(:\w+)")


def partition(pk: str) -> str:
    """``index#abc`` -> ``index``; ``feed`` -> ``feed``."""
    return pk.partition("#")[0]


def call_key(target: str, body: dict[str, Any], keyring: str | None = None) -> str:
    """The count key of one call: ``target`` is its X-Amz-Target (``DynamoDB_20120810.GetItem``,
    ``secretsmanager.GetSecretValue``), ``body`` its JSON request; a read of the secret named
    ``keyring`` counts as ``keyring``, any other secret as ``secret``."""
    service, _, operation = target.rpartition(".")
    if service.startswith("secretsmanager"):
        return f"{operation} {'keyring' if keyring is not None and body.get('SecretId') == keyring else 'secret'}"
    key = body.get("Key") or body.get("Item") or {}
    for request in (body.get("RequestItems") or {}).values():  # BatchGetItem: its first key's partition
        key = (request.get("Keys") or [{}])[0]
    pk = (key.get("pk") or {}).get("S")
    if pk is None and operation == "Query":
        found = _PK_CONDITION.search(body.get("KeyConditionExpression", ""))
        value = (body.get("ExpressionAttributeValues") or {}).get(found.group(1)) if found else None
        pk = (value or {}).get("S")
    return f"{operation} {partition(pk) if isinstance(pk, str) else '?'}"


class CallCounter:
    """Counts every attempt botocore sends on the clients it is attached to (retries included:
    each is a request AWS answers), by :func:`call_key`."""

    def __init__(self, keyring: str | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self._keyring = keyring

    def attach(self, target: Any) -> Any:
        """Count what ``target`` sends: a client, or a botocore session (every client made from it
        after this)."""
        events = target.meta.events if hasattr(target, "meta") else target
        events.register("before-send", self._sent)
        return target

    def _sent(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        body = request.body
        try:
            parsed = json.loads(body.decode() if isinstance(body, bytes) else (body or "{}"))
        except ValueError:
            parsed = {}
        self.calls[call_key(target, parsed if isinstance(parsed, dict) else {}, self._keyring)] += 1

    def reset(self) -> None:
        self.calls.clear()


class ItemTable:
    """The deployment table's items as the authorizer reads them, in memory: GetItem by key and the
    change feed's Query (``pk = :feed AND sk BETWEEN :low AND :high``, ascending, ``Limit``, a
    projection of plain names), and the last-use write (``mark_used``), each counted by
    :func:`call_key`. The feed's entries are kept in order, so a Query reads only what it answers."""

    def __init__(self, table: str, items: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {} if items is None else items
        self.calls: Counter[str] = Counter()
        self._table = table
        self.seq = 0

    def put(self, item: dict[str, Any]) -> None:
        self.items[(item["pk"]["S"], item["sk"]["S"])] = item

    def append(self, key_id: str, kind: str = "update") -> int:
        """A feed entry naming ``key_id``, as ``records.feed.append`` writes it (counter, entry)."""
        from tokengate_core.records.feed import FEED_PK, HEAD_SK, entry_sk

        self.seq += 1
        self.put({"pk": {"S": FEED_PK}, "sk": {"S": HEAD_SK}, "seq": {"N": str(self.seq)}})
        entry = {"pk": {"S": FEED_PK}, "sk": {"S": entry_sk(self.seq)}, "key_id": {"S": key_id}, "kind": {"S": kind}}
        self.put(entry)
        return self.seq

    def mark_used(self, key_id: str, at: float) -> None:
        """The last-use write (tokengate_core.authorize.last_used): one UpdateItem of ``used#<id>``."""
        self.calls["UpdateItem used"] += 1

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        assert TableName == self._table
        pk, sk = Key["pk"]["S"], Key["sk"]["S"]
        self.calls[f"GetItem {partition(pk)}"] += 1
        item = self.items.get((pk, sk))
        return {"Item": dict(item)} if item is not None else {}

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        """Every key of the one table named, answered (nothing left unprocessed); counted as one
        call and as the items it read."""
        (table, request), *others = RequestItems.items()
        assert table == self._table and not others
        keys = request["Keys"]
        counted = f"BatchGetItem {partition(keys[0]['pk']['S'])}"
        self.calls[counted] += 1
        self.calls[f"{counted} items"] += len(keys)
        found = [self.items.get((key["pk"]["S"], key["sk"]["S"])) for key in keys]
        return {"Responses": {table: [dict(item) for item in found if item is not None]}, "UnprocessedKeys": {}}

    def query(self, **request: Any) -> dict[str, Any]:
        from tokengate_core.records.feed import FEED_PK, SEQ_DIGITS, entry_sk

        assert request["TableName"] == self._table
        values = request["ExpressionAttributeValues"]
        pk, low, high = values[":feed"]["S"], values[":low"]["S"], values[":high"]["S"]
        assert pk == FEED_PK
        self.calls[f"Query {pk}"] += 1
        start = request.get("ExclusiveStartKey", {}).get("sk", {}).get("S")
        first = int(low) if low.isdigit() and len(low) == SEQ_DIGITS else 1
        if start is not None:
            first = max(first, int(start) + 1)
        projection = request.get("ProjectionExpression")
        names = [name.strip() for name in projection.split(",")] if projection else None
        page: list[dict[str, Any]] = []
        last = ""
        more = False
        for n in range(max(1, first), self.seq + 1):
            sk = entry_sk(n)
            item = self.items.get((FEED_PK, sk))
            if item is None or not low <= sk <= high:
                continue
            if len(page) == request["Limit"]:
                more = True
                break
            page.append({k: v for k, v in item.items() if names is None or k in names})
            last = sk
        answer: dict[str, Any] = {"Items": page}
        if more:
            answer["LastEvaluatedKey"] = {"pk": {"S": pk}, "sk": {"S": last}}
        return answer


class KeyringSecrets:
    """Secrets Manager as the authorizer's reader sees it: the keyring under ``name``; every read
    counted, a client's secret apart (the request path must never read one)."""

    def __init__(self, name: str, value: str) -> None:
        self._name, self._value = name, value
        self.reads: Counter[str] = Counter()

    def get_secret_value(self, *, SecretId: str, **_: Any) -> dict[str, Any]:
        self.reads["keyring" if SecretId == self._name else "client"] += 1
        return {"SecretString": self._value, "VersionId": "v1"}
