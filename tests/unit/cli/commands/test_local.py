"""The `tokengate local` controls drive a local stack only."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import parse
from tokengate.cli import main
from tokengate.cli.errors import EXIT_USAGE


def test_flush_usage_drives_only_a_local_stack(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["local", "flush-usage", "--endpoint", "https://abc.execute-api.us-east-1.amazonaws.com/dev"])
    assert status == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: usage: flush-usage drives a local stack")
    assert parse("local", "flush-usage").func.__name__ == "cmd_flush_usage"
