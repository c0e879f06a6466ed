"""The reconciliation on the embedded Secrets Manager and DynamoDB (which report DeletedDate as AWS
does: when the deletion was asked for): the first run builds the whole index,
later runs look only at what changed, drift is repaired, announced on the feed and counted, a
racing admin write wins, and a corrupt secret or a failing call skips one client, never the run."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest

from tests.unit.aws_in_memory import Failing, client_error
from tests.unit.records.test_model import record as make_record
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.errors import UnavailableError
from tokengate_core.lifecycle import reconcile
from tokengate_core.lifecycle.reconcile import Reconciler, report_run
from tokengate_core.records import feed
from tokengate_core.records.index import ACTIVE, REVOKED, ClientIndex, index_doc
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.store import SecretsStore

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

TABLE = "tokengate"
PREFIX = "tokengate/clients/"


class World:
    """Secrets Manager and the table, and reconcilers over them (changes settle at once here: the
    fixture sets SETTLE_SECONDS to 0 unless a test says otherwise)."""

    def __init__(self) -> None:
        self.sm = boto3.client("secretsmanager", region_name="us-east-1")
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.store = SecretsStore(self.sm, PREFIX)
        self.index = ClientIndex(self.dynamodb, TABLE)
        self.ahead = 0.0

    def reconciler(self, *, dynamodb: Any = None, store: SecretsStore | None = None) -> Reconciler:
        return Reconciler(store or self.store, dynamodb or self.dynamodb, TABLE, clock=lambda: time.time() + self.ahead)

    def client(self, name: str, **changes: object) -> ClientRecord:
        record = make_record(client_name=name, **changes)
        self.store.create(record, str(uuid.uuid4()))
        return record

    def seed(self, record: ClientRecord, state: str = ACTIVE) -> None:
        """The index item an admin write made minutes ago."""
        self.index.put(record, state, expected_version=None, now=datetime.now(UTC) - timedelta(minutes=5))

    def state(self, key_id: str) -> str | None:
        entry = self.index.get(key_id)
        return None if entry is None else entry.state

    def fed(self) -> list[tuple[str, str]]:
        return [(e.key_id, e.kind) for e in feed.read_entries(self.dynamodb, TABLE, 0)]


def failing(world: World, operation: str) -> SecretsStore:
    """The store, with ``operation`` failing as Secrets Manager does when it has an internal error."""
    client = Failing(world.sm, operation, client_error("InternalServiceError", status=500))
    return SecretsStore(cast("SecretsManagerClient", client), PREFIX)


def changed(record: ClientRecord, scopes: list[str]) -> ClientRecord:
    return record.with_changes({"scopes": scopes}, record.updated_at, "alice")


@pytest.fixture
def world(emulator: SecretsManagerEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr(reconcile, "SETTLE_SECONDS", 0)
    yield World()


def test_the_first_run_builds_the_whole_index(world: World) -> None:
    live = [world.client(f"bot-{n}") for n in range(3)]
    gone = world.client("gone")
    world.store.schedule_deletion(gone.key_id, 7)
    report = world.reconciler().run()
    assert report.full and report.secrets == 4
    assert sorted(report.built) == sorted(r.key_id for r in live) and report.repaired == 3
    for record in live:
        entry = world.index.get(record.key_id)
        assert entry is not None and entry.state == ACTIVE and entry.doc == index_doc(record)
        assert record.own_token not in entry.doc  # digests only
    assert world.state(gone.key_id) is None  # a revoked client needs no item: the authorizer denies it
    assert sorted(world.fed()) == sorted((r.key_id, "reconcile") for r in live)
    # The next run finds nothing changed: it reads no secret (each read would fail and be counted).
    again = world.reconciler(store=failing(world, "get_secret_value")).run()
    assert not again.full and again.repaired == 0 and again.failed == []


def test_a_revoked_secret_still_usable_in_the_index_is_revoked_there(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.reconciler().run()
    world.store.schedule_deletion(record.key_id, 7)  # by hand: the index was not told
    report = world.reconciler().run()
    assert report.revoked == [record.key_id] and report.repaired == 1
    assert world.state(record.key_id) == REVOKED
    assert world.fed()[-1] == (record.key_id, "reconcile")


def test_an_index_older_than_its_secret_is_rebuilt(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.reconciler().run()
    world.store.put(
        changed(record, ["GET /invoke"]), request_token=str(uuid.uuid4())
    )  # the index write that should follow failed
    report = world.reconciler().run()
    assert report.rebuilt == [record.key_id]
    entry = world.index.get(record.key_id)
    assert entry is not None and json.loads(entry.doc)["scopes"] == ["GET /invoke"] and entry.version == 2


def test_a_restore_whose_index_step_failed_is_finished(world: World) -> None:
    record = world.client("bot")
    world.seed(record, REVOKED)  # the secret was restored after the index said revoked
    report = world.reconciler().run()
    assert report.rebuilt == [record.key_id] and world.state(record.key_id) == ACTIVE


def test_an_index_newer_than_its_secret_and_denying_is_left_denying(world: World) -> None:
    record = world.client("bot")
    # A revoke wrote the index, then failed before the secret's deletion.
    world.index.put(record, REVOKED, expected_version=None, now=datetime.now(UTC) + timedelta(seconds=1))
    report = world.reconciler().run(full=True)
    assert report.unfinished == [record.key_id] and report.repaired == 0
    assert world.state(record.key_id) == REVOKED


def test_a_missing_item_is_rebuilt_on_a_full_pass(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.reconciler().run()
    world.dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": f"index#{record.key_id}"}, "sk": {"S": "client"}})
    report = world.reconciler().run(full=True)
    assert report.built == [record.key_id] and world.state(record.key_id) == ACTIVE


def test_a_client_named_by_the_feed_is_looked_at(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.ahead = 5.0  # the runs are seconds after the secret's change: only the feed names it
    world.reconciler().run()
    world.dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": f"index#{record.key_id}"}, "sk": {"S": "client"}})
    feed.append(world.dynamodb, TABLE, record.key_id, "update")
    assert world.reconciler().run().built == [record.key_id]


def test_an_item_whose_secret_is_gone_is_revoked_on_a_full_pass(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.sm.delete_secret(SecretId=PREFIX + record.key_id, ForceDeleteWithoutRecovery=True)
    report = world.reconciler().run(full=True)
    assert report.revoked == [record.key_id] and world.state(record.key_id) == REVOKED


def test_the_reconciliation_loses_to_a_racing_admin_write(world: World) -> None:
    record = world.client("bot")
    world.seed(record)
    world.reconciler().run()
    world.store.put(changed(record, ["GET /invoke"]), request_token=str(uuid.uuid4()))
    admin = changed(record, ["POST /invoke"])

    class AdminFirst:
        """The admin's write lands between the reconciliation's read and its write."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def put_item(self, **request: Any) -> Any:
            if request["Item"]["pk"]["S"].startswith("index#"):
                world.index.write(admin, ACTIVE)
            return self._client.put_item(**request)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    report = world.reconciler(dynamodb=AdminFirst(world.dynamodb)).run()
    assert report.lost_races == [record.key_id] and report.repaired == 0
    entry = world.index.get(record.key_id)
    assert entry is not None and json.loads(entry.doc)["scopes"] == ["POST /invoke"]  # the admin's data stands


def test_a_corrupt_secret_is_skipped_and_counted(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    good = world.client("good")
    bad = world.client("bad")
    world.sm.put_secret_value(SecretId=PREFIX + bad.key_id, SecretString='{"not": "a record"}')
    report = world.reconciler().run()
    assert report.built == [good.key_id] and report.unreadable == [bad.key_id]
    report_run(report, "tokengate-sweep", "TokenGate")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = {line["message"]: line for line in lines}
    assert metrics["index repaired"][reconcile.METRIC_REPAIRED] == 1
    assert metrics["reconciliation skipped clients"][reconcile.METRIC_SKIPPED] == 1
    assert good.own_token not in str(lines) and bad.key_id in str(metrics["reconciliation skipped clients"])


def test_a_rotating_client_and_a_fresh_change_are_left_for_later(world: World) -> None:
    rotating = world.client("rotating")
    world.sm.put_secret_value(
        SecretId=PREFIX + rotating.key_id, SecretString=rotating.to_secret_string(), VersionStages=["AWSPENDING"]
    )
    fresh = world.client("fresh")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reconcile, "SETTLE_SECONDS", 3600)  # both changed within the settling time
        report = world.reconciler().run()
    assert fresh.key_id in report.deferred and world.state(fresh.key_id) is None
    report = world.reconciler().run()
    assert rotating.key_id in report.rotating and world.state(rotating.key_id) is None
    assert report.built == [fresh.key_id]  # the deferred change is looked at again


def test_a_failing_read_skips_one_client_and_a_failing_listing_fails_the_run(world: World) -> None:
    world.client("bot")
    throttled = client_error("ThrottlingException", status=400)
    with pytest.raises(UnavailableError):  # the checkpoint is read first: the run fails before anything
        world.reconciler(dynamodb=Failing(world.dynamodb, "get_item", throttled)).run()
    assert world.fed() == []
    report = world.reconciler(store=failing(world, "get_secret_value")).run()
    assert len(report.failed) == 1 and report.repaired == 0
    listing = failing(world, "list_secrets")
    key = {"pk": {"S": "feed"}, "sk": {"S": "reconciled"}}
    checkpoint = world.dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    with pytest.raises(UnavailableError):
        world.reconciler(store=listing).run()
    assert world.dynamodb.get_item(TableName=TABLE, Key=key)["Item"] == checkpoint  # not moved


def test_no_token_reaches_the_report(world: World) -> None:
    record = world.client("bot", token=None, imported_sha256=secrets.token_hex(32))
    report = world.reconciler().run()
    assert report.built == [record.key_id]
    assert record.current_sha256 not in json.dumps(report.fields())


def test_a_run_short_of_time_leaves_the_rest_and_its_checkpoint_for_the_next(world: World) -> None:
    records = [world.client(f"bot-{n}") for n in range(3)]
    report = world.reconciler().run(remaining=lambda: 0.0)
    assert not report.complete and report.unreached == 3 and report.repaired == 0
    key = {"pk": {"S": "feed"}, "sk": {"S": "reconciled"}}
    assert "Item" not in world.dynamodb.get_item(TableName=TABLE, Key=key)
    report = world.reconciler().run()
    assert report.full and report.complete and sorted(report.built) == sorted(r.key_id for r in records)


def test_a_corrupt_index_item_is_replaced_from_the_secret(world: World) -> None:
    record = world.client("bot")
    key = {"pk": {"S": f"index#{record.key_id}"}, "sk": {"S": "client"}}
    world.dynamodb.put_item(
        TableName=TABLE, Item={**key, "doc": {"S": "{"}, "state": {"S": "?"}, "version": {"S": "x"}}
    )
    report = world.reconciler().run()
    assert report.rebuilt == [record.key_id]
    entry = world.index.get(record.key_id)
    assert entry is not None and entry.state == ACTIVE and entry.doc == index_doc(record)


def test_an_older_item_naming_another_tenant_is_rebuilt(world: World) -> None:
    record = world.client("bot")
    other = record.model_copy(update={"tenant": "globex"})
    world.seed(other)  # written minutes ago, for the wrong tenant
    report = world.reconciler().run()
    assert report.rebuilt == [record.key_id]
    entry = world.index.get(record.key_id)
    assert entry is not None and entry.tenant == "acme" and json.loads(entry.doc)["tenant"] == "acme"


def test_tokengate_migrate_builds_the_index_of_a_deployment_without_one(world: World) -> None:
    """A 0.2 deployment: secrets, no index items; the authorizer denies them until the build."""
    from tests.integration.test_key_ids import decide, make_authorizer
    from tests.support import FakeClock, call_admin
    from tokengate_core.authorize.decision import Reason
    from tokengate_core.tokens import format as tokens
    from tokengate_core.tokens import keyring

    ring = keyring.ensure(world.store, time.time())
    key_id = tokens.new_key_id()
    token = tokens.generate(key_id, ring.signer(time.time()))
    world.store.create(make_record(client_name="from-0-2", key_id=key_id, token=token), str(uuid.uuid4()))
    authz = make_authorizer(FakeClock(now=time.time()))
    assert decide(authz, token) is Reason.UNKNOWN_KEY_ID
    answer = call_admin("POST", "/admin/migrate")
    assert answer.status == 200
    assert (answer.body["index_built"], answer.body["index_complete"]) == (1, True)
    assert decide(make_authorizer(FakeClock(now=time.time())), token) is Reason.ALLOWED
    assert call_admin("POST", "/admin/migrate").body["index_built"] == 0  # idempotent
