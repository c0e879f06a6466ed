"""The stack's CloudFormation outputs: a contract with the CLI (``tokengate --stack-name ...``)
and the docs. No aws-cdk-lib here, so the CLI can read the names without it."""

from __future__ import annotations

API_URL = "ApiUrl"
ADMIN_BASE_URL = "AdminBaseUrl"
#: The deployment's token prefix (`tokengate leaks pattern --stack-name` reads it).
TOKEN_PREFIX = "TokenPrefix"
#: The log group the stack's rule delivers lifecycle events to (`tokengate console` reads it).
LIFECYCLE_LOG_GROUP = "LifecycleLogGroup"

OUTPUT_KEYS = (
    API_URL,
    ADMIN_BASE_URL,
    "AuthorizerFunctionName",
    "MainFunctionName",
    "AdminFunctionName",
    "RotationFunctionName",
    "DeliveryFunctionName",
    "SweepFunctionName",
    "LeaksFunctionName",
    "LeaksUrl",
    "SecretPrefix",
    TOKEN_PREFIX,
    "KeyringSecretName",
    "TableName",
    LIFECYCLE_LOG_GROUP,
)
