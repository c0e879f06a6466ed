"""When each client was last used: one DynamoDB write per client, container and interval.

A client is *used* when a request presents its token (current, or previous in grace) and the token
matches, whatever the rest of the decision says (disabled, expired, out of scope, limited): the
question this answers is "is anybody still holding and sending this token?".

**Cost.** A container remembers, per client, when it last wrote the client's time. A use within
:data:`INTERVAL_SECONDS` of that write costs a dict lookup and no I/O; the first use after it
costs one conditional UpdateItem, made in that request. So a client costs at most one write per
container per interval, whatever its traffic, and a deployment at most
``clients used x containers that saw them`` writes per interval (``tokengate capacity`` prices it).

**A container's first decision** answers before the write (``defer_first``, the authorizer's
setting): building the DynamoDB client that writes and the write itself would be a third of a cold
start's first decision. The use is written, with the time it happened, at the container's next
decision that sees a client, or when Lambda ends the container (its SIGTERM drains the
authorizer); only a container that dies without either loses it, and the client's next use in
another container writes it again.

**Precision.** The stored time is the first use a container saw in its interval, and the write
keeps the latest of the times written (the condition refuses an older one), so ``last_used_at`` is
at most :data:`INTERVAL_SECONDS` before the true last use, and never after it.

**Failures.** A write that fails or times out never fails the decision: it is counted
(:data:`METRIC_FAILED`, one log line that is also a metric) and retried at the client's next use
after :data:`RETRY_SECONDS`, not at every request while DynamoDB is down.

The item (``pk = used#<key id>``, ``sk = last``) is its own, apart from the client's other items, so
no other writer of the client's items ever races it; DynamoDB's TTL removes it
:data:`RETENTION_DAYS` after the last use (a client unused that long reads as never used since).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: At most one write per client per container per this many seconds: the precision of last_used_at.
INTERVAL_SECONDS = 3600.0
#: After a failed write, the client's next write waits this long.
RETRY_SECONDS = 10.0
KEY_PREFIX = "used#"
ITEM_SORT_KEY = "last"
#: The epoch-seconds attribute holding the last use.
ATTRIBUTE = "at"
RETENTION_DAYS = 400
METRIC_FAILED = "LastUsedWritesFailed"


def item_key(key_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{KEY_PREFIX}{key_id}"}, "sk": {"S": ITEM_SORT_KEY}}


class LastUsedStore(Protocol):
    def mark_used(self, key_id: str, at: float) -> None:
        """Store ``at`` as the client's last use unless a later one is stored; raise on failure."""
        ...


class LastUsed:
    """One container's memory of what it wrote. A Lambda container serves one request at a time."""

    def __init__(
        self,
        store_factory: Callable[[], LastUsedStore],
        *,
        interval: float = INTERVAL_SECONDS,
        max_entries: int = 100_000,
        on_failure: Callable[[str, str], None] | None = None,
        defer_first: bool = False,
    ) -> None:
        self._store_factory = store_factory
        self._store: LastUsedStore | None = None
        self.interval = interval
        self.max_entries = max_entries
        self._on_failure = on_failure
        #: key id -> when this container last wrote it (or failed to, shifted so a retry waits RETRY_SECONDS)
        self._written: dict[str, float] = {}
        #: key id -> a use noted but not written yet (the first, with ``defer_first``): see flush()
        self._pending: dict[str, float] = {}
        self._defer = defer_first
        self.writes = 0
        self.failures = 0

    def reset(self) -> None:
        self._written.clear()

    def seen(self, key_id: str, now: float) -> None:
        """Note a use of ``key_id``; write it if this container has not within the interval."""
        if self._pending:
            self.flush(now)
        last = self._written.get(key_id)
        if last is not None and now - last < self.interval:
            return
        if last is None and len(self._written) >= self.max_entries:
            del self._written[next(iter(self._written))]  # the oldest: at worst one more write for it
        self._written.pop(key_id, None)  # re-inserted last: the dict stays in write order
        if self._defer:
            self._defer = False
            self._pending[key_id] = self._written[key_id] = now
            return
        self._write(key_id, now, now)

    def flush(self, now: float) -> None:
        """Write the uses noted and not written yet (a container's first, with ``defer_first``)."""
        pending, self._pending = self._pending, {}
        for key_id, at in pending.items():
            self._write(key_id, at, now)

    def _write(self, key_id: str, at: float, now: float) -> None:
        try:
            if self._store is None:
                self._store = self._store_factory()
            self.writes += 1
            self._store.mark_used(key_id, at)
        except Exception as error:  # noqa: BLE001 - a decision never fails for its bookkeeping
            self.failures += 1
            self._written[key_id] = now - self.interval + RETRY_SECONDS
            if self._on_failure is not None:
                self._on_failure(key_id, type(error).__name__)
            return
        self._written[key_id] = at


def report_failure(namespace: str) -> Callable[[str, str], None]:
    """A failed write as one warning line that is also a metric (ids and error names only)."""

    def report(key_id: str, error: str) -> None:
        from tokengate_core.deployment.functions import FUNCTIONS
        from tokengate_core.runtime.observability import emit_metric

        emit_metric(
            FUNCTIONS["authorizer"].service,
            METRIC_FAILED,
            1,
            {"key_id": key_id, "error": error},
            namespace=namespace,
            message="could not write a client's last use",
            level="WARNING",
        )

    return report
