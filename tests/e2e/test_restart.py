"""State survives a restart; Ctrl-C stops cleanly; a busy port is one clear line."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.e2e.conftest import FAST_CACHE
from tests.e2e.harness import REPO, RunningStack, child_env, cli_json, curl, run_cli, start_stack, wait_for
from tokengate.local.running import STAGE_URL_FILE, running_stage_url
from tokengate.local.state import read_aws_endpoint

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

pytestmark = pytest.mark.e2e


def test_tokens_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = start_stack(state, FAST_CACHE)
    try:
        kept = cli_json(first, "clients", "issue", "--tenant", "acme", "--name", "kept")
        gone = cli_json(first, "clients", "issue", "--tenant", "acme", "--name", "gone")
        turned = cli_json(first, "clients", "issue", "--tenant", "acme", "--name", "turned", "--grace-seconds", "3600")
        rotated = cli_json(first, "clients", "rotate", "--tenant", "acme", "turned")
        assert run_cli(first, "clients", "revoke", "--tenant", "acme", "gone").returncode == 0
        credentials = (state / "credentials.json").read_text()
        assert "admin credentials: generated now" in "".join(first.stderr)
        assert running_stage_url(state) == first.url, "a CLI finds the stack through its state folder"
        beside_the_stack(state).create_secret(Name="AuthorizationToken", SecretString='{"token": "stand-in"}')
    finally:
        assert first.stop() == 0, first.output()
    # The stack's own lines are on stderr; stdout is the functions' JSON logs, one object a line,
    # warnings and errors only unless POWERTOOLS_LOG_LEVEL says otherwise (issues and rotations
    # write INFO audit lines).
    assert "tokengate local stack stopped" in "".join(first.stderr)
    levels = [json.loads(line)["level"] for line in first.stdout if line.strip()]
    assert set(levels) <= {"WARNING", "ERROR"}, first.output()
    assert running_stage_url(state) is None and not (state / STAGE_URL_FILE).exists()
    for name in ("state.db", "credentials.json", "principals.json"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert kept["token"] not in "".join(first.stdout + first.stderr)
    assert json.loads(credentials)["secret_access_key"] not in "".join(first.stdout + first.stderr)

    second = start_stack(state, FAST_CACHE)
    try:
        assert (state / "credentials.json").read_text() == credentials
        # Client secrets only: the reference design's stand-in is restored, and not counted.
        assert "restored 3 client secret(s) and the signing keyring from state.db" in "".join(second.stderr)
        assert beside_the_stack(state).describe_secret(SecretId="AuthorizationToken")["Name"] == "AuthorizationToken"
        invoke = f"{second.url}/invoke"
        ok = curl(invoke, {"Authorization": kept["token"]})  # its tag verifies: the keyring came back
        assert ok.status == 200 and ok.body["client_id"] == kept["client"]["client_id"], ok
        # Both versions of the rotated client came back: the new token and the old one in its grace.
        assert curl(invoke, {"Authorization": rotated["token"]}).status == 200
        assert curl(invoke, {"Authorization": turned["token"]}).status == 200
        # The names are still taken (the table came back), the revoked one's too.
        for name in ("kept", "gone"):
            again = run_cli(second, "clients", "issue", "--tenant", "acme", "--name", name)
            assert again.returncode == 1 and again.stderr.startswith("error: conflict: "), again.stderr
        # The revoked client is still revoked, and still restorable.
        assert curl(invoke, {"Authorization": gone["token"]}).status == 403
        assert cli_json(second, "clients", "show", "--tenant", "acme", "gone")["status"] == "revoked"
        assert cli_json(second, "clients", "restore", "--tenant", "acme", "gone")["status"] == "active"
        # The authorizer remembers the revocation for its cache TTL (1 s here), then lets it through.
        restored = wait_for(lambda: curl(invoke, {"Authorization": gone["token"]}), lambda r: r.status == 200)
        assert restored.status == 200
    finally:
        assert second.stop() == 0, second.output()


def beside_the_stack(state: Path) -> SecretsManagerClient:
    """The running stack's embedded Secrets Manager, as the README's migration example reaches it."""
    endpoint = read_aws_endpoint(state)
    assert endpoint is not None
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint[0],
        region_name=endpoint[1],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def run_local(state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokengate.cli", "local", "--port", "0", "--state-dir", str(state_dir)],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_one_stack_per_state_folder(stack: RunningStack) -> None:
    second = run_local(stack.state_dir)
    assert second.returncode == 1 and second.stdout == ""
    assert second.stderr == f"error: local: {stack.state_dir.resolve()} is in use by another `tokengate local`\n"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("state.db", b'{"format": 2}', "state.db: not a sound SQLite database (file is not a database)"),
        ("state.db", b"", "state.db: empty (0 bytes), not a state file"),
        ("secrets.json", b"[]", "secrets.json: not a state snapshot (a JSON list, not an object)"),
        ("table.json", b'{"format": 1}', "table.json: no list of items: the snapshot is incomplete"),
    ],
)
def test_an_unreadable_state_file_stops_the_start_and_is_left_alone(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / name).write_bytes(content)
    result = run_local(state)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: local: {state.resolve() / name}") and problem in result.stderr
    assert result.stderr.count("\n") == 1
    assert (state / name).read_bytes() == content
    assert name == "state.db" or not (state / "state.db").exists()


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tokengate.cli", "local", "--port", str(port), "--state-dir", str(tmp_path)],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert result.stderr.startswith(f"error: local: cannot listen on 127.0.0.1:{port}: address already in use")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
