"""Client Quota Threshold events: a quota's use crossing its thresholds (80, 90 and 100 % of the
limit unless the client names others), told once per threshold per period, across containers.

**Use** is what the quota counter has granted (tokengate_core.authorize.usage): the quota is
enforced on it, and it runs ahead of the requests actually allowed by at most the allowances out
on lease (about a second of each container's traffic). A container learns it for free: every
quota lease's UpdateItem returns the counter's new value.

**Once.** A container that sees the counter at or over a threshold notes it (once per threshold
and period: a set in memory). At its next counter flush, off the request's decision (or at
SIGTERM), it claims the threshold with one conditional write (``pk = quota#<key id>``,
``sk = <period>#threshold#<percent>``, created only if absent); the one container whose claim is
created publishes the event, every other one's is refused. So whatever the number of containers,
an event per threshold per period, and a container costs at most one write per threshold per
period per client. A claim that fails (DynamoDB down) is tried again at the next flush; a
container that ends first leaves it to the next one that takes a lease.

Only clients with a quota get here: the others never load this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from tokengate_core.authorize.settings import AuthorizerSettings
    from tokengate_core.lifecycle.events import EventPublisher

#: Who a threshold event says acted: the authorizer's usage control, not a person.
ACTOR_USAGE_CONTROL = "usage-control"


class Crossing(NamedTuple):
    key_id: str
    period: str  # the period's id: 2026-11-25 or 2026-11
    threshold: int  # percent
    used: int
    limit: int
    expires: int  # when DynamoDB's TTL may remove the claim (the counter's expiry)


class ThresholdClaims(Protocol):
    def claim_threshold(self, key_id: str, period: str, threshold: int, expires: int) -> bool:
        """Create the claim; False if it exists (another container has told); UsageUnavailable if
        DynamoDB failed."""
        ...


def crossed(used: int, limit: int, thresholds: tuple[int, ...]) -> list[int]:
    """The thresholds ``used`` is at or over: ``used x 100 >= threshold x limit``, in integers."""
    return [t for t in thresholds if used * 100 >= t * limit]


class QuotaAlerts:
    """One container's thresholds seen and not yet told."""

    def __init__(
        self,
        claims: Callable[[], ThresholdClaims],
        events: Callable[[], EventPublisher],
        describe: Callable[[str], tuple[str, str] | None],
        *,
        max_entries: int = 100_000,
    ) -> None:
        self._claims = claims
        self._events = events
        self._describe = describe  # key id -> (tenant, client name), from the authorizer's cache
        self._publisher: EventPublisher | None = None
        self.max_entries = max_entries
        self._seen: set[tuple[str, str, int]] = set()
        self.pending: list[Crossing] = []
        self.told = 0

    def observe(self, counter: Crossing, thresholds: tuple[int, ...]) -> None:
        """The counter stood at ``counter.used`` (its ``threshold`` unused): note each of
        ``thresholds`` it is at or over for the first time."""
        for threshold in crossed(counter.used, counter.limit, thresholds):
            seen = (counter.key_id, counter.period, threshold)
            if seen in self._seen:
                continue
            if len(self._seen) >= self.max_entries:
                self._seen.clear()  # at worst one refused claim more per threshold
            self._seen.add(seen)
            self.pending.append(counter._replace(threshold=threshold))

    def flush(self) -> None:
        """Claim each pending threshold and tell the ones this container won. Never raises."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        won: list[Crossing] = []
        for c in pending:
            try:
                if self._claims().claim_threshold(c.key_id, c.period, c.threshold, c.expires):
                    won.append(c)
            except Exception:  # noqa: BLE001 - UsageUnavailable, or a bug: tried again at the next flush
                self.pending.append(c)
        if won:
            try:
                self._publish(won)
            except Exception:  # noqa: BLE001 - never fails a decision; the publisher reports its failures
                return

    def _publish(self, won: list[Crossing]) -> None:
        from datetime import UTC, datetime

        from tokengate_core.lifecycle.detail_types import DetailType
        from tokengate_core.lifecycle.events import checked_event

        if self._publisher is None:
            self._publisher = self._events()
        found = []
        for crossing in won:
            names = self._describe(crossing.key_id)
            if names is None:  # evicted from the cache meanwhile: the event cannot say whose it is
                continue
            event = checked_event(
                self._publisher,
                DetailType.QUOTA_THRESHOLD,
                tenant=names[0],
                client_id=crossing.key_id,
                client_name=names[1],
                actor=ACTOR_USAGE_CONTROL,
                at=datetime.now(UTC),
                extra={
                    "threshold": crossing.threshold,
                    "quota_used": crossing.used,
                    "quota_limit": crossing.limit,
                    "period": crossing.period,
                },
            )
            if event is not None:
                found.append(event)
        self._publisher.publish(found)
        self.told += len(found)


def for_authorizer(
    settings: AuthorizerSettings,
    claims: Callable[[], ThresholdClaims],
    describe: Callable[[str], tuple[str, str] | None],
) -> QuotaAlerts:
    """The authorizer's: claims in its table, events on its deployment's bus (the publisher, and
    the events module, built at the first event)."""

    def publisher() -> EventPublisher:
        from tokengate_core.deployment.functions import FUNCTIONS
        from tokengate_core.runtime.aws import make_publisher

        return make_publisher(settings, FUNCTIONS["authorizer"].service)

    return QuotaAlerts(claims, publisher, describe, max_entries=settings.cache_max_entries)
