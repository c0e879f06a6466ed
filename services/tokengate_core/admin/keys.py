"""The deployment's signing keys (list them, add one) and the migration of clients issued before
key ids were random and tokens tagged. Deployment-wide: no tenant owns a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from tokengate_core.admin.api import KeyRingView, MigrationReport, SigningKeyView
from tokengate_core.admin.context import AdminContext
from tokengate_core.errors import KeyringFullError
from tokengate_core.lifecycle.reconcile import Reconciler
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring


def keyring_view(ctx: AdminContext) -> KeyRingView:
    epoch = ctx.clock()
    ring = keyring.ensure(ctx.store, epoch)
    keys = [SigningKeyView.model_validate(k) for k in ring.describe(epoch)]
    return KeyRingView(keys=keys, legacy_key_ids=len(ring.legacy_key_ids))


def rotate_keyring(ctx: AdminContext, actor: str) -> KeyRingView:
    """Add a signing key. It signs new tokens once every authorizer has loaded it; the old keys
    keep verifying the tokens they signed, so no client notices."""
    epoch = ctx.clock()
    keyring.ensure(ctx.store, epoch)
    try:
        ring = keyring.update(ctx.store, lambda r: r.with_new_key(epoch))
    except keyring.KeyRingError as error:
        raise KeyringFullError(str(error)) from None
    ctx.reset()
    ctx.audit("rotate_keyring", actor=actor, key=ring.keys[-1].name)
    return keyring_view(ctx)


def untagged_era_key_id(tenant: str, client_name: str) -> str:
    """The key id tokengate 0.1 derived from (tenant, name): recognises the clients it issued."""
    raw = hashlib.sha256(f"tokengate-key-id\x00{tenant}\x00{client_name}".encode()).digest()
    return tokens.encode_key_id(int.from_bytes(raw[:13], "big") >> 1)


def migrate(ctx: AdminContext, actor: str, remaining: Callable[[], float] | None = None) -> MigrationReport:
    """Bring clients issued by an earlier version up to date; idempotent.

    Every client's name is recorded as taken (it was unique by construction then), and the
    key ids of clients whose tokens carry no tag (current, or previous still in grace) are
    listed in the keyring so the authorizer keeps accepting them until they rotate. Run it
    again after their grace windows end and the list shrinks. Then the digest index is built
    (a full pass of the reconciliation, lifecycle.reconcile) for as long as ``remaining`` allows:
    what is left, the scheduled reconciliation builds.
    """
    epoch = ctx.clock()
    ring = keyring.ensure(ctx.store, epoch)
    summaries = ctx.store.list_all(include_revoked=True)
    legacy: set[str] = set()
    claimed, conflicts = 0, []
    for summary in summaries:
        holder = ctx.registry.claim(summary.tenant, summary.client_name, summary.key_id)
        if holder is None:
            claimed += 1
        elif holder != summary.key_id:
            conflicts.append(f"{summary.tenant}/{summary.client_name} ({summary.key_id})")
        if summary.key_id == untagged_era_key_id(summary.tenant, summary.client_name) and (
            summary.revoked or _has_untagged_token(ctx, summary.key_id, ring, epoch)
        ):
            legacy.add(summary.key_id)
    keyring.update(ctx.store, lambda r: r.with_legacy_key_ids(legacy))
    ctx.reset()
    built = Reconciler(ctx.store, ctx.registry.client, ctx.registry.table, clock=ctx.clock).run(
        full=True, orphans=False, settle=False, remaining=remaining
    )
    ctx.audit(
        "migrate",
        actor=actor,
        clients=len(summaries),
        legacy=len(legacy),
        conflicts=len(conflicts),
        index_built=len(built.built) + len(built.rebuilt),
        index_revoked=len(built.revoked),
    )
    return MigrationReport(
        clients=len(summaries),
        names_claimed=claimed,
        legacy_key_ids=len(legacy),
        conflicts=conflicts,
        index_built=len(built.built) + len(built.rebuilt),
        index_revoked=len(built.revoked),
        index_complete=built.complete,
    )


def _has_untagged_token(ctx: AdminContext, key_id: str, ring: keyring.KeyRing, epoch: float) -> bool:
    record = ctx.store.get(key_id)
    if record.token is None:
        return False  # an imported client: its key id was never derived from its name
    if not ring.verify(tokens.parse(record.token.get_secret_value())):
        return True
    # The previous token is kept only as a digest: if it is still in grace, it may be untagged.
    return record.previous is not None and record.previous.valid_until.timestamp() > epoch
