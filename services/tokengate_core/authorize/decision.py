"""The authorizer's decision: parse, look up (cached), compare in constant time, check state and scope.

Every outcome is a :class:`Reason`; nothing here raises for any input. The handler only adapts
the Lambda event and the response shape.

Clients are looked up in the digest index (tokengate_core.records.index: one eventually consistent
GetItem, consistent for a client the change feed just named), never in Secrets Manager; only the
keyring is a secret. While serving, a container reads the change feed (tokengate_core.records.feed)
at most once per FEED_INTERVAL_SECONDS, before a lookup, and evicts what changed: cached clients
then live the long ``cache_ttl_seconds``. After FEED_FALLBACK_SECONDS without a successful feed
read they live ``fallback_ttl_seconds`` (with stale-if-error), as before the feed existed.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from tokengate_core import errors
from tokengate_core.authorize.cache import CachedClient, ClientCache, Entry
from tokengate_core.authorize.outcome import Decision, Reason
from tokengate_core.authorize.settings import AuthorizerSettings
from tokengate_core.deployment.authorizer_facts import DELIVERY_ROUTE_KEY
from tokengate_core.errors import TokengateError
from tokengate_core.records import feed
from tokengate_core.records.index import ClientIndex
from tokengate_core.records.secret_reader import SecretsReader
from tokengate_core.records.view import TOKEN_STATUS_KEY, cache_entry
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring
from tokengate_core.tokens.keyring import KeyRing, KeyRingError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tokengate_core.authorize.last_used import LastUsed, LastUsedStore
    from tokengate_core.authorize.usage import UsageBackend, UsageGate
    from tokengate_core.authorize.usage_table import DynamoUsage

__all__ = ["TOKEN_STATUS_KEY", "Decision", "Reason", "TokenAuthorizer"]

Clock = Callable[[], float]


def _usage_backend(settings: AuthorizerSettings) -> DynamoUsage:
    from tokengate_core.runtime.aws import make_usage_backend  # built on the first limited client's request

    return make_usage_backend(settings)


def _index_client(settings: AuthorizerSettings) -> DynamoDBClient:
    from tokengate_core.runtime.aws import index_client  # built on the first lookup

    return index_client(settings)


class TokenAuthorizer:
    def __init__(
        self,
        settings: AuthorizerSettings,
        store_factory: Callable[[], SecretsReader],
        clock: Clock = time.time,
        usage_factory: Callable[[], UsageBackend] | None = None,
        *,
        dynamodb_factory: Callable[[], DynamoDBClient] | None = None,
        last_used_factory: Callable[[], LastUsedStore] | None = None,
        defer_first_use: bool = False,
    ) -> None:
        self._settings = settings
        self._store_factory = store_factory
        self._store: SecretsReader | None = None
        self._dynamodb_factory = dynamodb_factory or (lambda: _index_client(settings))
        self._index: tuple[ClientIndex, feed.FeedReader] | None = None
        self._clock = clock
        self._format = tokens.token_format(settings.token_prefix)
        self.cache = ClientCache(
            ttl=settings.fallback_ttl_seconds,  # until the feed has been read
            negative_ttl=settings.negative_cache_ttl_seconds,
            max_stale=settings.max_stale_seconds,
            max_entries=settings.cache_max_entries,
        )
        # (key id, digest) -> when a minted token last failed to match: each such token buys at
        # most one read per negative TTL, and a made-up token never gets this far.
        self._mismatched: dict[tuple[str, bytes], float] = {}
        self._backoff_until: dict[str, float] = {}
        self._ring: KeyRing | None = None
        self._ring_loaded_at = float("-inf")
        self._ring_retry_at = float("-inf")
        table = functools.cache(lambda: _usage_backend(settings))  # one DynamoDB client for both
        self._usage_factory = usage_factory or table
        self._usage: UsageGate | None = None
        self._feed_due = float("-inf")
        self._feed_read_at = float("-inf")
        self._last_used_factory = last_used_factory or table
        self._last_used: LastUsed | None = None
        self._defer_first_use = defer_first_use  # the handler's choice: see authorize.last_used

    def reset(self) -> None:
        """Forget everything this container learned, as a fresh container would start."""
        self.cache.clear()
        if self._usage is not None:
            self._usage.reset()
        if self._last_used is not None:
            self._last_used.reset()
        self._mismatched.clear()
        self._backoff_until.clear()
        self._ring, self._ring_loaded_at, self._ring_retry_at = None, float("-inf"), float("-inf")
        self._index, self._feed_due, self._feed_read_at = None, float("-inf"), float("-inf")
        self.cache.ttl = self._settings.fallback_ttl_seconds

    @property
    def usage(self) -> UsageGate:
        """Built for the first client with a usage policy: the others never load its module."""
        if self._usage is None:
            from tokengate_core.authorize import quota_alerts
            from tokengate_core.authorize.usage import UsageGate

            settings = self._settings
            claims = lambda: cast("quota_alerts.ThresholdClaims", self.usage.backend)  # noqa: E731 - DynamoUsage's
            self._usage = UsageGate(
                self._usage_factory,
                fail_open_rate=settings.rate_limit_fail_open,
                fail_open_quota=settings.quota_fail_open,
                backoff_seconds=settings.negative_cache_ttl_seconds,
                max_entries=settings.cache_max_entries,
                alerts=quota_alerts.for_authorizer(settings, claims, self._names),
            )
        return self._usage

    def _names(self, key_id: str) -> tuple[str, str] | None:
        """(tenant, client name) of a client this container has seen, for its events."""
        entry = self.cache.peek(key_id)
        return (entry.client.tenant, entry.client.client_name) if entry and entry.client else None

    def drain(self, budget: float) -> int:
        """Lambda is ending this container (SIGTERM): write what it holds, the usage counts within
        ``budget`` seconds, then a last use not written yet; how many usage counts could not be written."""
        lost = 0 if self._usage is None else self._usage.drain(self._clock(), budget)
        if self._last_used is not None:
            self._last_used.flush(self._clock())
        return lost

    @property
    def last_used(self) -> LastUsed:
        """Built at the first known client's request (tokengate_core.authorize.last_used)."""
        if self._last_used is None:
            from tokengate_core.authorize.last_used import LastUsed, report_failure

            self._last_used = LastUsed(
                self._last_used_factory,
                max_entries=self._settings.cache_max_entries,
                on_failure=report_failure(self._settings.metrics_namespace),
                defer_first=self._defer_first_use,
            )
        return self._last_used

    @property
    def index(self) -> tuple[ClientIndex, feed.FeedReader]:
        """Built on the first lookup: a container that only sees garbage never builds a client."""
        if self._index is None:
            client = self._dynamodb_factory()
            table = self._settings.table_name
            self._index = (ClientIndex(client, table), feed.FeedReader(client, table))
        return self._index

    @property
    def store(self) -> SecretsReader:
        # Created on the first cache miss: a container that only sees garbage never builds a client.
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def decide(
        self,
        authorization: str | None,
        method: str,
        route_key: str,
        raw_path: str = "/",
        source_ip: str | None = None,
    ) -> Decision:
        presented = tokens.from_authorization_header(authorization)
        if presented is None:
            return Decision(Reason.MISSING)
        if not self._format.owns(presented):
            return self._decide_imported(presented, method, route_key, raw_path, source_ip)
        try:
            parsed = self._format.parse(presented)
        except tokens.TokenFormatError as error:
            return Decision(Reason.BAD_CHECKSUM if error.reason == "bad_checksum" else Reason.MALFORMED)

        now = self._clock()
        ring = self._keyring(now)
        if ring is None:
            return Decision(Reason.BACKEND_UNAVAILABLE, key_id=parsed.key_id, cache="keyring")
        legacy = False
        if not ring.verify(parsed):
            if not ring.is_legacy(parsed.key_id):
                return Decision(Reason.FORGED)
            legacy = True
        return self._decide_client(
            parsed.key_id,
            parsed.digest,
            now,
            method=method,
            route_key=route_key,
            raw_path=raw_path,
            source_ip=source_ip,
            legacy=legacy,
        )

    def _decide_imported(
        self, presented: str, method: str, route_key: str, raw_path: str, source_ip: str | None
    ) -> Decision:
        """A value without our prefix: an imported token (its digest is in the keyring's map), or
        nothing of ours. A value that cannot be an imported token never gets as far as the keyring,
        and one that is not in the map costs no read either."""
        other = Reason.FOREIGN_PREFIX if tokens.looks_like_token(presented) else Reason.MALFORMED
        if not tokens.may_be_imported(presented):
            return Decision(other)
        now = self._clock()
        ring = self._keyring(now)
        if ring is None:
            return Decision(Reason.BACKEND_UNAVAILABLE, cache="keyring")
        digest = tokens.digest(presented)
        key_id = ring.imported_key_id(digest)
        if key_id is None:
            return Decision(other)
        return self._decide_client(
            key_id,
            digest,
            now,
            method=method,
            route_key=route_key,
            raw_path=raw_path,
            source_ip=source_ip,
            imported=True,
        )

    def _decide_client(
        self,
        key_id: str,
        digest: bytes,
        now: float,
        *,
        method: str,
        route_key: str,
        raw_path: str,
        source_ip: str | None,
        legacy: bool = False,
        imported: bool = False,
    ) -> Decision:
        """The client's record decides: for a token of ours that one of our keys tagged (or a
        legacy one), or for an imported token the keyring maps to this client."""
        if now >= self._feed_due:
            self._follow_feed(now)
        entry, cache = self._lookup(key_id, now)
        if entry is None:
            return Decision(Reason.BACKEND_UNAVAILABLE, key_id=key_id, cache=cache, imported=imported)
        if entry.client is None:
            return self._negative(entry, key_id, cache, imported)

        client = entry.client
        if cache == "hit" and not client.accepts(digest, now) and self._may_refetch(key_id, digest, entry, legacy, now):
            # A rotation may have happened since this entry was cached: look again.
            refreshed, _ = self._fetch(key_id, now)
            if refreshed is not None:
                cache = "refresh"
                if refreshed.client is None:
                    return self._negative(refreshed, key_id, cache, imported)
                client = refreshed.client
        decision = self._judge(
            client,
            digest,
            imported=imported,
            method=method,
            route_key=route_key,
            raw_path=raw_path,
            source_ip=source_ip,
            now=now,
            cache=cache,
        )
        if decision.reason is not Reason.WRONG_SECRET:
            self.last_used.seen(client.key_id, now)
        if client.policy is not None:
            from tokengate_core.authorize.limited import limited  # only clients with a policy need it

            # A request let through only to be told it is over a limit counts as limited, not allowed.
            told = limited(decision.context or {})
            self.usage.count(client.key_id, told.reason if told else decision.reason.value, now)
        return decision

    def _judge(
        self,
        client: CachedClient,
        digest: bytes,
        *,
        imported: bool,
        method: str,
        route_key: str,
        raw_path: str,
        source_ip: str | None,
        now: float,
        cache: str,
    ) -> Decision:
        """The decision for a known client: its token, state, scope, then its usage policy."""

        def deny(reason: Reason, degraded: bool = False) -> Decision:
            return Decision(
                reason, key_id=client.key_id, tenant=client.tenant, cache=cache, degraded=degraded, imported=imported
            )

        if not client.accepts(digest, now):
            self._note_mismatch(client.key_id, digest, now)
            return deny(Reason.WRONG_SECRET)
        grace = not hmac.compare_digest(digest, client.current_digest) and not client.is_pending(digest)
        if not client.enabled:
            return deny(Reason.DISABLED)
        if client.expires_at is not None and now >= client.expires_at:
            return deny(Reason.EXPIRED)
        if not self._in_scope(client, method, route_key, raw_path):
            return deny(Reason.OUT_OF_SCOPE)
        context = client.grace_context if grace and client.grace_context else client.context
        degraded = False
        if client.policy is not None:
            verdict = self.usage.admit(client.key_id, client.policy, source_ip, now)
            degraded = verdict.degraded
            if verdict.reason is not None:
                if verdict.reason == errors.IP_NOT_ALLOWED or client.policy.on_limit != "tell_integration":
                    return deny(Reason(verdict.reason), degraded)
                # The integration answers 429 with Retry-After: it is told why and when.
                from tokengate_core.authorize.limited import limited_context

                context = limited_context(context, verdict.reason, verdict.retry_after)
        return Decision(
            Reason.ALLOWED,
            key_id=client.key_id,
            tenant=client.tenant,
            context=context,
            cache=cache,
            grace=grace,
            degraded=degraded,
            imported=imported,
        )

    def _keyring(self, now: float) -> KeyRing | None:
        """The deployment's keyring, reloaded every ``keyring.REFRESH_SECONDS``. While it cannot be
        read, the last one serves for up to ``max_stale`` more seconds, and a read is tried at most
        once per negative TTL, so a missing or failing keyring never costs a read per request."""
        ring = self._ring
        age = now - self._ring_loaded_at
        if ring is not None and age < keyring.REFRESH_SECONDS:
            return ring
        if now >= self._ring_retry_at:
            try:
                text, _ = self.store.read_named(keyring.secret_name(self.store.prefix))
                self._ring, self._ring_loaded_at = keyring.parse(text), now
                return self._ring
            except (TokengateError, KeyRingError):
                self._ring_retry_at = now + self.cache.negative_ttl
        return ring if ring is not None and age < keyring.REFRESH_SECONDS + self.cache.max_stale else None

    def _may_refetch(self, key_id: str, digest: bytes, entry: Entry, legacy: bool, now: float) -> bool:
        """A minted token that does not match may be a fresh rotation: one read per token per
        negative TTL. A legacy id's tokens carry no tag, so anyone can make new ones: those get one
        read per key id per negative TTL, counted from the entry's last fetch."""
        if legacy:
            return now - entry.fetched_at >= self.cache.negative_ttl
        last = self._mismatched.get((key_id, digest))
        return last is None or now - last >= self.cache.negative_ttl

    def _note_mismatch(self, key_id: str, digest: bytes, now: float) -> None:
        if len(self._mismatched) >= self.cache.max_entries:
            self._mismatched.clear()
        self._mismatched[(key_id, digest)] = now

    @staticmethod
    def _negative(entry: Entry, key_id: str, cache: str, imported: bool) -> Decision:
        reason = {"revoked": Reason.REVOKED, "corrupt": Reason.CORRUPT_RECORD}.get(entry.state, Reason.UNKNOWN_KEY_ID)
        return Decision(reason, key_id=key_id, cache=cache, imported=imported)

    def _lookup(self, key_id: str, now: float) -> tuple[Entry | None, str]:
        entry = self.cache.fresh(key_id, now)
        if entry is not None:
            return entry, "hit"
        if now < self._backoff_until.get(key_id, 0.0):
            stale = self.cache.stale(key_id, now)
            return stale, ("stale" if stale else "backoff")
        self._backoff_until.pop(key_id, None)
        return self._fetch(key_id, now)

    def _fetch(self, key_id: str, now: float) -> tuple[Entry | None, str]:
        try:
            item = self.index[0].get_item(key_id, consistent=self.cache.changed_lately(key_id, now))
        except Exception:  # noqa: BLE001 - throttled, 5xx, timed out, or anything else: the backend failed
            # Back off for one negative TTL: while the backend fails, a client past its TTL costs
            # one call per interval (per container), not one per request.
            if len(self._backoff_until) >= self.cache.max_entries:
                self._backoff_until.clear()
            self._backoff_until[key_id] = now + self.cache.negative_ttl
            stale = self.cache.stale(key_id, now)
            return stale, ("stale" if stale else "miss")
        entry = cache_entry(item, key_id, now)
        self.cache.put(key_id, entry)
        return entry, "miss"

    def _follow_feed(self, now: float) -> None:
        """Read the change feed (one Query), evict what changed and read again what this container
        held of it; then pick the cache's TTL by whether the feed has been read within
        FEED_FALLBACK_SECONDS. Never raises."""
        self._feed_due = now + feed.FEED_INTERVAL_SECONDS
        try:
            changes = self.index[1].read(now)
        except Exception:  # noqa: BLE001 - an unreadable feed only shortens the TTL, below
            changes = None
        if changes is not None:
            self._feed_read_at = now
            named = () if changes.resync else changes.changed
            held = {k: entry.client for k in named if (entry := self.cache.peek(k)) is not None}
            self.cache.forget(changes.changed, now, everything=changes.resync)
            if held:
                self._refresh(held, now)
        healthy = now - self._feed_read_at < feed.FEED_FALLBACK_SECONDS
        self.cache.ttl = self._settings.cache_ttl_seconds if healthy else self._settings.fallback_ttl_seconds

    def _refresh(self, held: dict[str, CachedClient | None], now: float) -> None:
        """Read again, in one consistent BatchGetItem, the cached clients the feed just named: the
        change holds from this feed read on, not from each one's next lookup (a GetItem each), and
        a token it retired is denied without the read a mismatch earns. What the read does not
        bring back (a failure, unprocessed keys) stays evicted: its next lookup reads it."""
        try:
            items = self.index[0].get_items(list(held), consistent=True)
        except Exception:  # noqa: BLE001 - an evicted client is read at its next lookup
            return
        for key_id, item in items.items():
            entry = cache_entry(item, key_id, now)
            self.cache.put(key_id, entry)
            before = held[key_id]
            for digest in before.retired_by(entry.client, now) if before is not None else ():
                self._note_mismatch(key_id, digest, now)

    def _in_scope(self, client: CachedClient, method: str, route_key: str, raw_path: str) -> bool:
        if route_key == DELIVERY_ROUTE_KEY:
            # Fetching one's own rotated token is a delivery path, not an API scope.
            return client.token_fetch
        _, _, route_path = route_key.partition(" ")
        request_key = f"{method.upper()} {route_path or raw_path}"
        return any(p.match(request_key) or p.match(route_key) for p in client.patterns)
