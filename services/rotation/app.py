"""Rotation function: Secrets Manager invokes it once per step; a raised error makes it retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import RotationSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.rotation import Rotator, parse_event
from tokengate_core.runtime.aws import make_client_index, make_publisher, make_store
from tokengate_core.runtime.observability import make_logger, safe_error

SPEC = FUNCTIONS["rotation"]
settings = RotationSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
tracer = Tracer(service=SPEC.service)
rotator = Rotator(
    make_store(settings),
    token_prefix=settings.token_prefix,
    events=make_publisher(settings, SPEC.service),
    index=make_client_index(settings),
)


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    step, secret_id, token = parse_event(event)
    fields = {"step": step, "secret_id": secret_id, "version_id": token}
    try:
        outcome = rotator.run(step, secret_id, token)
    except Exception as error:
        logger.error("rotation step failed", extra={**fields, **safe_error(error)})
        raise
    logger.info("rotation step done", extra={**fields, "outcome": outcome})
