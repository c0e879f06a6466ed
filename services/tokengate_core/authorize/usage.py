"""Usage control at the authorizer: per-client rate limits, quotas and IP allowlists, with counters
shared through DynamoDB and no DynamoDB call per request.

**Leases.** A container does not ask DynamoDB about each request. It takes a *lease*: a handful of
allowances from the shared counter in one conditional UpdateItem, and spends them locally. The
lease size follows the container's own recent demand (about :data:`LEASE_WINDOW` seconds of it,
at most the burst), so a container serving 100 requests a second makes about one call a second,
and one serving a request a minute makes one call per request. Allowances unused after
:data:`LEASE_TTL` seconds are dropped, never carried into a later window. The window is a second:
a shorter one makes every client slower than one request a second per container pay a write per
request (docs/scaling.md prices it), and no window costs accuracy, since leases come out of the
bucket and a refused container waits less than the bucket takes to fill.

**Rate limits** are token buckets kept as GCRA (generic cell rate algorithm) state: one number, the
bucket's *theoretical arrival time*, per client and shard. Taking ``n`` allowances is one
UpdateItem whose condition refuses to go past the burst. A client faster than
:data:`SHARD_RATE` requests a second is split into shards (each container starts on one chosen at
random and moves to the next whenever its shard runs short), so no DynamoDB item takes more than a
few hundred writes a second. A container that was refused, or granted less than it asked for,
waits about a lease window before it asks again: the bucket keeps what accrues meanwhile, so the
wait costs no accuracy, and it keeps a contended bucket from costing a write per request.

**Quotas** are a counter per client and calendar period (UTC day or month), incremented by each
lease under the condition that it stays within the limit: a quota is never exceeded. A quota
lease lasts until the period ends; what a container leased and never used (it stopped, or saw no
more requests) is lost, so at most ``containers x lease`` allowances go unused in a period.

**Bounds.** At any moment, at most ``containers x lease`` allowances are out on lease, so over
any window of ``t`` seconds a client is allowed at most ``rate x t + burst + containers x lease``
(rate leases last :data:`LEASE_TTL`).

**Failures.** DynamoDB errors and timeouts never raise: a rate limit fails open, a quota fails
closed (both configurable), the key backs off for one negative TTL (no call per request while
DynamoDB fails), and the decision says so (logged and counted).

**Usage counts** (allowed and denied by reason, per hour) are added up in each container and
flushed every :data:`FLUSH_SECONDS` per client in one UpdateItem, into one of
:data:`USAGE_SHARDS` items per hour so that a hot client's flushes spread over several items.
When Lambda ends a container normally it sends SIGTERM first (tokengate_core.runtime.shutdown),
and :meth:`UsageGate.drain` writes what the container holds then, all clients at once within the
shutdown budget: no count is lost. A container that ends otherwise (a timeout, a crash, a
function deployed without the shutdown extension) loses its counts of the last
:data:`FLUSH_SECONDS` at most, per client it served.

Clients without a policy never get here (their one DynamoDB call is their last use, once an hour
per container: tokengate_core.authorize.last_used). The DynamoDB calls
themselves are :mod:`tokengate_core.authorize.usage_table`'s; this module decides when to make them.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tokengate_core.authorize.cache import UsagePolicy
from tokengate_core.errors import IP_NOT_ALLOWED, QUOTA_EXHAUSTED, RATE_LIMITED

if TYPE_CHECKING:
    from tokengate_core.authorize.quota_alerts import QuotaAlerts

LEASE_WINDOW = 1.0
LEASE_TTL = 2.0
FLUSH_SECONDS = 10.0
SHARD_RATE = 500.0
USAGE_SHARDS = 8
#: How long usage counters are kept (DynamoDB's TTL removes them afterwards).
USAGE_RETENTION_DAYS = 400


class UsageUnavailable(Exception):
    """DynamoDB failed, throttled or timed out: the caller applies its fail-open/closed rule."""


@dataclass(frozen=True, slots=True)
class RateBucket:
    """One shard of one client's token bucket."""

    key_id: str
    shard: int
    per_second: float
    burst: int


class UsageBackend(Protocol):
    def take_rate(self, bucket: RateBucket, n: int, now: float) -> tuple[int, float]:
        """Take up to ``n`` allowances: (granted, when the next one is due if none was)."""
        ...

    def take_quota(self, key_id: str, period: str, n: int, limit: int, expires: int) -> tuple[int, int]:
        """Take up to ``n`` of what is left of the period's quota: (how many were granted, the
        period's counter after the grant or as the refusal found it)."""
        ...

    def add_counts(self, key_id: str, bucket: str, counts: dict[str, int], expires: int) -> None: ...


def shard_count(per_second: float) -> int:
    return max(1, math.ceil(per_second / SHARD_RATE))


def period_of(period: str, now: float) -> tuple[str, float]:
    """The calendar period (UTC) containing ``now``: its id and when it ends."""
    day = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = day.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start.timestamp() + 86400
        return start.strftime("%Y-%m-%d"), end
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    )
    return start.strftime("%Y-%m"), following.timestamp()


def hour_bucket(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H")


@dataclass
class _Lease:
    granted: int = 0  # allowances left
    expires: float = 0.0
    size: int = 1  # the next lease's size
    taken_at: float = 0.0
    taken: int = 0  # the size of the last lease taken
    retry_at: float = 0.0  # none left in DynamoDB before then
    failed_until: float = 0.0  # DynamoDB failed: back off until then
    shard: int | None = None  # the shard of a sharded bucket this container takes from next
    short: int = 0  # shards in a row that could not grant a whole lease

    def available(self, now: float) -> bool:
        return self.granted > 0 and now < self.expires

    def next_size(self, now: float, cap: int) -> int:
        """About LEASE_WINDOW seconds of the demand seen since the last lease."""
        if self.taken and now > self.taken_at:
            rate = (self.taken - self.granted) / (now - self.taken_at)
            self.size = math.ceil(rate * LEASE_WINDOW)
        return max(1, min(self.size, cap))

    def grant(self, n: int, now: float, expires: float) -> None:
        """``n`` allowances leased, one of them spent on the request that asked."""
        self.granted, self.taken, self.taken_at, self.expires = n - 1, n, now, expires


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: str | None  # None: allowed
    retry_after: float = 0.0
    degraded: bool = False  # DynamoDB failed and the fail-open/closed rule decided


@dataclass
class UsageGate:
    """One container's leases and counts. A Lambda container serves one request at a time."""

    backend_factory: Callable[[], UsageBackend]
    fail_open_rate: bool = True
    fail_open_quota: bool = False
    backoff_seconds: float = 10.0
    max_entries: int = 100_000
    #: Client Quota Threshold events (tokengate_core.authorize.quota_alerts); None: not told.
    alerts: QuotaAlerts | None = None
    _backend: UsageBackend | None = None
    _rate: dict[str, _Lease] = field(default_factory=dict)
    _quota: dict[tuple[str, str], _Lease] = field(default_factory=dict)
    _counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    _flushed: dict[str, float] = field(default_factory=dict)
    _shard_seed: float = field(default_factory=random.random)
    _jitter: random.Random = field(default_factory=random.Random)
    _hour: tuple[str, float] = ("", float("-inf"))

    @property
    def backend(self) -> UsageBackend:
        if self._backend is None:
            self._backend = self.backend_factory()
        return self._backend

    def reset(self) -> None:
        self._rate.clear()
        self._quota.clear()
        self._counts.clear()
        self._flushed.clear()

    # -- admission ---------------------------------------------------------------------------

    def admit(self, key_id: str, policy: UsagePolicy, source_ip: str | None, now: float) -> Verdict:
        if policy.networks is not None and not _allowed_from(source_ip, policy):
            return Verdict(IP_NOT_ALLOWED)
        verdict = Verdict(None)
        if policy.rate is not None:
            verdict = self._take_rate(key_id, policy.rate, now)
            if verdict.reason is not None:
                return verdict
        if policy.quota is not None:
            quota = self._take_quota(key_id, policy.quota, now, policy.thresholds)
            return Verdict(quota.reason, quota.retry_after, quota.degraded or verdict.degraded)
        return verdict

    def _take_rate(self, key_id: str, rate: tuple[float, int], now: float) -> Verdict:
        lease = self._rate.get(key_id)
        if lease is None:
            lease = self._rate[key_id] = _Lease()
            self._bound(self._rate)
        if lease.available(now):
            lease.granted -= 1
            return Verdict(None)
        if now < lease.failed_until:
            return Verdict(None if self.fail_open_rate else RATE_LIMITED, degraded=True)
        if now < lease.retry_at:
            return Verdict(RATE_LIMITED, retry_after=lease.retry_at - now)
        per_second, burst = rate
        shards = shard_count(per_second)
        if lease.shard is None or lease.shard >= shards:
            lease.shard = int(self._shard_seed * shards)
        bucket = RateBucket(key_id, lease.shard, per_second / shards, max(1, burst // shards))
        n = lease.next_size(now, bucket.burst)
        try:
            granted, retry_at = self.backend.take_rate(bucket, n, now)
        except UsageUnavailable:
            lease.failed_until = now + self.backoff_seconds
            return Verdict(None if self.fail_open_rate else RATE_LIMITED, degraded=True)
        if granted < n:
            # This shard ran short. A shard refills at its share of the rate whether or not a
            # container draws on it, so the next attempt goes to the next shard: however few the
            # containers, every shard is drained and the client gets its whole rate.
            lease.shard = (bucket.shard + 1) % shards
            lease.short += 1
            if lease.short < shards:
                retry_at = 0.0  # another shard may have plenty: ask it at the next request
            else:
                # Every shard ran short: the bucket is contended (other containers take what frees
                # up) or empty. Asking at each request would cost a conditional write for an
                # allowance or two; wait about a lease window (jittered, so that containers do not
                # come back together) and take what accrued in one lease. The bucket keeps it, if
                # the wait is shorter than the bucket takes to fill: at most half of that.
                lease.short = 0
                fill_seconds = bucket.burst / bucket.per_second
                wait = min(LEASE_WINDOW, fill_seconds / 2) * (0.5 + self._jitter.random())
                retry_at = max(retry_at, now + wait)
        else:
            lease.short = 0
        if granted == 0:
            lease.granted, lease.retry_at = 0, retry_at
            return Verdict(RATE_LIMITED, retry_after=max(0.0, retry_at - now))
        lease.grant(granted, now, now + LEASE_TTL)
        lease.retry_at = retry_at
        return Verdict(None)

    def _take_quota(self, key_id: str, quota: tuple[int, str], now: float, thresholds: tuple[int, ...]) -> Verdict:
        limit, period = quota
        period_id, ends = period_of(period, now)
        lease = self._quota.get((key_id, period_id))
        if lease is None:
            lease = self._quota[(key_id, period_id)] = _Lease()
            self._bound(self._quota)
        if lease.available(now):
            lease.granted -= 1
            return Verdict(None)
        if now < lease.failed_until:
            return Verdict(None if self.fail_open_quota else QUOTA_EXHAUSTED, degraded=True)
        if now < lease.retry_at:
            return Verdict(QUOTA_EXHAUSTED, retry_after=lease.retry_at - now)
        n = lease.next_size(now, limit)
        expires = int(ends) + 35 * 86400
        try:
            granted, used = self.backend.take_quota(key_id, period_id, n, limit, expires)
        except UsageUnavailable:
            lease.failed_until = now + self.backoff_seconds
            return Verdict(None if self.fail_open_quota else QUOTA_EXHAUSTED, degraded=True)
        if self.alerts is not None and thresholds:
            from tokengate_core.authorize.quota_alerts import Crossing

            self.alerts.observe(Crossing(key_id, period_id, 0, used, limit, expires), thresholds)
        if granted == 0:
            lease.granted, lease.retry_at = 0, ends
            return Verdict(QUOTA_EXHAUSTED, retry_after=ends - now)
        # A quota is per period, not per second: what is leased stays usable until the period ends.
        lease.grant(granted, now, ends)
        return Verdict(None)

    def _bound(self, table: dict[Any, Any]) -> None:
        if len(table) > self.max_entries:
            del table[next(iter(table))]

    # -- usage counts ------------------------------------------------------------------------

    def count(self, key_id: str, outcome: str, now: float) -> None:
        """Add one decision to the client's hourly counts; flush them when they are due."""
        if not self._hour[1] <= now < self._hour[1] + 3600:
            start = now - now % 3600
            self._hour = (hour_bucket(start), start)  # formatted once an hour, not per request
        bucket = self._hour[0]
        counts = self._counts.get((key_id, bucket))
        if counts is None:
            counts = self._counts[(key_id, bucket)] = Counter()
            self._flushed.setdefault(key_id, now)
            self._bound(self._counts)
        counts[outcome] += 1
        if now - self._flushed.get(key_id, now) >= FLUSH_SECONDS:
            self.flush(key_id, now)

    def flush(self, key_id: str | None, now: float) -> None:
        """Write the counts of ``key_id`` (every client's if None); kept for the next flush if
        DynamoDB fails, so a failure loses nothing while the container lives."""
        try:
            for key in [k for k in self._counts if key_id is None or k[0] == key_id]:
                if not self.flush_one(key, now):
                    return
        finally:
            if self.alerts is not None:
                self.alerts.flush()

    def drain(self, now: float, budget: float, workers: int = 8) -> int:
        """Write every client's counts at once (``workers`` calls in flight), giving up after
        ``budget`` seconds: how many counts were not written. What Lambda's SIGTERM runs."""
        from concurrent.futures import Future, ThreadPoolExecutor, wait

        keys = list(self._counts)
        alerts = self.alerts is not None and bool(self.alerts.pending)
        if not keys and not alerts:
            return 0
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys) + alerts)), thread_name_prefix="drain")
        futures: list[Future[Any]] = [pool.submit(self.flush_one, key, now) for key in keys]
        if alerts and self.alerts is not None:
            futures.append(pool.submit(self.alerts.flush))
        wait(futures, timeout=budget)
        pool.shutdown(wait=False, cancel_futures=True)
        return sum(sum(c.values()) for c in list(self._counts.values()))

    def flush_one(self, key: tuple[str, str], now: float) -> bool:
        """Write one client's counts of one hour; False (the counts kept) if DynamoDB failed."""
        counts = self._counts.get(key)
        if counts is None:
            return True
        bucket = f"{key[1]}#{int(self._shard_seed * USAGE_SHARDS)}"
        try:
            self.backend.add_counts(key[0], bucket, dict(counts), int(now) + USAGE_RETENTION_DAYS * 86400)
        except UsageUnavailable:
            self._flushed[key[0]] = now
            return False
        self._counts.pop(key, None)
        self._flushed[key[0]] = now
        return True


def _allowed_from(source_ip: str | None, policy: UsagePolicy) -> bool:
    import ipaddress

    if not source_ip or policy.networks is None:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(address in network for network in policy.networks)
