"""Powertools Logger/Metrics/Tracer set up once per function, plus the redaction rule.

No log line may carry a token, a secret value or an Authorization header. Handlers log only
fields they choose; exceptions are logged by type and frames, never by message, because a
message (a pydantic error, say) may echo the input it rejected. Whole events are logged only
through :func:`redact_event`, whatever Powertools' settings, and the AWS SDK never logs bodies.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from tokengate_core.tokens.format import ANY_PREFIX_PATTERN, KEY_ID_PATTERN

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

#: The metrics namespace of a function's own defaults (the local stack, tests); a deployed stack
#: sets its own (AuthorizerSettings.metrics_namespace), so two stacks' alarms never mix.
NAMESPACE = "tokengate"
REDACTED = "[redacted]"
#: Powertools' switch for logging each incoming event (read once, at cold start, as Powertools does).
LOG_EVENT_ENV = "POWERTOOLS_LOGGER_LOG_EVENT"
#: Headers that carry credentials: a bearer token, a SigV4 signature and session token, cookies.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token", "x-api-key"}
)
#: Anything shaped like a token of any deployment (a prefix, a key id, ``_`` and a run of token
#: characters, so a cut-off token too), wherever it turns up.
_TOKEN_LIKE = re.compile(rf"{ANY_PREFIX_PATTERN}{KEY_ID_PATTERN}_[A-Za-z0-9]{{8,}}")
#: Event fields that hold caller credentials or caller-chosen content as a whole.
_SECRET_FIELDS = frozenset({"identitySource", "cookies"})
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
Result = TypeVar("Result")

#: The authorizer's decision metrics, one per decision, and their dimensions. The alarms and the
#: dashboard (infra/monitoring.py) are built from these names.
METRIC_AUTHORIZED = "Authorized"
METRIC_DENIED = "Denied"
DIMENSION_SERVICE = "service"
DIMENSION_REASON = "reason"
DIMENSION_TENANT = "tenant"
#: Per decision that looked a key id up, 1 or 0: the Average of CacheHit is the cache hit ratio,
#: the Sum of IndexFetch the decisions that read the digest index (one attempt each).
METRIC_CACHE_HIT = "CacheHit"
METRIC_INDEX_FETCH = "IndexFetch"

#: authorize.Decision.cache values: no lookup at all (the token never got that far), served from
#: the cache, fetched from the digest index (a miss, or a refetch after a digest mismatch).
CACHE_NONE = "none"
CACHE_HIT = "hit"
CACHE_FETCHED = frozenset({"miss", "refresh"})

Dimensions = tuple[tuple[str, ...], ...]
_BY_REASON: Dimensions = ((DIMENSION_SERVICE, DIMENSION_REASON),)
_BY_REASON_AND_TENANT: Dimensions = ((DIMENSION_SERVICE, DIMENSION_REASON), (DIMENSION_SERVICE, DIMENSION_TENANT))


def make_logger(service: str, level: str) -> Logger:
    from aws_lambda_powertools import Logger  # deferred: see lazy_logger

    return Logger(service=service, level=level)


def safe_error(error: BaseException) -> dict[str, object]:
    """An exception as loggable fields: its type and where it happened, not what it said."""
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "error_type": type(error).__name__,
        "error_at": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-5:]],
    }


def decision_dimensions(tenant: str | None, per_tenant: bool) -> Dimensions:
    """Every decision counts by reason; with ``per_tenant`` (and a known tenant) also by tenant,
    which costs one custom metric per tenant and decision metric (docs/deploy.md)."""
    return _BY_REASON_AND_TENANT if per_tenant and tenant else _BY_REASON


@cache
def _directives(namespace: str, metric: str, dimensions: Dimensions, looked_up: bool) -> str:
    """The EMF ``CloudWatchMetrics`` array, serialized once per shape (a handful per container)."""
    directives: list[dict[str, Any]] = [
        {"Namespace": namespace, "Dimensions": dimensions, "Metrics": [{"Name": metric, "Unit": "Count"}]}
    ]
    if looked_up:
        metrics = [{"Name": name, "Unit": "Count"} for name in (METRIC_CACHE_HIT, METRIC_INDEX_FETCH)]
        directives.append({"Namespace": namespace, "Dimensions": [[DIMENSION_SERVICE]], "Metrics": metrics})
    return json.dumps(directives, separators=(",", ":"))


def emit_decision(
    service: str,
    metric: str,
    fields: dict[str, Any],
    dimensions: Dimensions,
    *,
    namespace: str = NAMESPACE,
    cache: str = CACHE_NONE,
) -> None:
    """One line that is both the structured log entry and the CloudWatch EMF metric.

    The authorizer writes one per request. Powertools' Metrics flush re-validates the metric set
    on every call (about 100 µs, three quarters of a warm decision, measured by `make bench`);
    this writes the same Embedded Metric Format document with one ``json.dumps`` of the fields,
    the metric directives being the same few strings every time. Every dimension named must be
    a top-level key of ``fields``. A decision that looked its key id up (``cache`` other than
    ``none``) also carries CacheHit and IndexFetch, by service only.
    """
    now = int(time.time() * 1000)
    document = {
        "level": "INFO" if metric == METRIC_AUTHORIZED else "WARNING",
        "message": "authorization decision",
        "service": service,
        "timestamp": now,
        **fields,
        metric: 1,
    }
    looked_up = cache != CACHE_NONE
    if looked_up:
        document[METRIC_CACHE_HIT] = int(cache == CACHE_HIT)
        document[METRIC_INDEX_FETCH] = int(cache in CACHE_FETCHED)
    head = json.dumps(document, separators=(",", ":"), default=str)
    directives = _directives(namespace, metric, dimensions, looked_up)
    sys.stdout.write(f'{head[:-1]},"_aws":{{"Timestamp":{now},"CloudWatchMetrics":{directives}}}}}\n')


def emit_metric(
    service: str,
    metric: str,
    value: float,
    fields: dict[str, Any],
    *,
    namespace: str,
    message: str,
    level: str = "ERROR",
) -> None:
    """One log line that is also a CloudWatch EMF metric (by ``service``): for the few events worth
    both a line to read and a number to alarm on. ``fields`` must hold nothing secret."""
    now = int(time.time() * 1000)
    document = {"level": level, "message": message, "service": service, "timestamp": now, **fields, metric: value}
    document["_aws"] = {
        "Timestamp": now,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": [[DIMENSION_SERVICE]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }
        ],
    }
    sys.stdout.write(json.dumps(document, separators=(",", ":"), default=str) + "\n")


@cache
def lazy_logger(service: str, level: str) -> Logger:
    """The authorizer's Powertools logger, built on first use: it only logs failures (decisions go
    through :func:`emit_decision`), and importing Powertools is ~50 ms of every cold start."""
    return make_logger(service, level)


def redact_event(event: Any) -> Any:
    """An event as it may be logged: credential headers, identity sources and cookies replaced,
    the body reduced to its length (a caller may put anything in it), and any token-shaped string
    masked wherever it appears."""
    if isinstance(event, dict):
        redacted: dict[str, Any] = {}
        for key, value in event.items():
            name = str(key)
            if name.lower() in ("headers", "multivalueheaders") and isinstance(value, dict):
                redacted[name] = {
                    k: REDACTED if str(k).lower() in SECRET_HEADERS else redact_event(v) for k, v in value.items()
                }
            elif name in _SECRET_FIELDS and value:
                redacted[name] = REDACTED
            elif name == "body" and isinstance(value, str) and value:
                redacted[name] = f"[{len(value)} characters]"
            else:
                redacted[name] = redact_event(value)
        return redacted
    if isinstance(event, list):
        return [redact_event(item) for item in event]
    if isinstance(event, str):
        return _TOKEN_LIKE.sub(REDACTED, event)
    return event


def log_redacted_event(logger: Logger) -> Callable[[Callable[[Any, Any], Result]], Callable[[Any, Any], Result]]:
    """Logs each event, redacted, when POWERTOOLS_LOGGER_LOG_EVENT asks for event logging.

    Powertools' own event logging writes the raw event, Authorization header included, so
    handlers turn it off (``inject_lambda_context(log_event=False)``) and wrap themselves in this,
    which honours the same variable."""
    enabled = os.environ.get(LOG_EVENT_ENV, "false").strip().lower() in _TRUE

    def wrap(handler: Callable[[Any, Any], Result]) -> Callable[[Any, Any], Result]:
        if not enabled:
            return handler

        @functools.wraps(handler)
        def logged(event: Any, context: Any) -> Result:
            logger.info(redact_event(event))
            return handler(event, context)

        return logged

    return wrap


def keep_bodies_out_of_sdk_logs() -> None:
    """botocore logs every request and response body at DEBUG: for Secrets Manager, every token
    (CreateSecret, PutSecretValue, GetSecretValue). Its loggers stay at INFO or above whatever the
    root logger's level (Lambda's AWS_LAMBDA_LOG_LEVEL=DEBUG sets the root logger to DEBUG)."""
    import logging  # deferred with boto3 itself: the authorizer's cold start imports neither

    for name in ("botocore", "boto3"):
        sdk = logging.getLogger(name)
        if sdk.level < logging.INFO:
            sdk.setLevel(logging.INFO)
