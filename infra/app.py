"""The CDK app (`python -m infra.app`, run by `npx cdk synth|diff|deploy|destroy` via cdk.json).

Synth runs cdk-nag's AwsSolutions pack. CDK raises when the validation report holds an
unacknowledged error; this module also reads the written report and exits non-zero on any
remaining violation (warnings included), so the gate never depends on a finding's severity.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment
from aws_cdk import cx_api as cxapi

from infra.nag import add_checks
from infra.settings import StackSettings
from infra.stack import TokenGateStack

#: CDK writes the policy-validation report here, inside the cloud assembly.
VALIDATION_REPORT = "validation-report.json"


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None, *, builtin_validation: bool = True
) -> tuple[App, TokenGateStack]:
    """The app with its one stack; ``context`` adds to (and wins over) the CLI's context (cdk.json).

    ``builtin_validation=False`` skips CDK's own CloudFormation rule checks (several seconds); only
    tests do that, since `make infra-gates` runs them (and cfn-lint) on the real synth.
    """
    app = App(context=context, outdir=outdir, builtin_cloud_formation_validation=builtin_validation)
    settings = StackSettings.from_context(app.node)
    stack = TokenGateStack(
        app,
        settings.stack_name,
        settings=settings,
        description="tokengate: per-client bearer tokens for an HTTP API, kept in Secrets Manager",
        # Environment-agnostic on purpose: account and region come from the deploying credentials,
        # and the template refers to them only through AWS::AccountId / AWS::Region.
        env=Environment(),
    )
    add_checks(app)
    return app, stack


def unacknowledged(assembly_dir: str | Path) -> list[str]:
    """Every violation still in the validation report (an acknowledged one is not listed there)."""
    path = Path(assembly_dir) / VALIDATION_REPORT
    if not path.exists():
        return []
    report = json.loads(path.read_text())
    found = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            where = violation.get("violatingConstructs") or violation.get("violatingResources") or []
            resources = [r.get("constructPath", "?") for r in where]
            found.append(f"{plugin.get('pluginName', '?')}: {violation.get('ruleName')} on {', '.join(resources)}")
    return found


def main() -> int:
    app, _ = build_app()
    assembly: cxapi.CloudAssembly = app.synth()
    problems = unacknowledged(assembly.directory)
    for problem in problems:
        print(f"unacknowledged finding: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
