"""Domain errors with stable codes: the admin API maps them to HTTP, the authorizer to denials."""

from __future__ import annotations

#: Codes that are also authorizer decision reasons (tokengate_core.authorize.Reason) and so
#: values of the ``reason`` metric dimension that the stack's alarms watch: defined here once.
BACKEND_UNAVAILABLE = "backend_unavailable"
CORRUPT_RECORD = "corrupt_record"


class TokengateError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(TokengateError):
    code = "not_found"
    status = 404


class RevokedError(TokengateError):
    """The client's secret is scheduled for deletion (revoked, still restorable)."""

    code = "revoked"
    status = 409


class BadRequestError(TokengateError):
    code = "invalid_request"
    status = 400


class ConflictError(TokengateError):
    code = "conflict"
    status = 409


class UnavailableError(TokengateError):
    """Secrets Manager throttled, timed out, refused, or answered 5xx: worth retrying later."""

    code = BACKEND_UNAVAILABLE
    status = 503


class CorruptRecordError(TokengateError):
    """A secret under our prefix whose value is not a valid client record."""

    code = CORRUPT_RECORD
    status = 500
