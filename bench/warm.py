"""Section 1: the cost of a cached decision, tokengate's handler against the reference-design baseline."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import baseline
from bench.common import Stats, fmt_us, import_quietly, quiet, say, time_calls
from bench.context import Bench
from tokengate.events import authorizer_event

TITLE = "1. Warm decision"
WARM_CLIENTS = 10


def lean_record(decision: Any, request_id: str | None) -> None:
    """What-if, not shipped: the decision log line and the metric as ONE embedded-metric-format line.

    CloudWatch turns the ``_aws`` block into the same Authorized/Denied metric the handler emits
    through Powertools today, and the line is the decision log, so nothing observable is lost.
    """
    allowed = decision.allowed
    metric = "Authorized" if allowed else "Denied"
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "tokengate",
                    "Dimensions": [["service", "reason", "tenant"]],
                    "Metrics": [{"Name": metric, "Unit": "Count"}],
                }
            ],
        },
        metric: 1,
        "level": "INFO" if allowed else "WARNING",
        "message": "authorization decision",
        "service": "tokengate-authorizer",
        "decision": "allow" if allowed else "deny",
        "reason": decision.reason.value,
        "key_id": decision.key_id,
        "tenant": decision.tenant or "none",
        "cache": decision.cache,
        "grace": decision.grace,
        "correlation_id": request_id,
    }
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def _rounds(fn: Callable[[int], object], n: int, rounds: int) -> Stats:
    samples: list[int] = []
    for _ in range(rounds):
        samples += time_calls(fn, n)
    return Stats.of_ns(samples)


def run(bench: Bench) -> None:
    cfg = bench.cfg
    result = bench.result("warm", TITLE)
    app = import_quietly("authorizer.app")
    clients = bench.clients[:WARM_CLIENTS]
    events = [authorizer_event(c.header) for c in clients]
    k = len(events)
    handler: Callable[[Any, Any], dict[str, Any]] = app.handler

    with quiet():
        first = [handler(e, None) for e in events]  # cache misses: fills the cache
        if not all(r.get("isAuthorized") for r in first):
            raise RuntimeError("warm clients were not authorized: the benchmark setup is broken")
        for i in range(2_000):  # warm the interpreter's caches
            handler(events[i % k], None)

        say(f"  warm: {cfg.rounds} x {cfg.warm_requests} cached handler calls over {k} clients")
        full = _rounds(lambda i: handler(events[i % k], None), cfg.warm_requests, cfg.rounds)

        # Where the time goes, in the same run: the pieces the handler is made of.
        parsed = [app.AuthorizerEvent.model_validate(e) for e in events]
        core = _rounds(
            lambda i: app.authorizer.decide(
                parsed[i % k].authorization(), "GET", parsed[i % k].routeKey, parsed[i % k].rawPath
            ),
            cfg.warm_requests,
            1,
        )
        validate = _rounds(lambda i: app.AuthorizerEvent.model_validate(events[i % k]), cfg.warm_requests, 1)
        decisions = [app.decide(e) for e in events]
        record = _rounds(lambda i: app._record(*decisions[i % k]), cfg.warm_requests, 1)
        logger_only = _rounds(
            lambda i: app.logger.info("authorization decision", extra={"decision": "allow", "reason": "allowed"}),
            cfg.warm_requests,
            1,
        )

        def lean(i: int) -> None:
            decision, request_id = app.decide(events[i % k])
            lean_record(decision, request_id)

        what_if = _rounds(lean, cfg.warm_requests, cfg.rounds)

    say(f"  warm: {cfg.baseline_requests} baseline calls (new session + client + GetSecretValue each)")
    base_allowed = 0
    samples: list[int] = []
    for i in range(cfg.baseline_requests):
        start = time.perf_counter_ns()
        response = baseline.handler(events[i % k], None)
        samples.append(time.perf_counter_ns() - start)
        base_allowed += bool(response["isAuthorized"])
    base = Stats.of_ns(samples)
    base_parts = _baseline_breakdown(max(5, cfg.baseline_requests // 5))

    ratio = base.median_us / full.median_us
    ratio_p99 = base.p99_us / full.p99_us
    what_if_ratio = base.median_us / what_if.median_us
    result.add("tokengate handler, cached (µs/request)", full.text(), "< 50 µs median", full.median_us < 50)
    result.add("baseline handler (µs/request)", base.text(), f"allowed {base_allowed}/{cfg.baseline_requests}")
    result.add(
        "speed-up, baseline / tokengate (same run)",
        f"{ratio:,.0f}x median, {ratio_p99:,.0f}x p99",
        ">= 1,000x",
        ratio >= 1000,
    )
    result.add("  of which TokenAuthorizer.decide", core.text())
    result.add("  of which event validation (pydantic)", validate.text())
    result.add("  of which decision log + metric (Powertools)", record.text())
    result.add("  what-if: one EMF log line instead", what_if.text(), f"{what_if_ratio:,.0f}x vs baseline")
    result.data.update(
        handler=full.__dict__,
        core=core.__dict__,
        validate=validate.__dict__,
        record=record.__dict__,
        logger_info=logger_only.__dict__,
        what_if=what_if.__dict__,
        baseline=base.__dict__,
        baseline_parts={k: v.__dict__ for k, v in base_parts.items()},
        ratio=ratio,
        what_if_ratio=what_if_ratio,
    )
    parts = ", ".join(f"{name} {fmt_us(s.median_us)}" for name, s in base_parts.items())
    result.notes.append(
        f"The handler is `authorizer.app.handler` with a full payload 2.0 event (ten headers, query string, "
        f"request context) cycling over {k} cached clients whose scope is `ANY /invoke`, so every call parses "
        f"the event, checks the checksum, hashes the token, compares digests in constant time, matches the "
        f"scope, logs the decision and flushes one EMF metric. Logs go to /dev/null (a Lambda writes them to "
        f"its stdout pipe). Samples: {full.n:,} single calls timed with `perf_counter_ns`; gc stays on."
    )
    result.notes.append(
        f"Where the handler's {fmt_us(full.median_us)} go: `TokenAuthorizer.decide` {fmt_us(core.median_us)}, "
        f"event validation {fmt_us(validate.median_us)}, and the decision record {fmt_us(record.median_us)} "
        f"(Powertools `logger.info` alone {fmt_us(logger_only.median_us)}; the rest is the EMF metric flush). "
        f"The per-decision Powertools log line and metric flush dominate. Replacing both with a single "
        f"embedded-metric-format line carrying the same fields (`bench.warm.lean_record`, not shipped) measures "
        f"{fmt_us(what_if.median_us)} per request, {what_if_ratio:,.0f}x faster than the baseline."
    )
    result.notes.append(
        f"Baseline per request ({base.n} calls): {fmt_us(base.median_us)} median. Its parts, timed separately: "
        f"{parts}. Creating a boto3 session and client per request (loading the service model "
        f"and endpoint rules from disk every time) costs far more than the loopback call itself."
    )


def _baseline_breakdown(n: int) -> dict[str, Stats]:
    import boto3

    session_ns: list[int] = []
    client_ns: list[int] = []
    call_ns: list[int] = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        session = boto3.session.Session()
        t1 = time.perf_counter_ns()
        client = session.client("secretsmanager")
        t2 = time.perf_counter_ns()
        client.get_secret_value(SecretId=baseline.SECRET_ID)
        t3 = time.perf_counter_ns()
        session_ns.append(t1 - t0)
        client_ns.append(t2 - t1)
        call_ns.append(t3 - t2)
    return {
        "new Session()": Stats.of_ns(session_ns),
        "session.client()": Stats.of_ns(client_ns),
        "GetSecretValue on loopback": Stats.of_ns(call_ns),
    }
