"""cdk-nag: every acknowledgement is specific and reasoned, and an unacknowledged finding fails synth."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from constructs import Construct, IConstruct

from infra.app import build_app, unacknowledged
from infra.nag import (
    MIN_REASON_LENGTH,
    REASON_KEYRING_ROTATION,
    REASON_LIST_SECRETS,
    REASON_SECRET_PREFIX,
    REASON_SIGNED_WEBHOOK,
    REASON_XRAY,
    acknowledge,
)
from infra.settings import StackSettings
from infra.testing import REPO_ROOT, cdk_json_context

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

PREFIX_FINDING = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
    f"{StackSettings().secret_prefix}*]"
)

#: The complete list of acknowledgements in the default stack: (construct path, rule[finding], reason).
EXPECTED_ACKNOWLEDGEMENTS = {
    ("TokenGate/Rotation/TokenSecretsAccess", PREFIX_FINDING, REASON_SECRET_PREFIX),
    ("TokenGate/Admin/TokenSecretsAccess", PREFIX_FINDING, REASON_SECRET_PREFIX),
    ("TokenGate/Delivery/TokenSecretsAccess", PREFIX_FINDING, REASON_SECRET_PREFIX),
    ("TokenGate/Sweep/TokenSecretsAccess", PREFIX_FINDING, REASON_SECRET_PREFIX),
    ("TokenGate/Leaks/TokenSecretsAccess", PREFIX_FINDING, REASON_SECRET_PREFIX),
    ("TokenGate/Api/RouteLeaks", "AwsSolutions-APIG4", REASON_SIGNED_WEBHOOK),
    ("TokenGate/Admin/ListSecrets", "AwsSolutions-IAM5[Resource::*]", REASON_LIST_SECRETS),
    ("TokenGate/Sweep/ListSecrets", "AwsSolutions-IAM5[Resource::*]", REASON_LIST_SECRETS),
    ("TokenGate/Keyring/Secret", "AwsSolutions-SMG4", REASON_KEYRING_ROTATION),
    ("TokenGate/Admin/Handler/Tracing", "AwsSolutions-IAM5[Resource::*]", REASON_XRAY),
    ("TokenGate/Rotation/Handler/Tracing", "AwsSolutions-IAM5[Resource::*]", REASON_XRAY),
}


def acknowledgements(root: IConstruct) -> set[tuple[str, str, str]]:
    found = set()
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                data: dict[str, Any] = entry.data
                for rule, reason in data.items():
                    found.add((construct.node.path, rule.split("::", 1)[-1], reason))
    return found


def test_acknowledgements_are_exactly_the_reviewed_ones() -> None:
    app, _ = build_app(cdk_json_context())
    assert acknowledgements(app) == EXPECTED_ACKNOWLEDGEMENTS


def test_acknowledge_refuses_blanket_or_unreasoned_acknowledgements() -> None:
    app = App()
    stack = Stack(app, "S")
    resource = Construct(stack, "Resource")
    reason = "x" * MIN_REASON_LENGTH
    with pytest.raises(ValueError, match="never on a stack"):
        acknowledge(stack, "AwsSolutions-L1", reason)
    with pytest.raises(ValueError, match="never on a stack"):
        acknowledge(app, "AwsSolutions-L1", reason)
    with pytest.raises(ValueError, match="exact wildcard"):
        acknowledge(resource, "AwsSolutions-IAM5", reason)
    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(resource, "AwsSolutions-L1", "because")
    acknowledge(resource, "AwsSolutions-IAM5", reason, finding="Resource::*")
    assert acknowledgements(resource) == {("S/Resource", "AwsSolutions-IAM5[Resource::*]", reason)}


def test_an_unacknowledged_finding_makes_the_app_exit_non_zero(tmp_path: Path) -> None:
    """Exactly the command cdk.json runs, with one function on an outdated runtime (AwsSolutions-L1)."""
    script = textwrap.dedent(
        """
        import sys
        from aws_cdk import aws_lambda
        import infra.functions
        import infra.bundle  # bound to the real runtime first: its bundled wheels stay the ones installed
        infra.functions.RUNTIME = aws_lambda.Runtime.PYTHON_3_12
        infra.functions.compile_asset = lambda folder, version: {}  # no 3.12 compiler here: not what is tested
        from infra.app import main
        sys.exit(main())
        """
    )
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_VALIDATION": "false",  # CDK's own CloudFormation rules: slow, and not what is tested here
    }
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "AwsSolutions-L1" in result.stderr
    assert any("AwsSolutions-L1" in problem for problem in unacknowledged(tmp_path))


def test_the_real_app_synthesizes_with_no_finding_left(tmp_path: Path) -> None:
    app, _ = build_app(cdk_json_context(), outdir=str(tmp_path), builtin_validation=False)
    app.synth()
    assert unacknowledged(tmp_path) == []
