"""Every domain and API error, each with its stable code and HTTP status: the admin API answers
with them, the authorizer turns them into denials, the other functions log their codes.

Every subclass of :class:`TokengateError` is defined here and nowhere else (a test holds that), so
this module is the list of codes a caller can meet; the README's table of error codes is checked
against it. Exceptions that never leave the module that raises them (a token that does not parse,
a keyring value tokengate did not write, a leak alert that is not GitHub's shape) stay with their
parser: each is turned into one of these, or into a denial, at the boundary.
"""

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


class ForbiddenError(TokengateError):
    """An admin request without an IAM identity (API Gateway's AWS_IAM authorization gave none)."""

    code = "forbidden"
    status = 403


# -- the admin use cases' refusals ------------------------------------------------------------------


class UsageControlDisabledError(BadRequestError):
    """A usage policy (rate limit, quota, allowed CIDRs) where the deployment has no usage control."""

    code = "usage_control_disabled"


class DeliveryPathError(BadRequestError):
    """A rotation schedule that would leave the client without its new token."""

    code = "no_delivery_path"


class KeyringFullError(ConflictError):
    """Old keys stay while tokens they tagged may be in use; past the limit, drop one first."""

    code = "keyring_full"


class AlreadyImportedError(ConflictError):
    """The token is imported already (by whichever client: the message names none)."""


class WeakTokenError(TokengateError):
    """An imported token too weak to keep using, and the importer did not accept that."""

    code = "weak_token"
    status = 422


class GuardrailViolationError(TokengateError):
    """A client that would break its tenant's guardrails (an expiry too far away or missing, a
    rotation period too long or missing, a scope outside the allowed patterns)."""

    code = "guardrail_violation"
    status = 422


class GuardrailLooseningReservedError(ForbiddenError):
    """A tenant-scoped change that would loosen the tenant's guardrails where the deployment
    reserves loosening to its own admins (the route they alone are granted)."""

    code = "guardrail_loosening_reserved"


# -- the rotation function's --------------------------------------------------------------------------


class RotationError(TokengateError):
    """A rotation step refused (Secrets Manager sees a failed invocation and retries): never an
    admin API response."""

    code = "rotation_error"
