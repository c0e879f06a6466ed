"""The deploy-time knobs, read from CDK context (cdk.json, or `npx cdk deploy -c key=value`).

Every knob has a default here, so a bare `cdk deploy` works; a bad value fails the synth with the
key's name instead of deploying something half-configured. Values given with `-c` arrive as
strings, so the model parses them (lax mode) rather than trusting their type.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from tokengate_core.deployment.config import (
    GITHUB_KEYS_URL,
    KEYS_URL_PATTERN,
    AuthorizerSettings,
    ExpiryWarningDays,
    GuardrailLoosening,
    LeakAction,
    LogLevel,
    SecretPrefix,
    StaleAction,
    StaleAfterDays,
    SweepSettings,
    TokenPrefix,
)
from tokengate_core.deployment.functions import FunctionName
from tokengate_core.deployment.routes import STAGE_DEFAULT, authorizer_cache_allowed
from tokengate_core.lifecycle.detail_types import DEFAULT_EVENT_BUS, EVENT_BUS_NAME_PATTERN
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS
from tokengate_core.runtime.observability import NAMESPACE

if TYPE_CHECKING:
    from constructs import Node  # aws-cdk-lib's: the CLI reads these settings without it

#: CloudWatch Logs accepts only these retention periods: days, by their aws_logs.RetentionDays name.
RETENTION_DAYS = {
    "ONE_DAY": 1,
    "THREE_DAYS": 3,
    "FIVE_DAYS": 5,
    "ONE_WEEK": 7,
    "TWO_WEEKS": 14,
    "ONE_MONTH": 30,
    "TWO_MONTHS": 60,
    "THREE_MONTHS": 90,
    "FOUR_MONTHS": 120,
    "FIVE_MONTHS": 150,
    "SIX_MONTHS": 180,
    "ONE_YEAR": 365,
    "THIRTEEN_MONTHS": 400,
    "EIGHTEEN_MONTHS": 545,
    "TWO_YEARS": 731,
    "THREE_YEARS": 1096,
    "FIVE_YEARS": 1827,
    "SIX_YEARS": 2192,
    "SEVEN_YEARS": 2557,
    "EIGHT_YEARS": 2922,
    "NINE_YEARS": 3288,
    "TEN_YEARS": 3653,
}

#: CloudFormation stack names: a letter, then letters, digits and hyphens, 128 at most.
STACK_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"

#: EventBridge schedule expressions: ``rate(<n> <unit>)`` or ``cron(<six fields>)``.
SCHEDULE_PATTERN = r"^(rate\([1-9][0-9]{0,4} (minute|minutes|hour|hours|day|days)\)|cron\([^()]{9,200}\))$"

#: Context keys earlier versions read, and why they are gone.
REMOVED_CONTEXT_KEYS = {
    "powertoolsLayerVersion": "the functions get the Powertools layer of the Powertools release the"
    ' lockfiles pin (docs/deploy.md, "Powertools layer")',
}

#: Every function's instruction set (functions.py says why); the capacity plan prices it.
LAMBDA_ARCHITECTURE: Literal["arm64", "x86_64"] = "arm64"


def stack_secret_prefix(stack_name: str) -> str:
    """A stack's default secret prefix: its own namespace under ``tokengate/``.

    Two stacks in one account with one prefix would each accept the other's tokens and each
    admin API could manage the other's clients; the stack name is unique per account and
    region, and the trailing ``/`` keeps one stack's prefix from being a prefix of another's
    (``tokengate/A/`` vs ``tokengate/AB/``).
    """
    return f"tokengate/{stack_name}/clients/"


def stack_metrics_namespace(stack_name: str) -> str:
    """A stack's CloudWatch namespace for the authorizer's metrics: its alarms must never count
    another stack's denials, and the metric names and dimensions are the same in every stack."""
    return f"{NAMESPACE}/{stack_name}"


class SettingsError(ValueError):
    """A context value is invalid; the message names the context key."""


class StackSettings(BaseModel):
    """One field per context key; the key is the camelCase field name (e.g. ``apiCacheTtlSeconds``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    stack_name: Annotated[str, Field(pattern=STACK_NAME_PATTERN)] = "TokenGate"
    stage: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")] = STAGE_DEFAULT
    #: Default: stack_secret_prefix(stack_name), filled in before validation.
    secret_prefix: SecretPrefix
    #: The deployment's token prefix (TOKENGATE_TOKEN_PREFIX): a deployment with its own can enrol
    #: its own pattern with secret scanners. Fixed for a deployment's life: tokens carry it.
    token_prefix: TokenPrefix = AuthorizerSettings.default("token_prefix")
    #: The one event bus (in the deploying account and region) the lifecycle events go to.
    event_bus_name: Annotated[str, Field(pattern=EVENT_BUS_NAME_PATTERN)] = DEFAULT_EVENT_BUS
    #: When the sweep runs (an EventBridge schedule expression: rate(...) or cron(...)).
    sweep_schedule: Annotated[str, Field(pattern=SCHEDULE_PATTERN)] = "rate(1 day)"
    #: What a reported leak of a live token does to its client (TOKENGATE_LEAK_ACTION).
    leak_action: LeakAction = "revoke"
    #: Where the leak function reads GitHub's secret scanning keys (TOKENGATE_GITHUB_KEYS_URL).
    github_keys_url: Annotated[str, Field(pattern=KEYS_URL_PATTERN)] = GITHUB_KEYS_URL
    #: The leak route's own throttling: it takes unauthenticated requests, so it is kept small.
    leaks_throttle_rate_limit: Annotated[float, Field(gt=0, le=10_000)] = 5.0
    leaks_throttle_burst_limit: Annotated[int, Field(ge=0, le=10_000)] = 10
    #: How far ahead the sweep reports expiries and ending grace windows (TOKENGATE_EXPIRY_WARNING_DAYS).
    expiry_warning_days: ExpiryWarningDays = SweepSettings.model_fields["expiry_warning_days"].default
    #: An enabled client unused this many days is stale (Client Stale, from the sweep); off unless set.
    stale_after_days: StaleAfterDays = None
    #: What the sweep does to a stale client besides the event: nothing (notify) or disable it.
    stale_action: StaleAction = "notify"
    #: Per-client rate limits, quotas and IP allowlists (tokengate_core.authorize.usage), enforced by the
    #: authorizer on every request: API Gateway's authorizer cache must then be off
    #: (routes.authorizer_cache_allowed). Without it, the admin API refuses usage policies.
    usage_control: bool = True
    #: Who may loosen a tenant's guardrails (TOKENGATE_GUARDRAIL_LOOSENING): tenant_admins, or only
    #: deployment_admins (the route a tenant-scoped policy never grants; docs/deploy.md).
    guardrail_loosening: GuardrailLoosening = "tenant_admins"
    #: API Gateway's authorizer result cache; off by default (usage control needs it off), and
    #: when on it adds to the revocation bound.
    api_cache_ttl_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    #: The authorizer's own in-memory cache while it reads the change feed (TOKENGATE_CACHE_TTL_SECONDS);
    #: without the feed its entries live TOKENGATE_FALLBACK_TTL_SECONDS.
    authorizer_cache_ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = AuthorizerSettings.default(
        "cache_ttl_seconds"
    )
    log_level: LogLevel = "INFO"
    log_retention_days: int = 30
    #: Stage-wide default route throttling (steady requests/second and burst).
    throttle_rate_limit: Annotated[float, Field(gt=0, le=1_000_000)] = 100.0
    throttle_burst_limit: Annotated[int, Field(ge=0, le=1_000_000)] = 200
    #: Optional reserved concurrency per function, e.g. {"authorizer": 100}.
    reserved_concurrency: dict[FunctionName, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    #: Optional customer-managed KMS key for the token secrets (ARN of an existing key).
    kms_key_arn: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")] = (
        None
    )
    #: Also count the authorizer's decisions per tenant (TOKENGATE_METRIC_TENANT_DIMENSION): custom
    #: metrics per tenant, billed per metric and month (docs/deploy.md).
    metric_tenant_dimension: bool = AuthorizerSettings.default("metric_tenant_dimension")
    #: Optional SNS topic every alarm notifies (on alarm and back to OK). A standard topic: a FIFO
    #: topic delivers only to SQS FIFO queues, so it could not e-mail anyone.
    alarm_topic_arn: Annotated[
        str | None, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _default_secret_prefix(cls, data: Any) -> Any:
        if not isinstance(data, dict) or {"secret_prefix", "secretPrefix"} & data.keys():
            return data
        default = cls.model_fields["stack_name"].default
        stack_name = data.get("stackName", data.get("stack_name", default))
        if not isinstance(stack_name, str) or not re.fullmatch(STACK_NAME_PATTERN, stack_name):
            stack_name = default  # the stack name's own error is the one to report
        return {**data, "secretPrefix": stack_secret_prefix(stack_name)}

    @model_validator(mode="after")
    def _cache_fits_usage_control(self) -> StackSettings:
        if self.api_cache_enabled and not authorizer_cache_allowed(self.usage_control):
            raise ValueError(
                "context keys usageControl and apiCacheTtlSeconds: with usage control on, apiCacheTtlSeconds"
                f" must be 0 (got {self.api_cache_ttl_seconds}), since a cached allow would let requests past a"
                " rate limit, a quota or an IP allowlist; set usageControl=false to use API Gateway's authorizer"
                " cache (the admin API then refuses usage policies)"
            )
        return self

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in RETENTION_DAYS.values():
            raise ValueError(f"must be one of {tuple(RETENTION_DAYS.values())}")
        return value

    @field_validator("reserved_concurrency", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        # `-c reservedConcurrency='{"authorizer": 100}'` arrives as a string.
        return json.loads(value) if isinstance(value, str) else value

    @property
    def api_cache_enabled(self) -> bool:
        return self.api_cache_ttl_seconds > 0

    @property
    def metrics_namespace(self) -> str:
        return stack_metrics_namespace(self.stack_name)

    @property
    def revocation_bound_seconds(self) -> float:
        """Worst case from a revoke until every request with that token is denied while the digest
        index is readable: a container that cannot read the change feed keeps its long TTL for
        FEED_FALLBACK_SECONDS, then its entries live the fallback TTL (docs/architecture.md). While
        the feed is read, a revoke is denied within about FEED_INTERVAL_SECONDS."""
        fallback: float = AuthorizerSettings.default("fallback_ttl_seconds")
        return self.api_cache_ttl_seconds + FEED_FALLBACK_SECONDS + fallback

    @classmethod
    def context_keys(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """The settings from the app's context; keys that are absent take their defaults, and a
        key this version no longer reads is refused rather than silently ignored."""
        for key, why in REMOVED_CONTEXT_KEYS.items():
            if node.try_get_context(key) is not None:
                raise SettingsError(f"invalid tokengate settings: context key {key}: no longer a setting: {why}")
        values = {key: node.try_get_context(key) for key in cls.context_keys()}
        return cls.from_mapping({k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> StackSettings:
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"context key {'.'.join(str(p) for p in e['loc'])!s}: {e['msg']}"
                if e["loc"]
                else str(e["msg"]).removeprefix("Value error, ")  # a rule across keys names them itself
                for e in error.errors()
            )
            raise SettingsError(f"invalid tokengate settings: {problems}") from None
