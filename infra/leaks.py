"""The leak function: GitHub's secret scanning alerts at ``POST /leaks/github``.

It is the one route without gateway authorization (tokengate_core.deployment.routes.LEAKS_ROUTE): GitHub
cannot sign with SigV4 or hold a token of ours, so the function authenticates every request
itself, by GitHub's ECDSA signature, before it reads anything. What an outsider can make us pay
for is bounded by the route's own throttling (``leaksThrottleRateLimit``/``BurstLimit``): an
unsigned request is one short invocation that reads nothing.

Its role may read client secrets (a reported token's record, the keyring) and do what its leak
action needs (``leakAction``): revoke (tag, schedule deletion, and the tag's undo) or disable
(write the record and its tags, and take a pending scheduled rotation's label away so it cannot
overwrite the change), plus PutEvents for its event types, plus GetItem, PutItem and UpdateItem on
two kinds of the table's items: the partition where its containers share GitHub's key list
(records/github_keys.py), and the items that remember answered alerts (partition keys
``alert#...``, so that a replayed alert changes nothing). Nothing else: no listing, no creating,
no client names, no usage counters. Its asset bundles
``cryptography`` for the Lambda platform (bundle.py).
"""

from __future__ import annotations

from constructs import Construct

from infra.bundle import function_code
from infra.functions import FunctionAssets
from infra.secrets import LEAK_ACTIONS, LEAK_KMS_ACTIONS, TokenSecrets
from infra.table import ALERT_MEMORY_ACTIONS, INDEX_FEED_KEYS, INDEX_WRITE_ACTIONS, NameTable
from tokengate_core.deployment.config import LeakSettings
from tokengate_core.lifecycle import alerts
from tokengate_core.records import github_keys


class Leaks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
        table: NameTable,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = assets.settings
        environment = assets.environment(LeakSettings)
        # Deploy-time values (tokens) join after validation: the model checks literal values only.
        environment[LeakSettings.env_name("table_name")] = table.table.table_name
        handler = assets.function(self, "leaks", environment, code=function_code("leaks"))
        self.function = handler.function
        action = settings.leak_action
        secrets.grant(self, handler.role, LEAK_ACTIONS[action], kms_actions=LEAK_KMS_ACTIONS[action])
        # GitHub's shared key list and the alerts already answered (tokengate_core.lifecycle.alerts),
        # and no other item of the table.
        table.grant(
            self,
            handler.role,
            sorted({*github_keys.ACTIONS, *ALERT_MEMORY_ACTIONS}),
            leading_keys=[github_keys.PARTITION, f"{alerts.KEY_PREFIX}*"],
            # The digest index and the change feed: a revoke or disable denies there first.
            more=[(INDEX_WRITE_ACTIONS, INDEX_FEED_KEYS)],
        )
