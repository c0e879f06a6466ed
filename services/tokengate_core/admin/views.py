"""What the admin API shows of a client: a full record (after a read or a write) or only the
secret's metadata (a listing, or a revoked client, whose value is no longer readable). Never a
token: a view has no field that could hold one.
"""

from __future__ import annotations

from datetime import datetime

from tokengate_core.admin.api import ClientView, RotationView, Status
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.store import SecretSummary


def status(summary: SecretSummary | None, record: ClientRecord | None, now: datetime) -> Status:
    if summary is not None and summary.revoked:
        return "revoked"
    if record is not None:
        return record.status_at(now)
    assert summary is not None
    if not summary.enabled:
        return "disabled"
    if summary.expires_at is not None and now >= summary.expires_at:
        return "expired"
    return "active"


def summary_view(summary: SecretSummary, now: datetime) -> ClientView:
    """A client from its metadata alone: no scopes (they live in the value), one DescribeSecret."""
    return ClientView(
        client_id=summary.key_id,
        tenant=summary.tenant,
        client_name=summary.client_name,
        status=status(summary, None, now),
        enabled=summary.enabled,
        scopes=None,
        expires_at=summary.expires_at,
        created_at=summary.created_at,
        created_by=summary.created_by,
        updated_at=summary.last_changed_at,
        revoked_at=summary.deleted_at,
        revoked_by=summary.revoked_by,
    )


def record_view(record: ClientRecord, summary: SecretSummary | None, now: datetime) -> ClientView:
    """A client in full; ``summary`` adds what only the secret's metadata knows (the next scheduled
    rotation, whether it is revoked)."""
    return ClientView(
        client_id=record.key_id,
        tenant=record.tenant,
        client_name=record.client_name,
        status=status(summary, record, now),
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
