"""``tokengate completion bash|zsh``: a shell completion script, generated from the parser itself
(so it knows every command, option and choice there is, and nothing else).

The script is plain bash with ``case`` tables, no associative arrays, so it runs in macOS's bash
3.2 too; zsh runs the same script through its ``bashcompinit``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from tokengate.cli.options import Parents, Subcommands, command, walk

SHELLS = ("bash", "zsh")


def _words(parser: argparse.ArgumentParser) -> list[str]:
    """What may come next that is not an option: subcommands, or a positional's choices."""
    return [
        str(name)
        for action in parser._actions
        if not action.option_strings and action.choices is not None
        for name in action.choices
    ]


def _values(action: argparse.Action) -> str | None:
    """What follows an option: None for a flag, else its choices or @file, @dir, @any."""
    if action.nargs == 0:
        return None
    if action.choices is not None:
        return " ".join(str(choice) for choice in action.choices)
    return {"FILE": "@file", "DIR": "@dir"}.get(str(action.metavar), "@any")


def _case(function: str, rows: dict[str, str]) -> list[str]:
    lines = [f"{function}() {{", '    case "$1" in']
    lines += [f"        {shlex.quote(key)}) echo {shlex.quote(value)} ;;" for key, value in rows.items()]
    return [*lines, "    esac", "}"]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    commands: dict[str, str] = {}
    options: dict[str, str] = {}
    values: dict[str, str] = {}
    for words, sub in walk(parser):
        path = " ".join(words)
        commands[path] = " ".join(_words(sub))
        options[path] = " ".join(o for action in sub._actions for o in action.option_strings)
        for action in sub._actions:
            kind = _values(action)
            if kind is not None:
                for option in action.option_strings:
                    values[f"{path}|{option}"] = kind
    prog = parser.prog
    lines = [f'# {prog} completion for {shell}: eval "$({prog} completion {shell})" in your shell\'s rc file']
    if shell == "zsh":
        lines += ["autoload -U +X bashcompinit && bashcompinit"]
    lines += _case("_tokengate_commands", commands)
    lines += _case("_tokengate_options", options)
    lines += _case("_tokengate_values", values)
    lines += [
        "_tokengate() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" word kind i=1',
        "    while ((i < COMP_CWORD)); do",
        '        word="${COMP_WORDS[i]}"',
        "        if [[ $word == -* ]]; then",
        '            kind="$(_tokengate_values "$cmdpath|$word")"',
        "            [[ -n $kind && $word != *=* ]] && ((i++))",
        '        elif [[ " $(_tokengate_commands "$cmdpath") " == *" $word "* ]]; then',
        '            cmdpath="${cmdpath:+$cmdpath }$word"',
        "        fi",
        "        ((i++))",
        "    done",
        '    ((COMP_CWORD > 1)) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    if [[ $prev == -* ]]; then",
        '        kind="$(_tokengate_values "$cmdpath|$prev")"',
        '        case "$kind" in',
        '            "") ;;',
        '            @file) COMPREPLY=($(compgen -f -- "$cur")); return ;;',
        '            @dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;',
        "            @any) COMPREPLY=(); return ;;",
        '            *) COMPREPLY=($(compgen -W "$kind" -- "$cur")); return ;;',
        "        esac",
        "    fi",
        "    if [[ $cur == -* ]]; then",
        '        COMPREPLY=($(compgen -W "$(_tokengate_options "$cmdpath")" -- "$cur"))',
        "    else",
        '        COMPREPLY=($(compgen -W "$(_tokengate_commands "$cmdpath")" -- "$cur"))',
        "    fi",
        "}",
        f"complete -F _tokengate {prog}",
    ]
    return "\n".join(lines) + "\n"


def cmd_completion(args: argparse.Namespace) -> int:
    from tokengate.cli.parser import build_parser

    sys.stdout.write(script(build_parser(), args.shell))
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    completion = command(
        commands,
        "completion",
        summary="print a shell completion script (bash or zsh)",
        examples=[
            'eval "$(tokengate completion bash)"   # in ~/.bashrc',
            'eval "$(tokengate completion zsh)"    # in ~/.zshrc',
        ],
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    completion.set_defaults(func=cmd_completion)
