"""A scheduled rotation picked up by a client with no IAM identity, typed as a user types it: the
CLI, curl, and `tokengate token fetch`; a schedule needs a delivery path, and only the local admin
may run the scheduler now."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import TENANT_ADMIN
from tests.e2e.harness import RunningStack, cli_json, invoke, request, run_cli, secret_file, wait_for
from tests.support import mistyped
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.e2e


HEADER = TOKEN_STATUS_HEADER.lower()


GRACE_SECONDS = 20


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
    old_file = secret_file(tmp_path, "old", old)

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
    refused = run_cli(stack, "token", "fetch", "--token-file", str(secret_file(tmp_path, "t", issued["token"])))
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
