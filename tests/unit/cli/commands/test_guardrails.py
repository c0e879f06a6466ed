"""`tokengate guardrails set` changes only what its options name, based on the version it read, on
the tenant's route or the deployment admins'; `show` says what breaks them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.cli.support import CLOSED, FakeApi
from tokengate.cli import main
from tokengate.cli.commands import guardrails

CURRENT: dict[str, Any] = {
    "tenant": "acme",
    "guardrails": {
        "max_lifetime_days": 90,
        "max_rotation_period_days": None,
        "allowed_scopes": ["GET /invoke"],
        "default_usage_policy": None,
    },
    "version": 4,
    "updated_at": "2026-11-25T09:00:00Z",
    "updated_by": "arn:aws:iam::123456789012:user/ops",
    "loosening": "deployment_admins",
    "violations": [{"client_id": "abcdefghij0123456789", "client_name": "old", "problems": ["expires_at is required"]}],
    "violations_complete": False,
}
ARGV = ["guardrails", "set", "-t", "acme", "--endpoint", CLOSED, "-o", "json"]


@pytest.fixture
def rails_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi(CURRENT)
    monkeypatch.setattr(guardrails, "admin_client", lambda args: fake)
    yield fake


def test_set_keeps_what_it_does_not_name_and_sends_the_version_it_read(rails_api: FakeApi) -> None:
    assert main([*ARGV, "--max-rotation-period-days", "30", "--default-quota", "1000/day"]) == 0
    (read, (method, path, body, _)) = rails_api.calls
    assert read[:2] == ("GET", "/admin/tenants/acme/guardrails")
    assert (method, path) == ("PUT", "/admin/tenants/acme/guardrails")
    assert body == {
        "max_lifetime_days": 90,
        "max_rotation_period_days": 30,
        "allowed_scopes": ["GET /invoke"],
        "default_usage_policy": {"quota": {"limit": 1000, "period": "day"}},
        "version": 4,
    }


def test_the_no_forms_remove_a_limit_and_the_deployment_route_is_asked_for(rails_api: FakeApi) -> None:
    argv = [*ARGV, "--no-max-lifetime-days", "--no-allowed-scopes", "--as-deployment-admin"]
    assert main([*argv, "--no-default-usage-policy"]) == 0
    _, (method, path, body, _) = rails_api.calls
    assert (method, path) == ("PUT", "/admin/guardrails/acme")
    assert body["max_lifetime_days"] is None and body["allowed_scopes"] is None
    assert body["default_usage_policy"] is None


def test_allowed_scopes_repeat_into_the_whole_list(rails_api: FakeApi) -> None:
    assert main([*ARGV, "--allowed-scope", "GET /a/**", "--allowed-scope", "POST /b"]) == 0
    assert rails_api.calls[-1][2]["allowed_scopes"] == ["GET /a/**", "POST /b"]


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--no-default-usage-policy", "--default-quota", "5/day"],
        ["--max-lifetime-days", "30", "--no-max-lifetime-days"],
        ["--max-lifetime-days", "many"],
        ["--default-quota", "5/week"],
    ],
)
def test_usage_errors_are_one_line_and_ask_nothing(
    rails_api: FakeApi, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main([*ARGV[:-2], *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: usage: ") and err.count("\n") == 1
    assert rails_api.calls == []


def test_show_lists_the_limits_and_the_clients_that_break_them(
    rails_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["guardrails", "show", "-t", "acme", "--endpoint", CLOSED]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the columns' widths aside
    assert "guardrails version 4" in out and "by arn:aws:iam::123456789012:user/ops" in out
    assert "max lifetime 90 days" in out and "max rotation period no limit" in out
    assert "allowed scopes GET /invoke" in out and "default usage policy none" in out
    assert "loosened by deployment admins only" in out
    assert "1 client(s) break them (not every client examined)" in out
    assert "abcdefghij0123456789 old expires_at is required" in out
