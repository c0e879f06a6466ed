"""Random key ids, tags that made-up tokens lack, and a scheduled rotation picked up by a client
with no IAM identity, typed as a user types them: the CLI, curl, and `tokengate token fetch`."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST_CACHE, TENANT_ADMIN
from tests.e2e.harness import (
    HttpResult,
    RunningStack,
    cli_json,
    curl,
    forged,
    request,
    run_cli,
    start_stack,
    wait_for,
)
from tests.support import mistyped
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.e2e

HEADER = TOKEN_STATUS_HEADER.lower()
GRACE_SECONDS = 20


def invoke(stack: RunningStack, token: str) -> HttpResult:
    return curl(f"{stack.url}/invoke", {"Authorization": token})


def token_file(tmp_path: Path, name: str, token: str) -> Path:
    path = tmp_path / name
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_one_name_gets_a_different_key_id_in_each_deployment(stack: RunningStack, tmp_path: Path) -> None:
    other = start_stack(tmp_path / "other", FAST_CACHE)
    try:
        here = cli_json(stack, "clients", "issue", "--tenant", "twins", "--name", "same-name")
        there = cli_json(other, "clients", "issue", "--tenant", "twins", "--name", "same-name")
        assert here["client"]["client_id"] != there["client"]["client_id"]
        # Each deployment signs with its own keys: one's token means nothing to the other.
        assert invoke(stack, here["token"]).status == 200
        assert invoke(other, here["token"]).status == 403
    finally:
        assert other.stop() == 0, other.output()


def test_forged_tokens_for_a_real_key_id_are_denied_and_a_rotated_token_works_at_once(stack: RunningStack) -> None:
    issued = cli_json(stack, "clients", "issue", "--tenant", "forgery", "--name", "target")
    client_id = issued["client"]["client_id"]
    assert invoke(stack, issued["token"]).status == 200  # the authorizer now caches this client
    for _ in range(5):
        fake = forged(client_id)
        tokens.parse(fake)  # well-formed, checksum included: only the tag gives it away
        denied = invoke(stack, fake)
        assert (denied.status, denied.body) == (403, {"message": "Forbidden"})
    rotated = cli_json(stack, "clients", "rotate", "--tenant", "forgery", "target")
    first_use = invoke(stack, rotated["token"])
    assert first_use.status == 200 and first_use.body["client_id"] == client_id, first_use


def test_a_schedule_with_no_delivery_path_is_refused(stack: RunningStack) -> None:
    refused = run_cli(
        stack, "clients", "issue", "--tenant", "paths", "--name", "stranded", "--rotation-period-days", "7"
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: no_delivery_path: a rotation schedule needs a delivery path")
    assert refused.stderr.count("\n") == 1

    plain = cli_json(stack, "clients", "issue", "--tenant", "paths", "--name", "plain")
    client_id = plain["client"]["client_id"]
    later = run_cli(stack, "clients", "update", "--tenant", "paths", "plain", "--rotation-period-days", "7")
    assert later.returncode == 1 and later.stderr.startswith("error: no_delivery_path: ")
    both = cli_json(
        stack, "clients", "update", "--tenant", "paths", client_id, "--rotation-period-days", "7", "--token-fetch"
    )
    assert both["token_fetch"] is True and both["rotation"]["period_days"] == 7
    # Taking the only delivery path away from a scheduled client is refused too.
    away = run_cli(stack, "clients", "update", "--tenant", "paths", client_id, "--no-token-fetch")
    assert away.returncode == 1 and away.stderr.startswith("error: no_delivery_path: ")


def test_a_scheduled_rotation_is_picked_up_with_the_old_token(stack: RunningStack, tmp_path: Path) -> None:
    issued = cli_json(
        stack,
        "clients",
        "issue",
        "--tenant",
        "sched",
        "--name",
        "device",
        "--rotation-period-days",
        "30",
        "--grace-seconds",
        str(GRACE_SECONDS),
        "--token-fetch",
    )
    old, client_id = issued["token"], issued["client"]["client_id"]
    assert issued["client"]["token_fetch"] is True
    before = invoke(stack, old)
    assert before.status == 200 and before.headers[HEADER] == "current"
    old_file = token_file(tmp_path, "old", old)

    # Not due yet 29 days from now; due 30 days from now.
    early = cli_json(stack, "local", "rotate-due", "--advance", "29")
    assert client_id not in [r["client_id"] for r in early["rotations"]]
    due = cli_json(stack, "local", "rotate-due", "--advance", "30")
    assert {"client_id": client_id, "ok": True, "failed_step": None} in [
        {k: r[k] for k in ("client_id", "ok", "failed_step")} for r in due["rotations"]
    ]
    rotated_at = time.time()

    # The old token still works, and every response says it is in grace, until when.
    in_grace = wait_for(lambda: invoke(stack, old), lambda r: r.headers.get(HEADER, "").startswith("grace"))
    assert in_grace.status == 200, in_grace
    status, _, ends_text = in_grace.headers[HEADER].partition("; ends=")
    assert status == "grace"
    ends = datetime.fromisoformat(ends_text.replace("Z", "+00:00")).timestamp()
    assert rotated_at - 5 < ends - GRACE_SECONDS < rotated_at + 1

    # The client fetches its new token with the old one; its own calls then say "current".
    fetched = run_cli(stack, "token", "fetch", "--token-file", str(old_file))
    assert fetched.returncode == 0, fetched.stderr
    new = fetched.stdout.strip()
    assert fetched.stdout == new + "\n" and new != old and tokens.parse(new).key_id == client_id
    assert time.time() < ends, "the machine was too slow to observe the grace window"
    now_current = invoke(stack, new)
    assert now_current.status == 200 and now_current.headers[HEADER] == "current"
    again = run_cli(stack, "token", "fetch", "--output", "json", env={"TOKENGATE_TOKEN": new})
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert answer["token"] == new and answer["client_id"] == client_id and answer["rotated_at"]

    # After the grace window the old token is refused, for calls and for fetching; the new one works.
    after = wait_for(lambda: invoke(stack, old), lambda r: r.status == 403, timeout=GRACE_SECONDS + 15)
    assert (after.status, after.body) == (403, {"message": "Forbidden"})
    assert time.time() >= ends - 1
    late = run_cli(stack, "token", "fetch", "--token-file", str(old_file))
    assert (late.returncode, late.stderr) == (1, "error: forbidden: Forbidden\n")
    assert invoke(stack, new).status == 200


def test_token_fetch_needs_the_client_to_allow_it_and_never_takes_a_token_from_argv(
    stack: RunningStack, tmp_path: Path
) -> None:
    issued = cli_json(stack, "clients", "issue", "--tenant", "sched", "--name", "no-fetch")
    refused = run_cli(stack, "token", "fetch", "--token-file", str(token_file(tmp_path, "t", issued["token"])))
    assert refused.returncode == 1 and refused.stderr == "error: forbidden: Forbidden\n"  # the authorizer's scope check

    missing = run_cli(stack, "token", "fetch")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: usage: give --token-file FILE (or -) or set TOKENGATE_TOKEN")
    typo = run_cli(stack, "token", "fetch", env={"TOKENGATE_TOKEN": mistyped(issued["token"])})
    assert typo.returncode == 2 and typo.stderr.startswith(
        "error: invalid_token: $TOKENGATE_TOKEN holds no tokengate token"
    )
    argv = run_cli(stack, "token", "fetch", issued["token"])
    assert argv.returncode == 2 and issued["token"] not in argv.stdout


def test_keys_rotate_adds_a_key_that_signs_only_later_and_old_tokens_keep_working(stack: RunningStack) -> None:
    issued = cli_json(stack, "clients", "issue", "--tenant", "keys", "--name", "before-rotation")
    before = cli_json(stack, "keys", "list")
    rotated = cli_json(stack, "keys", "rotate")
    names = [k["name"] for k in rotated["keys"]]
    assert names[: len(before["keys"])] == [k["name"] for k in before["keys"]] and len(names) == len(before["keys"]) + 1
    assert rotated["keys"][-1]["signing"] is False, "a new key signs once every authorizer has loaded it"
    assert invoke(stack, issued["token"]).status == 200
    shown = run_cli(stack, "keys", "list")
    assert shown.returncode == 0 and names[-1] in shown.stdout and "SIGNS NEW TOKENS" in shown.stdout
    assert all(k.get("secret") is None and len(json.dumps(k)) < 200 for k in rotated["keys"])  # names, never keys


def test_migrate_on_a_fresh_deployment_finds_nothing_to_carry_over(stack: RunningStack) -> None:
    report = cli_json(stack, "migrate")
    assert report["legacy_key_ids"] == 0 and report["conflicts"] == []
    assert report["clients"] >= 1 and report["names_claimed"] == 0, "every name was claimed at issue"


def test_the_rotate_due_control_answers_only_the_local_admin(stack: RunningStack) -> None:
    origin = stack.url.rsplit("/", 1)[0]
    unsigned = request("POST", f"{origin}/.local/rotate-due", body=b"{}")
    assert unsigned.status == 403
    as_tenant_admin = run_cli(
        stack,
        "local",
        "rotate-due",
        "--credentials",
        "aws",
        env={
            "AWS_ACCESS_KEY_ID": TENANT_ADMIN["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": TENANT_ADMIN["secret_access_key"],
        },
    )
    assert as_tenant_admin.returncode == 1
    assert as_tenant_admin.stderr.startswith("error: forbidden: "), as_tenant_admin.stderr
    bad = run_cli(stack, "local", "rotate-due", "--advance", "-1")
    assert bad.returncode == 1 and bad.stderr.startswith("error: bad_request: advance_days must be")
    # The stage's own paths stay API Gateway's: there is no such route under /<stage>.
    assert request("POST", f"{stack.url}/.local/rotate-due").status == 404
