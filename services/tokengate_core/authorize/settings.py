"""The authorizer's settings, apart from the other functions' and validated by hand, to keep the
authorizer's cold path cheap: its cold start is measured, and pydantic plus building a model
costs more than the whole first decision.

The other functions' settings are pydantic models in :mod:`tokengate_core.deployment.config`; the limits the
two share (the secret prefix, the Secrets Manager client's timeouts) are defined here once and
used by both. The interface is the one those models have (``from_env``, ``to_env``,
``env_names``), so the CDK stack and the local stack build every function's environment alike.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple, Self

from tokengate_core.lifecycle.detail_types import DEFAULT_EVENT_BUS, EVENT_BUS_NAME_PATTERN
from tokengate_core.runtime.observability import NAMESPACE as DEFAULT_NAMESPACE
from tokengate_core.tokens import format as tokens

#: Set by the Lambda runtime, and only there: the handler's settings are being read at a cold start.
LAMBDA_RUNTIME_ENV = "AWS_LAMBDA_RUNTIME_API"
ENV_PREFIX = "TOKENGATE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"
SECRET_PREFIX_PATTERN = r"^[A-Za-z0-9/_+=.@-]{1,200}/$"
DEFAULT_SECRET_PREFIX = "tokengate/clients/"
#: (exclusive lower bound, inclusive upper bound, default) of the Secrets Manager client's settings.
CONNECT_TIMEOUT = (0.0, 10.0, 1.0)
READ_TIMEOUT = (0.0, 30.0, 1.0)
MAX_ATTEMPTS = (1, 5, 2)
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
DEFAULT_TABLE_NAME = "tokengate"
#: ASCII letters, digits and ``. - _ / # :``, not starting with ``:``, 255 at most; ``AWS/`` is reserved.
NAMESPACE_PATTERN = r"^[A-Za-z0-9._/#-][A-Za-z0-9._/#:-]{0,254}$"


class ConfigError(RuntimeError):
    """Raised at cold start: the message names the offending variable so a deploy fails loudly."""


def fail(message: str, environ: Mapping[str, str] | None) -> ConfigError:
    """The error for a bad setting. Under the Lambda runtime an exception at import becomes an init
    error logged with the whole traceback, so there the one line goes to stderr and the process
    exits with status 1 instead."""
    message = " ".join(f"invalid configuration: {message}".split())
    if environ is None and LAMBDA_RUNTIME_ENV in os.environ:
        print(f"tokengate: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    return ConfigError(message)


class _Number(NamedTuple):
    kind: type[int] | type[float]
    low: float  # inclusive unless exclusive_low
    high: float
    default: float
    exclusive_low: bool = False

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if self.kind is int and value != int(value):
            raise ValueError("must be a whole number")
        low_ok = value > self.low if self.exclusive_low else value >= self.low
        if not (low_ok and value <= self.high):
            kind = ">" if self.exclusive_low else ">="
            raise ValueError(f"must be {kind} {self.low:g} and <= {self.high:g}")
        return self.kind(value)

    def parse(self, text: str) -> float:
        try:
            value = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"must be a{' whole' if self.kind is int else ''} number") from None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class _Text(NamedTuple):
    pattern: str
    default: str
    reserved_prefix: str | None = None

    def check(self, value: Any) -> str:
        anchored = self.pattern.removeprefix("^").removesuffix("$")  # fullmatch: no newline slips past $
        if not isinstance(value, str) or not re.fullmatch(anchored, value):
            raise ValueError(f"must match {self.pattern}")
        if self.reserved_prefix and value.startswith(self.reserved_prefix):
            raise ValueError(f"values starting with {self.reserved_prefix} are reserved")
        return value

    def parse(self, text: str) -> str:
        return text


class _Choice(NamedTuple):
    choices: tuple[str, ...]
    default: str

    def check(self, value: Any) -> str:
        if value not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return str(value)

    def parse(self, text: str) -> str:
        return text


class _Flag(NamedTuple):
    default: bool

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    def parse(self, text: str) -> bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError("must be true or false")


_Kind = _Number | _Text | _Choice | _Flag


class AuthorizerSettings:
    """A cached client lives ``cache_ttl_seconds`` while the change feed is read (the feed evicts
    what changed) and ``fallback_ttl_seconds`` once it has not been read for
    tokengate_core.records.feed.FEED_FALLBACK_SECONDS: then that TTL bounds revocation latency.
    Client lookups read the digest index with ``index_timeout_seconds`` and one attempt.

    The negative TTL is also the interval of every backoff
    (an unknown id, a failing backend, a missing keyring), so it has a floor: at zero it would turn
    each of those into one paid read per request; the cache bound has one for the same reason.

    Every decision is a metric by reason; the per-tenant dimension set is opt-in because each
    tenant then adds custom metrics that CloudWatch bills per metric and month.

    Usage control (tokengate_core.authorize.usage) reads the deployment's table with a short timeout and one
    attempt: a decision waits at most that long. When DynamoDB fails, rate limits let requests
    through and quotas refuse them, unless these say otherwise."""

    FIELDS: ClassVar[dict[str, _Kind]] = {
        "secret_prefix": _Text(SECRET_PREFIX_PATTERN, DEFAULT_SECRET_PREFIX),
        "token_prefix": _Text(tokens.PREFIX_PATTERN, tokens.DEFAULT_PREFIX),
        "sm_connect_timeout_seconds": _Number(float, *CONNECT_TIMEOUT, exclusive_low=True),
        "sm_read_timeout_seconds": _Number(float, *READ_TIMEOUT, exclusive_low=True),
        "sm_max_attempts": _Number(int, *MAX_ATTEMPTS),
        "log_level": _Choice(LOG_LEVELS, "INFO"),
        "cache_ttl_seconds": _Number(float, 0, 3600, 3600.0),
        "fallback_ttl_seconds": _Number(float, 0, 3600, 30.0),
        "negative_cache_ttl_seconds": _Number(float, 1, 3600, 10.0),
        "max_stale_seconds": _Number(float, 0, 86400, 300.0),
        "cache_max_entries": _Number(int, 1000, 1_000_000, 100_000),
        "metric_tenant_dimension": _Flag(False),
        "metrics_namespace": _Text(NAMESPACE_PATTERN, DEFAULT_NAMESPACE, reserved_prefix="AWS/"),
        "table_name": _Text(TABLE_NAME_PATTERN, DEFAULT_TABLE_NAME),
        "usage_timeout_seconds": _Number(float, 0, 5, 0.5, exclusive_low=True),
        "index_timeout_seconds": _Number(float, 0, 5, 0.5, exclusive_low=True),
        "rate_limit_fail_open": _Flag(True),
        "quota_fail_open": _Flag(False),
        "event_bus_name": _Text(EVENT_BUS_NAME_PATTERN, DEFAULT_EVENT_BUS),
    }
    ALIASES: ClassVar[dict[str, str]] = {"log_level": LOG_LEVEL_ENV}

    secret_prefix: str
    token_prefix: str
    sm_connect_timeout_seconds: float
    sm_read_timeout_seconds: float
    sm_max_attempts: int
    log_level: str
    cache_ttl_seconds: float
    fallback_ttl_seconds: float
    negative_cache_ttl_seconds: float
    max_stale_seconds: float
    cache_max_entries: int
    metric_tenant_dimension: bool
    metrics_namespace: str
    table_name: str
    usage_timeout_seconds: float
    index_timeout_seconds: float
    rate_limit_fail_open: bool
    quota_fail_open: bool
    event_bus_name: str

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        problems = []
        for name, kind in self.FIELDS.items():
            value = values.get(name, kind.default)
            try:
                object.__setattr__(self, name, kind.check(value))
            except ValueError as error:
                problems.append(f"{self.env_name(name)}: {error}")
        if problems:
            raise ConfigError(f"invalid configuration: {'; '.join(problems)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthorizerSettings) and self.to_env() == other.to_env()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_env().items())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes``."""
        return type(self)(**{**{name: getattr(self, name) for name in self.FIELDS}, **changes})

    @classmethod
    def default(cls, name: str) -> Any:
        return cls.FIELDS[name].default

    @classmethod
    def env_name(cls, field: str) -> str:
        return cls.ALIASES.get(field) or f"{ENV_PREFIX}{field.upper()}"

    @classmethod
    def env_names(cls) -> list[str]:
        return [cls.env_name(name) for name in cls.FIELDS]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from ``environ`` (default: the process environment); ConfigError, one line
        naming each bad variable and never its value, when they are invalid."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems = []
        for name, kind in cls.FIELDS.items():
            text = source.get(cls.env_name(name))
            if text is None:
                continue
            try:
                values[name] = kind.check(kind.parse(text))
            except ValueError as error:
                problems.append(f"{cls.env_name(name)}: {error}")
        if problems:
            raise fail("; ".join(problems), environ)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment a function needs for these settings (used by infra and the local stack)."""
        env = {}
        for name in self.FIELDS:
            value = getattr(self, name)
            env[self.env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return env
