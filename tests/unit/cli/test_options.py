"""The CLI's options: global options before or after the command, each command's own outputs, help
and examples everywhere, one-line usage errors, and times without a zone."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.cli.support import CLOSED, parse
from tokengate.cli import main
from tokengate.cli.errors import EXIT_USAGE
from tokengate.cli.options import GLOBAL_DEFAULTS, timestamp
from tokengate.cli.parser import build_parser


def test_global_options_work_before_or_after_the_command() -> None:
    before = parse("--endpoint", CLOSED, "--output", "json", "--timeout", "5", "clients", "list", "-t", "acme")
    after = parse("clients", "list", "-t", "acme", "--endpoint-url", CLOSED, "-o", "json", "--timeout", "5")
    for args in (before, after):
        assert (args.endpoint, args.output, args.timeout, args.tenant) == (CLOSED, "json", 5.0, "acme")
    # After the command wins over before it; nothing given is the documented default.
    assert parse("--region", "eu-west-1", "keys", "list", "--region", "us-west-2").region == "us-west-2"
    defaults = parse("keys", "list")
    assert {name: getattr(defaults, name) for name in GLOBAL_DEFAULTS if name != "output"} == {
        k: v for k, v in GLOBAL_DEFAULTS.items() if k != "output"
    }
    assert defaults.output == "table"
    assert parse("clients", "issue", "-t", "a", "-n", "b").output == "table"
    assert parse("token", "fetch").output == "token"


def test_an_output_the_command_does_not_have_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", "token", "clients", "list", "-t", "acme"]) == EXIT_USAGE
    assert capsys.readouterr().err == "error: usage: this command has no --output token (choose from table, json)\n"


def _commands(parser: argparse.ArgumentParser, path: str = "tokengate") -> Iterator[tuple[str, Any]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or path.endswith(" local"):
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_option_has_help_and_every_command_has_examples() -> None:
    commands = dict(_commands(build_parser()))
    assert "tokengate clients issue" in commands and "tokengate tenant-policy" in commands
    for path, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("examples:\n  ") and "tokengate " in parser.epilog, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"{path} {action.option_strings or action.dest}"


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "issue", "--tenant", "acme"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        err == "error: usage: the following arguments are required: --name/-n (see `tokengate clients issue --help`)\n"
    )
    assert main(["clients", "list", "-t", "acme", "--max-items", "0"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: usage: argument --max-items: must be >= 1")
    assert main(["nonsense"]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


def test_times_without_a_zone_are_utc() -> None:
    assert timestamp("2030-01-01") == datetime(2030, 1, 1, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30") == datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30:00+02:00") == datetime(2030, 1, 1, 10, 30, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30:00Z").tzinfo is not None
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO 8601"):
        timestamp("next tuesday")
