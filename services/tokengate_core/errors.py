"""Domain errors with stable codes: the admin API maps them to HTTP, the authorizer to denials."""

from __future__ import annotations


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

    code = "backend_unavailable"
    status = 503


class CorruptRecordError(TokengateError):
    """A secret under our prefix whose value is not a valid client record."""

    code = "corrupt_record"
    status = 500
