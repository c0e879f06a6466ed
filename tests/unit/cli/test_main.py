"""The CLI's entry point: errors as one JSON line with --output json, and a reader that stops early
is no error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tokengate.cli import main
from tokengate.cli.errors import EXIT_UNREACHABLE


def test_errors_are_json_with_output_json(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "list", "-t", "acme", "-o", "json"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert json.loads(err)["code"] == "no_credentials"


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "tokengate.cli", "completion", "bash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert reader_gone.stdout is not None and reader_gone.stderr is not None
    reader_gone.stdout.close()  # like `| head -0`: every write now fails with EPIPE
    assert reader_gone.wait(timeout=60) == 0
    assert reader_gone.stderr.read() == b""
