"""Usage policies on the local stack, over real HTTP: a rate limit, the 429 an integration answers
when told, an IP allowlist, a daily quota, and the usage report counting each outcome."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_CACHE
from tests.e2e.harness import HttpResult, RunningStack, cli_json, request, run_cli, start_stack, wait_for
from tests.e2e.signing import admin
from tests.e2e.test_startup_errors import assert_one_line, start_local
from tokengate.local.control import FLUSH_USAGE_PATH
from tokengate.local.location import DEFAULT_REGION
from tokengate.sigv4 import sign
from tokengate_core.deployment.config import AdminSettings, AuthorizerSettings
from tokengate_core.deployment.routes import TOKEN_STATUS_HEADER

pytestmark = pytest.mark.e2e

RATE = {"requests_per_second": 2, "burst": 2}
#: The embedded DynamoDB shares this machine's cores with the tests and the other stacks: a call
#: that outlives the authorizer's usage timeout (0.5 s) would fail a quota closed, which is right
#: in AWS and is not what these tests are about.
PATIENT_USAGE = {**FAST_CACHE, AuthorizerSettings.env_name("usage_timeout_seconds"): "5"}
#: Enough requests to pass any burst here, however slowly this machine serves them.
MAX_TRIES = 50


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("usage") / "state", PATIENT_USAGE)
    yield running
    assert running.stop() == 0, running.output()


def issue(stack: RunningStack, tenant: str, name: str, **policy: Any) -> tuple[str, str]:
    """(client id, token) of a new client with ``policy``."""
    issued = admin(stack, "POST", f"/admin/tenants/{tenant}/clients", {"client_name": name, **policy})
    assert issued.status == 201, issued
    return issued.body["client"]["client_id"], issued.body["token"]


def invoke(stack: RunningStack, token: str) -> HttpResult:
    return request("GET", f"{stack.url}/invoke", headers={"Authorization": token})


def until_refused(stack: RunningStack, token: str) -> tuple[list[HttpResult], float]:
    """Requests one after another until one is not a 200; the answers and the seconds they took."""
    started = time.monotonic()
    answers = [invoke(stack, token)]
    while answers[-1].status == 200 and len(answers) < MAX_TRIES:
        answers.append(invoke(stack, token))
    return answers, time.monotonic() - started


def flush_usage(stack: RunningStack) -> HttpResult:
    """The local control that makes the authorizers write their usage counts now, signed by the local admin."""
    url = stack.url.rsplit("/", 1)[0] + FLUSH_USAGE_PATH
    signed = sign("POST", url, credentials=stack.credentials, region=DEFAULT_REGION)
    return request("POST", signed.url, headers=signed.headers)


def usage(stack: RunningStack, tenant: str, client_id: str) -> tuple[int, Counter[str]]:
    """(allowed, denied by reason) over every daily bucket of the client's usage report."""
    assert flush_usage(stack).status == 200
    report = admin(stack, "GET", f"/admin/tenants/{tenant}/clients/{client_id}/usage?granularity=day")
    assert report.status == 200, report
    assert report.body["client_id"] == client_id and report.body["granularity"] == "day"
    allowed, denied = 0, Counter[str]()
    for bucket in report.body["buckets"]:
        allowed += bucket["allowed"]
        denied.update(bucket["denied"])
    return allowed, denied


def test_a_rate_limited_client_is_refused_after_its_burst_and_recovers(stack: RunningStack) -> None:
    client_id, token = issue(stack, "usage-rate", "bursty", rate_limit=RATE)
    answers, seconds = until_refused(stack, token)
    assert [a.status for a in answers[:2]] == [200, 200], "a full bucket allows the whole burst"
    refused = answers[-1]
    assert (refused.status, refused.body) == (403, {"message": "Forbidden"}), "the stage's own refusal"
    # The bound: rate x t + burst (one container, so no allowance is out on another's lease).
    assert len(answers) - 1 <= RATE["burst"] + RATE["requests_per_second"] * seconds + 1

    def probe() -> HttpResult:
        answers.append(invoke(stack, token))
        return answers[-1]

    assert wait_for(probe, lambda r: r.status == 200).status == 200, "the bucket refills at 2 a second"
    statuses = Counter(a.status for a in answers)
    assert set(statuses) == {200, 403}
    assert usage(stack, "usage-rate", client_id) == (statuses[200], Counter({"rate_limited": statuses[403]}))


def test_with_tell_integration_the_integration_answers_429_with_retry_after(stack: RunningStack) -> None:
    _, token = issue(stack, "usage-tell", "polite", rate_limit=RATE, on_limit="tell_integration")
    answers, _ = until_refused(stack, token)
    limited = answers[-1]
    assert limited.status == 429, limited
    assert limited.body == {"message": "Too Many Requests", "reason": "rate_limited"}
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers[TOKEN_STATUS_HEADER.lower()] == "current", "it passed the authorizer"
    assert all(a.status == 200 for a in answers[:-1])


def test_an_allowlist_admits_only_its_networks(stack: RunningStack) -> None:
    outside_id, outside = issue(stack, "usage-cidr", "elsewhere", allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"])
    _, inside = issue(stack, "usage-cidr", "here", allowed_cidrs=["192.0.2.0/24", "127.0.0.1/32"])
    refused = invoke(stack, outside)
    assert (refused.status, refused.body) == (403, {"message": "Forbidden"})
    admitted = invoke(stack, inside)
    assert admitted.status == 200 and admitted.body["client_name"] == "here"
    assert usage(stack, "usage-cidr", outside_id) == (0, Counter({"ip_not_allowed": 1}))


def test_a_claimed_forwarded_address_changes_nothing(stack: RunningStack) -> None:
    """The allowlist is checked against the TCP peer (127.0.0.1 here), never a header a caller sends."""
    outside_id, outside = issue(stack, "usage-xff", "elsewhere", allowed_cidrs=["203.0.113.0/24"])
    _, inside = issue(stack, "usage-xff", "here", allowed_cidrs=["127.0.0.1/32"])
    for claim in ("203.0.113.7", "203.0.113.7, 127.0.0.1", "for=203.0.113.7"):
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            claimed = {header: claim}
            refused = request("GET", f"{stack.url}/invoke", headers={"Authorization": outside, **claimed})
            assert (refused.status, refused.body) == (403, {"message": "Forbidden"}), claimed
            admitted = request("GET", f"{stack.url}/invoke", headers={"Authorization": inside, **claimed})
            assert admitted.status == 200, (claimed, admitted)
    assert usage(stack, "usage-xff", outside_id) == (0, Counter({"ip_not_allowed": 9}))


def test_a_daily_quota_allows_exactly_its_limit(stack: RunningStack) -> None:
    client_id, token = issue(stack, "usage-quota", "metered", quota={"limit": 3, "period": "day"})
    statuses = [invoke(stack, token).status for _ in range(5)]
    assert statuses == [200, 200, 200, 403, 403]
    assert usage(stack, "usage-quota", client_id) == (3, Counter({"quota_exhausted": 2}))


def test_clients_without_a_policy_are_not_counted(stack: RunningStack) -> None:
    client_id, token = issue(stack, "usage-none", "free")
    assert invoke(stack, token).status == 200
    assert usage(stack, "usage-none", client_id) == (0, Counter())


def test_the_cli_sets_a_policy_reports_usage_and_clears_the_policy(stack: RunningStack) -> None:
    issued = cli_json(
        stack,
        *("clients", "issue", "--tenant", "usage-cli", "--name", "partner", "--rate-limit", "2/2"),
        *("--quota", "1000/day", "--allow-cidr", "127.0.0.0/8", "--allow-cidr", "::1/128", "--on-limit", "deny"),
    )
    client = issued["client"]
    assert client["rate_limit"] == {"requests_per_second": 2.0, "burst": 2}
    assert client["quota"] == {"limit": 1000, "period": "day", "thresholds": None}
    assert client["allowed_cidrs"] == ["127.0.0.0/8", "::1/128"] and client["on_limit"] == "deny"
    answers, _ = until_refused(stack, issued["token"])
    assert answers[-1].status == 403

    flushed = run_cli(stack, "local", "flush-usage")
    assert flushed.returncode == 0 and flushed.stdout.startswith("usage counts written by "), flushed.stderr
    report = cli_json(stack, "clients", "usage", "--tenant", "usage-cli", "partner", "--granularity", "day")
    assert sum(b["allowed"] for b in report["buckets"]) == len(answers) - 1
    assert sum(b["denied"].get("rate_limited", 0) for b in report["buckets"]) == 1
    shown = run_cli(stack, "clients", "usage", "-t", "usage-cli", "partner")
    assert shown.returncode == 0 and "rate_limited 1" in shown.stdout, shown.stderr

    cleared = cli_json(
        stack, "clients", "update", "-t", "usage-cli", "partner", "--no-rate-limit", "--no-quota", "--no-allowlist"
    )
    assert (cleared["rate_limit"], cleared["quota"], cleared["allowed_cidrs"]) == (None, None, None)


def test_the_flush_control_answers_only_the_local_admin(stack: RunningStack) -> None:
    origin = stack.url.rsplit("/", 1)[0]
    assert request("POST", f"{origin}{FLUSH_USAGE_PATH}").status == 403
    assert flush_usage(stack).body["containers"] >= 1
    assert request("POST", f"{stack.url}{FLUSH_USAGE_PATH}").status == 404, "not a route of the stage"


def test_the_authorizer_cache_needs_usage_control_off(tmp_path: Path) -> None:
    variable = AdminSettings.env_name("usage_control")
    refused = start_local({}, "--port", "0", "--state-dir", str(tmp_path / "on"), "--authorizer-cache-ttl", "5")
    assert_one_line(refused, "--authorizer-cache-ttl", variable)

    cached = start_stack(tmp_path / "off", {variable: "false"}, args=["--authorizer-cache-ttl", "5"])
    try:
        refused_policy = admin(
            cached, "POST", "/admin/tenants/usage-off/clients", {"client_name": "limited", "rate_limit": RATE}
        )
        assert refused_policy.status == 400 and refused_policy.body["code"] == "usage_control_disabled"
        _, token = issue(cached, "usage-off", "plain")
        assert invoke(cached, token).status == 200
    finally:
        assert cached.stop() == 0, cached.output()
