"""The local stack's store: each invocation's changes committed together before its answer, a failed
commit undone in the emulator, a restart that brings back exactly what was committed.

Everything runs in this process against the embedded emulator, with the journal between it and
moto as the local stack puts it; a "restart" resets moto and opens the state folder again."""

from __future__ import annotations

import errno
import sqlite3
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError

from tokengate.emulator import SecretsManagerEmulator
from tokengate.local import store as store_module
from tokengate.local.event_log import EventLog
from tokengate.local.journal import Journal, tag_calls
from tokengate.local.location import LOCAL_ACCOUNT_ID
from tokengate.local.moto_state import MotoState
from tokengate.local.persistence import OpenedState, open_state
from tokengate.local.runtime import STATE_NOT_SAVED, FunctionRuntime, Invocation, _Container
from tokengate.local.store import APPLICATION_ID, SCHEMA_VERSION, STATE_FILE
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.runtime.aws import make_registry, make_store
from tokengate_core.tokens import keyring

ACTOR = "arn:aws:iam::123456789012:user/tester"
SETTINGS = AdminSettings()
KEYRING = keyring.secret_name(SETTINGS.secret_prefix)
T = TypeVar("T")


@dataclass
class Stack:
    """What the local stack wires together, minus HTTP: the journal on the emulator, the open file."""

    emulator: SecretsManagerEmulator
    folder: Path
    journal: Journal
    opened: OpenedState

    def run(self, fn: Callable[[], T]) -> tuple[T, bool]:
        """``fn()`` as one invocation: its result, and whether its changes were committed."""
        work = self.journal.begin()
        result = work.run(fn)
        return result, work.commit()


def open_stack(emulator: SecretsManagerEmulator, folder: Path, **options: Any) -> Stack:
    tag_calls()
    # Clients take botocore's handlers when they are made: boto3's default session may predate the
    # tagging handler (an earlier test in this process made it), so the tests' clients come from a
    # new one, as every function's do in the local stack.
    boto3.setup_default_session()
    moto = MotoState(LOCAL_ACCOUNT_ID, "us-east-1", SETTINGS.table_name)
    journal = Journal(EventLog(folder / "events.jsonl").append)
    with emulator.moto_lock:
        opened = open_state(
            folder,
            moto,
            secret_prefix=SETTINGS.secret_prefix,
            recovery_window_days=SETTINGS.recovery_window_days,
            **options,
        )
    journal.attach(opened.store, moto, emulator.moto_lock)
    emulator.intercept(journal)
    return Stack(emulator, folder, journal, opened)


def restart(stack: Stack, **options: Any) -> Stack:
    """Stop (moto's memory is gone) and start again on the same folder."""
    stack.emulator.intercept(None)
    stack.opened.store.close()
    stack.emulator.reset()
    stack.emulator.create_table(SETTINGS.table_name)
    return open_stack(stack.emulator, stack.folder, **options)


@pytest.fixture
def stack(emulator: SecretsManagerEmulator, tmp_path: Path) -> Iterator[Stack]:
    running = open_stack(emulator, tmp_path)
    yield running
    emulator.intercept(None)
    store_module.fault_hook = None


def service() -> AdminContext:
    """The admin function's context, its clients made after the journal's handler is in place."""
    return AdminContext(store=make_store(SETTINGS), settings=SETTINGS, registry=make_registry(SETTINGS))


def issue(admin: AdminContext, name: str, **fields: Any) -> tuple[str, str]:
    issued = clients.issue(admin, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token


def rows(folder: Path) -> dict[str, list[str]]:
    with sqlite3.connect(folder / STATE_FILE) as db:
        return {
            "secrets": sorted(r[0] for r in db.execute("SELECT name FROM secrets")),
            "items": sorted(r[0] for r in db.execute("SELECT item_key FROM items")),
        }


def recorded() -> list[str]:
    seen: list[str] = []
    store_module.fault_hook = seen.append
    return seen


# -- one transaction per invocation ---------------------------------------------------------------------


def test_an_invocation_commits_what_it_changed_in_one_transaction_and_nothing_else(stack: Stack) -> None:
    admin = service()
    seen = recorded()
    (client_id, _), committed = stack.run(lambda: issue(admin, "billing"))
    assert committed
    name = f"{SETTINGS.secret_prefix}{client_id}"
    # One transaction: the client's secret, the keyring made on first use, the name claim, its
    # index item, the feed's counter and its entry.
    claim = 'item [{"S":"tenant#acme"},{"S":"client-name#billing"}]'
    indexed = f'item [{{"S":"index#{client_id}"}},{{"S":"client"}}]'
    feed = ['item [{"S":"feed"},{"S":"head"}]', 'item [{"S":"feed"},{"S":"00000000000000000001"}]']
    assert seen[0] == "begin" and seen[-2:] == ["commit", "committed"]
    assert sorted(seen[1:-2]) == sorted([f"secret {name}", f"secret {KEYRING}", claim, indexed, *feed])
    assert rows(stack.folder)["secrets"] == sorted([name, KEYRING])

    seen.clear()
    _, committed = stack.run(lambda: clients.update(admin, "acme", client_id, {"enabled": False}, ACTOR))
    disabled = ['item [{"S":"feed"},{"S":"head"}]', 'item [{"S":"feed"},{"S":"00000000000000000002"}]', indexed]
    assert committed and seen[0] == "begin" and seen[-2:] == ["commit", "committed"]
    assert sorted(seen[1:-2]) == sorted([f"secret {name}", *disabled]), "only the changed rows"
    seen.clear()
    _, committed = stack.run(lambda: clients.get(admin, "acme", client_id))
    assert committed and seen == [], "a read writes nothing"


@pytest.mark.parametrize(
    ("boundary", "error"),
    [
        ("begin", OSError(errno.ENOSPC, "No space left on device")),
        ("secret", sqlite3.OperationalError("database or disk is full")),
        ("commit", OSError(errno.EIO, "Input/output error")),
    ],
)
def test_a_failed_commit_leaves_nothing_of_the_invocation_in_the_emulator(
    stack: Stack, boundary: str, error: Exception
) -> None:
    admin = service()
    (kept, _), _ = stack.run(lambda: issue(admin, "kept"))
    before = rows(stack.folder)

    def full(at: str) -> None:
        if at.startswith(boundary):
            raise error

    store_module.fault_hook = full
    (lost, _), committed = stack.run(lambda: issue(admin, "lost"))
    _, updated = stack.run(lambda: clients.update(admin, "acme", kept, {"enabled": False}, ACTOR))
    assert not committed and not updated
    assert rows(stack.folder) == before
    # The emulator holds the committed state again: no secret, no claim, the update undone.
    sm = boto3.client("secretsmanager")
    assert not sm.list_secrets(Filters=[{"Key": "name", "Values": [f"{SETTINGS.secret_prefix}{lost}"]}])["SecretList"]
    assert make_registry(SETTINGS).holder("acme", "lost") is None
    assert clients.get(admin, "acme", kept).enabled

    store_module.fault_hook = None  # the disk has room again
    (again, _), committed = stack.run(lambda: issue(admin, "lost"))
    assert committed and clients.get(admin, "acme", again).client_name == "lost"
    # Per client a name claim and an index item, and the feed: its counter and one entry per change.
    assert len([i for i in rows(stack.folder)["items"] if "client-name#" in i or "index#" in i]) == 4


def test_a_call_outside_any_invocation_is_its_own_transaction(stack: Stack) -> None:
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="reference/api-keys", SecretString='{"k": "v"}')
    assert rows(stack.folder)["secrets"] == ["reference/api-keys"]

    store_module.fault_hook = lambda at: (
        (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")) if at == "commit" else None
    )
    with pytest.raises(ClientError) as refused:
        sm.create_secret(Name="reference/other", SecretString="x")
    assert refused.value.response["Error"]["Code"] == "InternalServiceError"
    store_module.fault_hook = None
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["reference/api-keys"]


def test_a_thing_one_invocation_changes_waits_until_that_invocation_ends(stack: Stack) -> None:
    table = boto3.client("dynamodb")
    key = {"pk": {"S": "quota#k"}, "sk": {"S": "2026-12-06"}}

    def add(n: int) -> None:
        table.update_item(
            TableName=SETTINGS.table_name,
            Key=key,
            UpdateExpression="ADD used :n",
            ExpressionAttributeValues={":n": {"N": str(n)}},
        )

    first = stack.journal.begin()
    first.run(lambda: add(1))
    second_done = threading.Event()

    def second() -> None:
        stack.run(lambda: add(10))
        second_done.set()

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    assert not second_done.wait(0.5), "the second invocation changed an item the first still holds"
    assert first.commit()
    assert second_done.wait(10)
    item = table.get_item(TableName=SETTINGS.table_name, Key=key)["Item"]
    assert item["used"] == {"N": "11"}


def test_calls_from_an_invocation_that_ended_are_refused(stack: Stack) -> None:
    table = boto3.client("dynamodb")
    work = stack.journal.begin()
    work.rollback()  # the invocation timed out: Lambda gave up on it
    with pytest.raises(ClientError) as refused:
        work.run(lambda: table.put_item(TableName=SETTINGS.table_name, Item={"pk": {"S": "late"}, "sk": {"S": "late"}}))
    assert refused.value.response["Error"]["Code"] == "InternalServerError"
    assert "Item" not in table.get_item(TableName=SETTINGS.table_name, Key={"pk": {"S": "late"}, "sk": {"S": "late"}})


def test_a_rolled_back_invocation_is_undone(stack: Stack) -> None:
    admin = service()
    work = stack.journal.begin()
    client_id, _ = work.run(lambda: issue(admin, "half"))
    work.rollback()  # the handler failed after its calls
    assert make_registry(SETTINGS).holder("acme", "half") is None
    assert rows(stack.folder) == {"secrets": [], "items": []}
    assert not boto3.client("secretsmanager").list_secrets()["SecretList"], client_id


# -- restarts ---------------------------------------------------------------------------------------------


def _described(sm: Any, name: str) -> dict[str, Any]:
    meta = sm.describe_secret(SecretId=name)
    values = {
        vid: sm.get_secret_value(SecretId=name, VersionId=vid)["SecretString"]
        for vid, stages in meta["VersionIdsToStages"].items()
        if stages and not meta.get("DeletedDate")
    }
    keep = ("ARN", "Name", "Description", "CreatedDate", "DeletedDate", "VersionIdsToStages")
    return {**{k: meta.get(k) for k in keep}, "tags": sorted(map(str, meta.get("Tags", []))), "values": values}


def test_a_restart_brings_back_every_version_stage_tag_policy_and_date(stack: Stack) -> None:
    admin = service()
    sm = boto3.client("secretsmanager")
    (plain, _), _ = stack.run(lambda: issue(admin, "plain", reader_arn="arn:aws:iam::123456789012:role/reader"))
    (turned, _), _ = stack.run(lambda: issue(admin, "turned", grace_seconds=3600))
    stack.run(lambda: clients.rotate(admin, "acme", turned, ACTOR))
    turned_name = f"{SETTINGS.secret_prefix}{turned}"
    current = next(
        v for v, s in sm.describe_secret(SecretId=turned_name)["VersionIdsToStages"].items() if "AWSCURRENT" in s
    )
    stack.run(
        lambda: sm.update_secret_version_stage(SecretId=turned_name, VersionStage="AWSPENDING", MoveToVersionId=current)
    )
    (gone, gone_token), _ = stack.run(lambda: issue(admin, "gone"))
    stack.run(lambda: clients.revoke(admin, "acme", gone, ACTOR))
    names = [f"{SETTINGS.secret_prefix}{k}" for k in (plain, turned, gone)] + [KEYRING]
    before = {n: _described(sm, n) for n in names}
    policy = sm.get_resource_policy(SecretId=names[0])["ResourcePolicy"]
    assert stat.S_IMODE((stack.folder / STATE_FILE).stat().st_mode) == 0o600

    again = restart(stack)
    assert (again.opened.clients, again.opened.keyring) == (3, True)
    after = {n: _described(sm, n) for n in names}
    assert after == before
    assert sorted(map(sorted, after[names[1]]["VersionIdsToStages"].values())) == [
        ["AWSCURRENT", "AWSPENDING"],
        ["AWSPREVIOUS"],
    ]
    assert sm.get_resource_policy(SecretId=names[0])["ResourcePolicy"] == policy
    assert clients.get(service(), "acme", gone).status == "revoked"
    clients.restore(service(), "acme", gone, ACTOR)  # still restorable, with the token it had
    assert make_store(SETTINGS).get(gone).own_token == gone_token


def test_versions_left_without_a_stage_are_dropped_once_saved_as_secrets_manager_does(stack: Stack) -> None:
    admin = service()
    (client_id, _), _ = stack.run(lambda: issue(admin, "turned"))
    for _ in range(3):
        stack.run(lambda: clients.rotate(admin, "acme", client_id, ACTOR))
    listed = boto3.client("secretsmanager").list_secret_version_ids(
        SecretId=f"{SETTINGS.secret_prefix}{client_id}", IncludeDeprecated=True
    )["Versions"]
    assert sorted(stage for v in listed for stage in v["VersionStages"]) == ["AWSCURRENT", "AWSPREVIOUS"]
    assert len(listed) == 2, "the running stack holds what a restart would load"


def test_a_secret_whose_recovery_window_ended_while_stopped_is_gone_for_good(stack: Stack) -> None:
    admin = service()
    (kept, _), _ = stack.run(lambda: issue(admin, "kept"))
    (gone, _), _ = stack.run(lambda: issue(admin, "gone"))
    stack.run(lambda: clients.revoke(admin, "acme", gone, ACTOR))
    later = (datetime.now(UTC) + timedelta(days=SETTINGS.recovery_window_days + 1)).timestamp()
    again = restart(stack, now=lambda: later)
    assert again.opened.purged == [f"{SETTINGS.secret_prefix}{gone}"]
    listed = boto3.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert sorted(s["Name"] for s in listed) == sorted([f"{SETTINGS.secret_prefix}{kept}", KEYRING])
    assert f"{SETTINGS.secret_prefix}{gone}" not in rows(stack.folder)["secrets"]


def test_a_new_state_file_says_what_it_is(stack: Stack) -> None:
    with sqlite3.connect(stack.folder / STATE_FILE) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- the runtime's side ---------------------------------------------------------------------------------


@dataclass
class _Work:
    """A unit of work that records what the runtime asked of it."""

    log: list[str]
    saves: bool = True

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.log.append("run")
        return fn(*args)

    def commit(self) -> bool:
        self.log.append("commit")
        return self.saves

    def rollback(self) -> None:
        self.log.append("rollback")


def test_the_runtime_commits_each_invocation_before_answering_and_undoes_a_failed_one() -> None:
    log: list[str] = []
    saves = iter([True, False, True, True])
    cold_starts: list[int] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        log.append("handler")
        if event.get("fail"):
            raise RuntimeError("boom")
        return {"ok": True}

    def cold_start() -> _Container:
        cold_starts.append(1)
        return _Container(module=sys.modules[__name__], handler=handler)

    runtime = FunctionRuntime("main", {}, "us-east-1", LOCAL_ACCOUNT_ID, begin=lambda: _Work(log, next(saves)))
    runtime._cold_start = cold_start  # type: ignore[method-assign]
    try:
        assert runtime.invoke({}).value == {"ok": True}
        assert log == ["run", "handler", "commit"]
        log.clear()
        assert runtime.invoke({}) == Invocation(error=STATE_NOT_SAVED)
        assert runtime.invoke({}).ok
        assert len(cold_starts) == 2, "the container whose changes were undone is not used again"
        log.clear()
        assert runtime.invoke({"fail": True}).error == "RuntimeError"
        assert log == ["run", "handler", "rollback"]
    finally:
        runtime.shutdown()
