"""The README's table of settings names every authorizer setting with its default: the names and
defaults are defined once, in tokengate_core.authorize.settings."""

from __future__ import annotations

import re
from pathlib import Path

from tokengate_core.authorize.settings import AuthorizerSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def rows() -> dict[str, str]:
    """variable -> default column, for the rows that name one variable."""
    text = README.read_text()
    return dict(re.findall(r"^\| `(TOKENGATE_[A-Z_]+)` \| ([^|]+) \|", text, re.MULTILINE))


def named() -> set[str]:
    """Every variable the table names, a row's ``_SUFFIX`` forms read against its first variable
    (`TOKENGATE_SM_CONNECT_TIMEOUT_SECONDS` / `_READ_TIMEOUT_SECONDS` names both)."""
    found: set[str] = set()
    for line in README.read_text().splitlines():
        if not line.startswith("| `TOKENGATE_"):
            continue
        cells = line.split("|")[1]
        full = re.findall(r"`(TOKENGATE_[A-Z_]+)`", cells)
        found.update(full)
        for suffix in re.findall(r"`(_[A-Z_]+)`", cells):
            first = full[0]
            found.update(first[:i] + suffix[1:] for i in range(1, len(first)) if first[i - 1] == "_")
    return found


def test_every_authorizer_setting_is_in_the_readme() -> None:
    table = named()
    for name in AuthorizerSettings.FIELDS:
        variable = AuthorizerSettings.ALIASES.get(name, f"TOKENGATE_{name.upper()}")
        assert variable in table or variable.startswith("POWERTOOLS_"), variable


def test_the_readme_gives_each_numeric_authorizer_default() -> None:
    table = rows()
    for name, kind in AuthorizerSettings.FIELDS.items():
        variable = f"TOKENGATE_{name.upper()}"
        if variable in table and isinstance(kind.default, int | float) and not isinstance(kind.default, bool):
            assert float(table[variable].strip()) == float(kind.default), variable
