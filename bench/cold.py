"""Section 3: cold start, from a fresh Python process: import the handler, then its first decision.

The parent runs ``python -m bench.cold <side> <token>`` as a subprocess per sample, alternating
sides. This module's top level imports only the standard library, so the child measures nothing but
the handler's own imports and first call (a cache miss: the SDK client's creation and its first reads).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

TITLE = "3. Cold start"
MARK = "BENCH_RESULT "


def _event(token: str) -> dict[str, Any]:
    from tokengate.testing.gateway_events import authorizer_event

    return authorizer_event(f"Bearer {token}")


def child(side: str, token: str) -> dict[str, float]:
    """Runs in the fresh process. Times are milliseconds from this function's start."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if side == "tokengate":
        import authorizer.app as app

        t1 = time.perf_counter()
        event = _event(token)  # built outside the timed spans
        t2 = time.perf_counter()
        response = app.handler(event, None)
        t3 = time.perf_counter()
    elif side == "baseline":
        import bench.baseline as base

        t1 = time.perf_counter()
        event = _event(token)
        t2 = time.perf_counter()
        response = base.handler(event, None)
        t3 = time.perf_counter()
    elif side == "breakdown":
        return _breakdown(token)
    else:
        raise SystemExit(f"unknown side {side}")
    out["import_ms"] = (t1 - t0) * 1000
    out["first_ms"] = (t3 - t2) * 1000
    out["total_ms"] = out["import_ms"] + out["first_ms"]
    out["allowed"] = float(bool(response.get("isAuthorized")))
    return out


def _breakdown(token: str) -> dict[str, float]:
    """The same cold path cut into steps, each timed once, in import order."""
    steps: dict[str, float] = {}

    def step(name: str, start: float) -> float:
        now = time.perf_counter()
        steps[name] = (now - start) * 1000
        return now

    t = time.perf_counter()
    import authorizer.app as app

    t = step("import tokengate_core + authorizer.app (no pydantic, no botocore)", t)
    import botocore.session  # noqa: F401

    t = step("first miss: import botocore", t)
    from tokengate_core.runtime.aws import secretsmanager_client

    client = secretsmanager_client(app.settings)
    t = step("first miss: botocore session + client", t)
    from tokengate_core.records.store import SecretsStore
    from tokengate_core.tokens import keyring

    store = SecretsStore(client, app.settings.secret_prefix)
    store.read_named(keyring.secret_name(store.prefix))
    t = step("first miss: GetSecretValue of the keyring", t)
    key_id = token[3:23]
    store.get_value(key_id)
    t = step("first miss: GetSecretValue of the client", t)
    app.authorizer._store = store  # the handler's own authorizer, with the client just built
    event = _event(token)
    t = time.perf_counter()
    app.handler(event, None)
    step("first decision, rest (its own two reads, record reading, digest, log, metric)", t)
    return steps


def _spawn(args: list[str], env: dict[str, str], extra: list[str] | None = None) -> tuple[dict[str, Any], float, str]:
    from bench.common import REPO

    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *(extra or []), "-m", "bench.cold", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"cold child {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :]), wall, proc.stderr
    raise RuntimeError("cold child printed no result")


def _importtime(stderr: str) -> dict[str, float]:
    """Self time per top-level package from ``-X importtime`` output, in milliseconds."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line.split("|")
        if len(parts) < 3:
            continue
        self_us = int(parts[0].split(":")[1].strip())
        name = parts[2].strip().split(".")[0]
        totals[name] += self_us / 1000
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def run(bench: Any) -> None:
    from bench.common import Stats, child_environment, say

    cfg = bench.cfg
    result = bench.result("cold", TITLE)
    token = bench.clients[0].token
    env = {**os.environ, **child_environment(bench.emulator.url)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a Lambda package ships its .pyc files, or compiles once
    samples: dict[str, list[dict[str, Any]]] = {"tokengate": [], "baseline": []}
    walls: dict[str, list[float]] = {"tokengate": [], "baseline": []}
    say(f"  cold: {cfg.cold_runs} fresh processes per side (+1 discarded warm-up each)")
    for i in range(cfg.cold_runs + 1):
        for side in ("tokengate", "baseline") if i % 2 == 0 else ("baseline", "tokengate"):
            out, wall, _ = _spawn([side, token], env)
            if i == 0:
                continue  # the first run pays for .pyc compilation and a cold page cache
            samples[side].append(out)
            walls[side].append(wall)
    breakdown, _, _ = _spawn(["breakdown", token], env)
    _, _, imports_tg = _spawn(["tokengate", token], env, ["-X", "importtime"])
    _, _, imports_base = _spawn(["baseline", token], env, ["-X", "importtime"])
    by_pkg_tg = _importtime(imports_tg)
    by_pkg_base = _importtime(imports_base)

    def stats(side: str, key: str) -> Stats:
        return Stats.of_us([s[key] * 1000 for s in samples[side]])

    tg_total, base_total = stats("tokengate", "total_ms"), stats("baseline", "total_ms")
    ratio = base_total.median_us / tg_total.median_us
    for side, label in (("tokengate", "tokengate"), ("baseline", "baseline")):
        imp, first, total = stats(side, "import_ms"), stats(side, "first_ms"), stats(side, "total_ms")
        result.add(
            f"{label}: import + first decision",
            f"{total.text('ms')}; import {imp.text('ms')}, first {first.text('ms')}",
        )
        result.add(f"{label}: whole process (wall)", Stats.of_us([w * 1000 for w in walls[side]]).text("ms"))
    allowed = all(s["allowed"] for side in samples.values() for s in side)
    result.add(
        "baseline / tokengate (median)",
        f"{ratio:.2f}x ({'tokengate faster' if ratio >= 1 else 'tokengate slower'}); all allowed: {allowed}",
        "tokengate not slower (>= 1.0x)",
        ratio >= 1.0,
    )
    top_tg = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_tg.items())[:6])
    top_base = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_base.items())[:4])
    steps = "; ".join(f"{k}: {v:,.1f} ms" for k, v in breakdown.items())
    result.data.update(
        tg_total_ms=tg_total.median_us / 1000,
        base_total_ms=base_total.median_us / 1000,
        base_first_ms=stats("baseline", "first_ms").median_us / 1000,
        samples=samples,
        walls=walls,
        breakdown=breakdown,
        importtime_tg=by_pkg_tg,
        importtime_base=by_pkg_base,
    )
    result.notes.append(
        f"Each sample is a new `python -m bench.cold <side>` process on the emulator; the child times its own "
        f"import of the handler module and the first call (a cache miss), {cfg.cold_runs} runs per side, "
        f"alternating, after one discarded warm-up run per side. Interpreter start-up is the same for both and "
        f"is in the wall figure only."
    )
    result.notes.append(f"tokengate's cold path, step by step (one fresh process): {steps}.")
    result.notes.append(
        f"`python -X importtime`, self time summed per top-level package, tokengate: {top_tg}. Baseline: {top_base}."
    )


def main() -> None:
    side, token = sys.argv[1], sys.argv[2]
    with open(os.devnull, "w") as sink:
        stdout = sys.stdout
        sys.stdout = sink  # the handler's logger binds to stdout at import: keep our line clean
        try:
            out = child(side, token)
        finally:
            sys.stdout = stdout
    print(MARK + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
