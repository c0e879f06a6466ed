"""Powertools Logger/Metrics/Tracer set up once per function, plus the redaction rule.

No log line may carry a token, a secret value or an Authorization header. Handlers log only
fields they choose; exceptions are logged by type and frames, never by message, because a
message (a pydantic error, say) may echo the input it rejected.
"""

from __future__ import annotations

import traceback

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "tokengate"


def make_logger(service: str, level: str) -> Logger:
    return Logger(service=service, level=level)


def make_metrics(service: str) -> Metrics:
    return Metrics(namespace=NAMESPACE, service=service)


def safe_error(error: BaseException) -> dict[str, object]:
    """An exception as loggable fields: its type and where it happened, not what it said."""
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "error_type": type(error).__name__,
        "error_at": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-5:]],
    }
