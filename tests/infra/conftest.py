"""Infra test fixtures: each template variant is synthesized once per session (cdk-nag included).

All infra tests carry ``pytest.mark.xdist_group("infra")`` so they share one xdist worker, one
Node process behind jsii, and these synths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# infra first: importing it sets the Node environment (see infra/__init__.py) before anything
# imports aws_cdk and so starts the Node process behind jsii.
from infra.testing import synth_template
from tests.infra.variants import VARIANT_CONTEXT

if TYPE_CHECKING:
    from aws_cdk.assertions import Template


@pytest.fixture(scope="session")
def template_json() -> dict[str, Any]:
    """The default stack (usage control on, so API Gateway's authorizer cache off; AWS managed key)."""
    return synth_template()


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default stack synthesized into a folder that stays for the session: its assets
    (what each function's zip will hold) can be looked at, not only the template."""
    from infra.app import build_app
    from infra.testing import cdk_json_context

    outdir = tmp_path_factory.mktemp("cdk-out")
    app, _ = build_app(cdk_json_context(), outdir=str(outdir), builtin_validation=False)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def variant_json() -> dict[str, Any]:
    return synth_template(VARIANT_CONTEXT)


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def variant(variant_json: dict[str, Any]) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_json(variant_json)
