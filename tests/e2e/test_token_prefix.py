"""A stack with its own token prefix denies tokens of another prefix, and `tokengate leaks pattern`
gives the scanner pattern of its own."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PREFIX
from tests.e2e.harness import RunningStack, cli_json, curl, run_cli
from tokengate_core.tokens import format as tokens

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefixed")]


def test_tokens_of_another_prefix_are_denied(prefixed: RunningStack, stack: RunningStack) -> None:
    theirs = cli_json(stack, "clients", "issue", "--tenant", "evt", "--name", "default-prefix")["token"]
    assert theirs.startswith("tg_")
    assert curl(f"{prefixed.url}/invoke", {"Authorization": theirs}).status == 403
    pattern = run_cli(None, "leaks", "pattern", env={"TOKENGATE_TOKEN_PREFIX": PREFIX})
    assert pattern.returncode == 0 and pattern.stdout.strip() == tokens.token_format(PREFIX).scanner_pattern()
