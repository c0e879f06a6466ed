"""The reference flow, typed as a user types it: the CLI to manage, curl to call the API."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.e2e.harness import RunningStack, cli_json, curl, forged, run_cli, wait_for

pytestmark = pytest.mark.e2e

GRACE_SECONDS = 6


def test_issue_call_revoke_restore_rotate(stack: RunningStack) -> None:
    invoke = f"{stack.url}/invoke"
    issued = cli_json(
        stack, "clients", "issue", "--tenant", "refflow", "--name", "web-app", "--grace-seconds", str(GRACE_SECONDS)
    )
    token, client_id = issued["token"], issued["client"]["client_id"]

    # curl -H "Authorization: $TOKEN" $URL/invoke
    ok = curl(invoke, {"Authorization": token})
    assert ok.status == 200, ok
    assert ok.body["tenant"] == "refflow" and ok.body["client_id"] == client_id
    assert ok.body["client_name"] == "web-app"
    assert ok.headers.get("apigw-requestid")

    wrong = forged(client_id)  # well-formed, right key id, a tag this deployment never made
    denied = curl(invoke, {"Authorization": wrong})
    assert (denied.status, denied.body) == (403, {"message": "Forbidden"})
    missing = curl(invoke)
    assert (missing.status, missing.body) == (401, {"message": "Unauthorized"})

    revoked = run_cli(stack, "clients", "revoke", "--tenant", "refflow", client_id)
    assert revoked.returncode == 0, revoked.stderr
    after_revoke = wait_for(lambda: curl(invoke, {"Authorization": token}), lambda r: r.status == 403)
    assert (after_revoke.status, after_revoke.body) == (403, {"message": "Forbidden"})

    restored = run_cli(stack, "clients", "restore", "--tenant", "refflow", "web-app")  # by name this time
    assert restored.returncode == 0, restored.stderr
    after_restore = wait_for(lambda: curl(invoke, {"Authorization": token}), lambda r: r.status == 200)
    assert after_restore.status == 200 and after_restore.body["client_id"] == client_id

    rotated = cli_json(stack, "clients", "rotate", "--tenant", "refflow", client_id)
    new_token = rotated["token"]
    assert new_token != token
    valid_until = datetime.fromisoformat(rotated["client"]["rotation"]["previous_token_valid_until"]).timestamp()
    new_ok = wait_for(lambda: curl(invoke, {"Authorization": new_token}), lambda r: r.status == 200)
    assert new_ok.status == 200 and new_ok.body["client_id"] == client_id
    # The authorizer now holds the rotated record: the old token is accepted only for its grace.
    assert time.time() < valid_until, "the machine was too slow to observe the grace window"
    in_grace = curl(invoke, {"Authorization": token})
    assert in_grace.status == 200, in_grace
    after_grace = wait_for(
        lambda: curl(invoke, {"Authorization": token}), lambda r: r.status == 403, timeout=GRACE_SECONDS + 10
    )
    assert (after_grace.status, after_grace.body) == (403, {"message": "Forbidden"})
    assert time.time() >= valid_until - 1
    assert curl(invoke, {"Authorization": new_token}).status == 200
