"""The leak function: GitHub's secret scanning alerts at ``POST /leaks/github``.

It is the one route without gateway authorization (tokengate_core.deployment.routes.LEAKS_ROUTE): GitHub
cannot sign with SigV4 or hold a token of ours, so the function authenticates every request
itself, by GitHub's ECDSA signature, before it reads anything. What an outsider can make us pay
for is bounded by the route's own throttling (``leaksThrottleRateLimit``/``BurstLimit``): an
unsigned request is one short invocation that reads nothing.

Its role may read client secrets (a reported token's record, the keyring) and do what its leak
action needs (``leakAction``): revoke (tag, schedule deletion, and the tag's undo) or disable
(write the record and its tags, and take a pending scheduled rotation's label away so it cannot
overwrite the change), plus PutEvents for its event types. Nothing else: no listing, no
creating, no name table. Its asset bundles ``cryptography`` for the Lambda platform (bundle.py).
"""

from __future__ import annotations

from constructs import Construct

from infra.bundle import function_code
from infra.functions import FunctionAssets
from infra.secrets import LEAK_ACTIONS, LEAK_KMS_ACTIONS, TokenSecrets
from tokengate_core.deployment.config import LeakSettings


class Leaks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = assets.settings
        environment = assets.environment(LeakSettings)
        handler = assets.function(self, "leaks", environment, code=function_code("leaks"))
        self.function = handler.function
        action = settings.leak_action
        secrets.grant(self, handler.role, LEAK_ACTIONS[action], kms_actions=LEAK_KMS_ACTIONS[action])
