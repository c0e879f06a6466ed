"""What every admin use case works with: the store, the name registry, the settings, the clock,
the audit log and the lifecycle events, plus the keyring as this container last read it.

One object, built once per function, so each use-case module (``clients``, ``imports``,
``keys``, ``usage_reports``) is a set of plain functions over it, and the admin and leak
functions share the same use cases by sharing the same kind of context.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tokengate_core.deployment.config import AdminSettings
from tokengate_core.errors import ConflictError, NotFoundError, TokengateError
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import EventPublisher, NoEvents, Value, announce
from tokengate_core.records.guardrails import GuardrailStore
from tokengate_core.records.index import ACTIVE, ClientIndex
from tokengate_core.records.model import ClientRecord, utcnow_from
from tokengate_core.records.names import NameRegistry
from tokengate_core.records.store import SecretsStore, SecretSummary
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

Clock = Callable[[], float]
Audit = Callable[..., None]
#: (key id, first hour, last hour) -> {hour: {outcome: count}}: the usage counters, where deployed.
UsageQuery = Callable[[str, str, str], dict[str, Counter[str]]]
#: key ids -> {key id: last use, epoch seconds} for those used (tokengate_core.authorize.last_used).
LastUsedQuery = Callable[[list[str]], dict[str, float]]
_KEYRING_REUSE_SECONDS = 60.0


def _no_audit(action: str, **fields: Any) -> None:
    return None


@dataclass
class AdminContext:
    store: SecretsStore
    settings: AdminSettings
    registry: NameRegistry
    clock: Clock = time.time
    usage_query: UsageQuery | None = None
    #: The tenants' guardrails, where the function applies them (the admin function; not the leak
    #: function, whose only client changes are revokes and disables).
    guardrails: GuardrailStore | None = None
    last_used_query: LastUsedQuery | None = None
    audit: Audit = _no_audit
    events: EventPublisher = field(default_factory=NoEvents)
    _ring: tuple[keyring.KeyRing, float] | None = field(default=None, init=False, repr=False)
    _index: ClientIndex | None = field(default=None, init=False, repr=False)

    @property
    def index(self) -> ClientIndex:
        """The digest index, in the name registry's table (records.index)."""
        if self._index is None:
            self._index = ClientIndex(self.registry.client, self.registry.table)
        return self._index

    def reindex(self, record: ClientRecord) -> int:
        """Write the live client's index item from ``record``; the version written. UnavailableError,
        or ConflictError after losing every race for the item."""
        return self.index.write(record, ACTIVE, now=self.now())

    def publish(self, record: ClientRecord, kind: str) -> None:
        """Index the live client, then announce the change on the feed, in that order: an
        authorizer the feed sends to the index finds the change there. Either step failing raises."""
        self.reindex(record)
        self.index.append(record.key_id, kind)

    def unindex(self, key_id: str, written: int) -> None:
        """Undo this writer's index write (version ``written``) after a later step failed.

        The item gets what the secret holds now, not what this writer read before: a writer
        racing this one may have reached the secret in between (two rotations: the loser's
        PutSecretValue fails because the winner's landed), and putting back the older record
        would leave the index refusing the winner's token. Only if no other writer has written
        the item since: a later write (a revoke, the winner's own undo) stands."""
        record, _ = self.store.read(key_id)
        self.index.put(record, ACTIVE, expected_version=written, now=self.now())
        self.index.append(key_id, "reconcile")

    def reset(self) -> None:
        """Forget the cached keyring, as a fresh container would start."""
        self._ring = None

    def ring(self, epoch: float) -> keyring.KeyRing:
        """The keyring, read at most once per :data:`_KEYRING_REUSE_SECONDS` per container: a newly
        added key starts signing at most that much later than it could, and an issue or a page
        costs no extra read."""
        if self._ring is None or not 0 <= epoch - self._ring[1] < _KEYRING_REUSE_SECONDS:
            self._ring = (keyring.ensure(self.store, epoch), epoch)
        return self._ring[0]

    def signer(self, epoch: float) -> Callable[[str], str]:
        return self.ring(epoch).signer(epoch)

    @property
    def format(self) -> tokens.TokenFormat:
        """The deployment's token format (its prefix), built once per prefix."""
        return tokens.token_format(self.settings.token_prefix)

    def now(self) -> datetime:
        return utcnow_from(self.clock())

    def owned(self, tenant: str, client_id: str, *, live: bool = False) -> SecretSummary:
        """The client, if it belongs to ``tenant``; another tenant's client is simply not found."""
        if not tokens.is_key_id(client_id):
            raise NotFoundError("client not found")
        summary = self.store.describe(client_id)
        if summary.tenant != tenant:
            raise NotFoundError("client not found")
        if live and summary.revoked:
            raise ConflictError("client is revoked: restore it first")
        return summary

    def emit(
        self,
        detail_type: DetailType,
        client: ClientRecord | SecretSummary,
        actor: str,
        changed: Iterable[str] = (),
        **extra: Value,
    ) -> None:
        """Publish one lifecycle event for a change that happened: never fails the change (an
        event that cannot be made or sent is logged and counted instead, see ``events``)."""
        announce(
            self.events,
            detail_type,
            tenant=client.tenant,
            client_id=client.key_id,
            client_name=client.client_name,
            actor=actor,
            at=self.now(),
            changed=tuple(changed),
            extra=extra,
        )

    def undo(self, action: Callable[[], None], what: str, client_id: str) -> None:
        """Run one compensating step; if it fails too, the audit log says which step on which client."""
        try:
            action()
        except TokengateError as error:
            self.audit("undo_failed", step=what, client_id=client_id, error=error.code)
