"""The local stack's state file at start: every damaged, truncated or foreign shape refused with one
line naming the file and what is wrong, the file left exactly as it was; and an older folder's JSON
snapshots moved to state.db, kept, and refused in the same way when they are not whole."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.local.test_store import KEYRING, SETTINGS, Stack, issue, open_stack, restart, service
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local import store as store_module
from tokengate.local.store import STATE_FILE, StoreError
from tokengate_core.admin import clients
from tokengate_core.records.names import NameRegistry
from tokengate_core.runtime.aws import make_registry, make_store

ACTOR = "arn:aws:iam::123456789012:user/tester"
PREFIX = SETTINGS.secret_prefix


@pytest.fixture
def saved(emulator: SecretsManagerEmulator, tmp_path: Path) -> Iterator[Stack]:
    """A folder whose state.db holds one client (its secret, the keyring, its name claim), closed."""
    stack = open_stack(emulator, tmp_path)
    admin = service()
    stack.run(lambda: issue(admin, "kept"))
    yield stack
    emulator.intercept(None)
    store_module.fault_hook = None


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def refused(stack: Stack, expected: str) -> None:
    """Starting on the folder fails with one line naming the file and ``expected``; nothing changed."""
    stack.emulator.intercept(None)
    stack.opened.store.close()
    before = snapshot(stack.folder)
    stack.emulator.reset()
    stack.emulator.create_table(SETTINGS.table_name)
    with pytest.raises(StoreError) as error:
        open_stack(stack.emulator, stack.folder)
    message = str(error.value)
    assert "\n" not in message and expected in message, message
    assert message.startswith(str(stack.folder)), message
    assert snapshot(stack.folder) == before, "the file (and the folder) are left as they were"
    assert not boto3.client("secretsmanager").list_secrets()["SecretList"], "nothing half loaded"


def rewrite(path: Path, *statements: str, **values: Any) -> None:
    """Edit the file as a user with the sqlite3 shell would (closed afterwards: no -wal left)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in statements:
            db.execute(statement, values)


def _client_row(folder: Path) -> str:
    with contextlib.closing(sqlite3.connect(folder / STATE_FILE)) as db:
        names = [str(r[0]) for r in db.execute("SELECT name FROM secrets WHERE name != ?", (KEYRING,))]
    return names[0]


def _edit_document(path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        (text,) = db.execute("SELECT document FROM secrets WHERE name = ?", (name,)).fetchone()
    document = json.loads(text)
    change(document)
    rewrite(
        path, "UPDATE secrets SET document = :document WHERE name = :name", document=json.dumps(document), name=name
    )


def _close(stack: Stack) -> Path:
    stack.emulator.intercept(None)
    stack.opened.store.close()
    stack.opened.store.close = lambda: None  # type: ignore[method-assign]
    return stack.folder / STATE_FILE


# -- a damaged state.db ---------------------------------------------------------------------------------


def test_an_empty_file_is_refused(saved: Stack) -> None:
    _close(saved).write_bytes(b"")
    refused(saved, "empty (0 bytes)")


def test_a_truncated_file_is_refused(saved: Stack) -> None:
    path = _close(saved)
    rewrite(path, "CREATE TABLE padding (x TEXT)", "INSERT INTO padding VALUES (zeroblob(20000))")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused(saved, "not a sound SQLite database (database disk image is malformed)")


def test_a_file_that_is_not_sqlite_is_refused(saved: Stack) -> None:
    _close(saved).write_text('{"format": 2}')
    refused(saved, "not a sound SQLite database (file is not a database)")


def test_another_programs_database_is_refused(saved: Stack) -> None:
    path = _close(saved)
    path.unlink()
    rewrite(path, "CREATE TABLE notes (body TEXT)")
    refused(saved, "not a tokengate state file (SQLite application id 0x0)")


def test_a_file_from_a_newer_tokengate_is_refused(saved: Stack) -> None:
    path = _close(saved)
    rewrite(path, "PRAGMA user_version = 2")
    refused(saved, "schema version 2 is from a newer tokengate (this one reads 1)")


def test_a_file_missing_a_table_is_refused(saved: Stack) -> None:
    path = _close(saved)
    rewrite(path, "DROP TABLE items")
    refused(saved, "table items is missing")


def test_a_folder_where_the_file_should_be_is_refused(saved: Stack) -> None:
    path = _close(saved)
    path.unlink()
    path.mkdir()
    refused(saved, "not a file")


def test_a_write_ahead_log_without_its_file_is_refused(saved: Stack) -> None:
    path = _close(saved)
    wal = Path(f"{path}-wal")
    wal.write_bytes(b"left over")
    path.unlink()
    saved.emulator.reset()
    saved.emulator.create_table(SETTINGS.table_name)
    with pytest.raises(StoreError, match=r"a write-ahead log without its state\.db"):
        open_stack(saved.emulator, saved.folder)
    assert wal.read_bytes() == b"left over" and not path.exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(versions={}), "no current (AWSCURRENT) version"),
        (lambda d: d.pop("versions"), "versions: Field required"),
        (lambda d: d.update(name="someone-else"), "its document names 'someone-else'"),
        (
            lambda d: (
                [v.update(stages=["AWSCURRENT"]) for v in d["versions"].values()]
                + [d["versions"].update(extra={"created": 1.0, "stages": ["AWSCURRENT"], "string": "x"})]
            ),
            "stage AWSCURRENT is on more than one version",
        ),
        (lambda d: d.update(versions=[]), "versions: Input should be an object"),
        (lambda d: d.update(format=2), "format: Extra inputs are not permitted"),
    ],
)
def test_a_secret_that_is_not_whole_is_refused(
    saved: Stack, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path = _close(saved)
    name = _client_row(saved.folder)
    _edit_document(path, name, change)
    refused(saved, f"secret {name!r}: {expected}")


def test_a_document_that_is_not_json_is_refused(saved: Stack) -> None:
    path = _close(saved)
    rewrite(path, "UPDATE secrets SET document = '{not json' WHERE name = :name", name=KEYRING)
    refused(saved, f"secret {KEYRING!r}: Invalid JSON")


def test_clients_without_their_keyring_are_refused(saved: Stack) -> None:
    path = _close(saved)
    rewrite(path, "DELETE FROM secrets WHERE name = :name", name=KEYRING)
    refused(saved, f"1 client secret(s) but no signing keyring ({KEYRING})")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"pk": {"S": "tenant#acme"}, "sk": {"S": "client-name#kept"}}, "a client-name claim that names no key id"),
        ({"pk": {"S": "tenant#acme"}, "sk": {"S": "client-name#kept"}, "key_id": "plain"}, "attribute key_id"),
        ({"pk": {"S": "tenant#acme"}}, "key attribute sk missing"),
        ({"pk": {"S": "tenant#other"}, "sk": {"S": "client-name#kept"}, "key_id": {"S": "x"}}, "name another key"),
        ([], "not a map of attributes"),
    ],
)
def test_an_item_that_is_not_whole_is_refused(saved: Stack, document: Any, expected: str) -> None:
    path = _close(saved)
    claim = "item_key LIKE '%client-name#%'"
    rewrite(path, f"UPDATE items SET document = :document WHERE {claim}", document=json.dumps(document))
    refused(saved, expected)


# -- an older folder -------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def write_legacy(folder: Path, secrets_format: int = 2) -> None:
    """secrets.json and table.json as the stack wrote them before state.db, from what is in the emulator now."""
    sm, tables = boto3.client("secretsmanager"), boto3.client("dynamodb")
    entries = []
    for listed in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
        stages = {v: s for v, s in listed["SecretVersionsToStages"].items() if s}
        deleted = listed.get("DeletedDate")
        if deleted is not None:
            sm.restore_secret(SecretId=listed["Name"])  # a revoked secret's value was read before its revoke
        values = {v: sm.get_secret_value(SecretId=listed["Name"], VersionId=v)["SecretString"] for v in stages}
        if deleted is not None and secrets_format == 1:
            deleted += timedelta(days=SETTINGS.recovery_window_days)  # format 1: when the window ends
        entries.append(
            {
                "name": listed["Name"],
                "description": listed.get("Description", ""),
                "tags": listed.get("Tags", []),
                "versions": [{"id": v, "stages": s, "secret_string": values[v]} for v, s in stages.items()],
                "created_date": _iso(listed.get("CreatedDate")),
                "deleted_date": _iso(deleted),
                "resource_policy": None,
            }
        )
    items = tables.scan(TableName=SETTINGS.table_name)["Items"]
    (folder / "secrets.json").write_text(json.dumps({"format": secrets_format, "saved_at": "x", "secrets": entries}))
    (folder / "table.json").write_text(json.dumps({"format": 1, "saved_at": "x", "items": items}))


@pytest.fixture
def legacy(emulator: SecretsManagerEmulator, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """An older folder: clients kept and gone (revoked a day ago), its keyring and its name table."""
    admin = service()
    tokens = dict(issue(admin, name) for name in ("kept", "gone"))
    gone = next(k for k in tokens if clients.get(admin, "acme", k).client_name == "gone")
    clients.revoke(admin, "acme", gone, ACTOR)
    yield tmp_path, tokens
    emulator.intercept(None)


@pytest.mark.parametrize("secrets_format", [1, 2])
def test_an_older_folder_is_moved_to_state_db_and_its_files_are_kept(
    emulator: SecretsManagerEmulator, legacy: tuple[Path, dict[str, str]], secrets_format: int
) -> None:
    folder, tokens = legacy
    sm = boto3.client("secretsmanager")
    gone = next(k for k in tokens if clients.get(service(), "acme", k).client_name == "gone")
    revoked_at = sm.describe_secret(SecretId=f"{PREFIX}{gone}")["DeletedDate"]
    write_legacy(folder, secrets_format)
    old = snapshot(folder)
    emulator.reset()
    emulator.create_table(SETTINGS.table_name)

    stack = open_stack(emulator, folder)
    assert stack.opened.migrated == ["secrets.json", "table.json"]
    assert (stack.opened.clients, stack.opened.keyring) == (2, True)
    assert {k: v for k, v in snapshot(folder).items() if k in old} == old, "the older files are kept as they were"
    assert clients.get(service(), "acme", gone).status == "revoked"
    assert abs(sm.describe_secret(SecretId=f"{PREFIX}{gone}")["DeletedDate"] - revoked_at) < timedelta(seconds=1)
    assert make_registry(SETTINGS).holder("acme", "kept") in tokens
    clients.restore(service(), "acme", gone, ACTOR)
    for key_id, token in tokens.items():
        assert make_store(SETTINGS).get(key_id).own_token == token

    again = restart(stack)  # from state.db now: the old files are not read again
    assert again.opened.migrated == [] and (again.opened.clients, again.opened.keyring) == (2, True)


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        ("secrets.json", "[]", "not a state snapshot (a JSON list, not an object)"),
        ("secrets.json", '{"format": 2}', "no list of secrets"),
        ("secrets.json", '{"format": 3, "secrets": []}', "unknown snapshot format 3"),
        ("secrets.json", "{not json", "not valid JSON"),
        ("table.json", '{"format": 1}', "no list of items"),
        ("table.json", '{"format": 2, "items": []}', "unknown snapshot format 2"),
    ],
)
def test_an_older_file_that_is_not_whole_is_refused(
    emulator: SecretsManagerEmulator, legacy: tuple[Path, dict[str, str]], file: str, content: str, expected: str
) -> None:
    folder, _ = legacy
    write_legacy(folder)
    (folder / file).write_text(content)
    _refused_legacy(emulator, folder, file, expected)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda entry, doc: entry.update(versions=[]), "versions: List should have at least 1 item"),
        (
            lambda entry, doc: [v.update(stages=["AWSPENDING"]) for v in entry["versions"]],
            "no version carries AWSCURRENT",
        ),
        (lambda entry, doc: doc.update(secrets=[entry]), "but no signing keyring"),
        (lambda entry, doc: doc["secrets"].append("not a secret"), "Input should be a valid dictionary"),
    ],
)
def test_an_older_secret_that_is_not_whole_is_refused(
    emulator: SecretsManagerEmulator,
    legacy: tuple[Path, dict[str, str]],
    change: Callable[[dict[str, Any], dict[str, Any]], None],
    expected: str,
) -> None:
    folder, _ = legacy
    write_legacy(folder)
    document = json.loads((folder / "secrets.json").read_text())
    entry = next(e for e in document["secrets"] if e["name"] != KEYRING)
    change(entry, document)
    (folder / "secrets.json").write_text(json.dumps(document))
    _refused_legacy(emulator, folder, "secrets.json", expected)


def test_an_older_name_claim_without_a_key_id_is_refused(
    emulator: SecretsManagerEmulator, legacy: tuple[Path, dict[str, str]]
) -> None:
    folder, _ = legacy
    write_legacy(folder)
    document = json.loads((folder / "table.json").read_text())
    for item in document["items"]:
        if item["sk"]["S"].startswith("client-name#"):
            item.pop("key_id")
    (folder / "table.json").write_text(json.dumps(document))
    _refused_legacy(emulator, folder, "table.json", "a client-name claim that names no key id")


def _refused_legacy(emulator: SecretsManagerEmulator, folder: Path, file: str, expected: str) -> None:
    before = snapshot(folder)
    emulator.reset()
    emulator.create_table(SETTINGS.table_name)
    with pytest.raises(StoreError) as error:
        open_stack(emulator, folder)
    message = str(error.value)
    assert message.startswith(str(folder / file)) and expected in message and "\n" not in message, message
    assert snapshot(folder) == before and not (folder / STATE_FILE).exists()
    assert NameRegistry(boto3.client("dynamodb"), SETTINGS.table_name).holder("acme", "kept") is None
