"""docs/scaling.md, written from the capacity model: every figure in it is computed here.

``python -m tokengate.capacity.scaling_doc [PATH]`` rewrites the document (default
docs/scaling.md); a test checks that the committed copy is what this module writes, so a change to
a price, a default of the stack or the model shows up in the document in the same commit.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

from tokengate.capacity.model import (
    PARTITION_READ_UNITS_PER_S,
    PARTITION_WRITE_UNITS_PER_S,
    SECONDS_PER_MONTH,
    WRITE_UNITS_PER_USAGE_WRITE,
    Prices,
    Quotas,
    Workload,
    usage_control_cost,
)
from tokengate.capacity.plan import Plan, plan
from tokengate.capacity.shared import (
    BACKEND_SHARE_TARGET,
    CONSISTENCY_LAG_SECONDS,
    FEED_ENTRY_BYTES,
    FEED_WRITES_PER_CHANGE,
    FLOOR_RATIO_TARGET,
    LIST_SECRETS_PAGE,
    read_units,
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
from tokengate_core.lifecycle.reconcile import FULL_PASS_SECONDS, RECONCILE_INTERVAL_SECONDS
from tokengate_core.lifecycle.sweep import READ_CONCURRENCY, SWEEP_LOOK_BACK
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS, FEED_INTERVAL_SECONDS, FEED_TTL_SECONDS
from tokengate_core.tokens.keyring import REFRESH_SECONDS as KEYRING_REFRESH_SECONDS

DOC = Path("docs/scaling.md")
BASE = Workload(rps=1, clients=1)


def num(value: float) -> str:
    """Two significant figures below 10, whole numbers above, thousands separated."""
    if value >= 10 or value == 0:
        return f"{value:,.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:.2f}"


def command(w: Workload) -> str:
    """The ``tokengate capacity`` command for ``w``: its options that differ from the defaults."""
    args = [f"--rps {w.rps:g}", f"--clients {w.clients}"]
    for spec in fields(Workload):
        value = getattr(w, spec.name)
        if spec.name not in ("rps", "clients") and value != getattr(BASE, spec.name):
            args.append(f"--{spec.name.replace('_', '-')} {value:g}")
    return "tokengate capacity " + " ".join(args)


MID = Workload(rps=1_000, clients=10_000)
BIG = Workload(rps=5_000, clients=100_000)
#: The worked cases: the first four at the stack's defaults, then a churning deployment and an API cache.
CASES = (
    Workload(rps=50, clients=200),
    Workload(rps=1_000, clients=1_000),
    MID,
    BIG,
    replace(BIG, changes_per_client_month=60),
    replace(MID, api_cache_ttl=300),
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

#: The worked-case table's columns (a test reads the table back by these names).
COLUMNS = (
    "Command",
    "Design",
    "Containers",
    "DynamoDB reads/s",
    "GetSecretValue/s",
    "Backend / month",
    "Request path / month",
    "÷ floor",
    "Backend ÷ HTTP API",
    "Secrets at rest",
    "tokengate / month",
    "HTTP API / month",
    "Revocation",
)


def case_rows(result: Plan, cmd: str) -> list[list[str]]:
    """The two rows of one worked case, as the table prints them."""
    s, b = result.shared, result.before
    dynamodb = s.index_reads_per_s + s.consistent_reads_per_s + s.feed_reads_per_s
    return [
        [
            f"`{cmd}`",
            "index + feed",
            f"{s.containers:,}",
            num(dynamodb),
            num(s.keyring_reads_per_s),
            usd(s.backend),
            usd(s.request_path),
            f"{s.floor_ratio:.3f}",
            f"{s.backend_share:.2%}",
            usd(s.secrets),
            usd(s.authorizer_total),
            usd(s.http_api),
            f"{s.revocation_s:g} s",
        ],
        [
            "",
            "0.2",
            f"{b.containers:,}",
            "0",
            num(b.secrets_calls_per_s),
            usd(b.bill.secrets_api),
            usd(b.bill.request_path),
            f"{b.floor_ratio:.3f}",
            f"{b.backend_share:.2%}",
            usd(b.bill.secrets),
            usd(b.bill.authorizer_total),
            usd(b.bill.http_api),
            f"{b.revocation_s:g} s",
        ],
    ]


def worked_cases() -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for w in CASES:
        lines += ["| " + " | ".join(cells) + " |" for cells in case_rows(plan(w), command(w))]
    return lines


def usage_cases() -> list[str]:
    lines = [
        "| Load | Containers | Limited req/s | per client and container | Writes/s | Busiest item | DynamoDB "
        "| Lambda | per limited client | per container |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, w in USAGE_CASES:
        n = plan(w).shared.containers
        u = usage_control_cost(w, n)
        lines.append(
            f"| {label} | {n:,} | {num(w.limited_request_rate)} | {num(u.pair_requests_per_s)}/s | "
            f"{num(u.write_units_per_s)} | {num(u.hottest_item_writes_per_s)}/s | {usd(u.dynamodb_monthly)} | "
            f"{usd(u.lambda_monthly)} | {usd(u.per_client_monthly)} | {usd(u.per_container_monthly)} |"
        )
    return lines


TEMPLATE = Path(__file__).with_name("scaling.md.in")


def figures() -> dict[str, object]:
    """Every value the template names: the model's inputs and what it computes from them."""
    p, q, w = Prices(), Quotas(), BASE
    mid, big = plan(MID), plan(BIG)
    busy = usage_control_cost(BUSY, plan(BUSY).shared.containers)
    sweep_timeout = FUNCTIONS["sweep"].timeout_seconds
    eventual_item = read_units(w.index_item_bytes, consistent=False)
    return {
        "p": p,
        "q": q,
        "w": w,
        "mid": MID,
        "big": BIG,
        "mid_plan": mid,
        "mid_reads": mid.shared.index_reads_per_s + mid.shared.consistent_reads_per_s + mid.shared.feed_reads_per_s,
        "big_reads": big.shared.index_reads_per_s + big.shared.consistent_reads_per_s + big.shared.feed_reads_per_s,
        "big_plan": big,
        "month_seconds": SECONDS_PER_MONTH,
        "worked_cases": "\n".join(worked_cases()),
        "per_million": p.per_call * 1e6,
        "per_call_month": p.per_call * SECONDS_PER_MONTH,
        "eventual_per_million": eventual_item * p.dynamodb_per_million_rru,
        "sm_ratio": p.per_call / (eventual_item * p.dynamodb_per_million_rru / 1e6),
        "backend_target": BACKEND_SHARE_TARGET,
        "floor_target": FLOOR_RATIO_TARGET,
        "feed_interval": FEED_INTERVAL_SECONDS,
        "feed_fallback": FEED_FALLBACK_SECONDS,
        "feed_ttl_hours": FEED_TTL_SECONDS / 3600,
        "feed_entry_bytes": FEED_ENTRY_BYTES,
        "feed_writes": FEED_WRITES_PER_CHANGE,
        "lag": CONSISTENCY_LAG_SECONDS,
        "keyring_refresh": KEYRING_REFRESH_SECONDS,
        "partition_reads": PARTITION_READ_UNITS_PER_S,
        "partition": PARTITION_WRITE_UNITS_PER_S,
        "entries_per_4kb": 4096 // FEED_ENTRY_BYTES,
        "reconcile_minutes": RECONCILE_INTERVAL_SECONDS / 60,
        "full_pass_hours": FULL_PASS_SECONDS / 3600,
        "list_page": LIST_SECRETS_PAGE,
        "big_pages": -(-BIG.clients // LIST_SECRETS_PAGE),
        "big_list_seconds": -(-BIG.clients // LIST_SECRETS_PAGE) / q.list_secrets_per_s,
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
