"""Lifecycle events, leak response and migration on the local stack, as a user drives them: the
CLI, curl, a signed POST as GitHub sends it, and `tokengate events tail` following events.jsonl.

The stack runs with its own token prefix and a GitHub key-list file, as a deployment would set
TOKENGATE_TOKEN_PREFIX and the keys' source."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import FAST_CACHE
from tests.e2e.harness import REPO, RunningStack, child_env, cli_json, curl, request, run_cli, start_stack, wait_for
from tests.support_github import SigningKey, alert_body, write_key_list
from tokengate.local.event_log import EVENTS_FILE
from tokengate.local.state import read_aws_endpoint
from tokengate_core.deployment.routes import LEAKS_ROUTE, TOKEN_STATUS_HEADER
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_GITHUB
from tokengate_core.lifecycle.github import KEY_ID_HEADER, SIGNATURE_HEADER
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.e2e
PREFIX = "acme_"
GITHUB = SigningKey("github-e2e-key")


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("prefixed")
    keys = write_key_list(home / "github-keys.json", GITHUB, current=GITHUB.key_id)
    env = {**FAST_CACHE, "TOKENGATE_TOKEN_PREFIX": PREFIX, "TOKENGATE_GITHUB_KEYS_FILE": str(keys)}
    running = start_stack(home / "state", env)
    yield running
    assert running.stop() == 0, running.output()


def events(stack: RunningStack) -> list[dict[str, Any]]:
    result = run_cli(
        None, "events", "tail", "--no-follow", "-n", "10000", "-o", "json", "--state-dir", str(stack.state_dir)
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def of_client(stack: RunningStack, client_id: str) -> list[dict[str, Any]]:
    return [e for e in events(stack) if e["detail"]["client_id"] == client_id]


def secret_file(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def test_every_change_is_an_event_in_events_jsonl_and_tail_follows_them(prefixed: RunningStack, tmp_path: Path) -> None:
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokengate.cli",
            "events",
            "tail",
            "-n",
            "0",
            "-o",
            "json",
            "--state-dir",
            str(prefixed.state_dir),
        ],
        cwd=REPO,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        issued = cli_json(prefixed, "clients", "issue", "--tenant", "evt", "--name", "watched")
        client_id, token = issued["client"]["client_id"], issued["token"]
        assert token.startswith(f"{PREFIX}{client_id}_")
        assert follower.stdout is not None
        followed = json.loads(follower.stdout.readline())
        assert followed["detail-type"] == DetailType.ISSUED and followed["detail"]["client_id"] == client_id
    finally:
        follower.terminate()
        follower.wait(timeout=10)
    for command in (
        ["clients", "update", "--tenant", "evt", client_id, "--disable"],
        ["clients", "rotate", "--tenant", "evt", client_id],
        ["clients", "revoke", "--tenant", "evt", client_id],
        ["clients", "restore", "--tenant", "evt", client_id],
    ):
        assert run_cli(prefixed, *command).returncode == 0
    seen = of_client(prefixed, client_id)
    assert [e["detail-type"] for e in seen] == [
        DetailType.ISSUED,
        DetailType.UPDATED,
        DetailType.ROTATED,
        DetailType.REVOKED,
        DetailType.RESTORED,
    ]
    assert {e["source"] for e in seen} == {"tokengate"} and seen[1]["detail"]["changed"] == ["enabled"]
    assert {e["detail"]["actor"] for e in seen} == {"arn:aws:iam::123456789012:user/tokengate-local-admin"}
    text = (prefixed.state_dir / EVENTS_FILE).read_text()
    assert token not in text and tokens.digest(token).hex() not in text
    assert (prefixed.state_dir / EVENTS_FILE).stat().st_mode & 0o777 == 0o600
    human = run_cli(
        None, "events", "tail", "--no-follow", "--detail-type", "Client Revoked", "--state-dir", str(prefixed.state_dir)
    )
    assert human.returncode == 0 and f"Client Revoked  evt/watched ({client_id})" in human.stdout


def test_the_sweep_control_answers_the_local_admin_only(prefixed: RunningStack) -> None:
    origin = prefixed.url.rsplit("/", 1)[0]
    assert request("POST", f"{origin}/.local/sweep").status == 403


def test_the_sweep_reports_an_expiry_within_the_window(prefixed: RunningStack) -> None:
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    issued = cli_json(prefixed, "clients", "issue", "--tenant", "evt", "--name", "expiring", "--expires-at", soon)
    report = cli_json(prefixed, "local", "sweep")
    assert report["expiring"] >= 1
    (expiring,) = [
        e for e in of_client(prefixed, issued["client"]["client_id"]) if e["detail-type"] == DetailType.EXPIRING
    ]
    assert expiring["detail"]["subject"] == "client" and expiring["detail"]["expires_at"].startswith(soon[:10])


def test_tokens_of_another_prefix_are_denied(prefixed: RunningStack, stack: RunningStack) -> None:
    theirs = cli_json(stack, "clients", "issue", "--tenant", "evt", "--name", "default-prefix")["token"]
    assert theirs.startswith("tg_")
    assert curl(f"{prefixed.url}/invoke", {"Authorization": theirs}).status == 403
    pattern = run_cli(None, "leaks", "pattern", env={"TOKENGATE_TOKEN_PREFIX": PREFIX})
    assert pattern.returncode == 0 and pattern.stdout.strip() == tokens.token_format(PREFIX).scanner_pattern()


def github_post(stack: RunningStack, body: bytes, signature: str | None) -> Any:
    headers = {"content-type": "application/json", KEY_ID_HEADER: GITHUB.key_id}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return request("POST", f"{stack.url}{LEAKS_ROUTE.path}", body=body, headers=headers)


def test_a_github_alert_revokes_the_leaked_client_and_a_forgery_changes_nothing(prefixed: RunningStack) -> None:
    issued = cli_json(prefixed, "clients", "issue", "--tenant", "leak", "--name", "leaky")
    client_id, token = issued["client"]["client_id"], issued["token"]
    body = alert_body(token, "not-ours-at-all")
    for signature in (None, GITHUB.sign(body + b" "), SigningKey("impostor").sign(body)):
        refused = github_post(prefixed, body, signature)
        assert refused.status == 401 and token not in json.dumps(refused.body)
    assert curl(f"{prefixed.url}/invoke", {"Authorization": token}).status == 200
    answered = github_post(prefixed, body, GITHUB.sign(body))
    assert answered.status == 200
    assert [(f["token_raw"], f["label"]) for f in answered.body] == [
        (token, "true_positive"),
        ("not-ours-at-all", "false_positive"),
    ]
    denied = wait_for(lambda: curl(f"{prefixed.url}/invoke", {"Authorization": token}).status, lambda s: s == 403)
    assert denied == 403
    leaked = [e for e in of_client(prefixed, client_id) if e["detail-type"] == DetailType.LEAKED]
    assert [e["detail"]["actor"] for e in leaked] == [ACTOR_GITHUB]
    # The same alert again (GitHub redelivers): the same answer, nothing more done.
    assert github_post(prefixed, body, GITHUB.sign(body)).body == answered.body
    assert len([e for e in of_client(prefixed, client_id) if e["detail-type"] == DetailType.LEAKED]) == 1
    assert token not in "".join(prefixed.stdout) + "".join(prefixed.stderr)


def test_a_replayed_alert_leaves_a_restored_client_alone_across_a_restart(tmp_path: Path) -> None:
    """The local stack remembers answered alerts in its DynamoDB table, as a deployment does, and
    keeps them with the rest of its state."""
    keys = write_key_list(tmp_path / "github-keys.json", GITHUB)
    env = {**FAST_CACHE, "TOKENGATE_TOKEN_PREFIX": PREFIX, "TOKENGATE_GITHUB_KEYS_FILE": str(keys)}
    running = start_stack(tmp_path / "state", env)
    issued = cli_json(running, "clients", "issue", "--tenant", "leak", "--name", "restored")
    body = alert_body(issued["token"])
    signature = GITHUB.sign(body)
    first = github_post(running, body, signature)
    assert first.status == 200
    assert cli_json(running, "clients", "show", "--tenant", "leak", "restored")["status"] == "revoked"
    assert cli_json(running, "clients", "restore", "--tenant", "leak", "restored")["status"] == "active"
    assert running.stop() == 0, running.output()
    running = start_stack(tmp_path / "state", env)
    try:
        replayed = github_post(running, body, signature)
        assert (replayed.status, replayed.body) == (first.status, first.body)
        assert cli_json(running, "clients", "show", "--tenant", "leak", "restored")["status"] == "active"
        assert curl(f"{running.url}/invoke", {"Authorization": issued["token"]}).status == 200
    finally:
        assert running.stop() == 0, running.output()


def test_an_operator_reports_a_leak_from_a_file(prefixed: RunningStack, tmp_path: Path) -> None:
    issued = cli_json(prefixed, "clients", "issue", "--tenant", "leak", "--name", "pasted")
    leaked = secret_file(tmp_path, "leaked.txt", f"# found on a paste site\n{issued['token']}\n\nnonsense")
    reported = cli_json(prefixed, "leaks", "report", "--token-file", str(leaked), "--url", "https://paste.example/1")
    assert [(r["line"], r["label"], r["state"]) for r in reported["results"]] == [
        (2, "true_positive", "revoked"),
        (4, "false_positive", "not_ours"),
    ]
    assert cli_json(prefixed, "clients", "show", "--tenant", "leak", "pasted")["status"] == "revoked"


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
