"""Last use, quota thresholds and counts that survive containers, on the local stack over real
HTTP: requests from several threads at once (so the authorizer runs several containers), the
containers ended as Lambda ends idle ones (`tokengate local reclaim`), and then the usage report
counts every request made, exactly; the CLI shows last use; `events tail` shows the thresholds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.harness import RunningStack, cli_json, request, run_cli, start_stack
from tests.e2e.signing import admin
from tests.e2e.test_usage_limits import PATIENT_USAGE, issue
from tokengate_core.lifecycle.detail_types import DetailType

pytestmark = pytest.mark.e2e
TENANT = "signals"
REQUESTS = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("signals") / "state", PATIENT_USAGE)
    yield running
    assert running.stop() == 0, running.output()


def burst(stack: RunningStack, token: str, count: int) -> list[int]:
    """``count`` requests, 6 at a time."""

    def one(_: int) -> int:
        return request("GET", f"{stack.url}/invoke", headers={"Authorization": token}).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(one, range(count)))


def reported(stack: RunningStack, client_id: str) -> int:
    """Allowed plus denied in the client's usage report, as the table holds it (no flush asked)."""
    report = admin(stack, "GET", f"/admin/tenants/{TENANT}/clients/{client_id}/usage?granularity=day")
    assert report.status == 200, report
    return sum(b["allowed"] + sum(b["denied"].values()) for b in report.body["buckets"])


def test_after_containers_end_normally_every_request_is_reported(stack: RunningStack) -> None:
    client_id, token = issue(stack, TENANT, "counted", quota={"limit": 40, "period": "day"})
    statuses = burst(stack, token, REQUESTS)
    assert set(statuses) == {200, 403}  # allowed, then the quota (leased per container) refuses
    ended = run_cli(stack, "local", "reclaim")
    assert ended.returncode == 0 and "idle container(s) ended" in ended.stdout, ended.stderr
    assert reported(stack, client_id) == REQUESTS


def test_last_use_is_shown_listed_and_sorted(stack: RunningStack) -> None:
    _, token = issue(stack, TENANT, "seen")
    issue(stack, TENANT, "unseen")
    assert burst(stack, token, 1) == [200]
    # A container's first decision answers before writing the last use, which it writes at its
    # next decision or when it ends: here, as Lambda ends idle containers.
    assert run_cli(stack, "local", "reclaim").returncode == 0
    shown = run_cli(stack, "clients", "show", "-t", TENANT, "seen")
    assert shown.returncode == 0 and "last used" in shown.stdout and "never" not in shown.stdout, shown.stdout
    never = run_cli(stack, "clients", "show", "-t", TENANT, "unseen")
    assert "last used" in never.stdout and "never" in never.stdout
    listed = cli_json(stack, "clients", "list", "-t", TENANT, "--sort", "last-used")["items"]
    names = [c["client_name"] for c in listed]
    assert names.index("unseen") < names.index("seen")
    assert next(c for c in listed if c["client_name"] == "seen")["last_used_at"]
    unused = cli_json(stack, "clients", "list", "-t", TENANT, "--unused-since", "2000-01-01")["items"]
    assert "unseen" in {c["client_name"] for c in unused} and "seen" not in {c["client_name"] for c in unused}


def test_quota_thresholds_appear_in_events_tail(stack: RunningStack) -> None:
    issue(stack, TENANT, "warned", quota={"limit": 10, "period": "day"})
    token = admin(stack, "POST", f"/admin/tenants/{TENANT}/clients/{_id(stack, 'warned')}/rotate").body["token"]
    burst(stack, token, 12)
    assert run_cli(stack, "local", "reclaim").returncode == 0
    tail = run_cli(
        stack, "events", "tail", "--no-follow", "--detail-type", DetailType.QUOTA_THRESHOLD, "--output", "json"
    )
    assert tail.returncode == 0, tail.stderr
    told: list[dict[str, Any]] = [json.loads(line)["detail"] for line in tail.stdout.splitlines()]
    mine = [d for d in told if d["client_name"] == "warned"]
    assert sorted(d["threshold"] for d in mine) == [80, 90, 100]
    assert token not in tail.stdout
    human = run_cli(stack, "events", "tail", "--no-follow", "--detail-type", DetailType.QUOTA_THRESHOLD)
    assert "quota 80%" in human.stdout and "of 10 in " in human.stdout, human.stdout


def _id(stack: RunningStack, name: str) -> str:
    page = admin(stack, "GET", f"/admin/tenants/{TENANT}/clients?name={name}")
    return str(page.body["items"][0]["client_id"])
