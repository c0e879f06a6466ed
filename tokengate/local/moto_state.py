"""The stack's state inside the embedded moto, read and written as documents (tokengate.local.documents).

What the store keeps is the secrets of the stack's account and region and the items of the
deployment's table. The journal (tokengate.local.journal) reads a thing's document before a call
changes it and after the invocation that changed it ends, and writes documents back into moto when
it rolls an invocation back; the start writes every stored document in. All of it goes to moto's
backends directly, in this process: nothing here makes an API call, so it can run under the
emulator's lock, which every caller of this module holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from tokengate.local.documents import (
    SecretDocument,
    build_secret,
    dump,
    item_key,
    parse_item,
    parse_secret,
    secret_document,
)

SECRET: Literal["secret"] = "secret"
ITEM: Literal["item"] = "item"
#: ("secret", name) or ("item", its key attributes' typed values as canonical JSON).
Key = tuple[str, str]

#: The Secrets Manager operations that change a secret (the others only read).
SECRET_WRITES = frozenset(
    {
        "CreateSecret",
        "PutSecretValue",
        "UpdateSecret",
        "UpdateSecretVersionStage",
        "DeleteSecret",
        "RestoreSecret",
        "RotateSecret",
        "CancelRotateSecret",
        "TagResource",
        "UntagResource",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
    }
)
#: The DynamoDB operations that change items (the emulator's ``dynamodb:`` operation names).
ITEM_WRITES = frozenset(
    f"dynamodb:{name}" for name in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)


def is_write(operation: str) -> bool:
    """Whether a call (the emulator's operation name) may change a secret or an item."""
    return operation in SECRET_WRITES or operation in ITEM_WRITES


class MotoState:
    """The secrets of one account and region and the items of one table, in moto's backends."""

    def __init__(self, account: str, region: str, table: str) -> None:
        self.account = account
        self.region = region
        self.table = table

    def _secrets(self) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        return secretsmanager_backends[self.account][self.region].secrets

    def _table(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account][self.region].get_table(self.table)

    @property
    def key_attributes(self) -> tuple[str, ...]:
        table = self._table()
        return tuple(name for name in (table.hash_key_attr, table.range_key_attr) if name)

    # -- which things a call changes --------------------------------------------------------------

    def touched(self, operation: str, body: bytes) -> list[Key]:
        """The things a write call may change (none for a read, or for another table's items)."""
        if not is_write(operation):
            return []
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return []  # moto refuses it: nothing changes
        if not isinstance(request, dict):
            return []
        if operation in SECRET_WRITES:
            secret_id = request.get("Name" if operation == "CreateSecret" else "SecretId")
            return [(SECRET, self._secret_name(secret_id))] if isinstance(secret_id, str) else []
        return [(ITEM, key) for key in self._item_keys(operation, request)]

    def _secret_name(self, secret_id: str) -> str:
        found = self._secrets().get(secret_id)  # by name, ARN or partial ARN, as moto looks it up
        return str(found.name) if found is not None else secret_id

    def _item_keys(self, operation: str, request: dict[str, Any]) -> list[str]:
        targets: list[tuple[Any, Any]] = []
        if operation == "dynamodb:BatchWriteItem":
            for table, writes in (request.get("RequestItems") or {}).items():
                for write in writes if isinstance(writes, list) else []:
                    put, delete = write.get("PutRequest") or {}, write.get("DeleteRequest") or {}
                    targets.append((table, put.get("Item") or delete.get("Key")))
        elif operation == "dynamodb:TransactWriteItems":
            for entry in request.get("TransactItems") or []:
                for kind in ("Put", "Update", "Delete"):
                    part = entry.get(kind) if isinstance(entry, dict) else None
                    if isinstance(part, dict):
                        targets.append((part.get("TableName"), part.get("Item") or part.get("Key")))
        else:
            targets.append((request.get("TableName"), request.get("Item") or request.get("Key")))
        names = self.key_attributes
        return [
            item_key(attributes, names)
            for table, attributes in targets
            if self._ours(table) and isinstance(attributes, dict) and all(n in attributes for n in names)
        ]

    def _ours(self, table: Any) -> bool:
        return isinstance(table, str) and (table == self.table or table == self._table().table_arn)

    # -- documents ----------------------------------------------------------------------------------

    def read(self, key: Key) -> str | None:
        """The thing's document as the store would keep it; None when it does not exist."""
        kind, name = key
        if kind == SECRET:
            secret = dict.get(self._secrets(), name)
            return None if secret is None else dump(secret_document(secret))
        found = self._item(name)
        return None if found is None else dump(found.to_json()["Attributes"])

    def write(self, key: Key, document: str | None) -> None:
        """Make moto hold exactly ``document`` for the thing (None: remove it)."""
        kind, name = key
        if kind == SECRET:
            if document is None:
                dict.pop(self._secrets(), name, None)
            else:
                self.put_secret(parse_secret(document))
            return
        if document is None:
            table = self._table()
            hash_value, range_value = self._typed_key(name)
            if self._item(name) is not None:
                table.delete_item(hash_value, range_value)
        else:
            self.put_item(parse_item(document, self.key_attributes))

    def settle(self, key: Key) -> None:
        """Drop a secret's versions that no longer carry a stage, once the change that took their
        last stage away is saved. Secrets Manager deletes such deprecated versions itself ("you
        remove all staging labels from the version ... then Secrets Manager can automatically delete
        the version in the background": DeleteSecret, Secrets Manager API reference); here it
        keeps the running stack holding what a restart would load, and its memory flat."""
        kind, name = key
        secret = dict.get(self._secrets(), name) if kind == SECRET else None
        if secret is not None:
            for version_id in [v for v, version in secret.versions.items() if not version.get("version_stages")]:
                del secret.versions[version_id]

    def put_secret(self, document: SecretDocument) -> None:
        self._secrets()[document.name] = build_secret(document, self.account, self.region)

    def put_item(self, item: Mapping[str, Any]) -> None:
        self._table().put_item(dict(item))

    def load(self, secrets: Iterable[SecretDocument], items: Iterable[Mapping[str, Any]]) -> None:
        for secret in secrets:
            self.put_secret(secret)
        for item in items:
            self.put_item(item)

    def _typed_key(self, name: str) -> tuple[Any, Any]:
        from moto.dynamodb.models.dynamo_type import DynamoType

        values = json.loads(name)
        return DynamoType(values[0]), DynamoType(values[1]) if len(values) > 1 else None

    def _item(self, name: str) -> Any:
        table = self._table()
        hash_value, range_value = self._typed_key(name)
        if hash_value not in table.items:  # moto's get_item would add an empty entry for it
            return None
        return table.get_item(hash_value, range_value)
