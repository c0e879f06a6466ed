"""A running local stack is found through its state folder: the stage URL it recorded counts only
while the stack holds the folder's lock, so a file a killed stack left behind is ignored."""

from __future__ import annotations

import fcntl
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokengate.local.running import (
    LOCK_FILE,
    STAGE_URL_FILE,
    is_locked,
    publish_stage_url,
    running_stage_url,
    withdraw_stage_url,
)

URL = "http://127.0.0.1:9123/dev"


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A state folder whose lock is held, as a running stack holds it."""
    with (tmp_path / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield tmp_path


def test_a_running_stack_is_found_at_the_url_it_recorded(held: Path) -> None:
    assert running_stage_url(held) is None, "nothing recorded yet"
    publish_stage_url(held, URL)
    assert running_stage_url(held) == URL
    assert stat.S_IMODE((held / STAGE_URL_FILE).stat().st_mode) == 0o600
    withdraw_stage_url(held)
    assert running_stage_url(held) is None and not (held / STAGE_URL_FILE).exists()
    withdraw_stage_url(held)  # twice is fine


def test_a_url_nobody_holds_the_lock_for_is_stale(tmp_path: Path) -> None:
    publish_stage_url(tmp_path, URL)
    assert not is_locked(tmp_path) and running_stage_url(tmp_path) is None, "no lock file"
    (tmp_path / LOCK_FILE).touch()
    assert not is_locked(tmp_path) and running_stage_url(tmp_path) is None, "a lock file nobody holds"


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"url": "http://203.0.113.9:8080/dev"}),
        json.dumps({"url": "https://abc.execute-api.us-east-1.amazonaws.com/dev"}),
        json.dumps({"url": "file:///etc/passwd"}),
        json.dumps({"url": 8080}),
        json.dumps(["http://127.0.0.1:8080/dev"]),
        "{not json",
        "",
    ],
)
def test_only_an_http_url_on_loopback_is_taken(held: Path, content: str) -> None:
    (held / STAGE_URL_FILE).write_text(content)
    assert running_stage_url(held) is None


def test_ipv6_loopback_is_loopback(held: Path) -> None:
    publish_stage_url(held, "http://[::1]:8080/dev")
    assert running_stage_url(held) == "http://[::1]:8080/dev"


def test_the_cli_calls_the_stack_running_on_its_state_folder(held: Path) -> None:
    """Whatever port it runs on; a URL or port the environment names still comes first."""
    from tokengate.cli.target import default_endpoint

    home = {"TOKENGATE_HOME": str(held)}
    assert default_endpoint(home) == "http://127.0.0.1:8080/dev", "nothing recorded: the default"
    publish_stage_url(held, URL)
    assert default_endpoint(home) == URL
    assert default_endpoint({}, str(held)) == URL, "--state-dir"
    assert default_endpoint({**home, "TOKENGATE_PORT": "9000"}) == "http://127.0.0.1:9000/dev"
    assert default_endpoint({**home, "TOKENGATE_ENDPOINT": "https://x.example/dev"}) == "https://x.example/dev"


def test_the_cli_ignores_a_url_no_running_stack_vouches_for(tmp_path: Path) -> None:
    from tokengate.cli.target import default_endpoint

    publish_stage_url(tmp_path, URL)
    assert default_endpoint({"TOKENGATE_HOME": str(tmp_path)}) == "http://127.0.0.1:8080/dev"
