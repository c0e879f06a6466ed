"""docs/scaling.md, written from the capacity model: every figure in it is computed here.

``python -m tokengate.capacity.scaling_doc [PATH]`` rewrites the document (default
docs/scaling.md); a test checks that the committed copy is what this module writes, so a change to
a price, a default of the stack or the model shows up in the document in the same commit.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tokengate.capacity.model import (
    DEFAULT_THRESHOLD,
    PARTITION_WRITE_UNITS_PER_S,
    SECONDS_PER_MONTH,
    WRITE_UNITS_PER_USAGE_WRITE,
    Prices,
    Quotas,
    Workload,
    authorizer_invocations,
    containers,
    dynamodb_comparison,
    monthly_bill,
    revocation_bound,
    rps_at_quota,
    secrets_calls,
    usage_control_cost,
)
from tokengate_core.authorize.usage import (
    FLUSH_SECONDS,
    LEASE_TTL,
    LEASE_WINDOW,
    SHARD_RATE,
    USAGE_RETENTION_DAYS,
    USAGE_SHARDS,
)
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.sweep import READ_CONCURRENCY, SWEEP_LOOK_BACK

DOC = Path("docs/scaling.md")


@dataclass(frozen=True)
class Case:
    label: str
    workload: Workload
    api_cache_ttls: Sequence[float]  # 0: the API cache off


@dataclass(frozen=True)
class Row:
    api_cache_ttl: float
    invocations: float
    containers: int
    calls: float
    secrets: float
    secrets_api: float
    lambda_total: float
    tokengate: float
    http_api: float
    revocation: float


def row(w: Workload, api_cache_ttl: float) -> Row:
    on = api_cache_ttl > 0
    w = replace(w, api_cache_ttl=api_cache_ttl) if on else w
    inv = authorizer_invocations(w, api_cache=on)
    bill = monthly_bill(w, api_cache=on)
    return Row(
        api_cache_ttl=api_cache_ttl,
        invocations=inv,
        containers=containers(w, inv, api_cache=on),
        calls=secrets_calls(w, api_cache=on),
        secrets=bill.secrets,
        secrets_api=bill.secrets_api,
        lambda_total=bill.lambda_requests + bill.lambda_duration,
        tokengate=bill.authorizer_total,
        http_api=bill.http_api,
        revocation=revocation_bound(w, api_cache=on)[0],
    )


def num(value: float) -> str:
    """Two significant figures below 10, whole numbers above, thousands separated."""
    if value >= 10 or value == 0:
        return f"{value:,.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:.2f}"


def kusd(value: float) -> str:
    return f"${value / 1000:.1f}k"


BASE = Workload(rps=1, clients=1)
EXAMPLE_API_CACHE = BASE.api_cache_ttl
MID = Workload(rps=1_000, clients=10_000)
BIG = Workload(rps=5_000, clients=100_000)
LONG_TTL = replace(MID, ttl=300, concurrency=10)
CASES = (
    Case("50 req/s, 200 clients", Workload(rps=50, clients=200), (0, EXAMPLE_API_CACHE)),
    Case("1,000 req/s, 1,000 clients", Workload(rps=1_000, clients=1_000), (0, EXAMPLE_API_CACHE)),
    Case("1,000 req/s, 10,000 clients", MID, (0, 60, EXAMPLE_API_CACHE)),
    Case(f"same, TTL {LONG_TTL.ttl:g} s, {LONG_TTL.concurrency} containers", LONG_TTL, (0,)),
    Case("5,000 req/s, 100,000 clients", BIG, (0, EXAMPLE_API_CACHE)),
)
#: Usage control's worked cases: (label, workload); each workload says how many clients are limited.
USAGE_CASES = (
    ("1,000 req/s, 10,000 clients, 500 with a rate limit", replace(MID, limited_clients=500)),
    ("same, rate limit and quota", replace(MID, limited_clients=500, policy="rate+quota")),
    (
        "1,000 req/s, 1,000 clients, all with a rate limit and quota",
        Workload(rps=1_000, clients=1_000, limited_clients=1_000, policy="rate+quota"),
    ),
    ("5,000 req/s, 100 clients, all with a rate limit", Workload(rps=5_000, clients=100, limited_clients=100)),
)
BUSY = USAGE_CASES[-1][1]


def usage_cases() -> list[str]:
    lines = [
        "| Load | Containers | Limited req/s | per client and container | Writes/s | Busiest item | DynamoDB "
        "| Lambda | per limited client | per container |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, w in USAGE_CASES:
        n = containers(w, w.rps)
        u = usage_control_cost(w, n)
        lines.append(
            f"| {label} | {n:,} | {num(w.limited_request_rate)} | {num(u.pair_requests_per_s)}/s | "
            f"{num(u.write_units_per_s)} | {num(u.hottest_item_writes_per_s)}/s | {usd(u.dynamodb_monthly)} | "
            f"{usd(u.lambda_monthly)} | {usd(u.per_client_monthly)} | {usd(u.per_container_monthly)} |"
        )
    return lines


def worked_cases() -> list[str]:
    lines = [
        "| Load | API cache | Invocations/s | Containers | GetSecretValue/s | Secrets | SM API | Lambda "
        "| tokengate / month | HTTP API / month | Revocation bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        for i, ttl in enumerate(case.api_cache_ttls):
            r = row(case.workload, ttl)
            cache = "off" if ttl == 0 else f"{ttl:g} s"
            lines.append(
                f"| {case.label if i == 0 else ''} | {cache} | {num(r.invocations)} | {r.containers:,} | "
                f"{num(r.calls)} | {usd(r.secrets)} | {usd(r.secrets_api)} | {usd(r.lambda_total)} | "
                f"{usd(r.tokengate)} | {usd(r.http_api)} | {r.revocation:g} s |"
            )
    return lines


TEMPLATE = Path(__file__).with_name("scaling.md.in")


def figures() -> dict[str, object]:
    """Every value the template names: the model's inputs and what it computes from them."""
    p, q, w = Prices(), Quotas(), BASE
    per_call_month = p.per_call * SECONDS_PER_MONTH
    per_call_ddb = 0.5 * p.dynamodb_per_million_rru / 1e6  # an eventually consistent GetItem under 4 KB
    mid_off, mid_on = row(MID, 0), row(MID, EXAMPLE_API_CACHE)
    big_off = row(BIG, 0)
    ddb, ddb_on = dynamodb_comparison(MID, mid_off.calls), dynamodb_comparison(MID, mid_on.calls)
    example_api = 60.0
    example = revocation_bound(replace(w, api_cache_ttl=example_api), api_cache=True)
    stack = revocation_bound(w, api_cache=False)  # the stack keeps API Gateway's cache off (usage control)
    busy = usage_control_cost(BUSY, containers(BUSY, BUSY.rps))
    sweep_timeout = FUNCTIONS["sweep"].timeout_seconds
    return {
        "p": p,
        "q": q,
        "w": w,
        "mid": MID,
        "big": BIG,
        "long": LONG_TTL,
        "threshold": DEFAULT_THRESHOLD,
        "month_seconds": SECONDS_PER_MONTH,
        "worked_cases": "\n".join(worked_cases()),
        "per_call_month": per_call_month,
        "per_million": p.per_call * 1e6,
        "breakeven": MID.clients * p.secret_per_month / per_call_month,
        "api_cache_cut": mid_off.calls / mid_on.calls,
        "mid_off_calls": num(mid_off.calls),
        "mid_on_calls": num(mid_on.calls),
        "mid_off_bill": kusd(mid_off.tokengate),
        "mid_on_bill": kusd(mid_on.tokengate),
        "long_ttl_calls": num(row(LONG_TTL, 0).calls),
        "big_off_calls": num(big_off.calls),
        "big_containers": big_off.containers,
        "mid_containers": mid_off.containers,
        "stack_bound": stack[0],
        "stack_outage": stack[1],
        "example_api": example_api,
        "example_ttl": w.ttl,
        "example_bound": example[0],
        "example_outage": example[1],
        "quota_mid": rps_at_quota(MID, q.get_secret_value_per_s, api_cache=False) or 0,
        "quota_big": rps_at_quota(BIG, q.get_secret_value_per_s, api_cache=False) or 0,
        "keys_at_quota_300": q.get_secret_value_per_s * 300,
        "per_call_ddb": per_call_ddb,
        "ddb_per_million": per_call_ddb * 1e6,
        "ddb_ratio": p.per_call / per_call_ddb,
        "ddb": ddb,
        "ddb_1000": dynamodb_comparison(MID, mid_off.calls, threshold=1_000),
        "ddb_sm_calls": usd(ddb.secrets_api_monthly),
        "ddb_reads": usd(ddb.dynamodb_monthly),
        "ddb_on_sm_calls": usd(ddb_on.secrets_api_monthly),
        "ddb_on_reads": usd(ddb_on.dynamodb_monthly),
        "ddb_eventual_reads": 2 * q.dynamodb_table_rru_per_s,
        "usage_cases": "\n".join(usage_cases()),
        "lease_window": LEASE_WINDOW,
        "lease_ttl": LEASE_TTL,
        "flush_seconds": FLUSH_SECONDS,
        "max_leases": 1 / LEASE_WINDOW,
        "max_flushes": 1 / FLUSH_SECONDS,
        "wru": WRITE_UNITS_PER_USAGE_WRITE,
        "retention": USAGE_RETENTION_DAYS,
        "usage_shards": USAGE_SHARDS,
        "usage_item_bytes": w.usage_item_bytes,
        "usage_call_ms": w.usage_call_ms,
        "partition": PARTITION_WRITE_UNITS_PER_S,
        "partition_containers": PARTITION_WRITE_UNITS_PER_S * LEASE_WINDOW,
        "shard_rate": SHARD_RATE,
        "busy_pair": busy.pair_requests_per_s,
        "busy_per_request": busy.write_units_per_s / BUSY.limited_request_rate,
        "sweep_look_back_days": SWEEP_LOOK_BACK.total_seconds() / 86400,
        "sweep_concurrency": READ_CONCURRENCY,
        "sweep_timeout": sweep_timeout,
        "sweep_capacity": sweep_timeout * READ_CONCURRENCY / (w.miss_ms / 1000),
        "sweep_big_daily": usd(BIG.clients * p.per_call),
    }


def render() -> str:
    return reflow(TEMPLATE.read_text().format_map(figures()))


WIDTH = 100


def reflow(markdown: str) -> str:
    """Rewrap prose paragraphs and list items to WIDTH (figures of varying length would leave them
    ragged); code blocks, tables, headings and comments stay as written."""
    out: list[str] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        if paragraph:
            first = paragraph[0]
            indent = "  " if first.startswith("- ") else ""
            out.extend(
                textwrap.wrap(
                    " ".join(line.strip() for line in paragraph),
                    WIDTH,
                    subsequent_indent=indent,
                    break_on_hyphens=False,
                    break_long_words=False,
                )
            )
            paragraph.clear()

    for line in markdown.splitlines():
        if line.startswith("```"):
            flush()
            fenced = not fenced
            out.append(line)
        elif fenced or not line.strip() or line.startswith(("|", "#", "<!--")):
            flush()
            out.append(line)
        else:
            if line.startswith("- "):
                flush()
            paragraph.append(line)
    flush()
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DOC
    path.write_text(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
