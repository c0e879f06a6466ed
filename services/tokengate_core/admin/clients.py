"""Admin use cases: issue, list, show, update, revoke, restore, rotate.

Each write either completes or leaves the client as it was: a step that fails after an earlier
one succeeded is undone before the error reaches the caller. Writes to an existing client are
optimistic: the new version's id is derived from the version it was based on, so of two
concurrent writers from one base, Secrets Manager accepts exactly one (the other gets 409).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tokengate_core.admin.api import (
    ClientPage,
    ClientView,
    ImportClientRequest,
    ImportedClient,
    IssueClientRequest,
    IssuedClient,
    KeyRingView,
    MigrationReport,
    RotationView,
    SigningKeyView,
    Status,
    UsageBucket,
    UsageReport,
)
from tokengate_core.authorize import usage
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RevokedError,
    TokengateError,
    UnavailableError,
)
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import EventPublisher, LifecycleEvent, NoEvents, Value, iso
from tokengate_core.records.model import ClientRecord, RotationPolicy, utcnow_from
from tokengate_core.records.names import NameRegistry
from tokengate_core.records.store import TAG_EXPIRES, TAG_REVOKED_BY, SecretsStore, SecretSummary, record_tags
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import imports, keyring

Clock = Callable[[], float]
Audit = Callable[..., None]
_VERSIONS = uuid.UUID("5c0f3f7e-2b1c-4a57-9d7e-7c1d1f0e7a11")


def _next_version(base_version: str) -> str:
    return str(uuid.uuid5(_VERSIONS, base_version))


PAGE_TOKEN_PATTERN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})")
_PAGE_TOKEN_LABEL = b"tokengate page token v1"


def page_token_key(ring: keyring.KeyRing) -> bytes:
    """The MAC key for page tokens: derived from the deployment's keyring, so it is secret, the
    same in every admin container, and needs nothing provisioned. A token this deployment did not
    issue, a token altered in any bit, or one issued for another tenant is refused with 400
    before Secrets Manager is called."""
    return ring.derive(_PAGE_TOKEN_LABEL)


def _page_mac(key: bytes, tenant: str, payload: str) -> str:
    message = b"\0".join([_PAGE_TOKEN_LABEL, tenant.encode(), payload.encode()])
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_page_token(tenant: str, store_token: str, key: bytes) -> str:
    """Our page token wraps Secrets Manager's, MAC'd together with the tenant it belongs to:
    ``<base64url NextToken>.<base64url HMAC-SHA256>``."""
    payload = _b64(store_token.encode())
    return f"{payload}.{_page_mac(key, tenant, payload)}"


def decode_page_token(tenant: str, token: str, key: bytes) -> str:
    """Secrets Manager's NextToken, if ``token`` is one we issued for ``tenant``; otherwise 400."""
    match = PAGE_TOKEN_PATTERN.fullmatch(token)
    if match is not None:
        payload, mac = match.groups()
        if hmac.compare_digest(_page_mac(key, tenant, payload), mac):
            try:
                store_token = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
            except (ValueError, binascii.Error):
                store_token = ""
            if store_token:
                return store_token
    raise BadRequestError("invalid next_token: pass back the value a previous page returned")


def _untagged_era_key_id(tenant: str, client_name: str) -> str:
    """The key id tokengate 0.1 derived from (tenant, name): recognises the clients it issued."""
    raw = hashlib.sha256(f"tokengate-key-id\x00{tenant}\x00{client_name}".encode()).digest()
    return tokens.encode_key_id(int.from_bytes(raw[:13], "big") >> 1)


def _no_audit(action: str, **fields: Any) -> None:
    return None


class KeyringFullError(ConflictError):
    """Old keys stay while tokens they tagged may be in use; past the limit, drop one first."""

    code = "keyring_full"


class UsageControlDisabledError(BadRequestError):
    code = "usage_control_disabled"


Granularity = Literal["hour", "day"]
#: The widest range one usage query may span, per granularity.
MAX_USAGE_SPAN: dict[str, timedelta] = {"hour": timedelta(days=31), "day": timedelta(days=400)}


class DeliveryPathError(BadRequestError):
    """A rotation schedule that would leave the client without its new token."""

    code = "no_delivery_path"


#: Fields whose change can take a client's delivery path away (or add a schedule that needs one).
_KEYRING_REUSE_SECONDS = 60.0
_DELIVERY_FIELDS = frozenset({"rotation_period_days", "grace_seconds", "token_fetch"})


def _check_delivery(record: ClientRecord) -> None:
    problem = record.delivery_problem()
    if problem is not None:
        raise DeliveryPathError(problem)


@dataclass
class ClientService:
    store: SecretsStore
    settings: AdminSettings
    registry: NameRegistry
    clock: Clock = time.time
    #: (key id, first hour, last hour) -> {hour: {outcome: count}}: the usage counters, where deployed.
    usage_query: Callable[[str, str, str], dict[str, Counter[str]]] | None = None
    audit: Audit = _no_audit
    events: EventPublisher = field(default_factory=NoEvents)
    _ring: tuple[keyring.KeyRing, float] | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Forget the cached keyring, as a fresh container would start."""
        self._ring = None

    def _keyring(self, epoch: float) -> keyring.KeyRing:
        """The keyring, read at most once per :data:`_KEYRING_REUSE_SECONDS` per container: a newly
        added key starts signing at most that much later than it could, and an issue or a page
        costs no extra read."""
        if self._ring is None or not 0 <= epoch - self._ring[1] < _KEYRING_REUSE_SECONDS:
            self._ring = (keyring.ensure(self.store, epoch), epoch)
        return self._ring[0]

    def _signer(self, epoch: float) -> Callable[[str], str]:
        return self._keyring(epoch).signer(epoch)

    @property
    def format(self) -> tokens.TokenFormat:
        """The deployment's token format (its prefix), built once per prefix."""
        return tokens.token_format(self.settings.token_prefix)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, tenant: str, client_id: str) -> ClientView:
        summary = self._owned(tenant, client_id)
        if summary.revoked:
            return self._summary_view(summary)
        return self._view(self.store.get(client_id), summary)

    def list(self, tenant: str, *, limit: int, next_token: str | None, status: Status | None) -> ClientPage:
        include_revoked = status in (None, "revoked")
        key = page_token_key(self._keyring(self.clock()))
        store_token = decode_page_token(tenant, next_token, key) if next_token else None
        summaries, token = self.store.list_page(
            tenant, limit=limit, next_token=store_token, include_revoked=include_revoked
        )
        views = [self._summary_view(s) for s in summaries]
        if status is not None:
            views = [v for v in views if v.status == status]
        return ClientPage(items=views, next_token=encode_page_token(tenant, token, key) if token else None)

    def find(self, tenant: str, name: str, *, status: Status | None) -> ClientPage:
        """The tenant's client of that name, as a page of zero or one: one read of the name table
        and one DescribeSecret, where scanning the list would read every page of the tenant. A
        revoked client keeps its name, so it is found too (and can be restored by name)."""
        key_id = self.registry.holder(tenant, name)
        if key_id is None:
            return ClientPage(items=[], next_token=None)
        try:
            view = self._summary_view(self._owned(tenant, key_id))
        except NotFoundError:  # the claim outlived its client (purged) or is an issue in flight
            return ClientPage(items=[], next_token=None)
        matches = view.client_name == name and (status is None or view.status == status)
        return ClientPage(items=[view] if matches else [], next_token=None)

    # -- writes --------------------------------------------------------------------------------

    def issue(self, tenant: str, request: IssueClientRequest, actor: str) -> IssuedClient:
        epoch = self.clock()
        key_id = tokens.new_key_id()
        token = self.format.generate(key_id, self._signer(epoch))
        record = self._new_record(tenant, key_id, request, actor, epoch, token=token)
        self._create(record, request)
        self.audit("issue", tenant=tenant, client_id=key_id, actor=actor, client_name=request.client_name)
        self._emit(
            DetailType.ISSUED,
            record,
            actor,
            request.model_fields_set - {"client_name"},
            expires_at=iso(record.expires_at),
        )
        return IssuedClient(client=self._view(record, None), token=token)

    def import_client(self, request: ImportClientRequest, actor: str) -> ImportedClient:
        """A client whose current token is one its callers already hold (tokengate_core.tokens.imports):
        the record keeps the token's digest, the keyring maps the digest to the client."""
        if self.format.owns(request.token):
            raise BadRequestError(
                f"a token with this deployment's prefix ({self.format.prefix}) cannot be imported: it is one of"
                " its own (rotate or revoke its client instead)"
            )
        weak = imports.weakness(request.token)
        if weak is not None and not request.allow_weak:
            raise imports.WeakTokenError(f"the token is weak ({weak}): import it with allow_weak to keep it anyway")
        hexdigest = tokens.digest(request.token).hex()
        epoch = self.clock()
        if hexdigest in self._keyring(epoch).imported:
            raise keyring.AlreadyImportedError("this token is already imported")
        key_id = tokens.new_key_id()
        tenant = request.tenant
        record = self._new_record(tenant, key_id, request, actor, epoch, imported_sha256=hexdigest)
        self._create(record, request, after=lambda: imports.add_imported(self.store, hexdigest, key_id))
        self.reset()  # the keyring changed
        self.audit(
            "import", tenant=tenant, client_id=key_id, actor=actor, client_name=request.client_name, weak=bool(weak)
        )
        self._emit(
            DetailType.ISSUED,
            record,
            actor,
            request.model_fields_set - {"client_name", "tenant", "token", "allow_weak"},
            expires_at=iso(record.expires_at),
            imported=True,
        )
        warnings = [f"the imported token is weak: {weak}; rotate the client soon"] if weak else []
        # Authorizers learn of it with the keyring, which they reload on a timer: looking for a
        # new import on every unknown value would make garbage cost reads.
        notice = (
            f"authorizers accept the imported token once they reload the keyring, within"
            f" {keyring.REFRESH_SECONDS:.0f} s"
        )
        return ImportedClient(client=self._view(record, None), warnings=warnings, notice=notice)

    def _new_record(
        self,
        tenant: str,
        key_id: str,
        request: IssueClientRequest,
        actor: str,
        epoch: float,
        *,
        token: str | None = None,
        imported_sha256: str | None = None,
    ) -> ClientRecord:
        now = utcnow_from(epoch)
        expires_at = request.expires_at
        if request.ttl_seconds is not None:
            expires_at = now + timedelta(seconds=request.ttl_seconds)
        grace = self.settings.default_grace_seconds if request.grace_seconds is None else request.grace_seconds
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
            }
        )
        _check_delivery(record)
        self._check_usage_control(record)
        return record

    def _create(
        self, record: ClientRecord, request: IssueClientRequest, after: Callable[[], None] | None = None
    ) -> None:
        """Claim the name, create the secret, then the optional steps (reader, schedule, ``after``);
        a step that fails undoes the ones before it, so a half-made client never blocks its name."""
        tenant, key_id = record.tenant, record.key_id
        self._claim_name(tenant, request.client_name, key_id)
        try:
            arn = self.store.create(record, request_token=str(uuid.uuid4()))
        except TokengateError:
            self._undo(lambda: self.registry.release(tenant, request.client_name, key_id), "issue", key_id)
            raise
        try:
            if request.reader_arn:
                self.store.allow_reader(key_id, request.reader_arn, arn)
            self._apply_schedule(key_id, None, request.rotation_period_days)
            if after is not None:
                after()
        except TokengateError:
            # Undo: a half-made client must not block its own name.
            self._undo(lambda: self.store.force_delete(key_id), "issue", key_id)
            self._undo(lambda: self.registry.release(tenant, request.client_name, key_id), "issue", key_id)
            raise

    def _claim_name(self, tenant: str, name: str, key_id: str) -> None:
        """Exactly one of concurrent issues of a name wins; a claim whose secret is gone is taken over."""
        holder = self.registry.claim(tenant, name, key_id)
        if holder is None:
            return
        try:
            summary = self.store.describe(holder)
        except NotFoundError:
            if self.registry.take_over(tenant, name, holder, key_id):
                return
            raise ConflictError(f"client {name!r} was issued concurrently in tenant {tenant!r}") from None
        if summary.revoked:
            raise ConflictError(f"client {name!r} of tenant {tenant!r} is revoked: restore it, or pick another name")
        raise ConflictError(f"client {name!r} already exists in tenant {tenant!r}")

    def update(self, tenant: str, client_id: str, changes: dict[str, Any], actor: str) -> ClientView:
        summary = self._owned(tenant, client_id, live=True)
        record, base = self.store.read(client_id)
        changed = set(changes)
        delivery_changed = not _DELIVERY_FIELDS.isdisjoint(changes)
        rotation = record.rotation.model_dump()
        if "rotation_period_days" in changes:
            rotation["period_days"] = changes.pop("rotation_period_days")
        if "grace_seconds" in changes:
            rotation["grace_seconds"] = changes.pop("grace_seconds")
        changes["rotation"] = rotation
        now = utcnow_from(self.clock())
        updated = record.with_changes(changes, now, actor)
        if delivery_changed:
            _check_delivery(updated)
        self._check_usage_control(updated)
        self._cancel_inflight_rotation(summary)
        self.store.put(updated, request_token=_next_version(base))
        try:
            self.store.set_tags(client_id, record_tags(updated))
            if updated.expires_at is None and record.expires_at is not None:
                self.store.remove_tags(client_id, [TAG_EXPIRES])
            self._apply_schedule(client_id, record.rotation.period_days, updated.rotation.period_days)
        except TokengateError:
            self._undo(lambda: self._restore_record(record), "update", client_id)
            raise
        self.audit("update", tenant=tenant, client_id=client_id, actor=actor, fields=sorted(changes))
        self._emit(DetailType.UPDATED, updated, actor, changed, expires_at=iso(updated.expires_at))
        return self._view(updated, summary)

    def revoke(self, tenant: str, client_id: str, actor: str) -> ClientView:
        self.revoke_client(tenant, client_id, actor)
        return self._summary_view(self.store.describe(client_id))

    def revoke_client(self, tenant: str, client_id: str, actor: str) -> None:
        """Revoke without reading the result back (the leak response revokes many at once)."""
        summary = self._owned(tenant, client_id)
        if not summary.revoked:
            self.store.set_tags(client_id, {TAG_REVOKED_BY: actor})
            try:
                self.store.schedule_deletion(client_id, self.settings.recovery_window_days)
            except RevokedError:
                pass  # a concurrent revoke won: the client is revoked either way
            except TokengateError:
                self._undo(lambda: self.store.remove_tags(client_id, [TAG_REVOKED_BY]), "revoke", client_id)
                raise
            self.audit("revoke", tenant=tenant, client_id=client_id, actor=actor)
            self._emit(DetailType.REVOKED, summary, actor, recovery_window_days=self.settings.recovery_window_days)

    def restore(self, tenant: str, client_id: str, actor: str) -> ClientView:
        summary = self._owned(tenant, client_id)
        if summary.revoked:
            self.store.restore(client_id)
            self.store.remove_tags(client_id, [TAG_REVOKED_BY])
            self.audit("restore", tenant=tenant, client_id=client_id, actor=actor)
            self._emit(DetailType.RESTORED, summary, actor)
        return self.get(tenant, client_id)

    def rotate(self, tenant: str, client_id: str, actor: str) -> IssuedClient:
        summary = self._owned(tenant, client_id, live=True)
        record, base = self.store.read(client_id)
        epoch = self.clock()
        token = self.format.generate(client_id, self._signer(epoch))
        rotated = record.rotated(token, utcnow_from(epoch), actor)
        self._cancel_inflight_rotation(summary)
        self.store.put(rotated, request_token=_next_version(base))
        if record.imported_sha256 is not None and rotated.previous is None:
            # No grace window: the imported token stops working now, so it leaves the keyring now
            # (else the sweep takes it out once its grace window has ended).
            digest = record.imported_sha256
            self._undo(lambda: imports.remove_imported(self.store, {digest}), "rotate_imported", client_id)
            self.reset()
        self.audit("rotate", tenant=tenant, client_id=client_id, actor=actor)
        self._emit(
            DetailType.ROTATED,
            rotated,
            actor,
            previous_token_valid_until=iso(rotated.previous.valid_until if rotated.previous else None),
        )
        return IssuedClient(client=self._view(rotated, summary), token=token)

    def usage(
        self, tenant: str, client_id: str, granularity: Granularity, start: datetime, end: datetime
    ) -> UsageReport:
        """Allowed and denied counts per hour or day, from the authorizer's usage counters."""
        self._owned(tenant, client_id)
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequestError("from and to need a time zone")
        if end < start:
            raise BadRequestError("to is before from")
        if end - start > MAX_USAGE_SPAN[granularity]:
            raise BadRequestError(f"at most {MAX_USAGE_SPAN[granularity].days} days of {granularity}ly buckets")
        if self.usage_query is None:
            raise UnavailableError("usage counters are not configured")
        hours = self.usage_query(client_id, usage.hour_bucket(start.timestamp()), usage.hour_bucket(end.timestamp()))
        merged: dict[str, Counter[str]] = {}
        for hour, counts in sorted(hours.items()):
            key = hour if granularity == "hour" else hour[:10]
            merged.setdefault(key, Counter()).update(counts)
        buckets = [
            UsageBucket(
                start=datetime.fromisoformat(
                    f"{key}:00:00+00:00" if granularity == "hour" else f"{key}T00:00:00+00:00"
                ),
                allowed=counts.get("allowed", 0),
                denied={reason: n for reason, n in sorted(counts.items()) if reason != "allowed"},
            )
            for key, counts in merged.items()
        ]
        return UsageReport(client_id=client_id, granularity=granularity, buckets=buckets)

    def _check_usage_control(self, record: ClientRecord) -> None:
        if record.has_usage_policy and not self.settings.usage_control:
            raise UsageControlDisabledError(
                "usage control is off in this deployment (its API Gateway authorizer cache would let"
                " cached allows past a limit): clear rate_limit, quota and allowed_cidrs, or enable it"
            )

    # -- deployment-wide -----------------------------------------------------------------------

    def keyring_view(self) -> KeyRingView:
        epoch = self.clock()
        ring = keyring.ensure(self.store, epoch)
        keys = [SigningKeyView.model_validate(k) for k in ring.describe(epoch)]
        return KeyRingView(keys=keys, legacy_key_ids=len(ring.legacy_key_ids))

    def rotate_keyring(self, actor: str) -> KeyRingView:
        """Add a signing key. It signs new tokens once every authorizer has loaded it; the old keys
        keep verifying the tokens they signed, so no client notices."""
        epoch = self.clock()
        keyring.ensure(self.store, epoch)
        try:
            ring = keyring.update(self.store, lambda r: r.with_new_key(epoch))
        except keyring.KeyRingError as error:
            raise KeyringFullError(str(error)) from None
        self.reset()
        self.audit("rotate_keyring", actor=actor, key=ring.keys[-1].name)
        return self.keyring_view()

    def migrate(self, actor: str) -> MigrationReport:
        """Bring clients issued before key ids were random and tokens tagged up to date; idempotent.

        Every client's name is recorded as taken (it was unique by construction then), and the
        key ids of clients whose tokens carry no tag (current, or previous still in grace) are
        listed in the keyring so the authorizer keeps accepting them until they rotate. Run it
        again after their grace windows end and the list shrinks.
        """
        epoch = self.clock()
        ring = keyring.ensure(self.store, epoch)
        summaries = self.store.list_all(include_revoked=True)
        legacy: set[str] = set()
        claimed, conflicts = 0, []
        for summary in summaries:
            holder = self.registry.claim(summary.tenant, summary.client_name, summary.key_id)
            if holder is None:
                claimed += 1
            elif holder != summary.key_id:
                conflicts.append(f"{summary.tenant}/{summary.client_name} ({summary.key_id})")
            if summary.key_id == _untagged_era_key_id(summary.tenant, summary.client_name) and (
                summary.revoked or self._has_untagged_token(summary.key_id, ring, epoch)
            ):
                legacy.add(summary.key_id)
        keyring.update(self.store, lambda r: r.with_legacy_key_ids(legacy))
        self.reset()
        self.audit("migrate", actor=actor, clients=len(summaries), legacy=len(legacy), conflicts=len(conflicts))
        return MigrationReport(
            clients=len(summaries), names_claimed=claimed, legacy_key_ids=len(legacy), conflicts=conflicts
        )

    def _has_untagged_token(self, key_id: str, ring: keyring.KeyRing, epoch: float) -> bool:
        record = self.store.get(key_id)
        if record.token is None:
            return False  # an imported client: its key id was never derived from its name
        if not ring.verify(tokens.parse(record.token.get_secret_value())):
            return True
        # The previous token is kept only as a digest: if it is still in grace, it may be untagged.
        return record.previous is not None and record.previous.valid_until.timestamp() > epoch

    # -- helpers -------------------------------------------------------------------------------

    def _owned(self, tenant: str, client_id: str, *, live: bool = False) -> SecretSummary:
        """The client, if it belongs to ``tenant``; another tenant's client is simply not found."""
        if not tokens.is_key_id(client_id):
            raise NotFoundError("client not found")
        summary = self.store.describe(client_id)
        if summary.tenant != tenant:
            raise NotFoundError("client not found")
        if live and summary.revoked:
            raise ConflictError("client is revoked: restore it first")
        return summary

    def _cancel_inflight_rotation(self, summary: SecretSummary) -> None:
        """An admin write supersedes a scheduled rotation in flight: without its AWSPENDING label
        that rotation's finishSecret fails safely instead of overwriting this write."""
        for version, stages in summary.version_stages.items():
            if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                self.store.move_stage(summary.key_id, "AWSPENDING", to_version=None, from_version=version)
                self.audit("cancel_rotation", tenant=summary.tenant, client_id=summary.key_id, version=version)

    def _apply_schedule(self, key_id: str, old_days: int | None, new_days: int | None) -> None:
        """Secrets Manager's schedule, where a rotation function is deployed (always, in AWS).
        Without one (the local stack) the schedule lives in the record and the local scheduler reads it."""
        arn = self.settings.rotation_function_arn
        if arn is None or old_days == new_days:
            return
        if new_days is None:
            self.store.cancel_rotation(key_id)
        else:
            self.store.schedule_rotation(key_id, arn, new_days)

    def _restore_record(self, record: ClientRecord) -> None:
        self.store.put(record, request_token=str(uuid.uuid4()))
        self.store.set_tags(record.key_id, record_tags(record))

    def _emit(
        self,
        detail_type: DetailType,
        client: ClientRecord | SecretSummary,
        actor: str,
        changed: Iterable[str] = (),
        **extra: Value,
    ) -> None:
        """Publish one lifecycle event for a change that happened (never fails the change)."""
        event = LifecycleEvent(
            detail_type,
            tenant=client.tenant,
            client_id=client.key_id,
            client_name=client.client_name,
            actor=actor,
            at=utcnow_from(self.clock()),
            changed=tuple(changed),
            extra=extra,
        )
        self.events.publish([event])

    def _undo(self, action: Callable[[], None], what: str, client_id: str) -> None:
        try:
            action()
        except TokengateError as error:
            self.audit("undo_failed", step=what, client_id=client_id, error=error.code)

    def _status(self, summary: SecretSummary | None, record: ClientRecord | None) -> Status:
        if summary is not None and summary.revoked:
            return "revoked"
        now = utcnow_from(self.clock())
        if record is not None:
            return record.status_at(now)
        assert summary is not None
        if not summary.enabled:
            return "disabled"
        if summary.expires_at is not None and now >= summary.expires_at:
            return "expired"
        return "active"

    def _summary_view(self, summary: SecretSummary) -> ClientView:
        return ClientView(
            client_id=summary.key_id,
            tenant=summary.tenant,
            client_name=summary.client_name,
            status=self._status(summary, None),
            enabled=summary.enabled,
            scopes=None,
            expires_at=summary.expires_at,
            created_at=summary.created_at,
            created_by=summary.created_by,
            updated_at=summary.last_changed_at,
            revoked_at=summary.deleted_at,
            revoked_by=summary.revoked_by,
        )

    def _view(self, record: ClientRecord, summary: SecretSummary | None) -> ClientView:
        return ClientView(
            client_id=record.key_id,
            tenant=record.tenant,
            client_name=record.client_name,
            status=self._status(summary, record),
            enabled=record.enabled,
            scopes=list(record.scopes),
            expires_at=record.expires_at,
            created_at=record.created_at,
            created_by=record.created_by,
            updated_at=record.updated_at,
            updated_by=record.updated_by,
            rotated_at=record.rotated_at,
            rotation=RotationView(
                period_days=record.rotation.period_days,
                grace_seconds=record.rotation.grace_seconds,
                next_rotation_at=summary.next_rotation_at if summary else None,
                previous_token_valid_until=record.previous.valid_until if record.previous else None,
            ),
            reader_arn=record.reader_arn,
            token_fetch=record.token_fetch,
            rate_limit=record.rate_limit,
            quota=record.quota,
            allowed_cidrs=record.allowed_cidrs,
            on_limit=record.on_limit,
            imported=record.imported,
        )
