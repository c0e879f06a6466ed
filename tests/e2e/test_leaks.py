"""Leak response on the local stack: a signed POST as GitHub sends it revokes the leaked client (a
forgery changes nothing), and an operator reports a leak from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_CACHE, GITHUB, PREFIX
from tests.e2e.harness import RunningStack, cli_json, curl, of_client, request, secret_file, start_stack, wait_for
from tests.support_github import SigningKey, alert_body, write_key_list
from tokengate_core.deployment.routes import LEAKS_ROUTE
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_GITHUB
from tokengate_core.lifecycle.github import KEY_ID_HEADER, SIGNATURE_HEADER

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefixed")]


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


def test_an_operator_reports_a_leak_from_a_file(prefixed: RunningStack, tmp_path: Path) -> None:
    issued = cli_json(prefixed, "clients", "issue", "--tenant", "leak", "--name", "pasted")
    leaked = secret_file(tmp_path, "leaked.txt", f"# found on a paste site\n{issued['token']}\n\nnonsense")
    reported = cli_json(prefixed, "leaks", "report", "--token-file", str(leaked), "--url", "https://paste.example/1")
    assert [(r["line"], r["label"], r["state"]) for r in reported["results"]] == [
        (2, "true_positive", "revoked"),
        (4, "false_positive", "not_ours"),
    ]
    assert cli_json(prefixed, "clients", "show", "--tenant", "leak", "pasted")["status"] == "revoked"


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
