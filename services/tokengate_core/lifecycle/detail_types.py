"""The detail-types of tokengate's lifecycle events, on their own: the route table (which events a
function may publish, and so its role may put) needs them at every cold start, the publisher
(tokengate_core.lifecycle.events) only when something changes."""

from __future__ import annotations

from enum import StrEnum


class DetailType(StrEnum):
    ISSUED = "Client Issued"
    UPDATED = "Client Updated"
    ROTATED = "Client Rotated"
    REVOKED = "Client Revoked"
    RESTORED = "Client Restored"
    EXPIRING = "Client Expiring"
    LEAKED = "Token Leaked"
