"""Section 10: last-use writes. How many DynamoDB writes recording clients' last use costs per
10,000 requests, for 1, 100 and 10,000 clients spread over 1 and 16 containers, against the
stated bound: at most one write per client per container per interval
(tokengate_core.authorize.last_used), so never more than the (container, client) pairs seen.

Each container is the authorizer's own ``LastUsed``, fed exactly as a decision feeds it (one
``seen`` per request whose token matched), with a store that counts the writes instead of making
them: the count is the figure, not DynamoDB's latency (section 6 measures DynamoDB calls). The
requests come in one simulated hour (one interval), each from a client and to a container chosen
at random, as Lambda gives a request to any idle container.
"""

from __future__ import annotations

import random
from typing import Any

from bench.context import Bench

TITLE = "10. Last-use writes"
REQUESTS = 10_000
CASES = ((1, 1), (1, 16), (100, 1), (100, 16), (10_000, 1), (10_000, 16))


class CountingStore:
    def __init__(self) -> None:
        self.writes = 0

    def mark_used(self, key_id: str, at: float) -> None:
        self.writes += 1


def simulate(clients: int, containers: int, requests: int = REQUESTS, seed: int = 9) -> tuple[int, int]:
    """(writes, the bound: distinct (container, client) pairs seen) for ``requests`` requests
    within one interval."""
    from tokengate_core.authorize.last_used import INTERVAL_SECONDS, LastUsed

    rng = random.Random(seed)
    stores = [CountingStore() for _ in range(containers)]
    fleet = [LastUsed(lambda store=store: store) for store in stores]  # type: ignore[misc]
    pairs: set[tuple[int, int]] = set()
    start = 1_800_000_000.0 - 1_800_000_000.0 % INTERVAL_SECONDS  # the start of an interval
    for n in range(requests):
        container, client = rng.randrange(containers), rng.randrange(clients)
        fleet[container].seen(f"client-{client}", start + n * INTERVAL_SECONDS / requests)
        pairs.add((container, client))
    return sum(s.writes for s in stores), len(pairs)


def run(bench: Bench) -> None:
    from tokengate_core.authorize.last_used import INTERVAL_SECONDS

    result = bench.result("last_used", TITLE)
    data: dict[str, Any] = {}
    for clients, containers in CASES:
        writes, bound = simulate(clients, containers)
        data[f"{clients}x{containers}"] = {"writes": writes, "bound": bound}
        result.add(
            f"{clients:,} client(s), {containers} container(s)",
            f"{writes:,} writes per {REQUESTS:,} requests ({writes / REQUESTS:.2%})",
            f"<= {bound:,} (one per client and container per {INTERVAL_SECONDS / 3600:g} h)",
            writes <= bound,
        )
    result.data = data
    result.notes.append(
        f"A write is made at a client's first use in a container and then at most once per "
        f"{INTERVAL_SECONDS / 3600:g} h there; every other request costs a dictionary lookup. So the cost "
        "follows the number of (container, client) pairs, not the traffic: a busy client costs each "
        "container that serves it one write an hour, and a deployment with many clients served by many "
        "containers pays the most, up to one write per request when no client repeats within a container "
        "(10,000 clients over 16 containers here). `tokengate capacity` prices it per month."
    )
