"""Stale clients: enabled, and not used for ``stale_after_days`` (a deployment setting, off by
default), found by the daily sweep.

A client's last use is what the authorizer writes (tokengate_core.authorize.last_used, to the
hour); a client never used counts from its creation. For each stale client the sweep emits
``Client Stale`` (daily, as long as it stays stale and enabled, like ``Client Expiring``); with
``stale_action: disable`` it also disables it through the admin API's own use case, so the disable
is audited, is a ``Client Updated`` event, and is undone as any disable is (``enabled: true``).
A re-enabled client that is still unused is stale again at the next sweep: use it, or raise
``stale_after_days``.

Disabled, expired and revoked clients are left alone: they are off already. The last use of every
enabled client is read in one BatchGetItem per 100 clients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_SWEEP, LifecycleEvent, iso

if TYPE_CHECKING:
    from tokengate_core.records.store import SecretSummary

#: key ids -> {key id: last use, epoch seconds} (usage_table.read_last_used).
LastUsedQuery = Callable[[list[str]], dict[str, float]]
#: Disables one client as the admin API does, acting as the sweep.
Disable = Callable[["SecretSummary"], None]


class StaleCheck:
    def __init__(self, last_used: LastUsedQuery, after_days: int, disable: Disable | None = None) -> None:
        self.last_used = last_used
        self.after_days = after_days
        self.disable = disable

    def stale(self, live: Sequence[SecretSummary], now: datetime) -> list[tuple[SecretSummary, datetime | None]]:
        """The enabled, unexpired clients unused since ``after_days`` ago, with their last use."""
        candidates = [s for s in live if s.enabled and not s.revoked and (s.expires_at is None or s.expires_at > now)]
        used = self.last_used([s.key_id for s in candidates]) if candidates else {}
        cutoff = now - timedelta(days=self.after_days)
        found = []
        for summary in candidates:
            last = datetime.fromtimestamp(used[summary.key_id], UTC) if summary.key_id in used else None
            since = last or summary.created_at
            if since is not None and since < cutoff:
                found.append((summary, last))
        return found

    def event(self, summary: SecretSummary, last: datetime | None, now: datetime, action: str) -> LifecycleEvent:
        return LifecycleEvent(
            DetailType.STALE,
            tenant=summary.tenant,
            client_id=summary.key_id,
            client_name=summary.client_name,
            actor=ACTOR_SCHEDULED_SWEEP,
            at=now,
            extra={"last_used_at": iso(last), "stale_after_days": self.after_days, "action": action},
        )
