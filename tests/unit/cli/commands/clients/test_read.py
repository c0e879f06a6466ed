"""`tokengate clients usage` asks for the range given and prints a row per bucket."""

from __future__ import annotations

import pytest

from tests.unit.cli.support import CLIENT_ID, CLOSED, FakeApi
from tokengate.cli import main


def test_usage_asks_for_the_range_and_prints_a_row_per_bucket(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.answer = {
        "client_id": CLIENT_ID,
        "granularity": "day",
        "buckets": [
            {"start": "2026-11-24T00:00:00+00:00", "allowed": 7, "denied": {}},
            {"start": "2026-11-25T00:00:00+00:00", "allowed": 3, "denied": {"rate_limited": 4, "ip_not_allowed": 1}},
        ],
        "notice": "the newest bucket may still grow",
    }
    argv = ["clients", "usage", "-t", "acme", CLIENT_ID, "--granularity", "day", "--from", "2026-11-24"]
    assert main([*argv, "--endpoint", CLOSED]) == 0
    ((method, path, _, query),) = api.calls
    assert (method, path) == ("GET", f"/admin/tenants/acme/clients/{CLIENT_ID}/usage")
    assert query == {"granularity": "day", "from": "2026-11-24T00:00:00+00:00"}
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].split() == ["START", "ALLOWED", "DENIED", "DENIED", "BY", "REASON"]
    assert lines[2].split() == ["2026-11-25", "00:00:00Z", "3", "5", "ip_not_allowed", "1,", "rate_limited", "4"]
    assert lines[3].split() == ["total", "10", "5"] and len(lines) == 4, "the table alone on stdout"
    assert printed.err == "note: the newest bucket may still grow\n"
    api.answer = {"client_id": CLIENT_ID, "buckets": []}
    assert main(["clients", "usage", "-t", "acme", CLIENT_ID, "--endpoint", CLOSED]) == 0
    assert api.calls[-1][3] == {"granularity": "hour"}
    assert capsys.readouterr().out.startswith("no requests counted")
