"""The token delivery function (``GET /token``, behind the Lambda authorizer).

A client with no IAM identity picks up its rotated token here with the token it holds. The
function reads the client's secret and nothing else, so its role may only read: it can never
write a secret, whatever a request makes it do.
"""

from __future__ import annotations

from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_DECRYPT, READ_ACTIONS, TokenSecrets
from tokengate_core.deployment.config import DeliverySettings


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = assets.environment(DeliverySettings)
        handler = assets.function(self, "delivery", environment)
        self.function = handler.function
        secrets.grant(self, handler.role, READ_ACTIONS, kms_actions=KMS_DECRYPT)
