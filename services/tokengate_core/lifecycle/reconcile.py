"""The reconciliation: the digest index brought back in line with Secrets Manager, the source of
truth, reading only what changed.

Every write path keeps the two in step in an order that fails safe (docs/architecture.md,
"Reconciliation"), but a step can still fail between the two writes, or someone can change a
secret by hand. A run (the sweep function, every :data:`RECONCILE_INTERVAL_SECONDS`) compares:

- ``ListSecrets`` (names, ``LastChangedDate``, ``DeletedDate``, stages; no values), every page;
- the feed entries since its checkpoint (item ``pk="feed"``, ``sk="reconciled"``);

and looks closer only at the clients either names as changed since the checkpoint (all of them on
a **full pass**: the first run, which builds the whole index of a deployment that has none, and
then once every :data:`FULL_PASS_SECONDS`). For each, a consistent read of its index item, and a
``GetSecretValue`` only when the index is missing or older than the secret. Repairs:

- secret scheduled for deletion (revoked), index still usable -> revoked in the index;
- secret live, index missing or older than the secret and saying otherwise -> rebuilt from it;
- on a full pass, an index item whose secret is gone altogether -> revoked.

It never makes the index allow more than it did when the index is the newer of the two (a revoke
or disable writes the index first: a later failure leaves it denying, and the reconciliation
leaves it so, counting it as ``unfinished``), it skips a client in the middle of a rotation (its
pending digest is the rotation's to move) and any change younger than :data:`SETTLE_SECONDS`
(a write path may still be between its steps: the next run looks again). Every write is
conditional on the version it read, so a reconciliation racing an admin write loses and leaves
the newer data (``lost_races``). Each repair is announced on the feed (kind ``reconcile``) and
counted: the count is the ``IndexRepaired`` metric, which an alarm watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.errors import CorruptRecordError, NotFoundError, RevokedError, TokengateError
from tokengate_core.lifecycle.sweep import READ_CONCURRENCY
from tokengate_core.records import feed
from tokengate_core.records.index import (
    ACTIVE,
    INDEX_PREFIX,
    UNREADABLE_VERSION,
    ClientIndex,
    IndexEntry,
    IndexItemError,
    index_doc,
    index_key,
    translate,
)
from tokengate_core.records.model import utcnow_from
from tokengate_core.records.store import SecretsStore, SecretSummary

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: How often the sweep function reconciles (its second schedule), and how often a run is a full pass.
RECONCILE_INTERVAL_SECONDS = 900
FULL_PASS_SECONDS = 86_400
#: A change younger than this is left to the next run: the slowest write path (a function's whole
#: timeout) may still be between its secret and its index writes, and ListSecrets is eventually
#: consistent.
SETTLE_SECONDS = max(FUNCTIONS[name].timeout_seconds for name in ("admin", "rotation", "leaks")) + 60
#: A run stops starting clients this long before its caller's time is up (a check is a few calls).
DEADLINE_MARGIN_SECONDS = 5.0
#: ListSecrets' dates are whole seconds: a change in the second a run started may read as before it.
LISTING_PRECISION_SECONDS = 1
METRIC_REPAIRED = "IndexRepaired"
METRIC_SKIPPED = "ReconcileClientsSkipped"
FEED_KIND = "reconcile"
#: The event of the sweep function's reconciliation schedule carries {"task": RECONCILE_TASK}.
RECONCILE_TASK = "reconcile"
_PENDING = "AWSPENDING"
_CURRENT = "AWSCURRENT"


@dataclass
class ReconcileReport:
    full: bool = False
    secrets: int = 0
    checked: int = 0
    unreached: int = 0  # candidates left for the next run: the time ran short
    #: Repairs, by what was wrong (each one is counted in METRIC_REPAIRED).
    built: list[str] = field(default_factory=list)  # live secret, no index item
    rebuilt: list[str] = field(default_factory=list)  # live secret, older index saying otherwise
    revoked: list[str] = field(default_factory=list)  # secret deleted or gone, index usable
    #: Left alone, on purpose.
    unfinished: list[str] = field(default_factory=list)  # index newer and denying: a revoke in flight
    rotating: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # changed within SETTLE_SECONDS
    lost_races: list[str] = field(default_factory=list)  # an admin write came first
    #: Could not be checked (counted in METRIC_SKIPPED).
    unreadable: list[str] = field(default_factory=list)  # a secret that is not a client record
    failed: list[str] = field(default_factory=list)  # a read or write that failed

    @property
    def complete(self) -> bool:
        return self.unreached == 0

    @property
    def repaired(self) -> int:
        return len(self.built) + len(self.rebuilt) + len(self.revoked)

    @property
    def skipped(self) -> int:
        return len(self.unreadable) + len(self.failed)

    def fields(self) -> dict[str, object]:
        """Ids and counts only: never a name, a digest or a token."""
        return {
            "full": self.full,
            "secrets": self.secrets,
            "checked": self.checked,
            "unreached": self.unreached,
            "repaired": self.repaired,
            **{
                name: getattr(self, name)
                for name in ("built", "rebuilt", "revoked", "unfinished", "rotating", "deferred", "lost_races")
            },
            "unreadable": self.unreadable,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # the feed entries up to here were looked at
    at: datetime  # when the last run started
    full_at: datetime  # when the last full pass started


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _rotating(summary: SecretSummary) -> bool:
    """A version staged AWSPENDING apart from AWSCURRENT: a rotation between its steps."""
    return any(_PENDING in stages and _CURRENT not in stages for stages in summary.version_stages.values())


def _changed_at(summary: SecretSummary, now: datetime) -> datetime | None:
    """When the secret last changed. DeletedDate is when its deletion was asked for (a date after
    ``now`` is the end of a recovery window, as some emulators report it: no change time then)."""
    moments = [
        summary.last_changed_at,
        summary.deleted_at if summary.deleted_at and summary.deleted_at <= now else None,
    ]
    found = [m for m in moments if m is not None]
    return max(found) if found else None


class Reconciler:
    def __init__(
        self, store: SecretsStore, client: DynamoDBClient, table: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.index = ClientIndex(client, table)
        self._client = client
        self._table = table
        self.clock = clock
        self._settle = timedelta(seconds=SETTLE_SECONDS)

    # -- the run -----------------------------------------------------------------------------------

    def run(
        self,
        *,
        full: bool = False,
        orphans: bool = True,
        settle: bool = True,
        remaining: Callable[[], float] | None = None,
    ) -> ReconcileReport:
        """One run; ``full`` forces a full pass (``tokengate migrate``, whose role may not scan:
        ``orphans=False``). ``remaining`` tells the seconds the caller has left: clients not reached
        with DEADLINE_MARGIN_SECONDS to spare are left to the next run, and the checkpoint stays
        (``complete`` is False). ``settle=False`` (``tokengate migrate``, run by an operator once)
        looks at fresh changes too: every write path writes the index with the version it reads, so
        a build racing it is overwritten with the same data. A failure of the whole run (the
        checkpoint, the listing, the feed) raises and moves no checkpoint."""
        now = utcnow_from(self.clock())
        self._settle = timedelta(seconds=SETTLE_SECONDS if settle else 0)
        checkpoint = self._checkpoint()
        full = full or checkpoint is None or now - checkpoint.full_at >= timedelta(seconds=FULL_PASS_SECONDS)
        report = ReconcileReport(full=full)
        seq = feed.head(self._client, self._table, consistent=True)
        named: set[str] = set()
        if checkpoint is not None and not full:
            named = {entry.key_id for entry in self._entries_since(checkpoint.seq, seq)}
        summaries = self.store.list_all(include_revoked=True)
        report.secrets = len(summaries)
        look_back = timedelta(seconds=SETTLE_SECONDS + LISTING_PRECISION_SECONDS)
        since = None if full or checkpoint is None else checkpoint.at - look_back
        candidates = [
            summary
            for summary in summaries
            if since is None
            or summary.key_id in named
            or (changed := _changed_at(summary, now)) is None
            or changed >= since
        ]
        self._check_all(candidates, now, report, remaining or (lambda: float("inf")))
        if full and orphans and report.complete:
            self._revoke_orphans({s.key_id for s in summaries}, now, report)
        if report.complete:
            previous_full = checkpoint.full_at if checkpoint is not None and not full else now
            self._save(Checkpoint(seq=seq, at=now, full_at=previous_full))
        return report

    def _check_all(
        self, candidates: list[SecretSummary], now: datetime, report: ReconcileReport, remaining: Callable[[], float]
    ) -> None:
        """READ_CONCURRENCY clients at a time (the sweep's), until the time left runs short."""

        def check(summary: SecretSummary) -> bool:
            if remaining() < DEADLINE_MARGIN_SECONDS:
                return False
            self._check(summary, now, report)
            return True

        with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
            done = list(pool.map(check, candidates))
        report.checked += sum(done)
        report.unreached = len(done) - sum(done)

    def _entries_since(self, after: int, upto: int) -> Iterable[feed.FeedEntry]:
        """The changes others announced (its own repairs were looked at when it made them)."""
        entries = feed.read_entries(self._client, self._table, after)
        return [entry for entry in entries if entry.seq <= upto and entry.kind != FEED_KIND]

    # -- one client --------------------------------------------------------------------------------

    def _check(self, summary: SecretSummary, now: datetime, report: ReconcileReport) -> None:
        key_id = summary.key_id
        changed = _changed_at(summary, now)
        if changed is not None and now - changed < self._settle:
            report.deferred.append(key_id)
            return
        try:
            self._repair(summary, now, report)
        except CorruptRecordError:
            report.unreadable.append(key_id)
        except (NotFoundError, RevokedError):
            report.deferred.append(key_id)  # deleted or revoked since the listing: the next run sees it
        except TokengateError:
            report.failed.append(key_id)

    def _repair(self, summary: SecretSummary, now: datetime, report: ReconcileReport) -> None:
        key_id = summary.key_id
        try:
            entry: IndexEntry | None = self.index.get(key_id)
            version = None if entry is None else entry.version
        except IndexItemError:  # not an item this version wrote: replaced, never trusted
            entry, version = None, self.index.version(key_id) or UNREADABLE_VERSION
        if summary.revoked:
            if version is not None and (entry is None or not entry.revoked):
                self._record(self._revoke(key_id, version, now), key_id, report.revoked, report)
            return
        if entry is not None and not self._older(entry, summary):
            if entry.revoked:
                report.unfinished.append(key_id)  # the index was written after the secret: leave it denying
            return
        if _rotating(self.store.describe(key_id)):  # ListSecrets does not tell the stages
            report.rotating.append(key_id)
            return
        record = self.store.get(key_id)
        if entry is not None and not entry.revoked and entry.doc == index_doc(record) and entry.tenant == record.tenant:
            return  # older, but saying the same
        written = self.index.put(record, ACTIVE, expected_version=version, now=now)
        self._record(written is not None, key_id, report.built if version is None else report.rebuilt, report)

    @staticmethod
    def _older(entry: IndexEntry, summary: SecretSummary) -> bool:
        try:
            written = datetime.fromisoformat(entry.changed_at)
        except ValueError:
            return True
        secret = summary.last_changed_at
        return secret is not None and (written.tzinfo is None or written < secret)

    def _record(self, won: bool, key_id: str, repairs: list[str], report: ReconcileReport) -> None:
        """A repair written is announced on the feed, so every container forgets what it cached."""
        if not won:
            report.lost_races.append(key_id)
            return
        repairs.append(key_id)
        feed.append(self._client, self._table, key_id, FEED_KIND)

    # -- index writes and reads of its own ---------------------------------------------------------

    def _revoke(self, key_id: str, version: int, now: datetime) -> bool:
        """Mark the item revoked if it is still at ``version``: False when a writer came first."""
        condition: dict[str, Any] = {
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(version)}},
        }
        if version == UNREADABLE_VERSION:
            condition = {"ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeValues": {}}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=index_key(key_id),
                UpdateExpression="SET #state = :revoked, changed_at = :now, version = :next",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    **condition["ExpressionAttributeValues"],
                    ":revoked": {"S": "revoked"},
                    ":now": {"S": _iso(now)},
                    ":next": {"N": str(max(version, 0) + 1)},
                },
                ConditionExpression=condition["ConditionExpression"],
            )
        except Exception as error:  # noqa: BLE001 - a lost race, or a domain error
            if getattr(error, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise translate(error) from None
        return True

    def _revoke_orphans(self, listed: set[str], now: datetime, report: ReconcileReport) -> None:
        """Index items whose secret is gone altogether (purged, or deleted by hand), settled and
        still usable: revoked. One Scan of the table, projected to what this needs."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ProjectionExpression": "pk, #state, version, changed_at",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":prefix": {"S": INDEX_PREFIX}},
        }
        while True:
            try:
                page = self._client.scan(**request)
            except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
                raise translate(error) from None
            for item in page.get("Items", []):
                self._orphan(item, listed, now, report)
            start = page.get("LastEvaluatedKey")
            if not start:
                return
            request["ExclusiveStartKey"] = start

    def _orphan(self, item: dict[str, Any], listed: set[str], now: datetime, report: ReconcileReport) -> None:
        key_id = item.get("pk", {}).get("S", "").removeprefix(INDEX_PREFIX)
        if not key_id or key_id in listed or item.get("state", {}).get("S") != ACTIVE:
            return
        try:
            written = datetime.fromisoformat(item.get("changed_at", {}).get("S", ""))
            version = int(item.get("version", {}).get("N", ""))
        except ValueError:
            written, version = None, UNREADABLE_VERSION
        if written is not None and (written.tzinfo is None or now - written < self._settle):
            return  # a client being issued: ListSecrets may not list its secret yet
        report.checked += 1
        try:
            self._record(self._revoke(key_id, version, now), key_id, report.revoked, report)
        except TokengateError:
            report.failed.append(key_id)

    # -- the checkpoint ----------------------------------------------------------------------------

    def _checkpoint_key(self) -> dict[str, Any]:
        return {"pk": {"S": feed.FEED_PK}, "sk": {"S": feed.RECONCILED_SK}}

    def _checkpoint(self) -> Checkpoint | None:
        """None before the first run, or when the item is not one this module wrote: a full pass."""
        try:
            item = self._client.get_item(TableName=self._table, Key=self._checkpoint_key(), ConsistentRead=True)
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
            raise translate(error) from None
        found = item.get("Item") or {}
        try:
            at = datetime.fromisoformat(found["at"]["S"])
            full_at = datetime.fromisoformat(found["full_at"]["S"])
            seq = int(found["seq"]["N"])
        except (KeyError, TypeError, ValueError):
            return None
        if at.tzinfo is None or full_at.tzinfo is None:
            return None
        return Checkpoint(seq=seq, at=at, full_at=full_at)

    def _save(self, checkpoint: Checkpoint) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._checkpoint_key(),
                    "seq": {"N": str(checkpoint.seq)},
                    "at": {"S": _iso(checkpoint.at)},
                    "full_at": {"S": _iso(checkpoint.full_at)},
                },
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error
            raise translate(error) from None


def report_run(report: ReconcileReport, service: str, namespace: str) -> None:
    """Repairs and skipped clients, each as one line that is also the metric an alarm watches."""
    from tokengate_core.runtime.observability import emit_metric

    if report.repaired:
        emit_metric(
            service,
            METRIC_REPAIRED,
            report.repaired,
            {"built": report.built, "rebuilt": report.rebuilt, "revoked": report.revoked},
            namespace=namespace,
            message="index repaired",
            level="WARNING",
        )
    if report.skipped:
        emit_metric(
            service,
            METRIC_SKIPPED,
            report.skipped,
            {"unreadable": report.unreadable, "failed": report.failed},
            namespace=namespace,
            message="reconciliation skipped clients",
        )
