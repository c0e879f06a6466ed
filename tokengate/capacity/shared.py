"""The capacity model of the digest index and change feed: what the authorizer's request path
costs when every container shares one cache of digests in DynamoDB instead of asking Secrets
Manager itself, what keeping that cache up to date costs apart from requests, and the two targets
it is held to. Pure functions of a :class:`~tokengate.capacity.model.Workload`.

The request path
----------------
- **Index reads.** A container looks a client up with one eventually consistent GetItem (half a
  read unit for an item up to 4 KB) and keeps it for the long TTL while it reads the feed, so the
  renewal formula of :mod:`.model` applies with ``K = clients x containers`` and ``T = ttl``. A
  cache smaller than the clients (``cache_max_entries``, LRU) misses at least the share of the
  clients it cannot hold.
- **Reads after a change.** A feed entry evicts the client in every container; the next lookup is
  a strongly consistent GetItem (a whole read unit): at most one per change per container.
- **Feed reads.** A serving container reads the feed at most once per ``FEED_INTERVAL``, at the
  first request after it: the renewal formula with one key per container. One Query, eventually
  consistent: half a read unit while the entries it returns fit in 4 KB (always, when nothing
  changed).
- **The keyring** stays a Secrets Manager read, once per ``keyring.REFRESH_SECONDS`` per container.

Each DynamoDB read adds ``lookup_ms`` to the billed duration of the decision that makes it.

Apart from requests
-------------------
Each change writes the index item (one conditional PutItem after a consistent read of its
version) and appends to the feed (an UpdateItem of the counter and a PutItem of the entry: every
entry lives in one partition, so the feed's partition limits bound the change rate and the number
of containers reading it). The reconciliation lists every secret (ListSecrets, 100 a page) each
run, reads the index item and the secret of each client that changed, and once a day scans the
index. Secrets at rest are priced apart: they are the same in both designs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokengate.capacity.model import (
    CONSISTENT_READ_UNITS,
    EVENTUAL_READ_UNITS,
    PARTITION_READ_UNITS_PER_S,
    PARTITION_WRITE_UNITS_PER_S,
    PRICES,
    READ_UNIT_BYTES,
    SECONDS_PER_MONTH,
    WRITE_UNIT_BYTES,
    Prices,
    Workload,
    authorizer_invocations,
    http_api_monthly,
    lambda_monthly,
    refetch_rate,
    secrets_at_rest,
    settle_containers,
    unknown_lookups,
)
from tokengate_core.lifecycle.reconcile import FULL_PASS_SECONDS, RECONCILE_INTERVAL_SECONDS
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS, FEED_INTERVAL_SECONDS, FEED_TTL_SECONDS
from tokengate_core.tokens.keyring import REFRESH_SECONDS as KEYRING_REFRESH_SECONDS

#: An eventually consistent read reflects a write made up to about a second before it
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
CONSISTENCY_LAG_SECONDS = 1.0
#: One feed entry as stored (key, sort key, key id, kind, time, TTL): what a Query reads of it.
FEED_ENTRY_BYTES = 120
#: Writes per change: the index item; the feed's counter and its entry.
INDEX_WRITES_PER_CHANGE = 1
FEED_WRITES_PER_CHANGE = 2
#: ListSecrets' page (MaxResults) as the store asks for it.
LIST_SECRETS_PAGE = 100
#: The targets: the request path's backend calls against API Gateway's own request price, and the
#: whole request path against the floor of any per-request Lambda authorizer.
BACKEND_SHARE_TARGET = 0.02
FLOOR_RATIO_TARGET = 1.1


def write_units(item_bytes: int) -> int:
    return max(1, math.ceil(item_bytes / WRITE_UNIT_BYTES))


def read_units(item_bytes: float, *, consistent: bool) -> float:
    """A read of ``item_bytes`` (one item, or a Query's items together), rounded up to 4 KB."""
    per_4kb = CONSISTENT_READ_UNITS if consistent else EVENTUAL_READ_UNITS
    return per_4kb * max(1, math.ceil(item_bytes / READ_UNIT_BYTES))


def changes_per_s(w: Workload) -> float:
    return (w.secrets if w.secrets is not None else w.clients) * w.changes_per_client_month / SECONDS_PER_MONTH


def index_reads(w: Workload, invocations: float, n_containers: int) -> float:
    """Eventually consistent GetItems per second: each client once per long TTL per container, at
    least the misses of a cache too small for the clients, and the unknown key ids'."""
    renewals = refetch_rate(invocations, w.clients * n_containers, w.ttl)
    too_small = invocations * max(0.0, 1 - w.cache_max_entries / w.clients)
    return max(renewals, too_small) + unknown_lookups(w, n_containers)


def consistent_reads(w: Workload, n_containers: int) -> float:
    """Strongly consistent GetItems per second: at most one per change per container."""
    return changes_per_s(w) * n_containers


def feed_reads(invocations: float, n_containers: int) -> float:
    """Feed Queries per second: per container, the first request after each interval reads it."""
    return n_containers * refetch_rate(invocations / n_containers, 1, FEED_INTERVAL_SECONDS)


def feed_read_units(w: Workload) -> float:
    """One feed Query: the entries appended in an interval, rounded up to 4 KB, halved."""
    return read_units(changes_per_s(w) * FEED_INTERVAL_SECONDS * FEED_ENTRY_BYTES, consistent=False)


def containers(w: Workload, invocations: float) -> int:
    def lookups(n: int) -> float:
        return index_reads(w, invocations, n) + consistent_reads(w, n) + feed_reads(invocations, n)

    return settle_containers(w, invocations, lookups, w.hit_ms + w.lookup_ms)


@dataclass(frozen=True)
class SharedCost:
    """The index and feed design at one workload: rates per second, dollars per month."""

    invocations_per_s: float
    containers: int
    index_reads_per_s: float
    consistent_reads_per_s: float
    feed_reads_per_s: float
    keyring_reads_per_s: float
    read_units_per_s: float  # the request path's, all together
    lambda_requests: float
    lambda_duration: float
    dynamodb_reads: float
    secrets_api: float  # the keyring
    floor: float  # a per-request Lambda authorizer: every request invoked, billed hit_ms
    http_api: float
    secrets: float  # at rest, as in 0.2
    changes_per_s: float
    change_writes: float  # index and feed writes, and the writers' version reads
    reconciliation: float
    storage: float  # index items and a day of feed entries
    feed_read_units_per_s: float  # on the feed's one partition
    feed_write_units_per_s: float
    max_feed_containers: float  # serving containers the feed's partition can serve
    max_changes_per_s: float  # changes per second its partition can take
    revocation_s: float
    revocation_feed_down_s: float
    revocation_outage_s: float

    @property
    def backend(self) -> float:
        """The request path's backend calls: DynamoDB reads and any Secrets Manager read."""
        return self.dynamodb_reads + self.secrets_api

    @property
    def request_path(self) -> float:
        return self.lambda_requests + self.lambda_duration + self.backend

    @property
    def backend_share(self) -> float:
        """Backend calls as a share of API Gateway's own request price (target: BACKEND_SHARE_TARGET)."""
        return self.backend / self.http_api if self.http_api else 0.0

    @property
    def floor_ratio(self) -> float:
        """The request path against the per-request authorizer's floor (target: FLOOR_RATIO_TARGET)."""
        return self.request_path / self.floor if self.floor else 0.0

    @property
    def apart(self) -> float:
        """What keeping the index and feed up to date costs, apart from requests."""
        return self.change_writes + self.reconciliation + self.storage

    @property
    def authorizer_total(self) -> float:
        return self.request_path + self.secrets + self.apart


def reconciliation_monthly(w: Workload, p: Prices) -> float:
    """ListSecrets pages every run; per change, its index item (consistent) and its secret; on the
    daily full pass, every client's index item (consistent) and a scan of the index items."""
    secrets = w.secrets if w.secrets is not None else w.clients
    pages = math.ceil(secrets / LIST_SECRETS_PAGE) * SECONDS_PER_MONTH / RECONCILE_INTERVAL_SECONDS
    changes = changes_per_s(w) * SECONDS_PER_MONTH
    full_passes = SECONDS_PER_MONTH / FULL_PASS_SECONDS
    full_units = secrets * CONSISTENT_READ_UNITS + read_units(w.clients * w.index_item_bytes, consistent=False)
    units = changes * CONSISTENT_READ_UNITS + full_passes * full_units
    return (pages + changes) * p.per_call + units * p.dynamodb_per_million_rru / 1e6


def revocation_bounds(w: Workload) -> tuple[float, float, float]:
    """Seconds until a revoked token is refused everywhere: the next feed read after the entry can
    be read; while the feed cannot be read, the fallback's delay and then its TTL; while DynamoDB
    fails altogether, an entry fetched within the last fallback TTL answering until it is
    ``max_stale`` old (stale-if-error counts from the entry's fetch, authorize.cache), as
    docs/architecture.md states it."""
    normal = FEED_INTERVAL_SECONDS + CONSISTENCY_LAG_SECONDS
    feed_down = FEED_FALLBACK_SECONDS + w.fallback_ttl
    outage = max(feed_down, w.fallback_ttl + w.max_stale)
    return w.api_cache_ttl + normal, w.api_cache_ttl + feed_down, w.api_cache_ttl + outage


def shared_cost(w: Workload, p: Prices = PRICES) -> SharedCost:
    inv = authorizer_invocations(w)
    n = containers(w, inv)
    index, consistent, feed = index_reads(w, inv, n), consistent_reads(w, n), feed_reads(inv, n)
    keyring = n / KEYRING_REFRESH_SECONDS
    per_feed_read = feed_read_units(w)
    units = (
        index * read_units(w.index_item_bytes, consistent=False)
        + consistent * read_units(w.index_item_bytes, consistent=True)
        + feed * per_feed_read
    )
    billed = (inv * w.hit_ms + (index + consistent + feed) * w.lookup_ms) / 1000
    requests, duration = lambda_monthly(w, inv, billed, p)
    floor_requests, floor_duration = lambda_monthly(w, w.rps, w.rps * w.hit_ms / 1000, p)
    changes = changes_per_s(w)
    write_units_per_change = write_units(w.index_item_bytes) * INDEX_WRITES_PER_CHANGE + FEED_WRITES_PER_CHANGE
    change_writes = (
        changes
        * SECONDS_PER_MONTH
        * (write_units_per_change * p.dynamodb_per_million_wru + CONSISTENT_READ_UNITS * p.dynamodb_per_million_rru)
        / 1e6
    )
    stored_bytes = w.clients * w.index_item_bytes + changes * FEED_TTL_SECONDS * FEED_ENTRY_BYTES
    revocation, feed_down, outage = revocation_bounds(w)
    return SharedCost(
        invocations_per_s=inv,
        containers=n,
        index_reads_per_s=index,
        consistent_reads_per_s=consistent,
        feed_reads_per_s=feed,
        keyring_reads_per_s=keyring,
        read_units_per_s=units,
        lambda_requests=requests,
        lambda_duration=duration,
        dynamodb_reads=units * SECONDS_PER_MONTH * p.dynamodb_per_million_rru / 1e6,
        secrets_api=keyring * SECONDS_PER_MONTH * p.per_call,
        floor=floor_requests + floor_duration,
        http_api=http_api_monthly(w.rps * SECONDS_PER_MONTH, p),
        secrets=secrets_at_rest(w, p),
        changes_per_s=changes,
        change_writes=change_writes,
        reconciliation=reconciliation_monthly(w, p),
        storage=stored_bytes / 1e9 * p.dynamodb_gb_month,
        feed_read_units_per_s=feed * per_feed_read,
        feed_write_units_per_s=changes * FEED_WRITES_PER_CHANGE,
        max_feed_containers=PARTITION_READ_UNITS_PER_S / per_feed_read * FEED_INTERVAL_SECONDS,
        max_changes_per_s=PARTITION_WRITE_UNITS_PER_S / FEED_WRITES_PER_CHANGE,
        revocation_s=revocation,
        revocation_feed_down_s=feed_down,
        revocation_outage_s=outage,
    )
