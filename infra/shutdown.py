"""The shutdown extension: a layer holding one executable, ``extensions/tokengate-shutdown``.

Lambda sends a function's runtime SIGTERM before it ends an execution environment only when an
external extension is registered, and then gives the runtime up to 300 ms before the extensions'
share of the 2,000 ms shutdown phase (AWS Lambda Developer Guide, "Lambda Extensions API",
Shutdown phase; aws-samples/graceful-shutdown-with-aws-lambda). The functions whose spec asks for
it (``FunctionSpec.graceful_shutdown``: the authorizer, which holds usage counts in memory) get
this layer; its extension registers for SHUTDOWN alone, so it costs no call per invocation, and
is a bash script (no interpreter to start, nothing to ship but the file). The function's own
SIGTERM handler does the work (tokengate_core.runtime.shutdown).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

#: The layer's contents: Lambda extracts a layer to /opt and starts every file of /opt/extensions.
LAYER_DIR = Path(__file__).parent / "shutdown_extension"
EXTENSION_FILE = LAYER_DIR / "extensions" / "tokengate-shutdown"
_CONSTRUCT_ID = "ShutdownExtension"


def shutdown_layer(
    scope: Construct, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> lambda_.ILayerVersion:
    """The stack's one shutdown-extension layer, made at its first use."""
    stack = Stack.of(scope)
    found = stack.node.try_find_child(_CONSTRUCT_ID)
    if isinstance(found, lambda_.LayerVersion):
        return found
    return lambda_.LayerVersion(
        stack,
        _CONSTRUCT_ID,
        code=lambda_.Code.from_asset(str(LAYER_DIR)),
        compatible_runtimes=[runtime],
        compatible_architectures=[architecture],
        description="tokengate: an external extension registered for SHUTDOWN, so the runtime gets SIGTERM",
    )
