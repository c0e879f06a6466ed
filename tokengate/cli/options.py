"""Options shared by several commands, the argument types, and the parser class.

Global options (endpoint, credentials, region, timeout, output) are accepted before or after the
command, as with the AWS CLI: every parser declares them with no default of its own, so a value
given after the command replaces one given before it and neither is overwritten by a default;
:func:`finish` fills in :data:`GLOBAL_DEFAULTS` once parsing is done. A command group takes what
it needs from :class:`Parents` and builds each command with :func:`command`, which requires
examples, so every command's ``--help`` ends with some.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeAlias

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.local import location

Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"

OUTPUTS = ("table", "json", "token")
#: What a global option is when given nowhere.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "endpoint": None,
    "stack_name": None,
    "region": None,
    "profile": None,
    "credentials": None,
    "state_dir": None,
    "timeout": 30.0,
    "output": None,
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``error: usage: ...``, exit status 2) instead of the usage
    block, like every other error of the CLI; subparsers inherit the class. No abbreviations: an
    option is taken only as spelled (``--token`` is not ``--token-file``). An error names options
    and choices, not the values given: a mistyped choice gets the closest one suggested, and words
    left over are named only when they are options."""

    #: The examples its ``--help`` ends with (see :func:`command` and :func:`give_groups_examples`).
    examples: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # argparse's words for a value given to a flag (--follow=VALUE) repeat the value.
        message = re.sub(r"ignored explicit argument .*", "takes no value", message, flags=re.S)
        raise CliError("usage", f"{message} (see `{self.prog} --help`)", EXIT_USAGE)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            options = [word.partition("=")[0] for word in extra if word.startswith("-")]
            others = len(extra) - len(options)
            named = ", ".join(options) + (f" and {others} other word(s)" if options and others else "")
            self.error(f"unknown option(s) {named}" if options else f"{others} word(s) too many")
        return parsed

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        convert = self._registry_get("type", action.type, action.type)
        try:
            return convert(arg_string)
        except argparse.ArgumentTypeError as error:  # the argument types here never repeat the value
            raise argparse.ArgumentError(action, str(error)) from None
        except (TypeError, ValueError):
            name = getattr(action.type, "__name__", "given")
            raise argparse.ArgumentError(action, f"not a valid {name} value") from None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        closest = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean {closest[0]!r}?" if closest else f"choose from {', '.join(map(repr, choices))}"
        raise argparse.ArgumentError(action, f"not one of the choices: {hint}")


# -- argument types ---------------------------------------------------------------------------------


def port(text: str) -> int:
    try:
        return location.port_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def timestamp(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC (``2030-01-01`` is midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not an ISO 8601 date or time (e.g. 2030-01-01 or 2030-01-01T12:00:00+02:00)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# -- shared options ---------------------------------------------------------------------------------


def add_global_options(parser: argparse.ArgumentParser, *, output: bool) -> None:
    group = parser.add_argument_group("endpoint and credentials (before or after the command)")
    none = argparse.SUPPRESS
    group.add_argument(
        "--endpoint",
        "--endpoint-url",
        dest="endpoint",
        metavar="URL",
        default=none,
        help="the stage URL, e.g. http://127.0.0.1:8080/dev (default: $TOKENGATE_ENDPOINT, else the local "
        "stack on $TOKENGATE_PORT, else the one running on the state folder, else on 8080)",
    )
    group.add_argument(
        "--stack-name", metavar="NAME", default=none, help="a deployed stack: call the URL of its ApiUrl output"
    )
    group.add_argument(
        "--region",
        default=none,
        help="AWS region to sign for (default: the URL's, else $AWS_REGION, $AWS_DEFAULT_REGION or the profile's; "
        "the local stack's own for a loopback URL)",
    )
    group.add_argument("--profile", default=none, help="AWS profile (default $AWS_PROFILE); implies --credentials aws")
    group.add_argument(
        "--credentials",
        choices=["local", "aws"],
        default=none,
        help="sign with the local stack's admin (its state folder) or the AWS credential chain "
        "(default: local for a loopback URL, aws otherwise)",
    )
    group.add_argument(
        "--state-dir",
        metavar="DIR",
        default=none,
        help="the local stack's state folder (default $TOKENGATE_HOME, else the nearest .tokengate folder "
        "here or above)",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        default=none,
        help=f"seconds to wait for an answer (default {GLOBAL_DEFAULTS['timeout']:g})",
    )
    if output:
        group.add_argument(
            "--output", "-o", choices=OUTPUTS, default=none, help="output format (each command lists its own)"
        )


def add_output(parser: argparse.ArgumentParser, choices: Sequence[str], help_text: str) -> None:
    """``--output`` with this command's formats; the first is the default."""
    parser.add_argument(
        "--output", "-o", choices=list(choices), default=argparse.SUPPRESS, help=f"{help_text} (default {choices[0]})"
    )
    parser.set_defaults(output_choices=tuple(choices))


@dataclass(frozen=True)
class Parents:
    connection: Parser
    output: Parser
    issued_output: Parser
    tenant: Parser
    client: Parser


def parents() -> Parents:
    connection = Parser(add_help=False)
    add_global_options(connection, output=False)
    output = Parser(add_help=False)
    add_output(output, ("table", "json"), "'table' for people, 'json' the API's answer")
    issued_output = Parser(add_help=False)
    add_output(
        issued_output,
        ("table", "json", "token"),
        "'table' for people, 'json' the API's answer, 'token' only the token (for TOKEN=$(...))",
    )
    tenant = Parser(add_help=False)
    tenant.add_argument("--tenant", "-t", required=True, help="tenant id, e.g. acme")
    client = Parser(add_help=False)
    client.add_argument("client", metavar="CLIENT", help="client id, or the client's name")
    return Parents(connection, output, issued_output, tenant, client)


def command(
    commands: Subcommands,
    name: str,
    *,
    summary: str,
    examples: Sequence[str],
    parents: Sequence[Parser] = (),
    description: str | None = None,
) -> Parser:
    """One command, whose ``--help`` ends with ``examples``."""
    parser = commands.add_parser(
        name,
        parents=list(parents),
        help=summary,
        description=description or summary[:1].upper() + summary[1:] + ".",
        epilog=_examples_text(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.examples = tuple(examples)
    return parser


def _examples_text(examples: Sequence[str]) -> str:
    return "examples:\n" + "\n".join(f"  {example}" for example in examples)


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Each parser with the words that reach it, a group before its commands."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def give_groups_examples(root: Parser) -> None:
    """A group with no examples of its own (and the root) ends its ``--help`` with the first
    example of each of its commands, so ``tokengate clients --help`` shows how each is used."""
    for _, parser in reversed(list(walk(root))):  # commands before the groups they are in
        children = [sub for path, sub in walk(parser) if len(path) == 1]
        if isinstance(parser, Parser) and children and not parser.examples:
            firsts = [sub.examples[0] for sub in children if isinstance(sub, Parser) and sub.examples]
            parser.examples = tuple(firsts)
            parser.epilog = (f"{parser.epilog}\n\n" if parser.epilog else "") + _examples_text(firsts)
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def finish(args: argparse.Namespace) -> argparse.Namespace:
    """Fill in the global defaults and check ``--output`` against the command's formats. Errors are
    JSON when ``--output json`` was asked for, not merely a command's only format."""
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    args.json_errors = args.output == "json"
    choices: tuple[str, ...] = getattr(args, "output_choices", ())
    if args.output is not None and choices and args.output not in choices:
        raise CliError(
            "usage", f"this command has no --output {args.output} (choose from {', '.join(choices)})", EXIT_USAGE
        )
    if args.output is None and choices:
        args.output = choices[0]
    return args
