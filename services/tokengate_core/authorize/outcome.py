"""What a decision is: its reason (the stable code every log line, metric and test names) and its
outcome, apart from the code that reaches it (tokengate_core.authorize.decision)."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from tokengate_core import errors


class Reason(StrEnum):
    ALLOWED = "allowed"
    MISSING = "missing_token"
    MALFORMED = "malformed"
    FOREIGN_PREFIX = "foreign_prefix"  # a token of another deployment (another prefix)
    BAD_CHECKSUM = "bad_checksum"
    FORGED = "forged"  # well-formed, but no key of this deployment made its tag
    UNKNOWN_KEY_ID = "unknown_key_id"
    WRONG_SECRET = "wrong_secret"
    DISABLED = "disabled"
    REVOKED = "revoked"
    EXPIRED = "expired"
    OUT_OF_SCOPE = "out_of_scope"
    IP_NOT_ALLOWED = errors.IP_NOT_ALLOWED
    RATE_LIMITED = errors.RATE_LIMITED
    QUOTA_EXHAUSTED = errors.QUOTA_EXHAUSTED
    BACKEND_UNAVAILABLE = errors.BACKEND_UNAVAILABLE
    CORRUPT_RECORD = errors.CORRUPT_RECORD
    INVALID_EVENT = "invalid_event"
    INTERNAL_ERROR = "internal_error"


class Decision(NamedTuple):
    reason: Reason
    key_id: str | None = None
    tenant: str | None = None
    context: dict[str, str] | None = None
    cache: str = "none"  # none | hit | miss | stale | refresh
    grace: bool = False  # allowed with the previous token inside its grace window
    degraded: bool = False  # usage control could not reach DynamoDB; its fail-open/closed rule decided
    imported: bool = False  # the presented value was an imported token

    @property
    def allowed(self) -> bool:
        return self.reason is Reason.ALLOWED
