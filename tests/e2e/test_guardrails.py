"""Tenant guardrails on the local stack, as IAM decides them: a tenant-scoped admin reads and
tightens its tenant's guardrails, is refused loosening them (the shared stack reserves loosening to
deployment admins), and cannot reach the deployment admins' route at all; the CLI says so in one line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from tests.e2e.conftest import TENANT_ADMIN
from tests.e2e.harness import HttpResult, RunningStack, request, run_cli
from tests.e2e.signing import admin
from tokengate.local.location import DEFAULT_REGION
from tokengate.sigv4 import sign

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("cleared")]
TENANT = "tenant-a"
OWN = f"/admin/tenants/{TENANT}/guardrails"
OVERRIDE = f"/admin/guardrails/{TENANT}"


@pytest.fixture
def cleared(stack: RunningStack) -> Iterator[None]:
    """The tenant's guardrails removed afterwards: the stack's other tests issue clients in it."""
    yield
    assert admin(stack, "PUT", OVERRIDE, {}).status == 200


def as_tenant_admin(stack: RunningStack, method: str, path: str, body: Any = None) -> HttpResult:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"content-type": "application/json"} if body is not None else {}
    credentials = Credentials(TENANT_ADMIN["access_key_id"], TENANT_ADMIN["secret_access_key"])
    signed = sign(method, stack.url + path, credentials=credentials, region=DEFAULT_REGION, body=data, headers=headers)
    return request(method, signed.url, body=data, headers=signed.headers)


def test_a_tenant_admin_tightens_but_cannot_loosen_its_guardrails(stack: RunningStack) -> None:
    shown = as_tenant_admin(stack, "GET", OWN)
    assert shown.status == 200 and shown.body["loosening"] == "deployment_admins"
    kept = shown.body["guardrails"]
    tightened = as_tenant_admin(stack, "PUT", OWN, {**kept, "max_lifetime_days": 30, "version": shown.body["version"]})
    assert tightened.status == 200, tightened.body
    looser = {**kept, "max_lifetime_days": 60, "version": tightened.body["version"]}
    refused = as_tenant_admin(stack, "PUT", OWN, looser)
    assert refused.status == 403 and refused.body["code"] == "guardrail_loosening_reserved"
    # The deployment admins' route is not in a tenant-scoped policy: API Gateway's IAM check refuses it.
    denied = as_tenant_admin(stack, "PUT", OVERRIDE, looser)
    assert denied.status == 403 and "is not authorized to perform" in json.dumps(denied.body)
    assert as_tenant_admin(stack, "GET", OWN).body["guardrails"]["max_lifetime_days"] == 30
    # A deployment admin (the local admin may invoke every route) loosens them.
    loosened = admin(stack, "PUT", OVERRIDE, looser)
    assert loosened.status == 200 and loosened.body["guardrails"]["max_lifetime_days"] == 60
    # And they hold for the tenant's issues.
    issued = as_tenant_admin(stack, "POST", f"/admin/tenants/{TENANT}/clients", {"client_name": "forever"})
    assert issued.status == 422 and issued.body["code"] == "guardrail_violation"


def test_the_cli_reports_a_refused_loosening_in_one_line(stack: RunningStack) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": TENANT_ADMIN["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TENANT_ADMIN["secret_access_key"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    common = ("--tenant", TENANT, "--credentials", "aws")
    base = run_cli(stack, "guardrails", "set", *common, "--max-rotation-period-days", "7", env=env)
    assert base.returncode == 0, base.stderr
    for extra in ((), ("--as-deployment-admin",)):
        result = run_cli(stack, "guardrails", "set", *common, "--no-max-rotation-period-days", *extra, env=env)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        expected = "error: forbidden: User: " if extra else "error: guardrail_loosening_reserved: "
        assert result.stderr.startswith(expected), result.stderr
    shown = run_cli(stack, "guardrails", "show", *common, "--output", "json", env=env)
    assert json.loads(shown.stdout)["guardrails"]["max_rotation_period_days"] == 7
