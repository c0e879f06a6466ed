"""Shell completion: the bash script knows the commands, options and choices; zsh runs it through
bashcompinit."""

from __future__ import annotations

import subprocess

from tokengate.cli.commands.completion import script
from tokengate.cli.parser import build_parser


def complete(line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end) with the generated script loaded."""
    words = line.split(" ")
    program = (
        script(build_parser(), "bash")
        + f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}; _tokengate;"
        + ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, timeout=30)
    return [w for w in result.stdout.splitlines() if w]


def test_bash_completion_knows_commands_options_and_choices() -> None:
    assert complete("tokengate cl") == ["clients"]
    assert complete("tokengate clients ") == [
        "issue",
        "list",
        "show",
        "update",
        "revoke",
        "restore",
        "rotate",
        "usage",
        "import",
    ]
    assert "--max-items" in complete("tokengate clients list --")
    assert complete("tokengate clients list --status r") == ["revoked"]
    assert complete("tokengate --output json clients li") == ["list"]  # a global option's value is skipped
    assert complete("tokengate -o ") == ["table", "json", "token"]
    assert complete("tokengate clients issue --name ") == []  # a free value: nothing to offer
    assert complete("tokengate completion ") == ["bash", "zsh"]


def test_zsh_completion_is_the_bash_script_through_bashcompinit() -> None:
    zsh = script(build_parser(), "zsh")
    assert "bashcompinit" in zsh.splitlines()[1]
    assert zsh.splitlines()[2:] == script(build_parser(), "bash").splitlines()[1:]
