"""What the authorizer's cold start imports before its first request, and which packages stay
light enough to be on it.

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

import pytest

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
    # What integrations answer a request let through over a limit: only a client with a policy.
    "tokengate_core.authorize.limited",
    # The store's writes and listings, and the function and route tables with their event types:
    # the authorizer reads through records.secret_reader and deployment.authorizer_facts instead.
    "tokengate_core.records.store",
    "tokengate_core.deployment.functions",
    "tokengate_core.deployment.routes",
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


#: Every tokengate module the authorizer imports before its first request. Each is paid on every
#: cold start, and compiled from source each time (a Lambda asset carries no bytecode: `make bench`,
#: section 3, measures it that way), so one joins this list deliberately; the packages' ``__init__``
#: files import nothing.
COLD_PATH = {
    "authorizer.app",
    "tokengate_core.errors",
    "tokengate_core.authorize.cache",
    "tokengate_core.authorize.decision",
    "tokengate_core.authorize.outcome",
    "tokengate_core.authorize.settings",
    "tokengate_core.deployment.authorizer_facts",
    "tokengate_core.lifecycle.detail_types",  # the event bus's name rule: it sends Client Quota Threshold
    "tokengate_core.records.feed",
    "tokengate_core.records.index",
    "tokengate_core.records.rules",
    "tokengate_core.records.secret_reader",
    "tokengate_core.records.view",
    "tokengate_core.runtime.aws",
    "tokengate_core.runtime.observability",
    "tokengate_core.runtime.shutdown",
    "tokengate_core.tokens.format",
    "tokengate_core.tokens.keyring",
}
PACKAGES = {"authorizer", "tokengate_core", *(name.rpartition(".")[0] for name in COLD_PATH)}
#: What no module of the authorizer's cold path, nor any module of these packages, imports when it
#: is imported: each is what a Lambda cold start pays most for.
HEAVY = ("pydantic", "botocore", "boto3", "aws_lambda_powertools")
#: Packages whose every module stays light (a new module is checked as soon as it exists).
LIGHT_PACKAGES = ("authorize", "tokens")


def _light_modules() -> list[str]:
    core = SERVICES_DIR / "tokengate_core"
    packaged = [
        f"tokengate_core.{package}.{path.stem}"
        for package in LIGHT_PACKAGES
        for path in sorted((core / package).glob("*.py"))
        if path.stem != "__init__"
    ]
    return sorted(set(packaged) | {name for name in COLD_PATH if name.startswith("tokengate_core.")})


def _run(probe: str) -> dict[str, list[str]]:
    # -I: no PYTHONPATH or site-packages of the caller beyond the interpreter's; -B: no .pyc written.
    code = f"import sys; sys.path.insert(0, {str(SERVICES_DIR)!r})\n{probe}"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1"}
    command = [sys.executable, "-I", "-B", "-c", code]
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, list[str]] = json.loads(result.stdout)
    return report


def test_importing_the_authorizer_builds_no_model_client_logger_or_dataclass() -> None:
    report = _run(PROBE)
    loaded = set(report["modules"])
    assert "authorizer.app" in loaded
    assert [name for name in DEFERRED if name in loaded] == []
    assert report["dataclasses"] == []


def test_the_authorizers_cold_path_is_exactly_its_listed_modules() -> None:
    ours = {name for name in _run(PROBE)["modules"] if name.startswith(("tokengate_core", "authorizer"))}
    assert ours - PACKAGES == COLD_PATH


@pytest.mark.parametrize("module", _light_modules())
def test_no_module_of_the_light_packages_imports_a_heavy_library(module: str) -> None:
    """Per package: nothing under ``authorize/`` or ``tokens/``, nor any module of the authorizer's
    cold path (``records/view.py`` and ``records/rules.py`` included), imports pydantic, botocore,
    boto3 or Powertools when it is imported; whatever needs them imports them when it runs."""
    probe = f"import json, sys\nimport {module}\nprint(json.dumps({{'modules': sorted(sys.modules)}}))"
    loaded = {name.partition(".")[0] for name in _run(probe)["modules"]}
    assert sorted(loaded & set(HEAVY)) == []
