"""What the authorizer's cold start imports before its first request.

Its cold start is measured against the reference design's (`make bench`, section 3), and what a
module builds at import is paid on every cold start: pydantic's models, botocore (deferred to the
first cache miss), Powertools (deferred to the first failure it logs), the event publisher, and
dataclasses, whose generated methods cost ~0.7 ms per class to build (the value types on this path
are NamedTuples, ~60 µs each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tokengate import SERVICES_DIR

DEFERRED = (
    "pydantic",
    "botocore",
    "boto3",
    "aws_lambda_powertools",
    "tokengate_core.deployment.config",
    "tokengate_core.records.model",
    "tokengate_core.lifecycle.events",
    "tokengate_core.authorize.usage",
)

PROBE = """
import json, sys
import authorizer.app
dataclasses = sorted(
    f"{name}.{value.__name__}"
    for name, module in list(sys.modules.items())
    if name.startswith(("tokengate_core", "authorizer"))
    for value in vars(module).values()
    if isinstance(value, type) and "__dataclass_fields__" in vars(value)
)
print(json.dumps({"modules": sorted(sys.modules), "dataclasses": dataclasses}))
"""


def test_importing_the_authorizer_builds_no_model_client_logger_or_dataclass() -> None:
    # -I: no PYTHONPATH or site-packages of the caller beyond the interpreter's; -B: no .pyc written.
    probe = f"import sys; sys.path.insert(0, {str(SERVICES_DIR)!r})\n{PROBE}"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1"}
    command = [sys.executable, "-I", "-B", "-c", probe]
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    loaded = set(report["modules"])
    assert "authorizer.app" in loaded
    assert [name for name in DEFERRED if name in loaded] == []
    assert report["dataclasses"] == []
