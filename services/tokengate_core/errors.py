"""Domain errors with stable codes: the admin API maps them to HTTP, the authorizer to denials."""

from __future__ import annotations

#: Codes that are also authorizer decision reasons (tokengate_core.authorize.decision.Reason) and so
#: values of the ``reason`` metric dimension that the stack's alarms watch: defined here once.
BACKEND_UNAVAILABLE = "backend_unavailable"
CORRUPT_RECORD = "corrupt_record"
#: Usage-control denials (tokengate_core.authorize.usage); here so the authorizer names them without importing it.
RATE_LIMITED = "rate_limited"
QUOTA_EXHAUSTED = "quota_exhausted"
IP_NOT_ALLOWED = "ip_not_allowed"


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


class InvalidJsonError(TokengateError):
    """A request body that is not UTF-8 JSON within the parser's limits (nesting, number length)."""

    code = "invalid_json"
    status = 400


class BodyTooLargeError(TokengateError):
    code = "body_too_large"
    status = 413


class UnsupportedMediaTypeError(TokengateError):
    """A request body that is not declared as JSON, or is compressed: the API reads only plain JSON."""

    code = "unsupported_media_type"
    status = 415


class RouteNotFoundError(TokengateError):
    code = "route_not_found"
    status = 404


class ValidationFailedError(TokengateError):
    """Well-formed input that breaks the request's schema; the response lists where and why."""

    code = "validation_error"
    status = 422
