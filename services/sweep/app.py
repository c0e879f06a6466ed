"""The daily sweep (an EventBridge schedule invokes it): Client Expiring events for what ends
within the warning window, and imported tokens no client accepts taken out of the keyring."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import SweepSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.sweep import Sweeper
from tokengate_core.runtime.aws import make_publisher, make_store
from tokengate_core.runtime.observability import make_logger

SPEC = FUNCTIONS["sweep"]
settings = SweepSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
sweeper = Sweeper(
    make_store(settings), make_publisher(settings, SPEC.service), warning_days=settings.expiry_warning_days
)


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext | None) -> dict[str, object]:
    """The event (the schedule's) carries nothing the sweep needs; a failure raises, so Lambda's
    error metric and the schedule's retry see it."""
    report = sweeper.run()
    fields = report.fields()
    logger.info("sweep done", extra=fields)  # ids and counts, never a token or a digest
    return fields
