"""The CLI's usage-policy options, the usage report and the local flush control, in this process."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import pytest

from tokengate.cli import main
from tokengate.cli.commands import clients
from tokengate.cli.errors import EXIT_USAGE
from tokengate.cli.options import finish
from tokengate.cli.output import client_lines
from tokengate.cli.parser import build_parser
from tokengate_core.records.rules import ON_LIMIT, QUOTA_PERIODS

CLOSED = "http://127.0.0.1:9/dev"  # nothing listens on the discard port; no test here reaches it


class FakeApi:
    """What the admin API was asked, and a canned answer."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, Any, Any]] = []

    def call(self, method: str, path: str, body: Any = None, *, query: Any = None) -> Any:
        self.calls.append((method, path, body, query))
        return self.answer


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi({"client": {"client_name": "partner", "tenant": "acme"}, "token": "t", "buckets": []})
    monkeypatch.setattr(clients, "admin_client", lambda args: fake)
    yield fake


def parse(*argv: str) -> argparse.Namespace:
    return finish(build_parser().parse_args(argv))


CLIENT_ID = "abcdefghij0123456789"  # a key id, so no name lookup


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


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit", "10"],
        ["--rate-limit", "fast/20"],
        ["--rate-limit", "inf/20"],
        ["--rate-limit", "10/1.5"],
        ["--quota", "1000/week"],
        ["--quota", "-5/day"],
        ["--on-limit", "shout"],
    ],
)
def test_a_malformed_policy_is_a_one_line_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "issue", "-t", "acme", "-n", "partner", "--endpoint", CLOSED, *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: usage: argument {argv[0]}: ") and err.count("\n") == 1


def test_a_value_and_its_removal_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "update", "-t", "acme", CLIENT_ID, "--quota", "5/day", "--no-quota"]) == EXIT_USAGE
    assert "--no-quota: not allowed with argument --quota" in capsys.readouterr().err


def test_the_options_offer_what_the_record_accepts() -> None:
    issue = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = issue.choices["clients"]._actions[-1].choices["issue"]
    on_limit = next(a for a in parser._actions if a.dest == "on_limit")
    assert tuple(on_limit.choices) == ON_LIMIT
    assert all(clients.quota(f"3/{period}") == {"limit": 3, "period": period} for period in QUOTA_PERIODS)


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
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["START", "ALLOWED", "DENIED", "DENIED", "BY", "REASON"]
    assert lines[2].split() == ["2026-11-25", "00:00:00Z", "3", "5", "ip_not_allowed", "1,", "rate_limited", "4"]
    assert lines[3].split() == ["total", "10", "5"]
    assert lines[-1] == "the newest bucket may still grow"
    api.answer = {"client_id": CLIENT_ID, "buckets": []}
    assert main(["clients", "usage", "-t", "acme", CLIENT_ID, "--endpoint", CLOSED]) == 0
    assert api.calls[-1][3] == {"granularity": "hour"}
    assert capsys.readouterr().out.startswith("no requests counted")


def test_client_lines_show_the_policy_it_has() -> None:
    base = {"client_id": "k", "tenant": "acme", "client_name": "partner", "status": "active", "enabled": True}
    limited = {
        **base,
        "rate_limit": {"requests_per_second": 2.0, "burst": 4},
        "quota": {"limit": 100, "period": "day"},
        "allowed_cidrs": ["203.0.113.0/24"],
        "on_limit": "tell_integration",
    }
    lines = {key.strip(): value for key, _, value in (line.partition("  ") for line in client_lines(limited))}
    assert lines["rate limit"].strip() == "2/s, burst 4"
    assert lines["quota"].strip() == "100 a day (UTC)"
    assert lines["allowed from"].strip() == "203.0.113.0/24"
    assert lines["on limit"].strip() == "tell_integration (429 from the integration)"
    plain = "\n".join(client_lines({**base, "on_limit": "deny"}))
    assert "rate limit" not in plain and "on limit" not in plain


def test_flush_usage_drives_only_a_local_stack(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["local", "flush-usage", "--endpoint", "https://abc.execute-api.us-east-1.amazonaws.com/dev"])
    assert status == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: usage: flush-usage drives a local stack")
    assert parse("local", "flush-usage").func.__name__ == "cmd_flush_usage"


class ListingApi:
    """An admin API holding clients; ``names`` says whether it knows the ``name`` filter (an older
    deployment ignores the parameter and answers the tenant's first page)."""

    def __init__(self, clients_by_id: dict[str, str], *, names: bool) -> None:
        self.items = [{"client_id": cid, "client_name": name} for cid, name in clients_by_id.items()]
        self.names = names
        self.queries: list[Any] = []

    def call(self, method: str, path: str, body: Any = None, *, query: Any = None) -> Any:
        self.queries.append(query)
        wanted = (query or {}).get("name") if self.names else None
        items = [c for c in self.items if wanted is None or c["client_name"] == wanted]
        return {"items": items, "next_token": None}


@pytest.mark.parametrize("names", [True, False], ids=["name-lookup", "older-api"])
def test_a_name_resolves_to_its_own_client_whatever_the_api_answers(names: bool) -> None:
    api = ListingApi({"a" * 20: "first", "b" * 20: "billing"}, names=names)
    assert clients._client_id(api, "acme", "billing") == "b" * 20  # type: ignore[arg-type]
    assert api.queries[0] == {"name": "billing"}
    assert len(api.queries) == 1, "the tenant's list is read only when the lookup finds nothing"
    with pytest.raises(Exception, match="client not found"):
        clients._client_id(api, "acme", "nobody")  # type: ignore[arg-type]
    assert api.queries[1:] == [{"name": "nobody"}, {"limit": "50"}]
