"""The command line's top level: the version, and the exit statuses its help lists."""

from __future__ import annotations

import pytest

from tokengate.cli import main
from tokengate.cli.errors import EXIT_STATUSES


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"tokengate {version('tokengate')}\n"


def test_top_level_help_lists_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for status, meaning in EXIT_STATUSES.items():
        assert f"{status} {meaning}" in " ".join(out.split())
