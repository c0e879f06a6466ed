"""The stack's CloudFormation outputs: a contract with the CLI (``tokengate --stack-name ...``)
and the docs. No aws-cdk-lib here, so the CLI can read the names without it."""

from __future__ import annotations

from tokengate_core.deployment.functions import FUNCTIONS, FunctionName

API_URL = "ApiUrl"
ADMIN_BASE_URL = "AdminBaseUrl"
#: The deployment's token prefix (`tokengate leaks pattern --stack-name` reads it).
TOKEN_PREFIX = "TokenPrefix"
#: The log group the stack's rule delivers lifecycle events to (`tokengate console` reads it).
LIFECYCLE_LOG_GROUP = "LifecycleLogGroup"


def function_name_output(name: FunctionName) -> str:
    """The output that holds a function's deployed name: ``AdminFunctionName`` for ``admin``."""
    return f"{name.title()}FunctionName"


OUTPUT_KEYS = (
    API_URL,
    ADMIN_BASE_URL,
    *(function_name_output(name) for name in FUNCTIONS),
    "LeaksUrl",
    "SecretPrefix",
    TOKEN_PREFIX,
    "KeyringSecretName",
    "TableName",
    LIFECYCLE_LOG_GROUP,
)
