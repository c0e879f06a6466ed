"""Random key ids and the tags made-up tokens lack, typed as a user types them: one name gets a
different key id in each deployment, and forged tokens for a real key id are denied while a rotated
token works at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import FAST_CACHE
from tests.e2e.harness import RunningStack, cli_json, forged, invoke, start_stack
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.e2e


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
