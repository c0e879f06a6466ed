"""One local stack per test process (small authorizer cache TTLs), started as a user starts it, and
one with its own token prefix and a GitHub key-list file, as a deployment would set
TOKENGATE_TOKEN_PREFIX and the keys' source (its tests share an xdist group, so one process starts it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import RunningStack, start_stack
from tests.support_github import SigningKey, write_key_list
from tokengate.local.location import DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_API_ID
from tokengate.local.principals import api_arn
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.routes import STAGE_DEFAULT, tenant_admin_resources

#: A tenant-scoped admin, as tenant_admin_resources() scopes it in IAM.
TENANT_ADMIN: dict[str, Any] = {
    "access_key_id": "AKIATENANTADMINAAAAA",
    "secret_access_key": "tenant-admin-secret-key-0123456789",
    "arn": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/tenant-a-admin",
    "allow": tenant_admin_resources(api_arn(DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_API_ID), "tenant-a", STAGE_DEFAULT),
}
#: A role session: temporary credentials carry a session token.
ROLE_SESSION: dict[str, Any] = {
    "access_key_id": "ASIAROLESESSIONAAAAA",
    "secret_access_key": "role-session-secret-key-0123456789",
    "session_token": "FwoGZXIvYXdzEJr-local-session-token",
    "arn": f"arn:aws:sts::{LOCAL_ACCOUNT_ID}:assumed-role/ops/alice",
    "allow": [f"{api_arn(DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_API_ID)}/*/GET/admin/*"],
}
FAST_CACHE = {"TOKENGATE_CACHE_TTL_SECONDS": "1", "TOKENGATE_NEGATIVE_CACHE_TTL_SECONDS": "1"}
#: The token prefix and the GitHub signing key of the `prefixed` stack.
PREFIX = "acme_"
GITHUB = SigningKey("github-e2e-key")


def write_principals(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "principals.json").write_text(json.dumps({"principals": [TENANT_ADMIN, ROLE_SESSION]}))


#: The shared stack reserves loosening a tenant's guardrails to deployment admins (test_guardrails.py).
RESERVED_LOOSENING = {AdminSettings.env_name("guardrail_loosening"): "deployment_admins"}


def local_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp(name) / "state"
    write_principals(state_dir)
    running = start_stack(state_dir, {**FAST_CACHE, **(env or {})})
    yield running
    running.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    yield from local_stack(tmp_path_factory, "stack", RESERVED_LOOSENING)


@pytest.fixture(scope="session")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("prefixed")
    keys = write_key_list(home / "github-keys.json", GITHUB, current=GITHUB.key_id)
    env = {**FAST_CACHE, "TOKENGATE_TOKEN_PREFIX": PREFIX, "TOKENGATE_GITHUB_KEYS_FILE": str(keys)}
    running = start_stack(home / "state", env)
    yield running
    assert running.stop() == 0, running.output()
