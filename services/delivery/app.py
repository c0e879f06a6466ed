"""Token delivery (``GET /token``): a client that holds a still-valid token gets its current one.

The Lambda authorizer has already checked the presented token (current, or previous within its
grace window) and that the client allows token fetch; this function reads the client's secret
afresh and checks both again, the token from the request's own Authorization header, so a stale
authorizer cache cannot hand out a token the record no longer allows. The answer is never cached
(``Cache-Control: no-store``) and never logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import DeliverySettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.delivery import Request, deliver
from tokengate_core.runtime.aws import make_store
from tokengate_core.runtime.observability import make_logger

SPEC = FUNCTIONS["delivery"]
settings = DeliverySettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
store = make_store(settings)


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    answer = deliver(store, Request.from_event(event))
    logger.info("token delivery", extra=answer.fields)  # fields name the client and outcome, never a token
    return {
        "statusCode": answer.status,
        "headers": {"content-type": "application/json", **answer.headers, "cache-control": "no-store"},
        "body": json.dumps(answer.body, separators=(",", ":")),
    }
