"""What the README says about the CLI and the gates is what the code and the configuration do."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tokengate.cli.errors import EXIT_STATUSES

REPO = Path(__file__).resolve().parents[2]
README = " ".join((REPO / "README.md").read_text().split())


def test_the_exit_statuses_are_the_clis() -> None:
    listed = ", ".join(f"{status} {meaning}" for status, meaning in EXIT_STATUSES.items())
    assert f"Exit status: {listed}." in README


def test_the_gates_are_the_configured_ones() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    assert f"coverage floor of {config['coverage']['report']['fail_under']}%" in README
    assert f"cyclomatic complexity to {config['ruff']['lint']['mccabe']['max-complexity']}" in README


def test_the_examples_reach_the_local_stack_through_one_variable() -> None:
    """A stack on another port needs one line changed, not every curl."""
    from tests.unit.test_doc_examples_write_outside import commands, shell_lines

    words = [word for line in shell_lines((REPO / "README.md").read_text()) for c in commands(line) for word in c]
    named = [word for word in words if "127.0.0.1" in word]
    assert named == ["API=http://127.0.0.1:8080/dev"], named
