"""A client's usage report: allowed and denied counts per hour or day, read from the counters the
authorizer's usage gate keeps (``tokengate_core.authorize.usage``), where usage control is deployed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Literal

from tokengate_core.admin.api import UsageBucket, UsageReport
from tokengate_core.admin.context import AdminContext
from tokengate_core.authorize import usage
from tokengate_core.errors import BadRequestError, UnavailableError

Granularity = Literal["hour", "day"]
#: The widest range one usage query may span, per granularity.
MAX_USAGE_SPAN: dict[str, timedelta] = {"hour": timedelta(days=31), "day": timedelta(days=400)}


def report(
    ctx: AdminContext, tenant: str, client_id: str, *, granularity: Granularity, start: datetime, end: datetime
) -> UsageReport:
    """Allowed and denied counts per hour or day, from the authorizer's usage counters."""
    ctx.owned(tenant, client_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequestError("from and to need a time zone")
    if end < start:
        raise BadRequestError("to is before from")
    if end - start > MAX_USAGE_SPAN[granularity]:
        raise BadRequestError(f"at most {MAX_USAGE_SPAN[granularity].days} days of {granularity}ly buckets")
    if ctx.usage_query is None:
        raise UnavailableError("usage counters are not configured")
    hours = ctx.usage_query(client_id, usage.hour_bucket(start.timestamp()), usage.hour_bucket(end.timestamp()))
    merged: dict[str, Counter[str]] = {}
    for hour, counts in sorted(hours.items()):
        key = hour if granularity == "hour" else hour[:10]
        merged.setdefault(key, Counter()).update(counts)
    buckets = [
        UsageBucket(
            start=datetime.fromisoformat(f"{key}:00:00+00:00" if granularity == "hour" else f"{key}T00:00:00+00:00"),
            allowed=counts.get("allowed", 0),
            denied={reason: n for reason, n in sorted(counts.items()) if reason != "allowed"},
        )
        for key, counts in merged.items()
    ]
    return UsageReport(client_id=client_id, granularity=granularity, buckets=buckets)
