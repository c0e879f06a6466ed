"""The options that set a client's expiry and usage policy: a malformed or contradictory one is a
one-line usage error before any call, and they offer what the record accepts."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.cli.support import CLIENT_ID, CLOSED
from tokengate.cli import main
from tokengate.cli.commands.clients import settings
from tokengate.cli.errors import EXIT_USAGE
from tokengate.cli.parser import build_parser
from tokengate_core.records.rules import ON_LIMIT, QUOTA_PERIODS


def test_a_new_client_that_would_be_expired_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    status = main(["clients", "issue", "-t", "acme", "-n", "late", "--expires-at", yesterday, "--endpoint", CLOSED])
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: usage: --expires-at {yesterday} 00:00:00Z is in the past")


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit", "10"],
        ["--rate-limit", "fast/20"],
        ["--rate-limit", "inf/20"],
        ["--rate-limit", "10/1.5"],
        ["--quota", "1000/week"],
        ["--quota", "-5/day"],
        ["--on-limit", "shout"],
    ],
)
def test_a_malformed_policy_is_a_one_line_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "issue", "-t", "acme", "-n", "partner", "--endpoint", CLOSED, *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: usage: argument {argv[0]}: ") and err.count("\n") == 1


def test_a_value_and_its_removal_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "update", "-t", "acme", CLIENT_ID, "--quota", "5/day", "--no-quota"]) == EXIT_USAGE
    assert "--no-quota: not allowed with argument --quota" in capsys.readouterr().err


def test_the_options_offer_what_the_record_accepts() -> None:
    issue = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = issue.choices["clients"]._actions[-1].choices["issue"]
    on_limit = next(a for a in parser._actions if a.dest == "on_limit")
    assert tuple(on_limit.choices) == ON_LIMIT
    assert all(settings.quota(f"3/{period}") == {"limit": 3, "period": period} for period in QUOTA_PERIODS)
