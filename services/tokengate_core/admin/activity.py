"""When clients were last used, as the admin API shows, filters and sorts them.

The authorizer writes each client's last use (tokengate_core.authorize.last_used); a view reads it
in one BatchGetItem per page of clients (one GetItem's worth per client), never per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tokengate_core.admin.api import ClientView
from tokengate_core.admin.context import AdminContext
from tokengate_core.errors import UnavailableError


def with_last_used(ctx: AdminContext, views: Sequence[ClientView]) -> list[ClientView]:
    """``views`` with ``last_used_at`` filled in; UnavailableError if it cannot be read (a 503: a
    filter or a sort on a value that is not there would answer wrong)."""
    if not views or ctx.last_used_query is None:
        return list(views)
    try:
        found = ctx.last_used_query([v.client_id for v in views])
    except Exception:  # noqa: BLE001 - botocore's errors are many; the caller gets one
        raise UnavailableError("the clients' last use could not be read") from None
    return [
        v.model_copy(update={"last_used_at": datetime.fromtimestamp(found[v.client_id], UTC)})
        if v.client_id in found
        else v
        for v in views
    ]


def unused_since(views: Sequence[ClientView], since: datetime) -> list[ClientView]:
    """The clients not used at or after ``since`` (never used ones included)."""
    return [v for v in views if v.last_used_at is None or v.last_used_at < since]


def least_recently_used_first(views: Sequence[ClientView]) -> list[ClientView]:
    """Least recently used first; never used first of all, oldest client first among those."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(views, key=lambda v: (v.last_used_at or oldest, v.created_at or oldest, v.client_id))
