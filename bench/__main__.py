"""``python -m bench``: run the sections, print the table, rewrite docs/performance.md.

Exit status is 0 whatever the figures say; a section that crashes is reported as not measured
(with the error on stderr) and the others still run.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    REPO,
    SECTIONS,
    BenchConfig,
    SectionResult,
    fmt_us,
    machine,
    prepare_environment,
    say,
    speed_up_moto,
)
from bench.context import Bench
from tokengate.emulator import SecretsManagerEmulator

#: The leak section runs after every section that uses the shared clients: it revokes the ones it
#: reports (the local-state section runs its own stack).
ORDER = SECTIONS
#: The sections that need the clients the scale section issues (usage issues its own).
NEEDS_CLIENTS = ("warm", "backend", "scale", "cold", "leaks")
TITLES = {
    "warm": "1. Warm decision",
    "backend": "2. Backend calls",
    "cold": "3. Cold start",
    "scale": "4. Scale",
    "http": "5. Local stack over HTTP",
    "usage": "6. Usage control",
    "leaks": "7. Leak response",
    "state": "8. Local stack state",
    "propagation": "9. Propagation and request-path reads",
    "last_used": "10. Last-use writes",
}


def recommendations(results: dict[str, SectionResult]) -> list[str]:
    recs: list[str] = []
    warm = results.get("warm")
    if warm and warm.data:
        d = warm.data
        share = 100 * d["record"]["median_us"] / d["handler"]["median_us"]
        recs.append(
            f"Hot path (done): the decision record is one JSON line that is both the log and the EMF metric, "
            f"{fmt_us(d['record']['median_us'])} of the handler's {fmt_us(d['handler']['median_us'])} "
            f"(~{share:.0f}%); `TokenAuthorizer.decide` is {fmt_us(d['core']['median_us'])}. The earlier "
            f"Powertools `logger.info` + per-call metric flush cost ~106 µs of a 143 µs decision."
        )
    backend = results.get("backend")
    if backend and backend.data:
        recs.append(
            "Backend failures (done): while DynamoDB fails, the cache falls back to its short TTL, each key id "
            "is read at most once per negative TTL (one attempt, a short timeout), the stale entry answers up "
            "to max-stale after its fetch, and then the client is denied (fail closed). A client lookup never "
            "reads Secrets Manager."
        )
    cold = results.get("cold")
    if cold and cold.data:
        b: dict[str, float] = cold.data["breakdown"]
        imp: dict[str, float] = cold.data["importtime_tg"]
        top = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(imp.items())[:4])
        steps = ", ".join(f"{k} {v:,.0f} ms" for k, v in b.items())
        recs.append(
            f"Cold start, measured as Lambda runs it (tokengate from the bytecode its asset carries, the reference "
            f"design's handler from source): import + first "
            f"decision {cold.data.get('tg_total_ms', 0.0):,.0f} ms against the baseline's "
            f"{cold.data.get('base_total_ms', 0.0):,.0f} ms (CPU time ratio {cold.data.get('cpu_ratio', 0.0):.2f}x). "
            f"Steps: {steps}. `-X importtime` self time per package: {top}. The asset carries bytecode compiled "
            "by the runtime's own Python (infra/bytecode.py), so no cold start compiles tokengate's modules; "
            "what they run at import still counts, so its cold path imports only what a decision uses (records/"
            "secret_reader.py and deployment/authorizer_facts.py rather than the store and the function and "
            "route tables); what remains is botocore's import and its two clients (Secrets Manager for the "
            "keyring, DynamoDB for the index and the feed), which share one session and read the botocore data "
            "the asset build derives for them (infra/sdk_data.py: models without their documentation, endpoints "
            "for tokengate's services only), and the three reads. The client's last use is written at the "
            "container's next decision or at its end, not by the first. SnapStart is priced in docs/deploy.md."
        )
    return recs


def main() -> int:
    cfg = BenchConfig.from_env()
    started = time.perf_counter()
    load_before = os.getloadavg()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    unknown = [s for s in cfg.sections if s not in ORDER]
    if unknown:
        say(f"unknown BENCH_SECTIONS entries ignored: {unknown} (known: {', '.join(ORDER)})")
    speed_up_moto()
    emulator = SecretsManagerEmulator().start()
    prepare_environment(emulator.url)
    from tokengate_core.deployment.config import AdminSettings

    emulator.create_table(AdminSettings().table_name)
    bench = Bench(cfg, emulator)
    mode = " (quick)" if cfg.quick else ""
    say(f"tokengate bench{mode}: sections {', '.join(cfg.sections)}; emulator {emulator.url}")
    try:
        from bench import backend, cold, http_load, last_used, leaks, local_state, propagation, scale, usage, warm

        needs_clients = any(s in cfg.sections for s in NEEDS_CLIENTS)
        if needs_clients:
            full = "scale" in cfg.sections or "backend" in cfg.sections
            if not full:
                bench.cfg = cfg = BenchConfig(**{**cfg.__dict__, "clients": min(cfg.clients, 20)})
            issue_started = time.perf_counter()
            _guard(bench, "scale", lambda: scale.issue_clients(bench))
            say(f"  (issuing {len(bench.clients):,} clients: {time.perf_counter() - issue_started:,.0f} s)")
        runners: dict[str, Any] = {
            "warm": warm.run,
            "backend": backend.run,
            "scale": scale.run,
            "cold": cold.run,
            "http": http_load.run,
            "usage": usage.run,
            "leaks": leaks.run,
            "propagation": propagation.run,
            "state": local_state.run,
            "last_used": last_used.run,
        }
        for key in ORDER:
            if key in cfg.sections:
                say(f"[{TITLES[key]}]")
                if not bench.clients and key in NEEDS_CLIENTS:
                    bench.result(key, TITLES[key]).skipped = "no clients could be issued"
                    continue
                section_started = time.perf_counter()
                _guard(bench, key, lambda key=key: runners[key](bench))
                say(f"  ({TITLES[key]}: {time.perf_counter() - section_started:,.0f} s)")
    finally:
        emulator.stop()
    duration = time.perf_counter() - started
    ordered = [bench.results[k] for k in ORDER if k in bench.results]
    from bench.report import render_markdown, render_table

    print(render_table(ordered))
    print(f"({duration / 60:.1f} minutes)")
    if cfg.write_docs:
        recs = recommendations(bench.results)
        info = machine()
        load_after = os.getloadavg()
        info["load"] = (
            f"load average (1/5/15 min) {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} at the start, "
            f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} at the end"
        )
        text = render_markdown(ordered, cfg=cfg, machine=info, date=date, duration_s=duration, recommendations=recs)
        path = REPO / "docs" / "performance.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        say(f"wrote {path.relative_to(REPO)}")
    if cfg.json_path:
        raw = {
            k: {"figures": [f.__dict__ for f in r.figures], "data": r.data, "skipped": r.skipped}
            for k, r in bench.results.items()
        }
        with open(cfg.json_path, "w", encoding="utf-8") as fh:
            json.dump(raw, fh, indent=2, default=str)
    return 0


def _guard(bench: Bench, key: str, fn: Any) -> None:
    try:
        fn()
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        result = bench.result(key, TITLES[key])
        result.skipped = f"failed: {type(error).__name__}: {str(error)[:200]}"


if __name__ == "__main__":
    sys.exit(main())
