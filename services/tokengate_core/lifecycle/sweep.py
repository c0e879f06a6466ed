"""The scheduled sweep: what is about to end, said before it ends, and the imported-token map
kept to the tokens clients still accept.

Run once a day by default (the stack's schedule; locally a timer), it emits ``Client Expiring``
for every live client whose expiry falls within the warning window (``subject: client``), and for
every client whose previous token's grace window ends within it (``subject: previous_token``), so
whoever subscribes hears of both while there is still time to act. It is stateless: each run
reports what is ending within the window then, so a daily run reminds daily until it has ended.

Expiry is a tag, so ListSecrets tells it with no read per client. A grace window is in the record
only; only clients changed within the longest grace window are read (a rotation writes the
record), a few at a time.

With ``stale_after_days`` set, it also finds enabled clients unused that long (``Client Stale``,
and with ``stale_action: disable`` disables them; tokengate_core.lifecycle.stale).

One client's bad data never stops the sweep for the others: a record that cannot be read, or a
client whose event cannot be made, is skipped and named in the report, which the function logs
as one error line that is also a metric (:data:`METRIC_CLIENTS_SKIPPED`), which an alarm watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokengate_core.errors import NotFoundError, RevokedError, TokengateError
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_SWEEP, EventPublisher, LifecycleEvent, iso
from tokengate_core.lifecycle.stale import StaleCheck
from tokengate_core.records.model import ClientRecord, utcnow_from
from tokengate_core.records.rules import MAX_GRACE_SECONDS
from tokengate_core.records.store import SecretsStore, SecretSummary
from tokengate_core.tokens import imports, keyring

#: Records read at once (GetSecretValue calls in flight).
READ_CONCURRENCY = 8
METRIC_CLIENTS_SKIPPED = "SweepClientsSkipped"
SUBJECT_CLIENT = "client"
SUBJECT_PREVIOUS_TOKEN = "previous_token"


@dataclass
class SweepReport:
    clients: int = 0
    records_read: int = 0
    expiring: int = 0
    grace_ending: int = 0
    imported_removed: int = 0
    stale: int = 0
    stale_disabled: int = 0
    #: The clients' last use could not be read: no client was judged stale this run.
    stale_unchecked: bool = False
    #: Clients whose record could not be read (corrupt, or Secrets Manager failed): their grace
    #: windows went unchecked.
    unreadable: list[str] = field(default_factory=list)
    #: Clients whose Client Expiring event could not be made: their subscribers were not told.
    failed: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.unreadable) + len(self.failed)

    def fields(self) -> dict[str, object]:
        return {
            "clients": self.clients,
            "records_read": self.records_read,
            "expiring": self.expiring,
            "grace_ending": self.grace_ending,
            "imported_removed": self.imported_removed,
            "stale": self.stale,
            "stale_disabled": self.stale_disabled,
            "stale_unchecked": self.stale_unchecked,
            "unreadable": self.unreadable,
            "failed": self.failed,
        }


class Sweeper:
    def __init__(
        self,
        store: SecretsStore,
        events: EventPublisher,
        *,
        warning_days: float,
        clock: Callable[[], float] = time.time,
        stale: StaleCheck | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.window = timedelta(days=warning_days)
        self.clock = clock
        self.stale = stale

    def run(self) -> SweepReport:
        report = SweepReport()
        now = utcnow_from(self.clock())
        live = self.store.list_all(include_revoked=False)
        report.clients = len(live)
        found: list[LifecycleEvent] = []
        for summary in live:
            if summary.expires_at is not None and now < summary.expires_at <= now + self.window:
                report.expiring += self._expiring(
                    summary, SUBJECT_CLIENT, summary.expires_at, now, found=found, report=report
                )
        records = self._read(
            [s for s in live if s.last_changed_at is None or s.last_changed_at >= now - SWEEP_LOOK_BACK], report
        )
        summaries = {s.key_id: s for s in live}
        for record in records.values():
            previous = record.previous
            if previous is not None and now < previous.valid_until <= now + self.window:
                summary = summaries[record.key_id]
                report.grace_ending += self._expiring(
                    summary, SUBJECT_PREVIOUS_TOKEN, previous.valid_until, now, found=found, report=report
                )
        if self.stale is not None:
            self._stale(self.stale, live, now, found, report)
        self.events.publish(found)
        report.imported_removed = self._prune_imported(now, records)
        return report

    @staticmethod
    def _stale(
        check: StaleCheck, live: list[SecretSummary], now: datetime, found: list[LifecycleEvent], report: SweepReport
    ) -> None:
        """Client Stale for each stale client, disabled first where the deployment says so; one
        client that cannot be disabled or told is skipped and named, as any other."""
        try:
            stale = check.stale(live, now)
        except Exception:  # noqa: BLE001 - DynamoDB failed: nobody is judged on what could not be read
            report.stale_unchecked = True
            return
        for summary, last in stale:
            action = "none"
            try:
                if check.disable is not None:
                    check.disable(summary)
                    action = "disabled"
                    report.stale_disabled += 1
                found.append(check.event(summary, last, now, action))
            except Exception:  # noqa: BLE001 - a conflict, a failed write, a name the event refuses
                if summary.key_id not in report.failed:
                    report.failed.append(summary.key_id)
                continue
            report.stale += 1

    @staticmethod
    def _expiring(
        summary: SecretSummary,
        subject: str,
        ends: datetime,
        now: datetime,
        *,
        found: list[LifecycleEvent],
        report: SweepReport,
    ) -> int:
        """Add the client's Client Expiring event to ``found`` (1), or note that it could not be
        made (0): a value the event refuses (a name shaped like a secret, kept from before names
        were checked) or cannot hold skips this client only."""
        try:
            event = LifecycleEvent(
                DetailType.EXPIRING,
                tenant=summary.tenant,
                client_id=summary.key_id,
                client_name=summary.client_name,
                actor=ACTOR_SCHEDULED_SWEEP,
                at=now,
                extra={"subject": subject, "expires_at": iso(ends)},
            )
        except (ValueError, OverflowError):  # UnsafeDetailError is a ValueError
            if summary.key_id not in report.failed:
                report.failed.append(summary.key_id)
            return 0
        found.append(event)
        return 1

    def _read(self, summaries: list[SecretSummary], report: SweepReport) -> dict[str, ClientRecord]:
        def read(summary: SecretSummary) -> ClientRecord | None:
            try:
                return self.store.get(summary.key_id)
            except (NotFoundError, RevokedError):
                return None  # gone or revoked since the listing
            except Exception:  # noqa: BLE001 - a corrupt record, a failed read, a bug: this client only
                report.unreadable.append(summary.key_id)
                return None

        with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
            records = [r for r in pool.map(read, summaries) if r is not None]
        report.records_read = len(summaries)
        return {r.key_id: r for r in records}

    def _prune_imported(self, now: datetime, known: dict[str, ClientRecord]) -> int:
        """Take out of the keyring's map every imported token no client accepts any more: its
        client rotated and the grace window ended, or the client was purged. A revoked client keeps
        its entry (it may be restored)."""
        try:
            ring = keyring.load(self.store)[0]
        except NotFoundError:
            return 0
        stale: set[str] = set()
        for digest, key_id in ring.imported.items():
            record = known.get(key_id)
            try:
                record = record or self.store.get(key_id)
            except NotFoundError:
                stale.add(digest)
                continue
            except (RevokedError, TokengateError):
                continue
            previous = record.previous
            in_grace = previous is not None and previous.sha256 == digest and previous.valid_until > now
            if record.current_sha256 != digest and not in_grace:
                stale.add(digest)
        imports.remove_imported(self.store, stale)
        return len(stale)


def report_skipped(report: SweepReport, service: str, namespace: str) -> None:
    """The clients a run skipped, as one error line that is also the metric an alarm watches
    (ids only: never a name, a value or a token)."""
    if not report.skipped:
        return
    from tokengate_core.runtime.observability import emit_metric

    emit_metric(
        service,
        METRIC_CLIENTS_SKIPPED,
        report.skipped,
        {"unreadable": report.unreadable, "failed": report.failed},
        namespace=namespace,
        message="sweep skipped clients",
        level="ERROR",
    )


#: How far back a change may have started a grace window that has not ended: the longest grace
#: window, and a day for a rotation's steps spread over time.
SWEEP_LOOK_BACK = timedelta(seconds=MAX_GRACE_SECONDS) + timedelta(days=1)
