"""The Lambda authorizer: REQUEST type, payload 2.0, simple responses ({"isAuthorized": ...}).

Two caches bound how long a revoked token keeps working:

- API Gateway's result cache (``apiCacheTtlSeconds``), keyed by the identity sources: off
  whenever usage control is on (the default), since a cached allow never reaches the authorizer
  and so never meets a rate limit, a quota or an allowlist; and
- the authorizer's in-memory cache (TOKENGATE_CACHE_TTL_SECONDS, ``authorizerCacheTtlSeconds``),
  which the change feed evicts from within about a second, and which falls back to a short TTL
  when the feed cannot be read (settings.revocation_bound_seconds).
With API Gateway's cache on, the key also holds the route key and the HTTP method, because a
client's scopes are per method and route: a decision cached for ``GET /invoke`` must never answer
for ``POST /invoke`` or another route.

The authorizer keeps its usage counters and its clients' last use in the deployment's table (it
may update those items there: tokengate_core.authorize.usage_table.AUTHORIZER_ITEMS, by
``dynamodb:LeadingKeys``), reads the digest index and the change feed there (GetItem and Query on
their partitions only), and reads the signing keyring, the one secret it may read: it cannot read
a client's secret, hence no token.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from constructs import Construct

from infra.functions import FunctionAssets
from infra.secrets import KMS_DECRYPT, READ_ACTIONS, TokenSecrets
from infra.table import INDEX_FEED_KEYS, INDEX_READ_ACTIONS, USAGE_COUNTER_ACTIONS, NameTable
from tokengate_core.authorize.usage_table import AUTHORIZER_ITEMS
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.deployment.routes import identity_sources


class Authorizer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: FunctionAssets,
        secrets: TokenSecrets,
        table: NameTable,
        keyring_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = assets.settings
        environment = assets.environment(AuthorizerSettings, cache_ttl_seconds=settings.authorizer_cache_ttl_seconds)
        # The table's name is a deploy-time token: it joins after validation, as in the admin function.
        environment[AuthorizerSettings.env_name("table_name")] = table.table.table_name
        handler = assets.function(self, "authorizer", environment)
        self.function = handler.function
        # The signing keyring is the one secret it reads: clients come from the digest index.
        secrets.grant_keyring(self, handler.role, READ_ACTIONS, keyring_arn=keyring_arn, kms_actions=KMS_DECRYPT)
        table.grant(
            self,
            handler.role,
            USAGE_COUNTER_ACTIONS,
            leading_keys=AUTHORIZER_ITEMS,
            more=[(INDEX_READ_ACTIONS, INDEX_FEED_KEYS)],
        )
        self.route_authorizer = authorizers.HttpLambdaAuthorizer(
            "TokenAuthorizer",
            self.function,
            authorizer_name="tokengate",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=identity_sources(settings.api_cache_enabled),
            results_cache_ttl=Duration.seconds(settings.api_cache_ttl_seconds),
        )
