"""The README's migration from the reference design on the local stack, command by command: a token
callers already hold is imported from its secret or a file, and moves to a tokengate token at its
first rotation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.e2e.conftest import FAST_CACHE, GITHUB, PREFIX
from tests.e2e.harness import RunningStack, cli_json, curl, run_cli, secret_file, start_stack, wait_for
from tests.support_github import write_key_list
from tokengate.local.state import read_aws_endpoint
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningStack]:
    """A stack whose authorizer has not loaded the keyring yet: an import is accepted at once (a
    warm authorizer learns of it when it reloads the keyring, within five minutes)."""
    keys = write_key_list(tmp_path / "github-keys.json", GITHUB)
    env = {**FAST_CACHE, "TOKENGATE_TOKEN_PREFIX": PREFIX, "TOKENGATE_GITHUB_KEYS_FILE": str(keys)}
    running = start_stack(tmp_path / "state", env)
    yield running
    assert running.stop() == 0, running.output()


def test_migrating_from_the_reference_design(fresh: RunningStack, tmp_path: Path) -> None:
    """The README's "Migrating from the reference design", command by command."""
    prefixed = fresh
    reference = secrets.token_urlsafe(32)
    found = read_aws_endpoint(prefixed.state_dir)
    assert found is not None
    aws = run_cli(None, "local", "aws-endpoint", "--state-dir", str(prefixed.state_dir))
    assert aws.stdout.strip() == found[0]
    boto3.client(
        "secretsmanager",
        endpoint_url=found[0],
        region_name=found[1],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).create_secret(Name="AuthorizationToken", SecretString=json.dumps({"token": reference}))
    # Before: callers of the reference design send the token as is.
    imported = cli_json(
        prefixed,
        "clients",
        "import",
        "--tenant",
        "acme",
        "--name",
        "reference-callers",
        "--from-secret",
        "AuthorizationToken",
        "--grace-seconds",
        "600",
        "--token-fetch",
    )
    client_id = imported["client"]["client_id"]
    assert imported["client"]["imported"] is True
    assert curl(f"{prefixed.url}/invoke", {"Authorization": reference}).status == 200
    assert curl(f"{prefixed.url}/invoke", {"Authorization": reference[:-1]}).status == 403
    # From a file; a weak value only when explicitly allowed, with a warning.
    weak = secret_file(tmp_path, "weak.token", "password1234")
    refused = run_cli(prefixed, "clients", "import", "--tenant", "acme", "--name", "weak", "--token-file", str(weak))
    assert refused.returncode == 1 and "weak_token" in refused.stderr and "password1234" not in refused.stderr
    allowed = run_cli(
        prefixed, "clients", "import", "--tenant", "acme", "--name", "weak", "--token-file", str(weak), "--allow-weak"
    )
    assert allowed.returncode == 0 and "warning: the imported token is weak" in allowed.stderr
    # The authorizer, warm now, learns of this import when it reloads the keyring (within five
    # minutes); an unknown value never makes it read the keyring sooner.
    assert curl(f"{prefixed.url}/invoke", {"Authorization": "password1234"}).status == 403
    # New clients get tokengate tokens; the imported client moves over at its first rotation.
    rotated = cli_json(prefixed, "clients", "rotate", "--tenant", "acme", "reference-callers")
    assert rotated["token"].startswith(f"{PREFIX}{client_id}_")
    # Within the authorizer's cache TTL (1 s here) the client may still read as current.
    old = wait_for(
        lambda: curl(f"{prefixed.url}/invoke", {"Authorization": reference}),
        lambda r: r.headers.get(TOKEN_STATUS_HEADER.lower(), "").startswith("grace; ends="),
    )
    assert old.status == 200 and old.headers[TOKEN_STATUS_HEADER.lower()].startswith("grace; ends=")
    token_file = secret_file(tmp_path, "reference.token", reference)
    fetched = run_cli(prefixed, "token", "fetch", "--token-file", str(token_file))
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.strip() == rotated["token"]
    assert curl(f"{prefixed.url}/invoke", {"Authorization": rotated["token"]}).status == 200
