"""`tokengate clients issue` and `update` send each field as the API names it, and only what was
given."""

from __future__ import annotations

from tests.unit.cli.support import CLIENT_ID, CLOSED, FakeApi
from tokengate.cli import main


def test_issue_sends_each_policy_field_as_the_api_names_it(api: FakeApi) -> None:
    argv = ["clients", "issue", "-t", "acme", "-n", "partner", "--endpoint", CLOSED, "-o", "json"]
    policy = ["--rate-limit", "2.5/20", "--quota", "1000/month", "--allow-cidr", "203.0.113.0/24"]
    policy += ["--allow-cidr", "2001:db8::/32", "--on-limit", "tell_integration"]
    assert main([*argv, *policy]) == 0
    ((method, path, body, _),) = api.calls
    assert (method, path) == ("POST", "/admin/tenants/acme/clients")
    assert body == {
        "client_name": "partner",
        "rate_limit": {"requests_per_second": 2.5, "burst": 20},
        "quota": {"limit": 1000, "period": "month"},
        "allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32"],
        "on_limit": "tell_integration",
    }
    assert main(argv) == 0
    assert api.calls[-1][2] == {"client_name": "partner"}, "no policy unless asked"


def test_update_sends_only_what_was_given_and_null_for_a_removal(api: FakeApi) -> None:
    argv = ["clients", "update", "-t", "acme", CLIENT_ID, "--endpoint", CLOSED, "-o", "json"]
    assert main([*argv, "--rate-limit", "50/100", "--no-quota", "--no-allowlist"]) == 0
    assert api.calls[-1][2] == {
        "rate_limit": {"requests_per_second": 50.0, "burst": 100},
        "quota": None,
        "allowed_cidrs": None,
    }
    assert main([*argv, "--on-limit", "deny", "--allow-cidr", "10.0.0.0/8"]) == 0
    assert api.calls[-1][2] == {"on_limit": "deny", "allowed_cidrs": ["10.0.0.0/8"]}
    assert main([*argv, "--no-rate-limit"]) == 0
    assert api.calls[-1][2] == {"rate_limit": None}
