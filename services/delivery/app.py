"""Token delivery (``GET /token``): a client that holds a still-valid token gets its current one.

The Lambda authorizer has already checked the presented token (current, or previous within its
grace window) and that the client allows token fetch; this function reads the client's secret
afresh and checks both again, so a stale authorizer cache cannot hand out a token the record no
longer allows. The answer is never cached (``Cache-Control: no-store``) and never logged.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import DeliverySettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.delivery import deliver
from tokengate_core.runtime.aws import make_store
from tokengate_core.runtime.observability import make_logger

SPEC = FUNCTIONS["delivery"]
settings = DeliverySettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
store = make_store(settings)


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    authorizer = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    status, body, fields = deliver(store, authorizer)
    logger.info("token delivery", extra=fields)  # fields name the client and outcome, never a token
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }
