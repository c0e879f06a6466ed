"""The authorizer's decision: parse, look up (cached), compare in constant time, check state and scope.

Every outcome is a :class:`Reason`; nothing here raises for any input. The handler only adapts
the Lambda event and the response shape.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tokengate_core import tokens
from tokengate_core.cache import CachedClient, ClientCache, Entry
from tokengate_core.config import AuthorizerSettings
from tokengate_core.errors import NotFoundError, RevokedError, TokengateError, UnavailableError
from tokengate_core.models import ClientRecord, scope_regex
from tokengate_core.store import SecretsStore

Clock = Callable[[], float]


class Reason(StrEnum):
    ALLOWED = "allowed"
    MISSING = "missing_token"
    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"
    UNKNOWN_KEY_ID = "unknown_key_id"
    WRONG_SECRET = "wrong_secret"
    DISABLED = "disabled"
    REVOKED = "revoked"
    EXPIRED = "expired"
    OUT_OF_SCOPE = "out_of_scope"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    INVALID_EVENT = "invalid_event"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason
    key_id: str | None = None
    tenant: str | None = None
    context: dict[str, str] | None = None
    cache: str = "none"  # none | hit | miss | stale | refresh
    grace: bool = False  # allowed with the previous token inside its grace window

    @property
    def allowed(self) -> bool:
        return self.reason is Reason.ALLOWED


def to_cached(record: ClientRecord) -> CachedClient:
    """Reduce a record to what a decision needs: digests, never the plaintext token."""
    previous = record.previous
    return CachedClient(
        key_id=record.key_id,
        tenant=record.tenant,
        client_name=record.client_name,
        scopes=tuple(record.scopes),
        current_digest=tokens.digest(record.token.get_secret_value()),
        previous_digest=bytes.fromhex(previous.sha256) if previous else None,
        previous_valid_until=previous.valid_until.timestamp() if previous else None,
        enabled=record.enabled,
        expires_at=record.expires_at.timestamp() if record.expires_at else None,
        context={
            "tenant": record.tenant,
            "client_id": record.key_id,
            "client_name": record.client_name,
            "scopes": ",".join(record.scopes),
        },
        patterns=tuple(scope_regex(s) for s in record.scopes),
    )


class TokenAuthorizer:
    def __init__(
        self,
        settings: AuthorizerSettings,
        store_factory: Callable[[], SecretsStore],
        clock: Clock = time.time,
    ) -> None:
        self._settings = settings
        self._store_factory = store_factory
        self._store: SecretsStore | None = None
        self._clock = clock
        self.cache = ClientCache(
            ttl=settings.cache_ttl_seconds,
            negative_ttl=settings.negative_cache_ttl_seconds,
            max_stale=settings.max_stale_seconds,
            max_entries=settings.cache_max_entries,
        )
        self._mismatch_refetch: dict[str, float] = {}
        self._backoff_until: dict[str, float] = {}

    @property
    def store(self) -> SecretsStore:
        # Created on the first cache miss: a container that only sees garbage never builds a client.
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def decide(self, authorization: str | None, method: str, route_key: str, raw_path: str = "/") -> Decision:
        presented = tokens.from_authorization_header(authorization)
        if presented is None:
            return Decision(Reason.MISSING)
        try:
            parsed = tokens.parse(presented)
        except tokens.TokenFormatError as error:
            return Decision(Reason.BAD_CHECKSUM if error.reason == "bad_checksum" else Reason.MALFORMED)

        now = self._clock()
        entry, cache = self._lookup(parsed.key_id, now)
        if entry is None:
            return Decision(Reason.BACKEND_UNAVAILABLE, key_id=parsed.key_id, cache=cache)
        if entry.client is None:
            return self._negative(entry, parsed.key_id, cache)

        client = entry.client
        if cache == "hit" and not self._matches(parsed.digest, client, now):
            # A rotation may have happened since this entry was cached: look again, but at most
            # once per key id per negative TTL, so wrong secrets cannot buy a call each.
            refreshed = self._refresh_after_mismatch(parsed.key_id, now)
            if refreshed is not None:
                cache = "refresh"
                if refreshed.client is None:
                    return self._negative(refreshed, parsed.key_id, cache)
                client = refreshed.client
        if not self._matches(parsed.digest, client, now):
            return Decision(Reason.WRONG_SECRET, key_id=client.key_id, tenant=client.tenant, cache=cache)
        grace = not hmac.compare_digest(parsed.digest, client.current_digest)

        def deny(reason: Reason) -> Decision:
            return Decision(reason, key_id=client.key_id, tenant=client.tenant, cache=cache)

        if not client.enabled:
            return deny(Reason.DISABLED)
        if client.expires_at is not None and now >= client.expires_at:
            return deny(Reason.EXPIRED)
        if not self._in_scope(client, method, route_key, raw_path):
            return deny(Reason.OUT_OF_SCOPE)
        return Decision(
            Reason.ALLOWED,
            key_id=client.key_id,
            tenant=client.tenant,
            context=client.context,
            cache=cache,
            grace=grace,
        )

    @staticmethod
    def _negative(entry: Entry, key_id: str, cache: str) -> Decision:
        return Decision(
            Reason.REVOKED if entry.state == "revoked" else Reason.UNKNOWN_KEY_ID, key_id=key_id, cache=cache
        )

    @staticmethod
    def _matches(digest: bytes, client: CachedClient, now: float) -> bool:
        """The current token, or the previous one inside its grace window. Both digests are always
        compared (constant time), so timing does not tell whether a grace window exists."""
        current = hmac.compare_digest(digest, client.current_digest)
        previous = hmac.compare_digest(digest, client.previous_digest or bytes(32))
        in_grace = client.previous_valid_until is not None and now < client.previous_valid_until
        return current or (previous and in_grace)

    def _refresh_after_mismatch(self, key_id: str, now: float) -> Entry | None:
        last = self._mismatch_refetch.get(key_id)
        if last is not None and now - last < self.cache.negative_ttl:
            return None
        if len(self._mismatch_refetch) >= self.cache.max_entries:
            self._mismatch_refetch.clear()
        self._mismatch_refetch[key_id] = now
        fetched, _ = self._fetch(key_id, now)
        return fetched

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
            record = self.store.get(key_id)
            entry = Entry("found", to_cached(record), now)
        except NotFoundError:
            entry = Entry("unknown", None, now)
        except RevokedError:
            entry = Entry("revoked", None, now)
        except (UnavailableError, TokengateError):
            # Back off for one negative TTL: while the backend fails, a client past its TTL costs
            # one call per interval (per container), not one per request.
            if len(self._backoff_until) >= self.cache.max_entries:
                self._backoff_until.clear()
            self._backoff_until[key_id] = now + self.cache.negative_ttl
            stale = self.cache.stale(key_id, now)
            return stale, ("stale" if stale else "miss")
        self.cache.put(key_id, entry)
        return entry, "miss"

    def _in_scope(self, client: CachedClient, method: str, route_key: str, raw_path: str) -> bool:
        _, _, route_path = route_key.partition(" ")
        request_key = f"{method.upper()} {route_path or raw_path}"
        return any(p.match(request_key) or p.match(route_key) for p in client.patterns)
