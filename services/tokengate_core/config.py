"""Configuration: one pydantic model per function, read from the environment at cold start.

The environment variable names are defined here and nowhere else; the CDK stack and the local
stack both build a function's environment from these models, and a test cross-checks them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from tokengate_core.observability import NAMESPACE

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


#: Set by the Lambda runtime, and only there: the handler's settings are being read at a cold start.
LAMBDA_RUNTIME_ENV = "AWS_LAMBDA_RUNTIME_API"


class ConfigError(RuntimeError):
    """Raised at cold start: the message names the offending variable so a deploy fails loudly."""


class _EnvModel(BaseModel):
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
            message = " ".join(f"invalid configuration: {problems}".split())
        if environ is None and LAMBDA_RUNTIME_ENV in os.environ:
            print(f"tokengate: {message}", file=sys.stderr, flush=True)
            raise SystemExit(1)
        raise ConfigError(message)

    def to_env(self) -> dict[str, str]:
        """The environment a function needs for these settings (used by infra and the local stack)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            env[self.env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return env


SecretPrefix = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@-]{1,200}/$")]


class StoreSettings(_EnvModel):
    secret_prefix: SecretPrefix = "tokengate/clients/"
    sm_connect_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 1.0
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 1.0
    sm_max_attempts: Annotated[int, Field(ge=1, le=5)] = 2
    log_level: Annotated[LogLevel, Field(alias="POWERTOOLS_LOG_LEVEL")] = "INFO"


def _not_reserved(namespace: str) -> str:
    if namespace.startswith("AWS/"):
        raise ValueError("namespaces starting with AWS/ are reserved for AWS")
    return namespace


#: A CloudWatch namespace: ASCII letters, digits and ``. - _ / # :``, not starting with ``:`` or
#: with ``AWS/`` (reserved), 255 at most.
MetricsNamespace = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9._/#-][A-Za-z0-9._/#:-]{0,254}$"), AfterValidator(_not_reserved)
]


class AuthorizerSettings(StoreSettings):
    """Cache TTL bounds revocation latency. The negative TTL is also the interval of every
    backoff (an unknown id, a failing backend, a missing keyring), so it has a floor: at zero it
    would turn each of those into one paid read per request.

    Every decision is a metric by reason; the per-tenant dimension set is opt-in because each
    tenant then adds custom metrics that CloudWatch bills per metric and month."""

    cache_ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    negative_cache_ttl_seconds: Annotated[float, Field(ge=1, le=3600)] = 10.0
    max_stale_seconds: Annotated[float, Field(ge=0, le=86400)] = 300.0
    cache_max_entries: Annotated[int, Field(ge=1000, le=1_000_000)] = 100_000
    metric_tenant_dimension: bool = False
    metrics_namespace: MetricsNamespace = NAMESPACE


TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")]


def _never(capture: bool) -> bool:
    if capture:
        raise ValueError("would put a handler's response or an exception's message into traces")
    return capture


class TracerSettings(_EnvModel):
    """Powertools Tracer's switches, for the functions X-Ray traces (routes.FunctionSpec.traced).

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


class AdminSettings(StoreSettings, TracerSettings):
    """The control-plane timeout is its own: RotateSecret may wait on the rotation function's test
    step (a cold start of its own), and a call that timed out may still take effect, so it gets
    one attempt with time to finish instead of the data plane's short timeout and retry."""

    #: The deployment's DynamoDB table (client-name claims).
    table_name: TableName = "tokengate"
    default_grace_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 86400
    recovery_window_days: Annotated[int, Field(ge=7, le=30)] = 7
    rotation_function_arn: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:lambda:[^\s]+$")] = None
    kms_key_id: str | None = None
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
    sm_control_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10.0


class RotationSettings(StoreSettings, TracerSettings):
    sm_read_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0


class DeliverySettings(StoreSettings):
    """The token delivery function reads one client secret per call."""


class MainSettings(_EnvModel):
    log_level: Annotated[LogLevel, Field(alias="POWERTOOLS_LOG_LEVEL")] = "INFO"
