"""`tokengate capacity`: the plan as JSON and as a table with the deployed defaults, both designs
side by side, usage control shown only for limited clients, and a bad workload as a usage error."""

from __future__ import annotations

import json

import pytest

from tokengate.capacity.model import Workload
from tokengate.cli import main


def test_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["capacity", "--rps", "100", "--clients", "1000", "--concurrency", "2", "--fallback-ttl", "30"]
    assert main([*args, "--architecture", "x86_64", "--memory-mb", "256", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    before, shared = data["before"], data["shared"]
    assert before["secrets_calls_per_s"] == pytest.approx(40.0)  # as in test_model's hand-computed case
    assert before["bill"]["secrets_api"] == pytest.approx(525.60)
    assert before["bill"]["lambda_duration"] == pytest.approx(696_420 * 0.0000166667)
    # the shared design: 2 x 1,000 keys at 3,600 s, 100 req/s: 200,000 / 362,000 GetItems/s
    assert shared["index_reads_per_s"] == pytest.approx(200_000 / 362_000)
    assert shared["request_path"] == pytest.approx(
        shared["lambda_requests"] + shared["lambda_duration"] + shared["backend"]
    )
    assert before["revocation_s"] == 30 and shared["revocation_s"] == 2


def test_command_prints_a_table_with_the_deployed_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "100", "--clients", "1000", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert "index + feed" in out and "0.2 (per container)" in out
    line = next(line for line in out.splitlines() if line.startswith("  GetSecretValue"))
    assert line.split()[-1] == "40.00"  # 0.2's column
    w = Workload(rps=100, clients=1000)
    assert f"authorizer {w.memory_mb} MB {w.architecture}" in out
    assert f"in-memory TTL {w.ttl:g} s with the feed, {w.fallback_ttl:g} s without it" in out
    assert "API Gateway's result cache off" in out


def test_a_bad_workload_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "-1", "--clients", "10"]) == 2
    assert capsys.readouterr().err.startswith("error: usage: rps, TTLs must be >= 0")
    assert main(["capacity", "--rps", "1", "--clients", "10", "--cache-max-entries", "0"]) == 2
    assert "cache entries" in capsys.readouterr().err


def test_command_prints_usage_control_only_for_limited_clients(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "--rps", "100", "--clients", "100", "--concurrency", "2"]) == 0
    assert "usage control" not in capsys.readouterr().out
    args = ["capacity", "--rps", "100", "--clients", "100", "--limited-clients", "10", "--policy", "rate+quota"]
    assert main([*args, "--concurrency", "2"]) == 0
    assert "usage control (10 clients, rate+quota)" in capsys.readouterr().out
    assert main([*args, "--api-cache-ttl", "300"]) == 0
    assert "n/a (refused)" in capsys.readouterr().out
    assert main([*args, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["usage"]["lease_writes_per_s"] > 0
