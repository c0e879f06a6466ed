"""`tokengate local` (what `make run` starts) with a bad setting: one line on stderr naming the
setting, never a traceback and never a secret's value, and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, child_env

pytestmark = pytest.mark.e2e
KEY_ID = "AKIALOCALADMINAAAAAA"
SECRET = "local-admin-secret-key-0123456789"
TINY_SECRET = "tiny-secret"


def start_local(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokengate.cli", "local", *args],
        cwd=REPO,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *names: str) -> str:
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith("error: ") and "Traceback" not in line
    for name in names:
        assert name in line
    return line


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"TOKENGATE_ADMIN_ACCESS_KEY_ID": "not-a-key", "TOKENGATE_ADMIN_SECRET_ACCESS_KEY": SECRET},
            ["TOKENGATE_ADMIN_ACCESS_KEY_ID"],
        ),
        (
            {"TOKENGATE_ADMIN_ACCESS_KEY_ID": KEY_ID, "TOKENGATE_ADMIN_SECRET_ACCESS_KEY": TINY_SECRET},
            ["TOKENGATE_ADMIN_SECRET_ACCESS_KEY"],
        ),
        (
            {"TOKENGATE_ADMIN_ACCESS_KEY_ID": KEY_ID},
            ["TOKENGATE_ADMIN_ACCESS_KEY_ID", "TOKENGATE_ADMIN_SECRET_ACCESS_KEY"],
        ),
        ({"TOKENGATE_CACHE_TTL_SECONDS": "soon"}, ["TOKENGATE_CACHE_TTL_SECONDS"]),
        ({"TOKENGATE_RECOVERY_WINDOW_DAYS": "3"}, ["TOKENGATE_RECOVERY_WINDOW_DAYS"]),
        ({"TOKENGATE_SECRET_PREFIX": "no-trailing-slash"}, ["TOKENGATE_SECRET_PREFIX"]),
        ({"POWERTOOLS_LOG_LEVEL": "LOUD"}, ["POWERTOOLS_LOG_LEVEL"]),
        ({"POWERTOOLS_LOGGER_SAMPLE_RATE": "often"}, ["POWERTOOLS_LOGGER_SAMPLE_RATE"]),
    ],
    ids=["access key id", "secret key", "half a pair", "cache ttl", "recovery window", "prefix", "log level", "sample"],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, env: dict[str, str], names: list[str]) -> None:
    line = assert_one_line(start_local(env, "--port", "0", "--state-dir", str(tmp_path / "state")), *names)
    assert SECRET not in line and TINY_SECRET not in line


def test_a_bad_port_variable_is_one_line_naming_it(tmp_path: Path) -> None:
    for port in ("eighty", "70000", "-1"):
        done = start_local({"TOKENGATE_PORT": port}, "--state-dir", str(tmp_path / "state"))
        assert_one_line(done, "TOKENGATE_PORT")
        assert done.returncode == 2


def test_an_unusable_state_folder_is_one_line_naming_its_setting(tmp_path: Path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    assert_one_line(start_local({"TOKENGATE_HOME": str(occupied)}, "--port", "0"), "TOKENGATE_HOME", str(occupied))


def test_a_credentials_file_with_a_bad_key_is_one_line_naming_the_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "credentials.json").write_text(json.dumps({"access_key_id": "lower-case", "secret_access_key": SECRET}))
    line = assert_one_line(start_local({}, "--port", "0", "--state-dir", str(state)), "credentials.json")
    assert "access_key_id" in line and SECRET not in line
