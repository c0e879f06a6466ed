"""Section 3: cold start, from a fresh Python process: import the handler, then its first decision.

Measured the way Lambda runs a function: its package ships no ``.pyc`` (the asset excludes them,
and the build machine's Python cannot compile for the runtime's), so each cold start compiles the
function's own modules from source, while the runtime's SDK (botocore, boto3) and standard library
are precompiled. Each sample is a new ``python -m bench.cold <side>`` process whose ``PYTHONPATH``
starts with a fresh copy of the handler's sources (:func:`fresh_package`: no ``__pycache__``, and
the botocore data the asset build derives for the authorizer's clients, as the asset has it) and
which may not write bytecode (:func:`lambda_environment`); after its timed part the child counts
which of its own modules had a ``.pyc`` it could have read (:func:`bytecode_audit`), and the
report prints that count. This module's top level imports only the standard library, so the child
measures nothing but the handler's own imports and first call (a cache miss: the SDK client's
creation and its first reads).
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TITLE = "3. Cold start"
MARK = "BENCH_RESULT "
#: The import roots a function's package carries (infra/functions.py bundles them as the asset),
#: plus the reference design's handler module, which its package would carry the same way.
OWN_PACKAGES = ("authorizer", "tokengate_core")
BASELINE_MODULE = "baseline"
#: The packages the Lambda runtime provides precompiled.
SDK_PACKAGES = ("botocore", "boto3", "s3transfer", "urllib3", "dateutil", "jmespath")
#: Installed here (botocore's optional ``crt`` extra, which the dev tools pull in) but not in the
#: Lambda runtime, whose SDK is boto3 and botocore without it; botocore imports it whenever it can
#: (``botocore.compat``: ``HAS_CRT``), ~50 ms of every cold start on both sides here.
NOT_IN_RUNTIME = ("awscrt",)


def fresh_package(services: Path, baseline: Path, into: Path) -> Path:
    """A copy of the function's sources as its asset has them: ``.py`` files only, no bytecode, and
    the botocore data the asset build derives for the authorizer's clients (infra/sdk_data.py)."""
    from infra.sdk_data import derive

    root = into / "package"
    for name in OWN_PACKAGES:
        shutil.copytree(services / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    derive(root)
    shutil.copyfile(baseline, root / f"{BASELINE_MODULE}.py")
    return root


def lambda_environment(base: dict[str, str], package: Path, repo: Path) -> dict[str, str]:
    """The child's environment: the fresh copy first on the path, and no bytecode written (so no
    sample leaves a ``.pyc`` for the next). No ``PYTHONPYCACHEPREFIX`` either: with one set,
    Python would look for the SDK's and the standard library's bytecode there too, and compile
    them from source as well, which the Lambda runtime never does."""
    env = {k: v for k, v in base.items() if k not in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(package), str(repo)])
    return env


@contextmanager
def lambda_package() -> Iterator[Path]:
    """A fresh copy of the sources in a temporary directory, removed afterwards."""
    from bench.common import REPO
    from tokengate import SERVICES_DIR

    with tempfile.TemporaryDirectory(prefix="tokengate-cold-") as tmp:
        yield fresh_package(SERVICES_DIR, REPO / "bench" / "baseline.py", Path(tmp))


def _top(name: str) -> str:
    return name.partition(".")[0]


def bytecode_audit(package: str | None = None) -> dict[str, int]:
    """Of the modules this process has imported: how many of its own (under ``package``, the fresh
    copy) were compiled from source because no ``.pyc`` existed where the import system looks
    for one, how many could have used one, and the same for the SDK. A module whose bytecode is
    missing is compiled from its source: that is what a Lambda cold start does with the function's
    own code."""
    counts = {"own": 0, "own_with_pyc": 0, "own_outside": 0, "sdk": 0, "sdk_with_pyc": 0, "not_in_runtime": 0}
    root = os.path.realpath(package) + os.sep if package else None
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        top = _top(name)
        if not path or not path.endswith(".py"):
            continue
        cached = os.path.exists(importlib.util.cache_from_source(path))
        if top in (*OWN_PACKAGES, BASELINE_MODULE):
            counts["own"] += 1
            counts["own_with_pyc"] += cached
            counts["own_outside"] += bool(root) and not os.path.realpath(path).startswith(root or "")
        elif top in NOT_IN_RUNTIME:
            counts["not_in_runtime"] += 1
        elif top in SDK_PACKAGES:
            counts["sdk"] += 1
            counts["sdk_with_pyc"] += cached
    counts["writes_bytecode"] = int(not sys.dont_write_bytecode)
    return counts


def _event(token: str) -> dict[str, Any]:
    from tokengate.testing.gateway_events import authorizer_event

    return authorizer_event(f"Bearer {token}")


def child(side: str, event: dict[str, Any]) -> dict[str, float]:
    """Runs in the fresh process. Times are milliseconds from this function's start, on the wall
    clock and in this process's CPU time (which other work on a loaded machine disturbs less, and
    which leaves out the waits for the emulator's answers); the event comes from the parent, so
    building it imports nothing here."""
    if side == "breakdown":
        return _breakdown(event)
    if side not in ("tokengate", "baseline"):
        raise SystemExit(f"unknown side {side}")
    c0, t0 = time.process_time(), time.perf_counter()
    if side == "tokengate":
        import authorizer.app as module
    else:
        import baseline as module  # type: ignore[import-not-found, no-redef]  # the fresh copy of bench/baseline.py
    t1 = time.perf_counter()
    response = module.handler(event, None)
    c2, t2 = time.process_time(), time.perf_counter()
    return {
        "import_ms": (t1 - t0) * 1000,
        "first_ms": (t2 - t1) * 1000,
        "total_ms": (t2 - t0) * 1000,
        "cpu_ms": (c2 - c0) * 1000,
        "allowed": float(bool(response.get("isAuthorized"))),
    }


def _breakdown(event: dict[str, Any]) -> dict[str, float]:
    """The same cold path cut into steps, each timed once, in the order the first request pays them."""
    steps: dict[str, float] = {}

    def step(name: str, start: float) -> float:
        now = time.perf_counter()
        steps[name] = (now - start) * 1000
        return now

    t = time.perf_counter()
    import authorizer.app as app

    t = step("import authorizer.app and its tokengate_core modules (no pydantic, no botocore)", t)
    import botocore.session  # noqa: F401

    t = step("first miss: import botocore", t)
    app.handler(event, None)
    t = step("first decision, rest (session, two clients, three reads, record reading, digest, log, metric)", t)
    app.handler(event, None)
    step("second decision (cached; it writes the last use the first one saw)", t)
    return steps


#: The side that measures what shipping bytecode would give: tokengate on a copy compiled
#: beforehand (unchecked-hash .pyc files, valid whatever the files' times), never in the target.
WITH_BYTECODE = "tokengate+pyc"


def _spawn(
    side: str, event: dict[str, Any], env: dict[str, str], extra: list[str] | None = None
) -> tuple[dict[str, Any], float, str]:
    """One fresh process on a fresh copy of the sources; its result, wall time and stderr."""
    from bench.common import REPO

    with lambda_package() as package:
        if side == WITH_BYTECODE:
            compileall.compile_dir(package, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            side = "tokengate"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, *(extra or []), "-m", "bench.cold", side, str(package), json.dumps(event)],
            cwd=REPO,
            env=lambda_environment(env, package, REPO),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"cold child {side} failed ({proc.returncode}): {proc.stderr[-2000:]}")
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


def _bytecode_figure(audits: list[dict[str, int]]) -> tuple[str, bool]:
    own = sum(a["own"] for a in audits)
    reused = sum(a["own_with_pyc"] + a["own_outside"] + a["writes_bytecode"] for a in audits)
    foreign = sum(a["not_in_runtime"] for a in audits)
    sdk, sdk_pyc = sum(a["sdk"] for a in audits), sum(a["sdk_with_pyc"] for a in audits)
    per = ", ".join(sorted({f"{a['own'] - a['own_with_pyc']}" for a in audits}))
    text = (
        f"{own - reused:,} of {own:,} own-module imports compiled from source in {len(audits)} processes "
        f"({per} per process), {reused} could reuse a .pyc; SDK: {sdk_pyc:,} of {sdk:,} from .pyc; "
        f"modules the runtime lacks ({', '.join(NOT_IN_RUNTIME)}): {foreign}"
    )
    return text, reused == 0 and own > 0 and foreign == 0


def run(bench: Any) -> None:
    from bench.common import Stats, child_environment, say

    cfg = bench.cfg
    result = bench.result("cold", TITLE)
    event = _event(bench.clients[0].token)
    env = {**os.environ, **child_environment(bench.emulator.url)}
    sides = ("tokengate", "baseline", WITH_BYTECODE)
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    walls: dict[str, list[float]] = {side: [] for side in sides}
    say(f"  cold: {cfg.cold_runs} fresh processes per side, no .pyc of their own (+1 discarded warm-up each)")
    for i in range(cfg.cold_runs + 1):
        for side in sides if i % 2 == 0 else sides[::-1]:
            out, wall, _ = _spawn(side, event, env)
            if i == 0:
                continue  # the first run pays for a cold page cache
            samples[side].append(out)
            walls[side].append(wall)
    breakdown, _, _ = _spawn("breakdown", event, env)
    breakdown.pop("bytecode", None)
    _, _, imports_tg = _spawn("tokengate", event, env, ["-X", "importtime"])
    _, _, imports_base = _spawn("baseline", event, env, ["-X", "importtime"])
    by_pkg_tg = _importtime(imports_tg)
    by_pkg_base = _importtime(imports_base)
    audit_text, audit_ok = _bytecode_figure([s["bytecode"] for side in sides[:2] for s in samples[side]])

    def stats(side: str, key: str) -> Stats:
        return Stats.of_us([s[key] * 1000 for s in samples[side]])

    tg_total, base_total = stats("tokengate", "total_ms"), stats("baseline", "total_ms")
    ratio = base_total.median_us / tg_total.median_us
    cpu_ratio = stats("baseline", "cpu_ms").median_us / stats("tokengate", "cpu_ms").median_us
    for side, label in (("tokengate", "tokengate"), ("baseline", "baseline")):
        imp, first, total = stats(side, "import_ms"), stats(side, "first_ms"), stats(side, "total_ms")
        result.add(
            f"{label}: import + first decision",
            f"{total.text('ms')}; import {imp.text('ms')}, first {first.text('ms')}",
        )
        result.add(f"{label}: whole process (wall)", Stats.of_us([w * 1000 for w in walls[side]]).text("ms"))
        result.add(f"{label}: import + first decision, CPU time", stats(side, "cpu_ms").text("ms"))
    result.add("no .pyc of the function's own modules (as in Lambda)", audit_text, "0 could reuse a .pyc", audit_ok)
    allowed = all(s["allowed"] for side in samples.values() for s in side)  # every side, the .pyc one too
    result.add(
        "baseline / tokengate (median)",
        f"{ratio:.2f}x ({'tokengate faster' if ratio >= 1 else 'tokengate slower'}); all allowed: {allowed}",
        ">= 1.2x",
        ratio >= 1.2 and allowed,
    )
    result.add("baseline / tokengate, CPU time (median)", f"{cpu_ratio:.2f}x")
    shipped = stats(WITH_BYTECODE, "total_ms")
    result.add(
        "if the asset shipped bytecode: tokengate with its own .pyc",
        f"{shipped.text('ms')}; baseline / that {base_total.median_us / shipped.median_us:.2f}x "
        "(not deployable: see the notes)",
    )
    top_tg = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_tg.items())[:6])
    top_base = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_base.items())[:4])
    steps = "; ".join(f"{k}: {v:,.1f} ms" for k, v in breakdown.items())
    result.data.update(
        cpu_ratio=cpu_ratio,
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
    result.notes.append(
        "As in Lambda, no child has bytecode for the function's own modules: each runs on a fresh copy of "
        "`services/authorizer` and `services/tokengate_core` (the baseline on a fresh copy of its handler "
        "module) with no `__pycache__`, and with `PYTHONDONTWRITEBYTECODE=1`, so every one of those modules is "
        "compiled from source at every start; the SDK and the standard library use their `.pyc` files, as the "
        "runtime's precompiled ones. Like the asset, each copy also carries the botocore data the build derives "
        "for the authorizer's clients (infra/sdk_data.py: the models of the services it calls without their "
        "documentation, and endpoints.json for those services only), which its botocore session reads before "
        "botocore's own files; the baseline's boto3 reads botocore's own. "
        "After its timed part each child checks, for every module it imported, "
        "whether a `.pyc` existed where the import system looks for one; the figure above sums that. "
        f"Packages installed here but absent from the Lambda runtime ({', '.join(NOT_IN_RUNTIME)}: botocore's "
        "optional CRT, which it imports whenever it can) are made unimportable in every child, both sides."
    )
    result.notes.append(
        "The `.pyc` row runs the same tokengate handler on a copy compiled beforehand by this interpreter "
        "(unchecked-hash `.pyc`, as `compileall --invalidation-mode unchecked-hash` writes them), to show what "
        "the compile step costs. A deployment cannot have that today: the functions run on the Python 3.14 "
        "runtime, bytecode is specific to the interpreter's minor version, and the asset is built by the "
        "machine's Python (3.11 here), which cannot write 3.14 bytecode; the asset excludes `.pyc` files "
        "(infra/functions.py, ASSET_EXCLUDE) so that no stale or mismatched bytecode ships. Only a build with a "
        "3.14 interpreter (which the Docker-free build does not have) could compile the asset for the runtime."
    )
    result.notes.append(f"tokengate's cold path, step by step (one fresh process): {steps}.")
    result.notes.append(
        f"`python -X importtime`, self time summed per top-level package, tokengate: {top_tg}. Baseline: {top_base}."
    )


def as_in_lambda_runtime() -> None:
    """Make the packages the runtime lacks unimportable in this process (a ``None`` entry in
    ``sys.modules`` makes ``import`` raise ImportError, which botocore takes as "no CRT")."""
    for name in NOT_IN_RUNTIME:
        sys.modules[name] = None  # type: ignore[assignment]


def main() -> None:
    side, package, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    as_in_lambda_runtime()
    with open(os.devnull, "w") as sink:
        stdout = sys.stdout
        sys.stdout = sink  # the handler's logger binds to stdout at import: keep our line clean
        try:
            out: dict[str, Any] = dict(child(side, event))
        finally:
            sys.stdout = stdout
    out["bytecode"] = bytecode_audit(package)
    print(MARK + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
