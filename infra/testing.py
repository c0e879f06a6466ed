"""The synthesized template for tests, built once per process and per context.

``synth_template()`` runs the real app (cdk.json's feature flags, cdk-nag included) in process, so
a test that reads the template also proves it synthesizes with zero unacknowledged findings.
Other test suites use it too, e.g. to check that the local stack invokes the same handlers with
the same environment variable names as AWS does.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from infra.app import build_app

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context the CDK CLI would pass (feature flags and any knob set in cdk.json)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def synth_template(context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stack's CloudFormation template (a fresh copy), with ``context`` over cdk.json's context."""
    return copy.deepcopy(_synth(json.dumps(dict(context or {}), sort_keys=True)))


@cache
def _synth(context_json: str) -> dict[str, Any]:
    context = {**cdk_json_context(), **json.loads(context_json)}
    with tempfile.TemporaryDirectory(prefix="tokengate-cdk-") as outdir:
        app, stack = build_app(context, outdir=outdir, builtin_validation=False)
        assembly = app.synth()
        template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return template


def functions_by_handler(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each AWS::Lambda::Function's properties, keyed by its handler (``authorizer.app.handler``...)."""
    return {
        props["Handler"]: props
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and "Handler" in (props := resource["Properties"])
    }
