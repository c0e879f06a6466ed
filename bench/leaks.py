"""Section 7: GitHub's secret scanning alert of 1,000 matches, through the leak function's handler.

GitHub gives a partner endpoint 30 s (the HTTP API's integration limit is 30 s as well). Measured
here: one signed alert of 1,000 matches answered by the handler in process, against the emulator,
in three shapes: every match a live client of ours (the worst case: a read, the index item marked
revoked and the change announced on the feed, a tag and a scheduled deletion per client), a
tenth of them ours, and the worst case delivered again (every client already revoked: reads
only). Runs last: it revokes the clients it reports.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from pathlib import Path

from bench.common import TENANT, import_quietly, quiet, say
from bench.context import Bench
from tests.support import FakeContext
from tests.support_github import SigningKey, alert_body, alert_event, write_key_list

TITLE = "7. Leak response"
MATCHES = 1000
#: The calls each figure counts at the emulator: the secret's read, tag and deletion, and the index
#: item's revoke and the feed's append (DynamoDB).
OPERATIONS = (
    "GetSecretValue",
    "TagResource",
    "DeleteSecret",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
)
#: What GitHub allows and what API Gateway allows an integration.
LIMIT_S = 30.0


def _issue(bench: Bench, count: int) -> list[str]:
    from bench.scale import bulk_context
    from tokengate_core.admin import clients
    from tokengate_core.admin.api import IssueClientRequest

    context = bulk_context(bench)  # setting clients up is not what this section measures
    tokens = []
    run = secrets.token_hex(3)
    with quiet():
        for n in range(count):
            name = f"leak-{run}-{n:04d}"
            issued = clients.issue(context, TENANT, IssueClientRequest(client_name=name), "arn:aws:iam::1:user/bench")
            tokens.append(issued.token)
    return tokens


def run(bench: Bench) -> None:
    from tokengate_core.lifecycle import github

    result = bench.result("leaks", TITLE)
    count = 100 if bench.cfg.quick else MATCHES
    leaks = import_quietly("leaks.app")
    key = SigningKey("bench-key")
    with tempfile.TemporaryDirectory() as folder:
        path = write_key_list(Path(folder) / "keys.json", key)
        leaks.keys = github.GitHubKeys(url="https://example.invalid", file=str(path), ttl=3600, timeout=1)
        say(f"  leaks: issuing {count + count // 10:,} clients to report")
        live = _issue(bench, count)
        tenth = count // 10
        cases = {
            "all live clients of ours (worst case)": live,
            # A fresh tenth: the clients above are revoked by then.
            "a tenth ours, the rest not": _issue(bench, tenth)
            + [secrets.token_urlsafe(30) for _ in range(count - tenth)],
            "the worst case delivered again (all revoked)": live,
        }
        timings: dict[str, float] = {}
        statuses: dict[str, int] = {}
        counts: dict[str, dict[str, int]] = {}
        for label, reported in cases.items():
            event = alert_event(alert_body(*reported), key)
            bench.emulator.reset_counts()
            started = time.perf_counter()
            with quiet():
                response = leaks.handler(event, _LongContext())
            seconds = time.perf_counter() - started
            feedback = json.loads(response["body"])
            ours = sum(1 for f in feedback if f["label"] == "true_positive") if response["statusCode"] == 200 else 0
            calls = {op: bench.emulator.calls(op) for op in OPERATIONS}
            timings[label] = seconds
            statuses[label] = response["statusCode"]
            counts[label] = calls
            result.add(
                f"{count:,} matches: {label}",
                f"{seconds:.2f} s; status {response['statusCode']}; {ours:,} true positives; "
                + ", ".join(f"{op.removeprefix('dynamodb:')} {n:,}" for op, n in calls.items() if n),
                f"< {LIMIT_S:.0f} s (GitHub's and API Gateway's limit)",
                seconds < LIMIT_S and response["statusCode"] == 200,
            )
        result.data = {"seconds": timings, "matches": count, "statuses": statuses}
        result.notes.append(
            "In AWS the worst case is bounded by Secrets Manager's control-plane quotas, not by the "
            "function: TagResource and DeleteSecret each allow 50 requests per second, so "
            "1,000 live clients of ours revoked in one alert take about 20 s at best. The function "
            "starts no client with less than 5 s left and then answers 503; GitHub delivers the alert "
            "again and the clients already revoked cost a read each."
        )
        worst = "all live clients of ours (worst case)"
        if statuses.get(worst) == 503:
            revoked = max(1, counts[worst]["TagResource"])
            result.notes.append(
                f"In this run the worst case ran out of the function's time (503) after revoking {revoked:,} "
                f"clients: each revoke made {sum(counts[worst].values()) / revoked:.0f} calls to the emulator "
                "over loopback (counted above), which shares this process and the machine's cores, so the "
                "delivery again went on with the clients still live rather than reading only."
            )


class _LongContext(FakeContext):
    def get_remaining_time_in_millis(self) -> int:
        return 28_000  # the leak function's timeout
