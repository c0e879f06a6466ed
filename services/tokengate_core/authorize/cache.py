"""The authorizer's in-memory cache: per key id, with a TTL, a negative TTL and stale-if-error.

The TTL is long while the change feed is read (the feed evicts what changed) and short when it
cannot be (tokengate_core.authorize.decision sets it).

Entries hold SHA-256 digests, never plaintext tokens. A Lambda container serves one request at a
time, so a plain dict (insertion-ordered, oldest evicted first) needs no lock.
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Literal, NamedTuple

from tokengate_core.records import rules

State = Literal["found", "unknown", "revoked", "corrupt"]
#: How long after the change feed names a client (or after a resync, any client) its lookups read
#: consistently: an eventually consistent read may not yet reflect a write just made (DynamoDB's
#: read consistency, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
CONSISTENT_READ_SECONDS = 5.0


if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network

    IPNetwork = IPv4Network | IPv6Network
else:
    IPNetwork = object


class UsagePolicy(NamedTuple):
    """A client's usage policy as the authorizer enforces it (see tokengate_core.authorize.usage)."""

    rate: tuple[float, int] | None  # (requests per second, burst)
    quota: tuple[int, str] | None  # (limit, "day" | "month")
    networks: tuple[IPNetwork, ...] | None
    on_limit: str  # "deny" | "tell_integration"
    thresholds: tuple[int, ...] = ()  # the quota's, in percent of its limit (Client Quota Threshold events)


class CachedClient(NamedTuple):
    key_id: str
    tenant: str
    client_name: str
    scopes: tuple[str, ...]
    current_digest: bytes
    previous_digest: bytes | None
    previous_valid_until: float | None
    enabled: bool
    expires_at: float | None
    context: dict[str, str]
    grace_context: dict[str, str] | None  # the context when the previous token is used in grace
    patterns: tuple[re.Pattern[str], ...]
    token_fetch: bool
    policy: UsagePolicy | None = None
    #: A rotation's new token between its setSecret and finishSecret (read from the digest index).
    pending_digest: bytes | None = None

    def accepts(self, digest: bytes, now: float) -> bool:
        accepted = rules.accepts(digest, self.current_digest, self.previous_digest, self.previous_valid_until, now)
        return accepted or self.is_pending(digest)

    def is_pending(self, digest: bytes) -> bool:
        return self.pending_digest is not None and hmac.compare_digest(digest, self.pending_digest)

    def retired_by(self, after: CachedClient | None, now: float) -> list[bytes]:
        """This client's tokens (current, previous, pending) that the same client ``after`` a
        change no longer accepts: all of them when it is gone (revoked, unknown, corrupt)."""
        mine = (self.current_digest, self.previous_digest, self.pending_digest)
        return [d for d in mine if d is not None and (after is None or not after.accepts(d, now))]


class Entry(NamedTuple):
    state: State
    client: CachedClient | None
    fetched_at: float


class ClientCache:
    def __init__(self, ttl: float, negative_ttl: float, max_stale: float, max_entries: int) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_stale = max_stale
        self.max_entries = max_entries
        self._entries: dict[str, Entry] = {}
        self._changed: dict[str, float] = {}  # key id -> when the feed named it
        self._resynced_at = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def fresh(self, key_id: str, now: float) -> Entry | None:
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        # Unknown ids expire fast (a new client becomes usable soon); a revocation is remembered
        # for the positive TTL, so a restore takes effect within the same bound as a revoke.
        ttl = self.negative_ttl if entry.state in ("unknown", "corrupt") else self.ttl
        return entry if now - entry.fetched_at < ttl else None

    def stale(self, key_id: str, now: float) -> Entry | None:
        """An entry still usable when the backend fails: at most ``max_stale`` seconds old."""
        entry = self._entries.get(key_id)
        if entry is None or now - entry.fetched_at >= self.max_stale:
            return None
        return entry

    def put(self, key_id: str, entry: Entry) -> None:
        self._entries.pop(key_id, None)
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key_id] = entry

    def forget(self, changed: tuple[str, ...], now: float, *, everything: bool = False) -> None:
        """Evict the clients the change feed named (all of them on a resync); their next lookups
        read consistently for CONSISTENT_READ_SECONDS."""
        if everything:
            self.clear()
            self._resynced_at = now
        for key_id in changed:
            self._entries.pop(key_id, None)
            self._changed.pop(key_id, None)
            if len(self._changed) >= self.max_entries:
                del self._changed[next(iter(self._changed))]
            self._changed[key_id] = now

    def changed_lately(self, key_id: str, now: float) -> bool:
        """Whether a lookup of ``key_id`` now must read consistently."""
        if now - self._resynced_at < CONSISTENT_READ_SECONDS:
            return True
        named = self._changed.get(key_id)
        if named is None:
            return False
        if now - named >= CONSISTENT_READ_SECONDS:
            del self._changed[key_id]
            return False
        return True

    def peek(self, key_id: str) -> Entry | None:
        """The entry, whatever its age (what to call a client in an event, not whether it may pass)."""
        return self._entries.get(key_id)

    def clear(self) -> None:
        self._entries.clear()
        self._changed.clear()
        self._resynced_at = float("-inf")
