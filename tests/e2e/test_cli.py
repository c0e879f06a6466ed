"""The `tokengate` CLI end to end, each command in its own process against a running local stack."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from tests.e2e.conftest import TENANT_ADMIN
from tests.e2e.harness import RunningStack, child_env, cli_json, curl, run_cli
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.e2e


def test_client_lifecycle_through_the_cli(stack: RunningStack) -> None:
    issue = run_cli(stack, "clients", "issue", "--tenant", "cli", "--name", "billing", "--scope", "GET /invoke")
    assert issue.returncode == 0, issue.stderr
    assert "shown once" in issue.stdout
    token = issue.stdout.strip().splitlines()[-1]
    client_id = tokens.parse(token).key_id
    assert re.search(rf"^client id +{client_id}$", issue.stdout, re.MULTILINE)
    assert re.search(r"^token fetch +off$", issue.stdout, re.MULTILINE)

    listed = run_cli(stack, "clients", "list", "--tenant", "cli")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split() == ["CLIENT", "ID", "NAME", "STATUS", "EXPIRES", "CREATED", "LAST", "USED"]
    assert any(row.split()[:3] == [client_id, "billing", "active"] for row in rows)
    assert token not in listed.stdout

    shown = cli_json(stack, "clients", "show", "--tenant", "cli", "billing")
    assert shown["client_id"] == client_id and shown["scopes"] == ["GET /invoke"]
    assert "token" not in shown

    updated = cli_json(stack, "clients", "update", "--tenant", "cli", client_id, "--disable", "--scope", "ANY /invoke")
    assert updated["enabled"] is False and updated["status"] == "disabled"
    assert updated["scopes"] == ["ANY /invoke"]
    assert cli_json(stack, "clients", "update", "--tenant", "cli", client_id, "--enable")["status"] == "active"

    revoked = cli_json(stack, "clients", "revoke", "--tenant", "cli", client_id)
    assert revoked["status"] == "revoked"
    revoked_list = cli_json(stack, "clients", "list", "--tenant", "cli", "--status", "revoked")
    assert [c["client_id"] for c in revoked_list["items"]] == [client_id]
    # A revoked client keeps its name, so it is restored by name as well as by id.
    assert cli_json(stack, "clients", "restore", "--tenant", "cli", "billing")["status"] == "active"

    only_token = run_cli(stack, "clients", "rotate", "--tenant", "cli", client_id, "--output", "token")
    assert only_token.returncode == 0, only_token.stderr
    new_token = only_token.stdout.strip()
    assert tokens.parse(new_token).key_id == client_id and new_token != token
    assert "shown once" in only_token.stderr


def test_json_output_of_issue_carries_the_token_and_notice(stack: RunningStack) -> None:
    issued = cli_json(stack, "clients", "issue", "--tenant", "cli", "--name", "json-out", "--ttl-seconds", "3600")
    assert issued["client"]["client_name"] == "json-out" and issued["client"]["expires_at"]
    assert "shown once" in issued["notice"]
    assert curl(f"{stack.url}/invoke", {"Authorization": f"Bearer {issued['token']}"}).status == 200


def test_api_error_is_one_line_with_its_code(stack: RunningStack) -> None:
    missing = run_cli(stack, "clients", "show", "--tenant", "cli", "no-such-client")
    assert missing.returncode == 1
    assert missing.stderr == "error: not_found: client not found\n"
    assert missing.stdout == ""

    duplicate = run_cli(stack, "clients", "issue", "--tenant", "cli", "--name", "twice")
    assert duplicate.returncode == 0
    again = run_cli(stack, "clients", "issue", "--tenant", "cli", "--name", "twice")
    assert again.returncode == 1
    assert again.stderr.startswith("error: conflict: ") and again.stderr.count("\n") == 1

    invalid = run_cli(stack, "clients", "issue", "--tenant", "cli", "--name", "bad", "--scope", "nonsense")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("error: validation_error: request failed validation (body")
    assert "Traceback" not in invalid.stderr


def test_the_cli_finds_a_stack_on_another_port_through_its_state_folder(stack: RunningStack) -> None:
    """No --endpoint: the state folder (here $TOKENGATE_HOME) says where its stack answers."""
    assert not stack.url.startswith("http://127.0.0.1:8080/")
    found = subprocess.run(
        [sys.executable, "-m", "tokengate.cli", "clients", "list", "--tenant", "found", "-o", "json"],
        cwd=stack.state_dir,
        env=child_env({"TOKENGATE_HOME": str(stack.state_dir)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert found.returncode == 0 and json.loads(found.stdout) == {"items": []}, found.stderr


def test_connection_refused_is_one_line(stack: RunningStack) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = run_cli(stack, "clients", "list", "--tenant", "cli", endpoint=f"http://127.0.0.1:{closed_port}/dev")
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: unreachable: cannot reach http://127.0.0.1:{closed_port}/dev ")
    assert "is `tokengate local` running" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_signing_with_the_aws_credential_chain_as_a_tenant_scoped_admin(stack: RunningStack) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": TENANT_ADMIN["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TENANT_ADMIN["secret_access_key"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    own = run_cli(stack, "clients", "list", "--tenant", "tenant-a", "--credentials", "aws", env=env)
    assert own.returncode == 0, own.stderr
    other = run_cli(stack, "clients", "list", "--tenant", "tenant-b", "--credentials", "aws", env=env)
    assert other.returncode == 1
    assert other.stderr.startswith(f"error: forbidden: User: {TENANT_ADMIN['arn']} is not authorized to perform: ")


def test_openapi_prints_the_admin_document(stack: RunningStack) -> None:
    result = run_cli(stack, "openapi")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["info"]["title"] == "tokengate admin API"
    assert "/admin/tenants/{tenant}/clients" in document["paths"]


def test_usage_error_exits_2_without_a_call() -> None:
    result = run_cli(
        None, "clients", "update", "--tenant", "cli", "some-client", "--endpoint", "http://127.0.0.1:9/dev"
    )
    assert result.returncode == 2
    assert result.stderr == "error: usage: nothing to update: give at least one option (see --help)\n"
    missing = run_cli(None, "clients", "issue", "--name", "x")
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: usage: the following arguments are required: --tenant/-t (see `tokengate clients issue --help`)\n"
    )


def cli_in_process(stack: RunningStack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """One command through tokengate.cli.main in this process (so it counts for coverage)."""
    from tokengate.cli import main

    capsys.readouterr()
    status = main([*args, "--endpoint", stack.url, "--state-dir", str(stack.state_dir)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_listing_pages_with_max_items_and_next_token(stack: RunningStack, capsys: pytest.CaptureFixture[str]) -> None:
    names = {f"page-{i}" for i in range(5)}
    for name in sorted(names):
        assert cli_in_process(stack, capsys, "clients", "issue", "-t", "paging", "-n", name, "-o", "token")[0] == 0
    seen: list[str] = []
    token: str | None = None
    for expected in (2, 2, 1):
        more = ["--next-token", token] if token else []
        status, out, err = cli_in_process(
            stack, capsys, "clients", "list", "-t", "paging", "--max-items", "2", "-o", "json", *more
        )
        assert status == 0, err
        page = json.loads(out)
        assert len(page["items"]) == expected
        seen += [c["client_name"] for c in page["items"]]
        token = page.get("next_token")
    assert token is None and set(seen) == names and len(seen) == 5
    status, out, err = cli_in_process(stack, capsys, "clients", "list", "-t", "paging", "--max-items", "3")
    assert status == 0 and len(out.strip().splitlines()) == 1 + 3, "the table alone on stdout"
    assert err.startswith("note: more clients: add --next-token ") and err.count("\n") == 1, "the note on stderr"
    status, out, _ = cli_in_process(stack, capsys, "clients", "list", "-t", "paging", "--page-size", "1", "-o", "json")
    assert status == 0 and {c["client_name"] for c in json.loads(out)["items"]} == names  # every page read


def test_an_expiry_in_the_past_is_warned_about_and_takes_effect(
    stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_in_process(stack, capsys, "clients", "issue", "-t", "cli", "-n", "expiring", "-o", "token")[0] == 0
    status, out, err = cli_in_process(
        stack, capsys, "clients", "update", "-t", "cli", "expiring", "--expires-at", "2020-01-01", "-o", "json"
    )
    assert status == 0
    assert err == "warning: --expires-at 2020-01-01 00:00:00Z is in the past: the client stops working now\n"
    assert json.loads(out)["status"] == "expired"
    assert json.loads(out)["expires_at"].startswith("2020-01-01T00:00:00")  # no zone given: UTC
    status, out, _ = cli_in_process(stack, capsys, "clients", "show", "-t", "cli", "expiring")
    assert status == 0 and re.search(r"^status +expired$", out, re.MULTILINE), out
