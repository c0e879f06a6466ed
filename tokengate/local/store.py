"""The local stack's state file, ``<state dir>/state.db``: SQLite, from Python's standard library.

Why SQLite: each request's changes go to disk in one transaction that is either whole or absent
after a crash, a full disk or a power cut; a change writes only its own rows (an index lookup, not
a rewrite of everything); a start reads the current rows, however many writes made them; and the
file format is stable, documented and readable by any ``sqlite3`` shell. The stack already runs
in one process, so an embedded library fits where a server would not, and the standard library's
module adds no dependency.

The file runs in WAL mode with ``synchronous=FULL``: a commit returns once its transaction is in
the write-ahead log on disk (fsync), so an answered request survives a kill and a power cut
(https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous). It
carries an application id (a file of another program is refused, https://www.sqlite.org/fileformat2.html#application_id)
and a schema version (``user_version``). Opening checks both, the database's own integrity
(``PRAGMA quick_check``) and the tables' shape read-only, and reading validates every row
(tokengate.local.documents): whatever is wrong stops the start with one line naming the file,
which is left as it was. A new file is made beside it and renamed into place, so a crash while
creating one leaves no half-made file behind.

``fault_hook`` is for tests: it is called at every write boundary of a commit (``begin``, each
row, ``commit``, ``committed``) and may raise (a full disk, an I/O error) or kill the process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import pathname2url

from tokengate.local.moto_state import ITEM, SECRET, Key

STATE_FILE = "state.db"
#: "tgst" (tokengate state), in SQLite's header: a file with another id is not ours.
APPLICATION_ID = 0x74677374
SCHEMA_VERSION = 1
_SCHEMA = {
    "secrets": ("name", "document"),
    "items": ("item_key", "document"),
}
_CREATE = (
    "CREATE TABLE secrets (name TEXT PRIMARY KEY NOT NULL, document TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE items (item_key TEXT PRIMARY KEY NOT NULL, document TEXT NOT NULL) WITHOUT ROWID",
)
_TABLES = {SECRET: ("secrets", "name"), ITEM: ("items", "item_key")}

#: Tests only: called with each write boundary of a commit (see the module docstring).
fault_hook: Callable[[str], None] | None = None


class StoreError(Exception):
    """The state file cannot be used: one line naming it and what is wrong."""


@dataclass
class StoredRows:
    """Every row of the file, as stored (validated by the caller, which knows the documents)."""

    secrets: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)


def _boundary(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


class StateStore:
    """One open state file: ``write`` commits a set of changed rows as one transaction."""

    def __init__(self, path: Path) -> None:
        """Open a file that :func:`read_rows` found sound (or that :meth:`create` made)."""
        self.path = path
        self._db = _connect(path)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path, rows: StoredRows | None = None) -> StateStore:
        """Make a new file holding ``rows`` (a migration's), beside ``path`` first and renamed in."""
        fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o600)
        os.close(fd)
        try:
            connection = sqlite3.connect(scratch, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                for statement in _CREATE:
                    connection.execute(statement)
                for kind, documents in ((SECRET, (rows or StoredRows()).secrets), (ITEM, (rows or StoredRows()).items)):
                    table, column = _TABLES[kind]
                    connection.executemany(
                        f"INSERT INTO {table} ({column}, document) VALUES (?, ?)",  # noqa: S608 - fixed names
                        documents.items(),
                    )
                connection.execute("COMMIT")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            _fsync(Path(scratch))
            os.replace(scratch, path)
            _fsync(path.parent)
        finally:
            for leftover in (scratch, f"{scratch}-wal", f"{scratch}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        return cls(path)

    def write(self, changes: Mapping[Key, str | None]) -> None:
        """Commit every change (a document, or None to delete the row) in one transaction; when the
        disk refuses (sqlite3.Error, OSError) it raises with nothing written."""
        with self._lock:
            _boundary("begin")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for (kind, name), document in changes.items():
                    table, column = _TABLES[kind]
                    if document is None:
                        self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))  # noqa: S608
                    else:
                        self._db.execute(
                            f"INSERT INTO {table} ({column}, document) VALUES (?, ?) "  # noqa: S608 - fixed names
                            f"ON CONFLICT ({column}) DO UPDATE SET document = excluded.document",
                            (name, document),
                        )
                    _boundary(f"{kind} {name}")
                _boundary("commit")
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            _boundary("committed")

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")  # a file put back from a backup may come in another mode
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_rows(path: Path) -> StoredRows:
    """Every row of an existing file, opened read-only: a StoreError names what is wrong."""
    if not path.is_file():
        raise StoreError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise StoreError(f"{path}: empty (0 bytes), not a state file")
    sidecars = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    present = {p for p in sidecars if p.exists()}
    try:
        connection = sqlite3.connect(f"file:{pathname2url(str(path))}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot be opened ({error})") from None
    try:
        return _checked_rows(path, connection)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: not a sound SQLite database ({error})") from None
    finally:
        connection.close()
        for created in set(sidecars) - present:  # what opening it read-only added, nothing else
            with contextlib.suppress(OSError):
                if created.stat().st_size == 0 or created.name.endswith("-shm"):
                    created.unlink()


def _checked_rows(path: Path, connection: sqlite3.Connection) -> StoredRows:
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    if application != APPLICATION_ID:
        raise StoreError(f"{path}: not a tokengate state file (SQLite application id {application:#x})")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is from a newer tokengate (this one reads {SCHEMA_VERSION})"
        )
    if version < 1:
        raise StoreError(f"{path}: no schema version (user_version {version}): not a complete state file")
    problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise StoreError(f"{path}: damaged ({'; '.join(problems[:3])})")
    for table, columns in _SCHEMA.items():
        found = tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))
        if found != columns:
            raise StoreError(f"{path}: table {table} is missing or has columns {list(found)}, not {list(columns)}")
    rows = StoredRows()
    for target, table in ((rows.secrets, "secrets"), (rows.items, "items")):
        for name, document in connection.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed names
            if not isinstance(name, str) or not isinstance(document, str):
                raise StoreError(f"{path}: table {table} holds a row that is not text")
            target[name] = document
    return rows
