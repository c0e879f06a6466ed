"""The client lifecycle: issue, list, find, show, update, revoke, restore, rotate.

Each write either completes or leaves the client as it was: everything that can refuse a request
runs before its first write, and a step that fails after an earlier one succeeded is undone before
the error reaches the caller. What follows the write that commits a change (the audit line, the
lifecycle event, the answer) never turns it into an error: an event that cannot be made or sent
is logged and counted, and an answer that cannot be read back is built from what was written.
Writes to an existing client are optimistic: the new version's id is derived from the version it
was based on, so of two concurrent writers from one base, Secrets Manager accepts exactly one (the
other gets 409). Of concurrent revokes or restores, all succeed and exactly one reports the change.

Every change also goes to the digest index and the change feed the authorizer reads
(records.index, records.feed), in the order that keeps the index from ever allowing more than the
secret: a new client is indexed before its token is shown; a revoke or disable denies in the index
(and is announced) before the secret changes; a restore, an update or a rotation changes the
secret, then the index, then announces it, and is undone if one of those fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tokengate_core.admin import activity, guardrails
from tokengate_core.admin.api import ClientPage, ClientView, IssueClientRequest, IssuedClient, Status
from tokengate_core.admin.context import AdminContext
from tokengate_core.admin.page_tokens import decode_page_token, encode_page_token, page_token_key
from tokengate_core.admin.views import record_view, summary_view
from tokengate_core.errors import (
    ConflictError,
    DeliveryPathError,
    NotFoundError,
    RevokedError,
    TokengateError,
    UsageControlDisabledError,
)
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import iso
from tokengate_core.records.model import ClientRecord, RotationPolicy, utcnow_from
from tokengate_core.records.store import TAG_EXPIRES, TAG_REVOKED_BY, SecretSummary, record_tags
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import imports

_VERSIONS = uuid.UUID("5c0f3f7e-2b1c-4a57-9d7e-7c1d1f0e7a11")


def _next_version(base_version: str) -> str:
    return str(uuid.uuid5(_VERSIONS, base_version))


#: Fields whose change can take a client's delivery path away (or add a schedule that needs one).
_DELIVERY_FIELDS = frozenset({"rotation_period_days", "grace_seconds", "token_fetch"})


def _check_delivery(record: ClientRecord) -> None:
    problem = record.delivery_problem()
    if problem is not None:
        raise DeliveryPathError(problem)


def _check_usage_control(ctx: AdminContext, record: ClientRecord) -> None:
    if record.has_usage_policy and not ctx.settings.usage_control:
        raise UsageControlDisabledError(
            "usage control is off in this deployment (its API Gateway authorizer cache would let"
            " cached allows past a limit): clear rate_limit, quota and allowed_cidrs, or enable it"
        )


# -- reads ---------------------------------------------------------------------------------------


def get(ctx: AdminContext, tenant: str, client_id: str) -> ClientView:
    summary = ctx.owned(tenant, client_id)
    if summary.revoked:
        view = summary_view(summary, ctx.now())
    else:
        view = record_view(ctx.store.get(client_id), summary, ctx.now())
    return activity.with_last_used(ctx, [view])[0]


def list_page(
    ctx: AdminContext,
    tenant: str,
    *,
    limit: int,
    next_token: str | None,
    status: Status | None,
    unused_since: datetime | None = None,
    sort: str | None = None,
) -> ClientPage:
    """One page of ListSecrets, filtered and sorted within the page (``unused_since``: not used at
    or after that time; ``sort=last_used_at``: least recently used first)."""
    include_revoked = status in (None, "revoked")
    key = page_token_key(ctx.ring(ctx.clock()))
    store_token = decode_page_token(tenant, next_token, key) if next_token else None
    summaries, token = ctx.store.list_page(tenant, limit=limit, next_token=store_token, include_revoked=include_revoked)
    views = [summary_view(s, ctx.now()) for s in summaries]
    if status is not None:
        views = [v for v in views if v.status == status]
    views = activity.with_last_used(ctx, views)
    if unused_since is not None:
        views = activity.unused_since(views, unused_since)
    if sort is not None:
        views = activity.least_recently_used_first(views)
    return ClientPage(items=views, next_token=encode_page_token(tenant, token, key) if token else None)


def find(ctx: AdminContext, tenant: str, name: str, *, status: Status | None) -> ClientPage:
    """The tenant's client of that name, as a page of zero or one: one read of the name table
    and one DescribeSecret, where scanning the list would read every page of the tenant. A
    revoked client keeps its name, so it is found too (and can be restored by name)."""
    key_id = ctx.registry.holder(tenant, name)
    if key_id is None:
        return ClientPage(items=[], next_token=None)
    try:
        view = summary_view(ctx.owned(tenant, key_id), ctx.now())
    except NotFoundError:  # the claim outlived its client (purged) or is an issue in flight
        return ClientPage(items=[], next_token=None)
    matches = view.client_name == name and (status is None or view.status == status)
    return ClientPage(items=activity.with_last_used(ctx, [view]) if matches else [], next_token=None)


# -- issue ---------------------------------------------------------------------------------------


def issue(ctx: AdminContext, tenant: str, request: IssueClientRequest, actor: str) -> IssuedClient:
    epoch = ctx.clock()
    key_id = tokens.new_key_id()
    token = ctx.format.generate(key_id, ctx.signer(epoch))
    record = new_record(ctx, tenant, key_id, request, actor=actor, epoch=epoch, token=token)
    issued = IssuedClient(client=record_view(record, None, ctx.now()), token=token)
    create(ctx, record, request)
    ctx.audit("issue", tenant=tenant, client_id=key_id, actor=actor, client_name=request.client_name)
    ctx.emit(
        DetailType.ISSUED,
        record,
        actor,
        request.model_fields_set - {"client_name"},
        expires_at=iso(record.expires_at),
    )
    return issued


def new_record(
    ctx: AdminContext,
    tenant: str,
    key_id: str,
    request: IssueClientRequest,
    *,
    actor: str,
    epoch: float,
    token: str | None = None,
    imported_sha256: str | None = None,
) -> ClientRecord:
    """The record of a new client (minted ``token``, or an imported token's digest), checked
    against the deployment before anything is written."""
    now = utcnow_from(epoch)
    expires_at = request.expires_at
    if request.ttl_seconds is not None:
        expires_at = now + timedelta(seconds=request.ttl_seconds)
    grace = ctx.settings.default_grace_seconds if request.grace_seconds is None else request.grace_seconds
    rails = guardrails.current(ctx, tenant)
    record = ClientRecord.model_validate(
        {
            "key_id": key_id,
            "token": token,
            "imported_sha256": imported_sha256,
            "tenant": tenant,
            "client_name": request.client_name,
            "scopes": request.scopes,
            "expires_at": expires_at,
            "rotation": RotationPolicy(period_days=request.rotation_period_days, grace_seconds=grace),
            "reader_arn": request.reader_arn,
            "token_fetch": request.token_fetch,
            "rate_limit": request.rate_limit,
            "quota": request.quota,
            "allowed_cidrs": request.allowed_cidrs,
            "on_limit": request.on_limit,
            "created_at": now,
            "created_by": actor,
            "updated_at": now,
            "updated_by": actor,
            **guardrails.new_client_defaults(ctx, rails, request.model_fields_set),
        }
    )
    _check_delivery(record)
    _check_usage_control(ctx, record)
    guardrails.enforce(rails, record, now)
    return record


def create(
    ctx: AdminContext, record: ClientRecord, request: IssueClientRequest, after: Callable[[], None] | None = None
) -> None:
    """Claim the name, create the secret, then the optional steps (reader, schedule, ``after``);
    a step that fails undoes the ones before it, so a half-made client never blocks its name."""
    tenant, key_id = record.tenant, record.key_id
    _claim_name(ctx, tenant, request.client_name, key_id)
    try:
        arn = ctx.store.create(record, request_token=str(uuid.uuid4()))
    except TokengateError:
        ctx.undo(lambda: ctx.registry.release(tenant, request.client_name, key_id), "issue", key_id)
        raise
    try:
        if request.reader_arn:
            ctx.store.allow_reader(key_id, request.reader_arn, arn)
        _apply_schedule(ctx, key_id, None, request.rotation_period_days)
        if after is not None:
            after()
        # The token is shown only once the index accepts it; if it does not, the secret goes.
        ctx.reindex(record)
    except TokengateError:
        # Undo: a half-made client must not block its own name.
        ctx.undo(lambda: ctx.store.force_delete(key_id), "issue", key_id)
        ctx.undo(lambda: ctx.registry.release(tenant, request.client_name, key_id), "issue", key_id)
        raise
    try:
        ctx.index.append(key_id, "import" if record.imported else "issue")
    except TokengateError as error:
        # A new key id is cached nowhere but as unknown, for the negative TTL: the client becomes
        # usable that much later, so the new client stands.
        ctx.audit("feed_append_failed", client_id=key_id, error=error.code)


def _claim_name(ctx: AdminContext, tenant: str, name: str, key_id: str) -> None:
    """Exactly one of concurrent issues of a name wins; a claim whose secret is gone is taken over."""
    holder = ctx.registry.claim(tenant, name, key_id)
    if holder is None:
        return
    try:
        summary = ctx.store.describe(holder)
    except NotFoundError:
        if ctx.registry.take_over(tenant, name, holder, key_id):
            return
        raise ConflictError("a client of this name was issued concurrently in the tenant") from None
    # The messages name no value: an error never echoes what the caller sent.
    if summary.revoked:
        raise ConflictError("a revoked client of the tenant holds this name: restore it, or pick another name")
    raise ConflictError("a client of this name already exists in the tenant")


# -- changes -------------------------------------------------------------------------------------


def update(
    ctx: AdminContext, tenant: str, client_id: str, changes: dict[str, Any], actor: str, *, kind: str | None = None
) -> ClientView:
    """A disable goes to the index first (a later failure leaves it denying); any other change
    goes to the secret first and is undone if the index or the feed cannot take it."""
    summary = ctx.owned(tenant, client_id, live=True)
    record, base = ctx.store.read(client_id)
    changed = set(changes)
    delivery_changed = not _DELIVERY_FIELDS.isdisjoint(changes)
    rotation = record.rotation.model_dump()
    if "rotation_period_days" in changes:
        rotation["period_days"] = changes.pop("rotation_period_days")
    if "grace_seconds" in changes:
        rotation["grace_seconds"] = changes.pop("grace_seconds")
    changes["rotation"] = rotation
    updated = record.with_changes(changes, ctx.now(), actor)
    if delivery_changed:
        _check_delivery(updated)
    _check_usage_control(ctx, updated)
    guardrails.enforce_update(ctx, updated, changed)
    view = record_view(updated, summary, ctx.now())
    disabling = record.enabled and not updated.enabled
    kind = kind or ("disable" if disabling else "update")
    _cancel_inflight_rotation(ctx, summary)
    if disabling:
        ctx.publish(updated, kind)
    ctx.store.put(updated, request_token=_next_version(base))
    written: int | None = None
    try:
        ctx.store.set_tags(client_id, record_tags(updated))
        if updated.expires_at is None and record.expires_at is not None:
            ctx.store.remove_tags(client_id, [TAG_EXPIRES])
        _apply_schedule(ctx, client_id, record.rotation.period_days, updated.rotation.period_days)
        if not disabling:
            written = ctx.reindex(updated)
            ctx.index.append(client_id, kind)
    except TokengateError:
        ctx.undo(lambda: _restore_record(ctx, record), "update", client_id)
        if written is not None:
            version = written
            ctx.undo(lambda: ctx.unindex(client_id, version), "update_index", client_id)
        raise
    ctx.audit("update", tenant=tenant, client_id=client_id, actor=actor, fields=sorted(changes))
    ctx.emit(DetailType.UPDATED, updated, actor, changed, expires_at=iso(updated.expires_at))
    return view


def revoke(ctx: AdminContext, tenant: str, client_id: str, actor: str) -> ClientView:
    before = revoke_client(ctx, tenant, client_id, actor)
    assumed = before._replace(deleted_at=before.deleted_at or ctx.now(), revoked_by=before.revoked_by or actor)
    return _view_after_change(ctx, tenant, assumed)


def revoke_client(ctx: AdminContext, tenant: str, client_id: str, actor: str, *, kind: str = "revoke") -> SecretSummary:
    """Revoke without reading the result back (the leak response revokes many at once); the
    client as it was before. Idempotent, and of concurrent revokes only the one whose DeleteSecret
    scheduled the deletion reports it: Secrets Manager refuses the others.

    Secrets Manager refuses tag changes on a secret scheduled for deletion, so the revoker's tag
    goes on first; a restore leaves it and the views show it only while the client is revoked. A
    revoked client therefore always names one of the callers that revoked it.

    The index denies first and the feed announces it before the secret changes: if a later step
    fails, the client is denied anyway (and the revoke can be repeated)."""
    summary = ctx.owned(tenant, client_id)
    if summary.revoked:
        return summary
    ctx.index.revoke(client_id, now=ctx.now())
    ctx.index.append(client_id, kind)
    try:
        ctx.store.set_tags(client_id, {TAG_REVOKED_BY: actor})
        ctx.store.schedule_deletion(client_id, ctx.settings.recovery_window_days)
    except RevokedError:
        return summary  # a concurrent revoke won: the client is revoked, and that revoke reports it
    ctx.audit("revoke", tenant=tenant, client_id=client_id, actor=actor)
    ctx.emit(DetailType.REVOKED, summary, actor, recovery_window_days=ctx.settings.recovery_window_days)
    return summary


def restore(ctx: AdminContext, tenant: str, client_id: str, actor: str) -> ClientView:
    """Idempotent. RestoreSecret succeeds whether or not the secret is still scheduled for
    deletion, so of concurrent restores the one that claims the revocation first (by its
    DeletedDate, in the name table) reports it. RestoreSecret is not conditional either: a restore
    that read the client before a concurrent revoke may undo that revoke."""
    summary = ctx.owned(tenant, client_id)
    if summary.deleted_at is None:
        # Indexed again: a restore that failed after its RestoreSecret is completed by repeating it.
        _index_restored(ctx, client_id)
        return _view_after_change(ctx, tenant, summary)
    ctx.store.restore(client_id)
    _index_restored(ctx, client_id)  # the secret first: the index never allows more than it
    if _first_to_restore(ctx, client_id, summary.deleted_at):
        ctx.audit("restore", tenant=tenant, client_id=client_id, actor=actor)
        ctx.emit(DetailType.RESTORED, summary, actor)
    return _view_after_change(ctx, tenant, summary._replace(deleted_at=None))


def _index_restored(ctx: AdminContext, client_id: str) -> None:
    """Index the restored client and announce it. A revoke that landed inside this restore keeps
    the index denying: it denied there first, and it is looked for again after this write."""
    try:
        record = ctx.store.get(client_id)
    except RevokedError:
        return
    ctx.publish(record, "restore")
    if ctx.store.describe(client_id).revoked:
        ctx.index.revoke(client_id, now=ctx.now())
        ctx.index.append(client_id, "revoke")


def _first_to_restore(ctx: AdminContext, client_id: str, revoked_at: datetime) -> bool:
    keep_for = timedelta(days=ctx.settings.recovery_window_days + 1)  # the secret is purged by then
    try:
        return ctx.registry.claim_restore(client_id, revoked_at, keep_for=keep_for)
    except TokengateError:
        return True  # cannot tell: a repeated event is better than a lost one


def _view_after_change(ctx: AdminContext, tenant: str, assumed: SecretSummary) -> ClientView:
    """The client after a change, read back: in full, or from its metadata where its value cannot
    be read (revoked meanwhile), or else as the change left it (``assumed``). A change is not failed
    because its answer could not be read."""
    try:
        return get(ctx, tenant, assumed.key_id)
    except TokengateError:
        pass
    try:
        return summary_view(ctx.store.describe(assumed.key_id), ctx.now())
    except TokengateError:
        return summary_view(assumed, ctx.now())


def rotate(ctx: AdminContext, tenant: str, client_id: str, actor: str) -> IssuedClient:
    summary = ctx.owned(tenant, client_id, live=True)
    record, base = ctx.store.read(client_id)
    epoch = ctx.clock()
    token = ctx.format.generate(client_id, ctx.signer(epoch))
    rotated = record.rotated(token, utcnow_from(epoch), actor)
    issued = IssuedClient(client=record_view(rotated, summary, ctx.now()), token=token)
    _cancel_inflight_rotation(ctx, summary)
    # The index accepts the new token before the secret holds it, and the token is shown only
    # once both hold it and the feed has announced it; a failure puts the old token back in both.
    written = ctx.reindex(rotated)
    try:
        ctx.store.put(rotated, request_token=_next_version(base))
    except TokengateError:
        ctx.undo(lambda: ctx.unindex(client_id, written), "rotate_index", client_id)
        raise
    try:
        ctx.index.append(client_id, "rotate")
    except TokengateError:
        ctx.undo(lambda: _restore_record(ctx, record), "rotate", client_id)
        ctx.undo(lambda: ctx.unindex(client_id, written), "rotate_index", client_id)
        raise
    if record.imported_sha256 is not None and rotated.previous is None:
        # No grace window: the imported token stops working now, so it leaves the keyring now
        # (else the sweep takes it out once its grace window has ended).
        digest = record.imported_sha256
        ctx.undo(lambda: imports.remove_imported(ctx.store, {digest}), "rotate_imported", client_id)
        ctx.reset()
    ctx.audit("rotate", tenant=tenant, client_id=client_id, actor=actor)
    ctx.emit(
        DetailType.ROTATED,
        rotated,
        actor,
        previous_token_valid_until=iso(rotated.previous.valid_until if rotated.previous else None),
    )
    return issued


# -- steps ---------------------------------------------------------------------------------------


def _cancel_inflight_rotation(ctx: AdminContext, summary: SecretSummary) -> None:
    """An admin write supersedes a scheduled rotation in flight: without its AWSPENDING label
    that rotation's finishSecret fails safely instead of overwriting this write."""
    for version, stages in summary.version_stages.items():
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            ctx.store.move_stage(summary.key_id, "AWSPENDING", to_version=None, from_version=version)
            ctx.audit("cancel_rotation", tenant=summary.tenant, client_id=summary.key_id, version=version)


def _apply_schedule(ctx: AdminContext, key_id: str, old_days: int | None, new_days: int | None) -> None:
    """Secrets Manager's schedule, where a rotation function is deployed (always, in AWS).
    Without one (the local stack) the schedule lives in the record and the local scheduler reads it."""
    arn = ctx.settings.rotation_function_arn
    if arn is None or old_days == new_days:
        return
    if new_days is None:
        ctx.store.cancel_rotation(key_id)
    else:
        ctx.store.schedule_rotation(key_id, arn, new_days)


def _restore_record(ctx: AdminContext, record: ClientRecord) -> None:
    ctx.store.put(record, request_token=str(uuid.uuid4()))
    ctx.store.set_tags(record.key_id, record_tags(record))
