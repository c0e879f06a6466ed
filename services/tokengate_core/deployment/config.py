"""Configuration: one pydantic model per function, read from the environment at cold start.

The environment variable names are defined here and nowhere else; the CDK stack and the local
stack both build a function's environment from these models, and a test cross-checks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from tokengate_core.authorize.settings import (
    CONNECT_TIMEOUT,
    DEFAULT_SECRET_PREFIX,
    DEFAULT_TABLE_NAME,
    LAMBDA_RUNTIME_ENV,
    LOG_LEVEL_ENV,
    MAX_ATTEMPTS,
    NAMESPACE_PATTERN,
    READ_TIMEOUT,
    SECRET_PREFIX_PATTERN,
    TABLE_NAME_PATTERN,
    AuthorizerSettings,
    ConfigError,
    fail,
)
from tokengate_core.lifecycle.detail_types import DEFAULT_EVENT_BUS, EVENT_BUS_NAME_PATTERN
from tokengate_core.runtime.observability import NAMESPACE
from tokengate_core.tokens import format as tokens

__all__ = ["LAMBDA_RUNTIME_ENV", "AuthorizerSettings", "ConfigError"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class EnvModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
    env_prefix: ClassVar[str] = "TOKENGATE_"

    @classmethod
    def env_name(cls, field: str) -> str:
        alias = cls.model_fields[field].alias
        return alias or f"{cls.env_prefix}{field.upper()}"

    @classmethod
    def env_names(cls) -> list[str]:
        return [cls.env_name(name) for name in cls.model_fields]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from ``environ`` (default: the process environment); ConfigError, one line
        naming each bad variable and never its value, when they are invalid.

        A handler module reads the process environment at import. Under the Lambda runtime an
        exception there becomes an init error logged with the whole import traceback, so instead
        the one line is written to stderr and the process exits with status 1."""
        source = os.environ if environ is None else environ
        values = {name: source[cls.env_name(name)] for name in cls.model_fields if cls.env_name(name) in source}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{cls.env_name(str(e['loc'][0]))}: {e['msg']}" if e["loc"] else e["msg"] for e in error.errors()
            )
        raise fail(problems, environ)

    def to_env(self) -> dict[str, str]:
        """The environment a function needs for these settings (used by infra and the local stack)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            env[self.env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return env


SecretPrefix = Annotated[str, Field(pattern=SECRET_PREFIX_PATTERN)]
TokenPrefix = Annotated[str, Field(pattern=tokens.PREFIX_PATTERN)]


class StoreSettings(EnvModel):
    """What every function that reads secrets shares, with the limits the authorizer's own
    (hand-validated) settings use too."""

    secret_prefix: SecretPrefix = DEFAULT_SECRET_PREFIX
    sm_connect_timeout_seconds: Annotated[float, Field(gt=CONNECT_TIMEOUT[0], le=CONNECT_TIMEOUT[1])] = CONNECT_TIMEOUT[
        2
    ]
    sm_read_timeout_seconds: Annotated[float, Field(gt=READ_TIMEOUT[0], le=READ_TIMEOUT[1])] = READ_TIMEOUT[2]
    sm_max_attempts: Annotated[int, Field(ge=MAX_ATTEMPTS[0], le=MAX_ATTEMPTS[1])] = MAX_ATTEMPTS[2]
    log_level: Annotated[LogLevel, Field(alias=LOG_LEVEL_ENV)] = "INFO"


TableName = Annotated[str, Field(pattern=TABLE_NAME_PATTERN)]


def _never(capture: bool) -> bool:
    if capture:
        raise ValueError("would put a handler's response or an exception's message into traces")
    return capture


class TracerSettings(EnvModel):
    """Powertools Tracer's switches, for the functions X-Ray traces (functions.FunctionSpec.traced).

    By default Tracer records a handler's response and an exception's message in the trace: the
    admin API's response to an issue or rotate is the token, and a message may echo input. Both
    stay off; a value that turns one on fails the cold start instead of leaking.
    """

    tracer_capture_response: Annotated[
        bool, Field(alias="POWERTOOLS_TRACER_CAPTURE_RESPONSE"), AfterValidator(_never)
    ] = False
    tracer_capture_error: Annotated[bool, Field(alias="POWERTOOLS_TRACER_CAPTURE_ERROR"), AfterValidator(_never)] = (
        False
    )


class TokenSettings(EnvModel):
    """The deployment's token prefix, for the functions that mint tokens or tell its tokens from
    others (the authorizer's own settings carry the same field, with the same pattern and default)."""

    token_prefix: TokenPrefix = tokens.DEFAULT_PREFIX


def _not_reserved(namespace: str) -> str:
    if namespace.startswith("AWS/"):
        raise ValueError("namespaces starting with AWS/ are reserved")
    return namespace


class EventSettings(EnvModel):
    """Where a function's lifecycle events go (one bus, the only one its role may put events on),
    and the namespace of the metric that counts the ones it could not deliver (the stack's own)."""

    event_bus_name: Annotated[str, Field(pattern=EVENT_BUS_NAME_PATTERN)] = DEFAULT_EVENT_BUS
    metrics_namespace: Annotated[str, Field(pattern=NAMESPACE_PATTERN), AfterValidator(_not_reserved)] = NAMESPACE


#: How long a revoke can be undone (Secrets Manager's recovery window, 7 to 30 days).
RecoveryWindowDays = Annotated[int, Field(ge=7, le=30)]
LeakAction = Literal["revoke", "disable"]


class LeakActionSettings(EnvModel):
    """What is done to a client whose live token is reported leaked (by GitHub's secret scanning
    or an operator): revoked (recoverable for the recovery window), or only disabled."""

    leak_action: LeakAction = "revoke"


#: Who may loosen a tenant's guardrails: the tenant's own admins (its tenant-scoped route), or only
#: the deployment's (``PUT /admin/guardrails/{tenant}``, which no tenant-scoped policy grants).
GuardrailLoosening = Literal["tenant_admins", "deployment_admins"]


class AdminSettings(StoreSettings, TokenSettings, EventSettings, LeakActionSettings, TracerSettings):
    """The control-plane timeout is its own: RotateSecret may wait on the rotation function's test
    step (a cold start of its own), and a call that timed out may still take effect, so it gets
    one attempt with time to finish instead of the data plane's short timeout and retry."""

    #: The deployment's DynamoDB table (client-name claims, usage counters).
    table_name: TableName = DEFAULT_TABLE_NAME
    #: Whether the authorizer can enforce usage policies (the stack turns API Gateway's authorizer
    #: cache off for it); without it, a policy is refused rather than silently not enforced.
    usage_control: bool = True
    guardrail_loosening: GuardrailLoosening = "tenant_admins"
    default_grace_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 86400
    recovery_window_days: RecoveryWindowDays = 7
    rotation_function_arn: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:lambda:[^\s]+$")] = None
    kms_key_id: str | None = None
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
    sm_control_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0


class RotationSettings(StoreSettings, TokenSettings, EventSettings, TracerSettings):
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
    #: The deployment's table: the digest index and change feed the rotation steps write.
    table_name: TableName = DEFAULT_TABLE_NAME


ExpiryWarningDays = Annotated[float, Field(gt=0, le=90)]


StaleAfterDays = Annotated[int | None, Field(ge=1, le=3650)]
StaleAction = Literal["notify", "disable"]


class SweepSettings(StoreSettings, TokenSettings, EventSettings):
    """The daily sweep: how far ahead an expiry or the end of a grace window is reported, and when
    an enabled client is stale (unused that many days; off unless set) and what that does: a
    Client Stale event, and with ``disable`` the client disabled as the admin API disables one
    (audited, a Client Updated event, undone by enabling it); and the reconciliation
    (lifecycle.reconcile), in the same function, of the digest index in its table."""

    expiry_warning_days: ExpiryWarningDays = 7.0
    stale_after_days: StaleAfterDays = None
    stale_action: StaleAction = "notify"
    #: The deployment's table: the clients' last use (tokengate_core.authorize.last_used), the digest index.
    table_name: TableName = DEFAULT_TABLE_NAME
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0

    def client_settings(self) -> AdminSettings:
        """The client use cases' settings for a stale client's disable (the admin API's semantics,
        audit and events, with this function's own limits)."""
        shared = set(AdminSettings.model_fields) & set(type(self).model_fields)
        return AdminSettings(**{name: getattr(self, name) for name in shared})


class DeliverySettings(StoreSettings):
    """The token delivery function reads one client secret per call."""


class MainSettings(EnvModel):
    log_level: Annotated[LogLevel, Field(alias="POWERTOOLS_LOG_LEVEL")] = "INFO"


#: Where GitHub publishes the keys that sign its secret scanning alerts.
GITHUB_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning"
#: https, or plain http on loopback only (a test's or an offline mirror's server on this machine).
KEYS_URL_PATTERN = r"^(https://[^\s]{1,2000}|http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?/[^\s]{0,2000})$"


class LeakSettings(StoreSettings, TokenSettings, EventSettings, LeakActionSettings):
    """The leak endpoint (GitHub's secret scanning partner contract): where GitHub's public keys come
    from (``github_keys_file`` wins over the URL: tests and offline use), how long they are trusted
    before a refetch, and what is done to a live leaked token's client."""

    github_keys_url: Annotated[str, Field(pattern=KEYS_URL_PATTERN)] = GITHUB_KEYS_URL
    github_keys_file: Annotated[str | None, Field(pattern=r"^/[^\x00]{0,4095}$")] = None
    github_keys_ttl_seconds: Annotated[float, Field(ge=60, le=86400)] = 3600.0
    github_keys_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 3.0
    #: The deployment's table: its containers' shared copy of GitHub's keys (records.github_keys) and
    #: the alerts already answered (lifecycle.alerts), its only items there.
    table_name: TableName = DEFAULT_TABLE_NAME
    recovery_window_days: RecoveryWindowDays = 7
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
    sm_control_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0

    def client_settings(self) -> AdminSettings:
        """The client use cases' settings for the revoke or disable a leak leads to (the same
        semantics, audit and events as the admin API's, with this function's own limits)."""
        shared = (
            "secret_prefix",
            "token_prefix",
            "event_bus_name",
            "metrics_namespace",
            "log_level",
            "leak_action",
            "table_name",
        )
        return AdminSettings(
            **{name: getattr(self, name) for name in shared},
            recovery_window_days=self.recovery_window_days,
            sm_connect_timeout_seconds=self.sm_connect_timeout_seconds,
            sm_read_timeout_seconds=self.sm_read_timeout_seconds,
            sm_max_attempts=self.sm_max_attempts,
            sm_control_read_timeout_seconds=self.sm_control_read_timeout_seconds,
        )
