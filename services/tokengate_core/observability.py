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

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "tokengate"
REDACTED = "[redacted]"
#: Powertools' switch for logging each incoming event (read once, at cold start, as Powertools does).
LOG_EVENT_ENV = "POWERTOOLS_LOGGER_LOG_EVENT"
#: Headers that carry credentials: a bearer token, a SigV4 signature and session token, cookies.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token", "x-api-key"}
)
#: Anything shaped like a token (``tg_`` and a run of token characters), wherever it turns up.
_TOKEN_LIKE = re.compile(r"tg_[A-Za-z0-9_-]{8,}")
#: Event fields that hold caller credentials or caller-chosen content as a whole.
_SECRET_FIELDS = frozenset({"identitySource", "cookies"})
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
Result = TypeVar("Result")


def make_logger(service: str, level: str) -> Logger:
    from aws_lambda_powertools import Logger  # deferred: see lazy_logger

    return Logger(service=service, level=level)


def make_metrics(service: str) -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=service)


def safe_error(error: BaseException) -> dict[str, object]:
    """An exception as loggable fields: its type and where it happened, not what it said."""
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "error_type": type(error).__name__,
        "error_at": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-5:]],
    }


def emit_decision(service: str, metric: str, fields: dict[str, Any], dimensions: list[list[str]]) -> None:
    """One line that is both the structured log entry and the CloudWatch EMF metric.

    The authorizer writes one per request. Powertools' Metrics flush re-validates the metric set
    on every call (about 100 µs, three quarters of a warm decision, measured by `make bench`);
    this writes the same Embedded Metric Format document in one ``json.dumps``. Every dimension
    named must be a top-level key of ``fields``.
    """
    now = int(time.time() * 1000)
    document = {
        "level": "INFO" if metric == "Authorized" else "WARNING",
        "message": "authorization decision",
        "service": service,
        "timestamp": now,
        **fields,
        metric: 1,
        "_aws": {
            "Timestamp": now,
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": [{"Name": metric, "Unit": "Count"}]}
            ],
        },
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
