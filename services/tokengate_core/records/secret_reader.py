"""The reading half of the Secrets Manager store: the two reads the authorizer makes (its keyring,
and a client's value), and the mapping of botocore's errors onto the domain's that every store
call goes through.

A module of its own because the authorizer's cold start compiles every module it imports from
source (a Lambda asset carries no bytecode): it needs these reads, not the store's writes,
listings, tags and rotation calls (:mod:`tokengate_core.records.store`, which extends this class).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from tokengate_core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RevokedError,
    TokengateError,
    UnavailableError,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

P = ParamSpec("P")
R = TypeVar("R")

_UNAVAILABLE_CODES = {
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
}


def translate(error: Exception) -> TokengateError:
    """Map botocore's errors onto the domain's, so no caller inspects AWS error codes."""
    # botocore is loaded by then (the call that failed was botocore's): importing it here keeps
    # it off the authorizer's import path, where a cached decision never needs it.
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, TokengateError):
        return error
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or ""
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code == "ResourceNotFoundException":
            return NotFoundError("client not found")
        if code == "InvalidRequestException" and ("deletion" in message.lower() or "deleted" in message.lower()):
            return RevokedError("client is revoked")
        if code == "InvalidNextTokenException":
            return BadRequestError("invalid next_token")
        if code in ("MalformedPolicyDocumentException", "InvalidParameterException"):
            return BadRequestError(f"Secrets Manager rejected the request: {message[:200]}")
        if code == "ResourceExistsException":
            return ConflictError("a client with this name already exists in the tenant")
        if code in _UNAVAILABLE_CODES or status >= 500:
            return UnavailableError(f"Secrets Manager unavailable ({code or status})")
        return UnavailableError(f"Secrets Manager refused the call ({code})")
    if isinstance(error, BotoCoreError):  # timeouts, refused connections, closed connections
        return UnavailableError(f"Secrets Manager unreachable ({type(error).__name__})")
    return TokengateError(f"unexpected store error ({type(error).__name__})")


class SecretsReader:
    """Reads of secrets named ``<prefix><key id>`` (and of the deployment's other secrets by name)."""

    def __init__(self, client: SecretsManagerClient, prefix: str) -> None:
        self._client = client
        self.prefix = prefix

    def secret_id(self, key_id: str) -> str:
        return f"{self.prefix}{key_id}"

    def get_value(self, key_id: str) -> str:
        """The AWSCURRENT SecretString, unparsed: the authorizer reads it without the model."""
        response = self._call(self._client.get_secret_value, SecretId=self.secret_id(key_id), VersionStage="AWSCURRENT")
        return response["SecretString"]

    def read_named(self, name: str) -> tuple[str, str]:
        """A secret that is not a client (the keyring): its AWSCURRENT value and version id."""
        response = self._call(self._client.get_secret_value, SecretId=name, VersionStage="AWSCURRENT")
        return response["SecretString"], response["VersionId"]

    @staticmethod
    def _call(operation: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Every read goes through here, and every failure leaves as a domain error, nothing raw."""
        try:
            return operation(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error, nothing escapes raw
            raise translate(error) from None
