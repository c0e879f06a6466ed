"""Section 3: cold start, from a fresh Python process: import the handler, then its first decision.

Measured the way Lambda runs a function. Its asset carries checked-hash bytecode of every module,
compiled at build time by the runtime's own Python (infra/bytecode.py), so a cold start reads
tokengate's modules from ``.pyc`` files, as the runtime reads its SDK (botocore, boto3) and standard
library; the reference design's package is its handler's source, which every cold start compiles.
Each sample is a new ``python -m bench.cold <side>`` process whose ``PYTHONPATH`` starts with a
fresh copy of the asset (:func:`fresh_package`: the sources without any ``__pycache__`` of this
checkout, the botocore data the build derives, and bytecode compiled into the copy the way the
build compiles it, by the Python that runs the child) and which may not write bytecode
(:func:`lambda_environment`), so no sample reads a ``.pyc`` an earlier one wrote. After its timed
part the child counts, for every module it imported, whether a ``.pyc`` existed where the import
system looks for one (:func:`bytecode_audit`), and the report prints those counts. A third side runs
tokengate on a copy without bytecode: what the asset's bytecode saves. This module's top level
imports only the standard library, so the child measures nothing but the handler's own imports and
first call (a cache miss: the SDK client's creation and its first reads).
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import py_compile
import shutil
import statistics
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


def fresh_package(services: Path, baseline: Path, into: Path, *, bytecode: bool = True) -> Path:
    """A copy of the function's asset: its sources without this checkout's bytecode, the botocore
    data the build derives for the authorizer's clients (infra/sdk_data.py) and, unless
    ``bytecode`` is False, checked-hash bytecode of every module of tokengate's, compiled as the
    build compiles it (infra/bytecode.py) by this Python (the build uses the runtime's). The
    reference design's handler gets none: its package is one source file."""
    from infra.sdk_data import derive

    root = into / "package"
    for name in OWN_PACKAGES:
        shutil.copytree(services / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
        if bytecode:
            mode = py_compile.PycInvalidationMode.CHECKED_HASH
            if not compileall.compile_dir(root / name, quiet=1, invalidation_mode=mode):
                raise RuntimeError(f"{name} does not compile")
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
def lambda_package(*, bytecode: bool = True) -> Iterator[Path]:
    """A fresh copy of the asset in a temporary directory, removed afterwards."""
    from bench.common import REPO
    from tokengate import SERVICES_DIR

    with tempfile.TemporaryDirectory(prefix="tokengate-cold-") as tmp:
        yield fresh_package(SERVICES_DIR, REPO / "bench" / "baseline.py", Path(tmp), bytecode=bytecode)


def _top(name: str) -> str:
    return name.partition(".")[0]


def bytecode_audit(package: str | None = None) -> dict[str, int]:
    """Of the modules this process has imported: how many of tokengate's (``own``) and of the
    reference design's (``reference``) had a ``.pyc`` where the import system looks for one (a
    module without one is compiled from its source), how many came from outside ``package`` (the
    fresh copy), and the same for the SDK."""
    counts = dict.fromkeys(
        ("own", "own_with_pyc", "own_outside", "reference", "reference_with_pyc", "sdk", "sdk_with_pyc"), 0
    )
    counts["not_in_runtime"] = 0
    root = os.path.realpath(package) + os.sep if package else None
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        top = _top(name)
        if not path or not path.endswith(".py"):
            continue
        cached = os.path.exists(importlib.util.cache_from_source(path))
        outside = bool(root) and not os.path.realpath(path).startswith(root or "")
        if top in OWN_PACKAGES:
            counts["own"] += 1
            counts["own_with_pyc"] += cached
            counts["own_outside"] += outside
        elif top == BASELINE_MODULE:
            counts["reference"] += 1
            counts["reference_with_pyc"] += cached
            counts["own_outside"] += outside
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


#: The side without the asset's bytecode: tokengate's modules compiled from source at the start.
FROM_SOURCE = "tokengate, no bytecode"


def _spawn(
    side: str, event: dict[str, Any], env: dict[str, str], extra: list[str] | None = None
) -> tuple[dict[str, Any], float, str]:
    """One fresh process on a fresh copy of the sources; its result, wall time and stderr."""
    from bench.common import REPO

    with lambda_package(bytecode=side != FROM_SOURCE) as package:
        side = "tokengate" if side == FROM_SOURCE else side
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


def paired_ratio(baseline: list[dict[str, Any]], tokengate: list[dict[str, Any]]) -> float:
    """The median of the baseline's time over tokengate's, sample by sample: each pair ran back to
    back (:func:`run` alternates the order), so a machine that speeds up or slows down during the
    run moves both halves of a pair, where a ratio of two medians would count that drift as a
    difference between the sides."""
    ratios = [float(b["total_ms"]) / float(t["total_ms"]) for b, t in zip(baseline, tokengate, strict=True)]
    return statistics.median(ratios)


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


def _bytecode_figure(samples: dict[str, list[dict[str, Any]]]) -> tuple[str, bool]:
    """Whether each side read exactly the bytecode its package carries, and nothing else."""
    asset, reference, source = (
        [s["bytecode"] for s in samples[side]] for side in ("tokengate", "baseline", FROM_SOURCE)
    )
    every = [*asset, *reference, *source]

    def total(audits: list[dict[str, int]], key: str) -> int:
        return sum(a[key] for a in audits)

    stray = total(every, "own_outside") + total(every, "writes_bytecode")
    foreign = total(every, "not_in_runtime")
    text = (
        f"tokengate: {total(asset, 'own_with_pyc'):,} of {total(asset, 'own'):,} module imports read the "
        f"copy's bytecode ({len(asset)} processes); without it: {total(source, 'own_with_pyc')} of "
        f"{total(source, 'own'):,}; reference design: {total(reference, 'reference_with_pyc')} of "
        f"{total(reference, 'reference')} (its handler compiled from source); SDK: "
        f"{total(every, 'sdk_with_pyc'):,} of {total(every, 'sdk'):,} from .pyc; read from outside the copy "
        f"or written: {stray}; modules the runtime lacks ({', '.join(NOT_IN_RUNTIME)}): {foreign}"
    )
    ok = (
        total(asset, "own") > 0
        and total(asset, "own_with_pyc") == total(asset, "own")
        and total(source, "own_with_pyc") == 0
        and total(reference, "reference_with_pyc") == 0
        and total(every, "sdk_with_pyc") == total(every, "sdk")
        and stray == 0
        and foreign == 0
    )
    return text, ok


def run(bench: Any) -> None:
    from bench.common import Stats, child_environment, say

    cfg = bench.cfg
    result = bench.result("cold", TITLE)
    event = _event(bench.clients[0].token)
    env = {**os.environ, **child_environment(bench.emulator.url)}
    sides = ("tokengate", "baseline", FROM_SOURCE)
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    walls: dict[str, list[float]] = {side: [] for side in sides}
    say(f"  cold: {cfg.cold_runs} fresh processes per side, each on a fresh copy (+1 discarded warm-up each)")
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
    audit_text, audit_ok = _bytecode_figure(samples)

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
    result.add("bytecode read, as in Lambda", audit_text, "each side reads exactly what its package carries", audit_ok)
    allowed = all(s["allowed"] for side in samples.values() for s in side)  # every side, the one without bytecode too
    paired = paired_ratio(samples["baseline"], samples["tokengate"])
    result.add(
        "baseline / tokengate (median of pairs run back to back)",
        f"{paired:.2f}x ({'tokengate faster' if paired >= 1 else 'tokengate slower'}); all allowed: {allowed}",
        ">= 1.2x",
        paired >= 1.2 and allowed,
    )
    result.add("baseline / tokengate (ratio of the two medians)", f"{ratio:.2f}x")
    result.add("baseline / tokengate, CPU time (median)", f"{cpu_ratio:.2f}x")
    unshipped = stats(FROM_SOURCE, "total_ms")
    result.add(
        "tokengate without the asset's bytecode (compiled from source)",
        f"{unshipped.text('ms')}; baseline / that {base_total.median_us / unshipped.median_us:.2f}x",
    )
    top_tg = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_tg.items())[:6])
    top_base = ", ".join(f"{k} {v:,.0f} ms" for k, v in list(by_pkg_base.items())[:4])
    steps = "; ".join(f"{k}: {v:,.1f} ms" for k, v in breakdown.items())
    result.data.update(
        paired_ratio=paired,
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
        "As in Lambda, each child runs on a fresh copy of the function's asset and may not write bytecode "
        "(`PYTHONDONTWRITEBYTECODE=1`): `services/authorizer` and `services/tokengate_core` without this "
        "checkout's `__pycache__`, plus what the build adds. The build compiles every module of the asset into "
        "checked-hash `.pyc` files with the runtime's own Python (infra/bytecode.py: CPython 3.14 as Pyodide "
        "ships it, run with node), which the runtime reads instead of compiling; the copy gets the same files "
        "compiled the same way by the Python that runs the child (3.11 here), since bytecode is specific to a "
        "Python version. The reference design's package is its handler's source, compiled at every start. "
        "The SDK and the standard library use their `.pyc` files on both sides, as the runtime's precompiled "
        "ones. Like the asset, each copy also carries the botocore data the build derives for the authorizer's "
        "clients (infra/sdk_data.py: the models of the services it calls without their documentation, and "
        "endpoints.json for those services only), which its botocore session reads before botocore's own "
        "files; the baseline's boto3 reads botocore's own. After its timed part each child checks, for every "
        "module it imported, whether a `.pyc` existed where the import system looks for one; the figure above "
        f"sums that. Packages installed here but absent from the Lambda runtime ({', '.join(NOT_IN_RUNTIME)}: "
        "botocore's optional CRT, which it imports whenever it can) are made unimportable in every child, "
        "every side."
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
