"""What recording clients' last use costs (tokengate_core.authorize.last_used): a write at a
client's first request in a container and then at most once per interval there.

Per (client, container) pair the next write is the first request after the interval has passed:
the renewal formula of the cache model with one key and ``T = INTERVAL_SECONDS``
(:func:`tokengate.capacity.model.refetch_rate`), never more than one per interval. Each write is
one conditional UpdateItem of an item far under 1 KB: one write request unit, waited for by the
request that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokengate.capacity.model import SECONDS_PER_MONTH, Prices, Workload, refetch_rate
from tokengate_core.authorize.last_used import INTERVAL_SECONDS


@dataclass(frozen=True)
class LastUsedCost:
    writes_per_s: float  # every client and container
    bound_writes_per_s: float  # clients x containers / interval: every pair writing every interval
    dynamodb_monthly: float  # write request units
    lambda_monthly: float  # the authorizer's billed time waiting for them

    @property
    def monthly(self) -> float:
        return self.dynamodb_monthly + self.lambda_monthly


def last_used_cost(w: Workload, invocations_per_s: float, n_containers: int, p: Prices) -> LastUsedCost:
    """Each client's share of the authorizer's invocations spread evenly over the containers."""
    pair = invocations_per_s / w.clients / n_containers
    writes = w.clients * n_containers * refetch_rate(pair, 1, INTERVAL_SECONDS)
    dynamodb = writes * SECONDS_PER_MONTH / 1e6 * p.dynamodb_per_million_wru
    waited_s = writes * w.usage_call_ms / 1000 * SECONDS_PER_MONTH
    return LastUsedCost(
        writes_per_s=writes,
        bound_writes_per_s=w.clients * n_containers / INTERVAL_SECONDS,
        dynamodb_monthly=dynamodb,
        lambda_monthly=waited_s * (w.memory_mb / 1024) * p.lambda_gb_second(w.architecture),
    )
