"""50 parallel admin calls on the running local stack: no lost client, no duplicate name, every
token the API returned as current works, and nothing else does."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.harness import RunningStack, curl, forged, wait_for
from tests.e2e.signing import admin

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("concurrency")]
TENANT = "race"
BASE = f"/admin/tenants/{TENANT}/clients"


def parallel(calls: list[tuple[str, str, Any]], stack: RunningStack) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(lambda c: admin(stack, c[0], c[1], c[2]), calls))
    return [(r.status, r.body) for r in results]


def status_of(stack: RunningStack, token: str) -> int:
    return curl(f"{stack.url}/invoke", {"Authorization": token}).status


def test_fifty_parallel_admin_calls(stack: RunningStack) -> None:
    names = [f"c{i:02d}" for i in range(25)]
    issued = parallel([("POST", BASE, {"client_name": n, "grace_seconds": 3600}) for n in names * 2], stack)
    assert all(status in (201, 409) for status, _ in issued), issued
    winners = Counter(body["client"]["client_name"] for status, body in issued if status == 201)
    assert winners == Counter(names), "each name issued exactly once"
    first_token = {b["client"]["client_id"]: b["token"] for s, b in issued if s == 201}
    ids = {b["client"]["client_name"]: b["client"]["client_id"] for s, b in issued if s == 201}

    rotate_ids = [ids[n] for n in names[:10]]
    revoke_ids = [ids[n] for n in names[10:20]]
    restore_ids = [ids[n] for n in names[20:]]
    calls = (
        [("POST", f"{BASE}/{c}/rotate", None) for c in rotate_ids * 2]
        + [("DELETE", f"{BASE}/{c}", None) for c in revoke_ids * 2]
        + [("POST", f"{BASE}/{c}/restore", None) for c in restore_ids * 2]
    )
    assert len(calls) == 50
    results = parallel(calls, stack)
    assert all(status in (200, 409) for status, _ in results), results
    assert all(status == 200 for status, _ in results[20:]), "revoke and restore are idempotent"

    rotated: dict[str, list[str]] = {c: [] for c in rotate_ids}
    for (_method, path, _), (status, body) in zip(calls[:20], results[:20], strict=True):
        if status == 200:
            rotated[path.split("/")[-2]].append(body["token"])

    listed = admin(stack, "GET", f"{BASE}?limit=100").body["items"]
    assert sorted(item["client_name"] for item in listed) == sorted(names), "no client lost, none doubled"
    states = {item["client_id"]: item["status"] for item in listed}
    assert all(states[c] == "revoked" for c in revoke_ids)
    assert all(states[c] == "active" for c in rotate_ids + restore_ids)

    # Every token returned as current works (current, or previous in grace); the issued token
    # survives exactly one rotation (as the grace token), not two.
    want: dict[str, int] = {}
    for client_id, tokens_returned in rotated.items():
        assert 1 <= len(tokens_returned) <= 2
        want.update(dict.fromkeys(tokens_returned, 200))
        want[first_token[client_id]] = 200 if len(tokens_returned) == 1 else 403
    want.update({first_token[c]: 403 for c in revoke_ids})
    want.update({first_token[c]: 200 for c in restore_ids})

    final = wait_for(lambda: {token: status_of(stack, token) for token in want}, lambda got: got == want, timeout=20)
    assert final == want
    # Nothing else works: a made-up token under a real key id is refused.
    assert status_of(stack, forged(rotate_ids[0])) == 403
