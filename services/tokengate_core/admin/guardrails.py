"""A tenant's guardrails through the admin API: show them (with the clients that break them), set
them, and hold every issue and update to them.

Setting guardrails never changes a client. A client that breaks guardrails set after it was made
keeps working as it is and is listed under ``violations``; its next update must bring it within
them (one that only enables or disables it excepted: turning a client off is always allowed), and
a rotation or a revoke is never refused on their account.

Who may loosen: the tenant's own admins, through the tenant-scoped route, unless the deployment
reserves loosening (``guardrail_loosening: deployment_admins``); then only the deployment-level
route, which no tenant-scoped IAM policy grants, may (``deployment.routes``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import GuardrailLoosening
from tokengate_core.errors import (
    ConflictError,
    CorruptRecordError,
    GuardrailLooseningReservedError,
    GuardrailViolationError,
    TokengateError,
    UsageControlDisabledError,
)
from tokengate_core.records.guardrails import (
    CHANGED_CONCURRENTLY,
    MAX_VERSION,
    Guardrails,
    GuardrailStore,
    StoredGuardrails,
    loosened,
    problems,
)
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.store import SecretSummary

#: The most clients one answer examines for violations: each costs a read of its record where
#: scopes or rotation are limited (one ListSecrets page per 100 otherwise).
MAX_EXAMINED = 200
_PAGE = 100
#: Records read at once (as the sweep reads them).
READ_CONCURRENCY = 8

#: Update fields that never have to meet the guardrails on their own: turning a client off (or back
#: on) is always allowed, and the leak response disables clients without reading guardrails.
_UNCHECKED_UPDATES = frozenset({"enabled"})


class SetGuardrailsRequest(Guardrails):
    """The tenant's guardrails, whole: a field absent or null removes that limit."""

    version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VERSION,
        description="The version this change is based on (from GET; 0: none set yet). Absent: the version"
        " read when the request arrives. Either way a concurrent change makes this one fail with 409.",
    )

    def guardrails(self) -> Guardrails:
        return Guardrails.model_validate(self.model_dump(exclude={"version"}))


class GuardrailViolation(BaseModel):
    client_id: str
    client_name: str
    problems: list[str]


class GuardrailsView(BaseModel):
    tenant: str
    guardrails: Guardrails
    version: int = Field(description="0: never set")
    updated_at: datetime | None = None
    updated_by: str | None = None
    loosening: GuardrailLoosening = Field(
        description="Who may loosen them: the tenant's admins, or only the deployment's"
        " (PUT /admin/guardrails/{tenant})"
    )
    violations: list[GuardrailViolation] = Field(
        description="Live clients that break them now (unchanged by setting them: their next update must comply)"
    )
    violations_complete: bool = Field(
        description=f"False when the tenant has more than {MAX_EXAMINED} clients (only the first were examined)"
        " or a client could not be read"
    )


def current(ctx: AdminContext, tenant: str) -> Guardrails:
    """The tenant's guardrails, read now (none where the deployment keeps none: the leak function)."""
    if ctx.guardrails is None:
        return Guardrails()
    return ctx.guardrails.read(tenant).guardrails


def new_client_defaults(ctx: AdminContext, rails: Guardrails, given: set[str]) -> dict[str, Any]:
    """What a new client gets from its tenant's guardrails where its issuer gave nothing: the
    allowed scopes (instead of ``*``), and the default usage policy (where usage control is on)."""
    defaults: dict[str, Any] = {}
    if rails.allowed_scopes is not None and "scopes" not in given:
        defaults["scopes"] = list(rails.allowed_scopes)
    policy = rails.default_usage_policy
    if policy is not None and ctx.settings.usage_control and not {"rate_limit", "quota", "allowed_cidrs"} & given:
        defaults.update(rate_limit=policy.rate_limit, quota=policy.quota, allowed_cidrs=policy.allowed_cidrs)
        if "on_limit" not in given:
            defaults["on_limit"] = policy.on_limit
    return defaults


def record_problems(rails: Guardrails, record: ClientRecord, now: datetime) -> list[str]:
    return problems(
        rails,
        expires_at=record.expires_at,
        rotation_period_days=record.rotation.period_days,
        scopes=record.scopes,
        now=now,
    )


def enforce(rails: Guardrails, record: ClientRecord, now: datetime) -> None:
    found = record_problems(rails, record, now)
    if found:
        raise GuardrailViolationError(f"the tenant's guardrails refuse this client: {'; '.join(found)}")


def enforce_update(ctx: AdminContext, record: ClientRecord, changed: set[str]) -> None:
    """An update leaves the client within its tenant's guardrails, unless it only turns it on or off."""
    if changed <= _UNCHECKED_UPDATES:
        return
    enforce(current(ctx, record.tenant), record, ctx.now())


# -- the routes' use cases -------------------------------------------------------------------------


def show(ctx: AdminContext, tenant: str) -> GuardrailsView:
    return _view(ctx, tenant, _store(ctx).read(tenant))


def put(
    ctx: AdminContext, tenant: str, request: SetGuardrailsRequest, actor: str, *, route: Literal["tenant", "deployment"]
) -> GuardrailsView:
    """Replace the tenant's guardrails. Everything that can refuse runs before the one write, a
    conditional PutItem on the version the loosening check was made against."""
    rails = request.guardrails()
    if rails.default_usage_policy is not None and not ctx.settings.usage_control:
        raise UsageControlDisabledError(
            "usage control is off in this deployment: a default usage policy would be refused on every issue"
        )
    store = _store(ctx)
    reserved = route == "tenant" and ctx.settings.guardrail_loosening == "deployment_admins"
    try:
        before = store.read(tenant)
    except CorruptRecordError:
        if reserved:
            raise  # what they held cannot be read, so no change can be shown not to loosen them
        before = StoredGuardrails(Guardrails(), store.version(tenant), None, None)
    based_on = before.version if request.version is None else request.version
    if based_on != before.version:
        raise ConflictError(CHANGED_CONCURRENTLY)
    relaxed = loosened(before.guardrails, rails)
    if relaxed and reserved:
        raise GuardrailLooseningReservedError(
            f"this deployment reserves loosening guardrails ({', '.join(relaxed)}) to its own admins:"
            " PUT /admin/guardrails/{tenant}"
        )
    stored = store.write(tenant, rails, based_on=based_on, actor=actor, now=ctx.now())
    ctx.audit(
        "set_guardrails",
        tenant=tenant,
        actor=actor,
        version=stored.version,
        fields=sorted(rails.model_dump(exclude_none=True)),
        loosened=relaxed,
    )
    return _view(ctx, tenant, stored)


def _store(ctx: AdminContext) -> GuardrailStore:
    if ctx.guardrails is None:
        raise TokengateError("this function keeps no guardrails")
    return ctx.guardrails


def _view(ctx: AdminContext, tenant: str, stored: StoredGuardrails) -> GuardrailsView:
    violations, complete = _violations(ctx, tenant, stored.guardrails)
    return GuardrailsView(
        tenant=tenant,
        guardrails=stored.guardrails,
        version=stored.version,
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
        loosening=ctx.settings.guardrail_loosening,
        violations=violations,
        violations_complete=complete,
    )


def _violations(ctx: AdminContext, tenant: str, rails: Guardrails) -> tuple[list[GuardrailViolation], bool]:
    """The tenant's live clients that break ``rails``, of the first :data:`MAX_EXAMINED`. A page
    that cannot be read ends the list early and a record that cannot be read is left out, each
    with ``complete`` False, rather than failing the answer: after a write, the answer must not
    turn the committed change into an error."""
    if Guardrails(default_usage_policy=rails.default_usage_policy) == rails:
        return [], True  # no limit to break
    summaries, complete = _live_clients(ctx, tenant)
    now = ctx.now()
    found: list[list[str] | None]
    if rails.allowed_scopes is None and rails.max_rotation_period_days is None:
        # The expiry alone: the listing's tags carry it, no record is read.
        found = [
            problems(rails, expires_at=s.expires_at, rotation_period_days=None, scopes=None, now=now) for s in summaries
        ]
    else:
        with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
            found = list(pool.map(lambda s: _record_problems(ctx, rails, s, now), summaries))
    violations = [
        GuardrailViolation(client_id=s.key_id, client_name=s.client_name, problems=wrong)
        for s, wrong in zip(summaries, found, strict=True)
        if wrong
    ]
    return violations, complete and None not in found


def _live_clients(ctx: AdminContext, tenant: str) -> tuple[list[SecretSummary], bool]:
    """The tenant's first :data:`MAX_EXAMINED` live clients, and whether that is all of them."""
    summaries: list[SecretSummary] = []
    token: str | None = None
    try:
        while True:
            page, token = ctx.store.list_page(tenant, limit=_PAGE, next_token=token, include_revoked=False)
            room = MAX_EXAMINED - len(summaries)
            summaries += page[:room]
            if len(page) > room or (token is not None and len(summaries) == MAX_EXAMINED):
                return summaries, False
            if token is None:
                return summaries, True
    except TokengateError:
        return summaries, False


def _record_problems(ctx: AdminContext, rails: Guardrails, summary: SecretSummary, now: datetime) -> list[str] | None:
    """What the client breaks; None when its record cannot be read (revoked or gone meanwhile, corrupt)."""
    try:
        return record_problems(rails, ctx.store.get(summary.key_id), now)
    except TokengateError:
        return None
