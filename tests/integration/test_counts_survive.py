"""Usage counts across containers that end: how many were lost before the shutdown path (what a
container held at its end), and that none is lost when containers end normally (Lambda's SIGTERM,
sent because the shutdown extension is registered), with several authorizer containers serving
several clients at once, allowed and denied alike.

The containers are the local runtime's (tokengate.local.runtime): real copies of the authorizer's
handler module, each with its own memory, as Lambda's execution environments have.
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import call_admin, issue
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, function_environment
from tokengate.testing.gateway_events import authorizer_event
from tokengate_core.runtime import shutdown

pytestmark = pytest.mark.usefixtures("emulator")
CONTAINERS = 4
REQUESTS = 600
BASE = "/admin/tenants/acme/clients"


def authorizers() -> FunctionRuntime:
    env = function_environment("authorizer", {"TOKENGATE_USAGE_TIMEOUT_SECONDS": "5"})
    return FunctionRuntime("authorizer", env, "us-east-1", "1" * 12, max_containers=CONTAINERS)


def clients() -> dict[str, str]:
    """Three clients with a policy: one generous, one that runs out of its quota, one rate-limited."""
    made = {
        "roomy": issue("acme", "roomy", quota={"limit": 100_000, "period": "day"}),
        "capped": issue("acme", "capped", quota={"limit": 50, "period": "day"}),
        "throttled": issue("acme", "throttled", rate_limit={"requests_per_second": 5, "burst": 5}),
    }
    return {made_id: token for made_id, token in made.values()}


def offer(runtime: FunctionRuntime, tokens: dict[str, str]) -> Counter[str]:
    """REQUESTS requests spread over the clients, 8 at a time (so several containers serve)."""
    rng = random.Random(20)
    picks = [rng.choice(list(tokens)) for _ in range(REQUESTS)]

    def one(client_id: str) -> str:
        result = runtime.invoke(authorizer_event(tokens[client_id]))
        assert result.ok, result.error
        return client_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(pool.map(one, picks))


def reported(client_id: str) -> int:
    response = call_admin("GET", f"{BASE}/{client_id}/usage", query={"granularity": "day"})
    assert response.status == 200, response.body
    return sum(b["allowed"] + sum(b["denied"].values()) for b in response.body["buckets"])


def held(runtime: FunctionRuntime) -> Counter[str]:
    """What the idle containers hold unwritten, per client."""
    found: Counter[str] = Counter()

    def add(module: Any) -> None:
        usage = module.authorizer._usage
        for (key_id, _), counts in (usage._counts if usage else {}).items():
            found[key_id] += sum(counts.values())

    runtime.each_idle(add)
    return found


def test_before_the_shutdown_path_a_container_that_ended_lost_what_it_held(
    emulator: SecretsManagerEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measurement: containers ended with no SIGTERM (no extension registered, as before, or
    a crash) lose exactly the counts they held, up to FLUSH_SECONDS of traffic per client each."""
    tokens = clients()
    runtime = authorizers()
    monkeypatch.setattr(shutdown, "HOOK", "no_such_hook")  # as a function with no extension: no SIGTERM
    try:
        made = offer(runtime, tokens)
        lost = held(runtime)
        assert sum(lost.values()) > 0  # in a run shorter than the flush interval, nearly everything
        assert runtime.reclaim_idle() >= 2
    finally:
        runtime.shutdown()
    for client_id in tokens:
        # Exactly made - held, unless a counter write timed out on the container's side after
        # the emulator applied it (a loaded machine): those counts are both reported and held.
        # Either way nothing is lost beyond what the container held, and nothing is invented.
        assert made[client_id] - lost[client_id] <= reported(client_id) <= made[client_id], client_id


def test_when_containers_end_normally_every_request_is_reported_exactly(emulator: SecretsManagerEmulator) -> None:
    tokens = clients()
    runtime = authorizers()
    try:
        made = offer(runtime, tokens)
        assert runtime.reclaim_idle() >= 2  # several containers served, and every one ended with SIGTERM
        assert held(runtime) == Counter()
    finally:
        runtime.shutdown()
    assert sum(made.values()) == REQUESTS
    for client_id in tokens:
        assert reported(client_id) == made[client_id], client_id


def test_a_container_that_cannot_write_at_shutdown_ends_anyway_and_says_so(
    emulator: SecretsManagerEmulator, captured_logs: Any
) -> None:
    tokens = clients()
    runtime = authorizers()
    try:
        offer(runtime, tokens)
        emulator.inject(Fault("error", service=DYNAMODB))
        assert runtime.reclaim_idle() >= 1
    finally:
        emulator.inject(None)
        runtime.shutdown()
    assert "usage counts not written at shutdown" in captured_logs()


def test_only_a_function_with_the_shutdown_extension_gets_sigterm() -> None:
    from tokengate_core.deployment.functions import FUNCTIONS

    assert [name for name, spec in FUNCTIONS.items() if spec.graceful_shutdown] == ["authorizer"]
