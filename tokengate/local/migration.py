"""An older state folder, moved to state.db: ``secrets.json`` and ``table.json``, the whole-state JSON
snapshots the stack used to rewrite after each write, read once and checked as strictly as
state.db is.

``secrets.json`` (format 1 or 2) is ``{"format": N, "saved_at": ..., "secrets": [...]}``, each
secret with its name, description, tags, the versions that carried a stage (id, stages, value),
its creation date, resource policy and ``deleted_date`` (format 2: when the revoke was asked for;
format 1: when its recovery window ends). ``table.json`` (format 1) is ``{"format": 1, "items":
[...]}``, each item as DynamoDB returns it. Either file may be missing (a folder from before the
name table, say); a file that is there must be whole: a file that is not JSON, another format,
lacks its list, or holds an entry that is not a secret or an item stops the start with one line
naming it. The files are only read: they stay where they are.
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tokengate.local.documents import (
    SecretDocument,
    StateError,
    Tag,
    Version,
    dump,
    item_key,
    parse_item,
)
from tokengate.local.store import StoredRows, StoreError

LEGACY_SECRETS = "secrets.json"
LEGACY_TABLE = "table.json"
LEGACY_FILES = (LEGACY_SECRETS, LEGACY_TABLE)
_SECRETS_FORMATS = (1, 2)
_TABLE_FORMAT = 1


class _LegacyVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Annotated[str, Field(min_length=1)]
    stages: Annotated[list[str], Field(min_length=1)]
    secret_string: str


class _LegacySecret(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    tags: list[Tag] = []
    versions: Annotated[list[_LegacyVersion], Field(min_length=1)]
    created_date: datetime | None = None
    deleted_date: datetime | None = None
    resource_policy: str | None = None


def legacy_files(state_dir: Path) -> list[str]:
    """The older snapshot files present in ``state_dir``."""
    return [name for name in LEGACY_FILES if (state_dir / name).exists()]


def read_legacy(
    state_dir: Path, *, account: str, region: str, recovery_window_days: int, key_attributes: tuple[str, ...]
) -> StoredRows:
    """The rows state.db gets from an older folder's files; StoreError names a file that is not whole."""
    rows = StoredRows()
    window = timedelta(days=recovery_window_days)
    path = state_dir / LEGACY_SECRETS
    if path.exists():
        document = _document(path, _SECRETS_FORMATS, "secrets")
        for index, entry in enumerate(document["secrets"]):
            old_format = document["format"] == 1
            secret = _secret(path, index, entry, account=account, region=region, window=window if old_format else None)
            if secret.name in rows.secrets:
                raise StoreError(f"{path}: secret {secret.name!r} appears twice")
            rows.secrets[secret.name] = dump(secret)
    path = state_dir / LEGACY_TABLE
    if path.exists():
        for index, entry in enumerate(_document(path, (_TABLE_FORMAT,), "items")["items"]):
            try:
                item = parse_item(json.dumps(entry), key_attributes)
            except StateError as error:
                raise StoreError(f"{path}: item #{index + 1}: {error}") from None
            rows.items[item_key(item, key_attributes)] = dump(item)
    return rows


def _document(path: Path, formats: tuple[int, ...], listed: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        reason = "not valid JSON" if isinstance(error, ValueError) else (error.strerror or str(error))
        raise StoreError(f"{path}: {reason}; an older snapshot cannot be moved to state.db from it") from None
    if not isinstance(document, dict):
        raise StoreError(f"{path}: not a state snapshot (a JSON {type(document).__name__}, not an object)")
    found = document.get("format")
    if isinstance(found, bool) or found not in formats:
        raise StoreError(f"{path}: unknown snapshot format {found!r} (this tokengate reads {list(formats)})")
    if not isinstance(document.get(listed), list):
        raise StoreError(f"{path}: no list of {listed}: the snapshot is incomplete")
    return document


def _secret(
    path: Path, index: int, entry: Any, *, account: str, region: str, window: timedelta | None
) -> SecretDocument:
    where = f"secret #{index + 1}" + (f" ({entry['name']!r})" if isinstance(entry, dict) and "name" in entry else "")
    try:
        old = _LegacySecret.model_validate(entry)
        created = old.created_date.timestamp() if old.created_date else None
        deleted = old.deleted_date
        if deleted is not None and window is not None:
            deleted -= window  # format 1 saved the end of the recovery window
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
        return SecretDocument(
            name=old.name,
            arn=f"arn:aws:secretsmanager:{region}:{account}:secret:{old.name}-{suffix}",
            description=old.description or None,
            tags=old.tags or None,
            created=created,
            changed=created,
            deleted=deleted.timestamp() if deleted is not None else None,
            policy=old.resource_policy,
            versions={
                v.id: Version(created=created or 0.0, stages=v.stages, string=v.secret_string) for v in old.versions
            },
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise StoreError(f"{path}: {where}: {field + ': ' if field else ''}{first['msg']}") from None
