"""`tokengate keys rotate` adds a key that signs only later while old tokens keep working, and
`tokengate migrate` on a fresh deployment finds nothing to carry over."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import RunningStack, cli_json, invoke, run_cli

pytestmark = pytest.mark.e2e


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
