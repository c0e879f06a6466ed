"""Every parser of the CLI, walked: options are taken only as spelled, no error repeats a token
given on the command line, a mistyped choice gets the closest one, and every command and command
group ends its help with examples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.unit.cli.support import CLOSED
from tokengate.cli import main
from tokengate.cli.errors import EXIT_USAGE, CliError, unechoed
from tokengate.cli.options import finish, walk
from tokengate.cli.parser import build_parser

#: A token of another deployment's prefix, one as long as the shortest import, and a short one.
SECRETS = (
    "zz_gajssopb10e476svknuc_Lu2Y0pkaqtMrD68DhqKKXlO4jM2cvel9INsQxZ00D5D473mHQ",
    "Pw9rT4vXq2LmZ8sKd7Nf",
    "s3cr3t-sh0rt",
)


ALL = list(walk(build_parser()))
IDS = [" ".join(path) or "tokengate" for path, _ in ALL]
GROUPS = [(path, p) for path, p in ALL if any(isinstance(a, argparse._SubParsersAction) for a in p._actions)]
COMMANDS = [(path, p) for path, p in ALL if (path, p) not in GROUPS]


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]


@pytest.mark.parametrize(("path", "parser"), ALL, ids=IDS)
def test_no_parser_takes_an_abbreviation(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    assert parser.allow_abbrev is False
    fresh = dict(walk(build_parser()))[path]
    for action in fresh._actions:
        action.required = False  # so that only the abbreviation decides what happens
    for group in fresh._mutually_exclusive_groups:
        group.required = False
    for option in long_options(fresh):
        prefix = option[:-1]
        if prefix in fresh._option_string_actions:
            continue
        for words in ([prefix], [f"{prefix}=x"]):
            try:
                _, extra = fresh.parse_known_args(words)
            except CliError:  # taken for the option, then refused (a value missing, say)
                extra = []
            assert extra == words, f"{' '.join(path)} took {words[0]} for {option}"


def usage_error(parser: argparse.ArgumentParser, words: list[str]) -> str:
    """What `main` prints for these words when they do not parse ('' when they do): the same
    parsing and the same last look at the message, without running a command."""
    try:
        finish(parser.parse_args(words))
    except CliError as error:
        return f"{error.code}: {unechoed(error.message, words)}"
    return ""


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_no_usage_error_repeats_a_secret_given_on_the_command_line(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """Given to each option, after its name or with '=', to a shortened or made-up option, or as a
    stray word: the error, when there is one, never repeats it."""
    root = build_parser()
    options = long_options(parser)
    for secret in SECRETS:
        forms = [[o, secret] for o in options] + [[f"{o}={secret}"] for o in options]
        forms += [["--token", secret], [f"--token={secret}"], [secret]]
        forms += [[options[0][:-1], secret]] if options else []
        for form in forms:
            assert secret not in usage_error(root, [*path, *form]), form


def test_urls_and_paths_are_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = str(tmp_path / "no-such-token-file")
    assert main(["token", "fetch", "--token-file", missing, "--endpoint", CLOSED]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: usage: cannot read {missing}: No such file or directory\n"
    assert main(["keys", "list", "--endpoint", "htp://127.0.0.1:8080/dev/admin"]) == EXIT_USAGE
    assert capsys.readouterr().err == "error: invalid_endpoint: not an http(s) URL: 'htp://127.0.0.1:8080/dev'\n"


def test_token_fetch_with_token_is_refused_without_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    secret = SECRETS[2]
    assert main(["token", "fetch", "--token", secret, "--endpoint", CLOSED]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error == "error: usage: unknown option(s) --token and 1 other word(s) (see `tokengate --help`)\n"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (
            ["keys", "list", "--endpoint", SECRETS[0]],
            "invalid_endpoint: not an http(s) URL: '[73 characters, not shown]'",
        ),
        (
            ["token", "fetch", "--token-file", SECRETS[0], "--endpoint", CLOSED],
            "usage: cannot read [73 characters, not shown]: No such file or directory",
        ),
    ],
)
def test_a_command_error_does_not_repeat_a_long_value_either(
    words: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(words) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: {message}\n"
    assert main([*words, "--output", "json"]) == EXIT_USAGE
    code, text = message.split(": ", 1)
    assert json.loads(capsys.readouterr().err) == {"code": code, "message": text}


@pytest.mark.parametrize(
    ("words", "suggestion"),
    [
        (["clinets", "list"], "argument COMMAND: not one of the choices: did you mean 'clients'?"),
        (["clients", "lsit", "-t", "a"], "argument ACTION: not one of the choices: did you mean 'list'?"),
        (
            ["clients", "list", "-t", "a", "-o", "jsno"],
            "argument --output/-o: not one of the choices: did you mean 'json'?",
        ),
        (["tenant-polcy"], "argument COMMAND: not one of the choices: did you mean 'tenant-policy'?"),
    ],
)
def test_a_mistyped_choice_gets_the_closest_suggested(
    words: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(words) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"error: usage: {suggestion} (see `tokengate"), error
    assert "choose from" not in error


def test_a_word_like_no_choice_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zzzz"]) == EXIT_USAGE
    assert "not one of the choices: choose from 'clients', 'keys'," in capsys.readouterr().err


@pytest.mark.parametrize(("path", "parser"), ALL, ids=IDS)
def test_every_command_and_group_ends_its_help_with_examples(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    examples = parser.format_help().split("\nexamples:\n", 1)
    assert len(examples) == 2 and examples[1].strip(), f"`tokengate {' '.join(path)} --help` has no examples"
    lines = examples[1].rstrip().splitlines()
    assert all(line.startswith("  ") for line in lines), lines
    assert any(f"tokengate {' '.join(path)}".rstrip() in line for line in lines), "an example of this command"
