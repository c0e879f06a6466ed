"""`tokengate capacity`: the plan as JSON and as a table with the deployed defaults, usage control
shown only for limited clients, and a bad workload as a usage error."""

from __future__ import annotations

import json

import pytest

from tokengate.capacity.model import Workload
from tokengate.cli import main


def test_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["capacity", "--rps", "100", "--clients", "1000", "--concurrency", "2", "--api-cache-ttl", "300"]
    assert main([*args, "--architecture", "x86_64", "--memory-mb", "256", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    without, with_cache = data["variants"]
    assert without["secrets_calls_per_s"] == pytest.approx(40.0)  # as in the hand-computed case above
    assert without["bill"]["secrets_api"] == pytest.approx(525.60)
    assert without["bill"]["lambda_duration"] == pytest.approx(696_420 * 0.0000166667)
    assert with_cache["api_cache"] is True and with_cache["revocation_s"] == 330


def test_command_prints_a_table_with_the_deployed_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "100", "--clients", "1000", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert "GetSecretValue calls/s (model)" in out and "40.00" in out
    assert "$525.60" in out  # Secrets Manager API calls without the API cache
    w = Workload(rps=100, clients=1000)
    assert f"authorizer {w.memory_mb} MB {w.architecture}" in out
    if w.api_cache_ttl == 0:  # the stack deploys without it: one column
        assert "API Gateway's result cache off" in out and "with API cache" not in out
    else:
        assert f"API cache TTL {w.api_cache_ttl:g} s" in out and "with API cache" in out


def test_a_bad_workload_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "-1", "--clients", "10"]) == 2
    assert capsys.readouterr().err.startswith("error: usage: rps, TTLs must be >= 0")


def test_command_prints_usage_control_only_for_limited_clients(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "100", "--clients", "100", "--concurrency", "2"]) == 0
    assert "usage control" not in capsys.readouterr().out
    args = ["capacity", "--rps", "100", "--clients", "100", "--limited-clients", "10", "--policy", "rate+quota"]
    assert main([*args, "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert "usage control (10 clients, rate+quota)" in out and "n/a (refused)" in out
    assert main([*args, "--output", "json"]) == 0
    without, with_cache = json.loads(capsys.readouterr().out)["variants"]
    assert without["usage"]["lease_writes_per_s"] > 0 and with_cache["usage"] is None
