"""The protected integration: proves the authorizer's tenant and client reach the backend."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from tokengate_core.authorize.limited import limited
from tokengate_core.deployment.config import MainSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.runtime.observability import log_redacted_event, make_logger

SPEC = FUNCTIONS["main"]
settings = MainSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)


class CallerContext(BaseModel):
    """What the authorizer put under ``requestContext.authorizer.lambda``."""

    model_config = ConfigDict(extra="ignore")
    tenant: str
    client_id: str
    client_name: str
    scopes: str = ""


# The event carries the caller's token in its Authorization header: logged only redacted.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@log_redacted_event(logger)
@event_source(data_class=APIGatewayProxyEventV2)
def handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    authorized = event.request_context.authorizer.get_lambda or {}
    caller = CallerContext.model_validate(authorized)
    logger.info("invoked", extra={"tenant": caller.tenant, "client_id": caller.client_id})
    told = limited(authorized)
    if told is not None:
        # The authorizer let a limited request through so that this answer could be a 429.
        return told.response()
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"Hello, {caller.client_name} of {caller.tenant}",
                "tenant": caller.tenant,
                "client_id": caller.client_id,
                "client_name": caller.client_name,
                "scopes": [s for s in caller.scopes.split(",") if s],
                "route": event.route_key,
            },
            separators=(",", ":"),
        ),
    }
