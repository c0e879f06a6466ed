"""The detail-types of tokengate's lifecycle events, in a module of their own to keep every
function's cold start cheap: the function table (which events a function may publish, and so its
role may put) is imported at every cold start and needs only these names, while the publisher
(tokengate_core.lifecycle.events) and what it imports are loaded only where something changes."""

from __future__ import annotations

from enum import StrEnum

#: The bus a deployment publishes to unless its stack names another (context ``eventBusName``).
DEFAULT_EVENT_BUS = "default"
#: An event bus name in the deploying account and region (EventBridge's EventBusName rule).
EVENT_BUS_NAME_PATTERN = r"^[A-Za-z0-9._/-]{1,256}$"


class DetailType(StrEnum):
    ISSUED = "Client Issued"
    UPDATED = "Client Updated"
    ROTATED = "Client Rotated"
    REVOKED = "Client Revoked"
    RESTORED = "Client Restored"
    EXPIRING = "Client Expiring"
    LEAKED = "Token Leaked"
    STALE = "Client Stale"
    QUOTA_THRESHOLD = "Client Quota Threshold"
