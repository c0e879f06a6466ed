"""Lifecycle events on the local stack, as a user follows them: every change is an event in
events.jsonl that `tokengate events tail` follows, and the sweep's Client Expiring event, run
through a control only the local admin may call."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PREFIX
from tests.e2e.harness import REPO, RunningStack, child_env, cli_json, of_client, request, run_cli
from tokengate.local.event_log import EVENTS_FILE
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.tokens import format as tokens

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefixed")]


def _first_event_of(fd: int, client_id: str, *, timeout: float) -> dict[str, Any] | None:
    """The first JSON line on ``fd`` about ``client_id``, read within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pending = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            return None
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            event = json.loads(line)
            if event["detail"].get("client_id") == client_id:
                return dict(event)
    return None


def test_every_change_is_an_event_in_events_jsonl_and_tail_follows_them(prefixed: RunningStack, tmp_path: Path) -> None:
    # Every past event, then each new one: a follower that starts after the issue still sees it,
    # and a bounded wait (never a bare readline) fails the test instead of hanging it.
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokengate.cli",
            "events",
            "tail",
            "-n",
            "10000",
            "-o",
            "json",
            "--state-dir",
            str(prefixed.state_dir),
        ],
        cwd=REPO,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        issued = cli_json(prefixed, "clients", "issue", "--tenant", "evt", "--name", "watched")
        client_id, token = issued["client"]["client_id"], issued["token"]
        assert token.startswith(f"{PREFIX}{client_id}_")
        assert follower.stdout is not None
        followed = _first_event_of(follower.stdout.fileno(), client_id, timeout=60)
        assert followed is not None, "the follower printed no event of the new client"
        assert followed["detail-type"] == DetailType.ISSUED
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
