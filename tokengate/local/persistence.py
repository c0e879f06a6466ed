"""The stack's stored state at start: state.db opened (or made, from an older folder's snapshots or
empty), every row validated, and the result put into the embedded moto before the first request.

Nothing is written until everything read is valid, so a file that fails any check is left as it
was and the start stops with one line naming it. Beyond each document's own shape (documents.py),
the checks hold the stack's own rules: every secret under the clients' prefix has a current version,
client secrets come with the signing keyring (without it no token of theirs could be verified), and
every client-name claim names a key id. A revoked secret whose recovery window ended while the
stack was stopped is gone for good, as in AWS: it is not loaded, and its row is deleted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokengate.local.documents import SecretDocument, StateError, item_key, parse_item, parse_secret
from tokengate.local.migration import LEGACY_SECRETS, LEGACY_TABLE, legacy_files, read_legacy
from tokengate.local.moto_state import SECRET, MotoState
from tokengate.local.store import STATE_FILE, StateStore, StoredRows, StoreError, read_rows
from tokengate_core.records.names import CLAIM_PREFIX, SORT_KEY, claim_holder
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring


@dataclass
class OpenedState:
    store: StateStore
    #: Client secrets and whether the signing keyring came back (the ready line says so).
    clients: int = 0
    keyring: bool = False
    #: The older snapshot files this start moved to state.db (kept where they are).
    migrated: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)


def open_state(
    state_dir: Path,
    moto: MotoState,
    *,
    secret_prefix: str,
    recovery_window_days: int,
    now: Callable[[], float] = time.time,
) -> OpenedState:
    """Open (or make) ``state_dir``/state.db and load it into moto; StoreError says what is wrong."""
    path = state_dir / STATE_FILE
    names = {SECRET: path, "item": path}
    migrated: list[str] = []
    exists = path.exists() or path.is_symlink()
    orphan = Path(f"{path}-wal")
    if not exists and orphan.exists():
        # SQLite would apply it to whatever new state.db it finds beside it.
        raise StoreError(
            f"{orphan}: a write-ahead log without its {STATE_FILE}: put {STATE_FILE} back, or move it away"
        )
    if exists:
        rows = read_rows(path)
    elif migrated := legacy_files(state_dir):
        rows = read_legacy(
            state_dir,
            account=moto.account,
            region=moto.region,
            recovery_window_days=recovery_window_days,
            key_attributes=moto.key_attributes,
        )
        names = {SECRET: state_dir / LEGACY_SECRETS, "item": state_dir / LEGACY_TABLE}
    else:
        rows = StoredRows()
    secrets = _secrets(names[SECRET], rows, secret_prefix)
    items = _items(names["item"], rows, moto.key_attributes)
    ends = recovery_window_days * 86400.0
    purged = sorted(n for n, s in secrets.items() if s.deleted is not None and s.deleted + ends <= now())
    try:
        if exists:
            store = StateStore(path)
            if purged:
                store.write(dict.fromkeys(((SECRET, name) for name in purged), None))
        else:
            for name in purged:
                del rows.secrets[name]
            store = StateStore.create(path, rows)
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot be written ({error})") from None
    kept = [s for n, s in secrets.items() if n not in purged]
    moto.load(kept, items)
    clients = [s for s in kept if _is_client(s.name, secret_prefix)]
    ring = keyring.secret_name(secret_prefix)
    return OpenedState(store, len(clients), any(s.name == ring for s in kept), migrated, purged)


def _is_client(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and tokens.is_key_id(name[len(prefix) :])


def _secrets(path: Path, rows: StoredRows, prefix: str) -> dict[str, SecretDocument]:
    secrets: dict[str, SecretDocument] = {}
    for name, text in rows.secrets.items():
        try:
            secret = parse_secret(text)
            if secret.name != name:
                raise StateError(f"its document names {secret.name!r}")
            if name.startswith(prefix) and secret.current is None:
                raise StateError("no current (AWSCURRENT) version")
        except StateError as error:
            raise StoreError(f"{path}: secret {name!r}: {error}") from None
        secrets[name] = secret
    clients = sum(1 for name in secrets if _is_client(name, prefix))
    ring = keyring.secret_name(prefix)
    if clients and ring not in secrets:
        raise StoreError(
            f"{path}: {clients} client secret(s) but no signing keyring ({ring}), without which none of their "
            "tokens can be verified"
        )
    return secrets


def _items(path: Path, rows: StoredRows, key_attributes: tuple[str, ...]) -> list[dict[str, Any]]:
    items = []
    for key, text in rows.items.items():
        try:
            item = parse_item(text, key_attributes)
            if item_key(item, key_attributes) != key:
                raise StateError("its attributes name another key")
            sort_key = item.get(SORT_KEY, {}).get("S", "")
            if sort_key.startswith(CLAIM_PREFIX) and claim_holder(item) is None:
                raise StateError("a client-name claim that names no key id")
        except StateError as error:
            raise StoreError(f"{path}: item {key}: {error}") from None
        items.append(item)
    return items
