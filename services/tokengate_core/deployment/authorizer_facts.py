"""The two facts of the deployment the authorizer decides with, kept out of the function and route
tables (:mod:`~tokengate_core.deployment.functions`, :mod:`~tokengate_core.deployment.routes`), which
build their entries from these: the authorizer compiles every module it imports from source at
each cold start (a Lambda asset carries no bytecode), and those tables with their types are most
of a deployment's description it never reads.
"""

from __future__ import annotations

#: The authorizer's service name (POWERTOOLS_SERVICE_NAME, the ``service`` of its log lines and metrics).
AUTHORIZER_SERVICE = "tokengate-authorizer"

#: Where a client fetches its current token with a still-valid one (services/delivery): the one
#: route the authorizer treats apart (the client's ``token_fetch`` grants it, not its scopes).
DELIVERY_METHOD = "GET"
DELIVERY_PATH = "/token"
DELIVERY_ROUTE_KEY = f"{DELIVERY_METHOD} {DELIVERY_PATH}"
