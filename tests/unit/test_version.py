"""The version is defined once (pyproject.toml): `tokengate --version` and the changelog's latest
release say the same, and every release the documents speak of is one the changelog lists, older
than the current one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tokengate.cli import main

REPO = Path(__file__).resolve().parents[2]
DECLARED = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
CHANGELOG = (REPO / "CHANGELOG.md").read_text()
RELEASES = re.findall(r"^## (\d+\.\d+\.\d+)$", CHANGELOG, re.M)


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_tokengate_version_is_the_declared_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"tokengate {DECLARED}\n"


def test_the_changelog_lists_every_release_newest_first_the_declared_one_on_top() -> None:
    assert RELEASES[0] == DECLARED
    assert sorted(RELEASES, key=release, reverse=True) == RELEASES and len(set(RELEASES)) == len(RELEASES)
    assert CHANGELOG.index("## Unreleased") < CHANGELOG.index(f"## {DECLARED}"), "changes since go on top"


@pytest.mark.parametrize("document", ["README.md", "docs/deploy.md", "docs/architecture.md"])
def test_the_releases_the_documents_upgrade_from_are_older_ones_the_changelog_lists(document: str) -> None:
    named = re.findall(r"tokengate (\d+\.\d+(?:\.\d+)?)\b", (REPO / document).read_text())
    assert named, f"{document} names the release it upgrades from"
    for mentioned in named:
        listed = [r for r in RELEASES if r == mentioned or r.startswith(f"{mentioned}.")]
        assert listed, f"{document}: tokengate {mentioned} is not in CHANGELOG.md"
        assert release(listed[0]) < release(DECLARED), f"{document}: tokengate {mentioned} is not older than {DECLARED}"
