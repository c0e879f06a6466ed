"""The cold-start benchmark measures the way Lambda runs a function: tokengate's modules come from
the bytecode its copy of the asset carries (compiled into the copy, as the build compiles the
asset), the reference design's handler from source, the SDK from its precompiled files; nothing
from this checkout's ``__pycache__`` or an earlier run, and packages the runtime lacks are not
there. These tests hold the benchmark's helpers to that, with a negative control each: the same
audit run where a ``.pyc`` could be reused has to say so."""

from __future__ import annotations

import compileall
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cold import (
    OWN_PACKAGES,
    as_in_lambda_runtime,
    fresh_package,
    lambda_environment,
    lambda_package,
    paired_ratio,
)
from bench.common import REPO
from infra.sdk_data import ASSET_PATH, derive

MODULES = ("authorizer/__init__.py", "authorizer/app.py", "tokengate_core/__init__.py", "tokengate_core/thing.py")


def _sources(root: Path) -> tuple[Path, Path]:
    """A services tree of the same shape as the real one, compiled: every module has a .pyc."""
    services = root / "services"
    for module in MODULES:
        path = services / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import tokengate_core.thing\n" if module == "authorizer/app.py" else "VALUE = 1\n")
    baseline = root / "baseline.py"
    baseline.write_text("VALUE = 2\n")
    assert compileall.compile_dir(services, quiet=1)
    assert list(services.rglob("*.pyc"))
    return services, baseline


def _audit(env: dict[str, str], package: Path, imports: str) -> dict[str, int]:
    code = (
        "import json, sys\n"
        "from bench.cold import as_in_lambda_runtime, bytecode_audit\n"
        "as_in_lambda_runtime()\n"
        f"import {imports}\n"
        f"print(json.dumps(bytecode_audit({str(package)!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    audit: dict[str, int] = json.loads(result.stdout)
    return audit


def test_the_copy_without_bytecode_carries_sources_only_and_the_child_compiles_every_module(tmp_path: Path) -> None:
    services, baseline = _sources(tmp_path)
    package = fresh_package(services, baseline, tmp_path / "fresh", bytecode=False)
    derived = derive(tmp_path / "asset")
    data = [(ASSET_PATH / p.relative_to(derived)).as_posix() for p in derived.rglob("*.json")]
    assert sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()) == sorted(
        [*MODULES, *data, "baseline.py"]
    )
    env = lambda_environment({**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "prefix")}, package, REPO)
    audit = _audit(env, package, "authorizer.app, baseline")
    assert (audit["own"], audit["reference"]) == (len(MODULES), 1)
    assert (audit["own_with_pyc"], audit["reference_with_pyc"]) == (0, 0)
    assert (audit["own_outside"], audit["writes_bytecode"]) == (0, 0)
    assert not list(package.rglob("*.pyc"))
    assert not (tmp_path / "prefix").exists()


def test_the_copy_carries_checked_hash_bytecode_of_tokengate_only_and_the_child_reads_it(tmp_path: Path) -> None:
    services, baseline = _sources(tmp_path)
    package = fresh_package(services, baseline, tmp_path / "fresh")
    for module in MODULES:
        source = package / module
        pyc = Path(importlib.util.cache_from_source(str(source)))
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b11, module  # PEP 552: checked hash
        assert pyc.read_bytes()[8:16] == importlib.util.source_hash(source.read_bytes())
    assert not Path(importlib.util.cache_from_source(str(package / "baseline.py"))).exists()
    env = lambda_environment(dict(os.environ), package, REPO)
    audit = _audit(env, package, "authorizer.app, baseline")
    assert (audit["own"], audit["own_with_pyc"]) == (len(MODULES), len(MODULES))
    assert (audit["reference"], audit["reference_with_pyc"]) == (1, 0)
    assert (audit["own_outside"], audit["writes_bytecode"]) == (0, 0)


def test_the_audit_sees_a_pyc_the_child_could_reuse(tmp_path: Path) -> None:
    """Negative control: on the compiled tree itself, every own module had a .pyc to read."""
    services, baseline = _sources(tmp_path)
    package = fresh_package(services, baseline, tmp_path / "fresh", bytecode=False)
    env = lambda_environment(dict(os.environ), package, REPO)
    env["PYTHONPATH"] = os.pathsep.join([str(services), str(REPO)])
    audit = _audit(env, package, "authorizer.app")
    assert audit["own"] == len(MODULES)
    assert audit["own_with_pyc"] == len(MODULES)
    assert audit["own_outside"] == len(MODULES)


def test_a_child_that_may_write_bytecode_is_reported(tmp_path: Path) -> None:
    services, baseline = _sources(tmp_path)
    package = fresh_package(services, baseline, tmp_path / "fresh")
    env = lambda_environment(dict(os.environ), package, REPO)
    del env["PYTHONDONTWRITEBYTECODE"]
    assert _audit(env, package, "authorizer.app")["writes_bytecode"] == 1


@pytest.mark.parametrize("bytecode", [True, False])
def test_the_real_authorizer_reads_the_copys_bytecode_or_none_and_botocore_loads_without_the_crt(
    bytecode: bool,
) -> None:
    with lambda_package(bytecode=bytecode) as package:
        assert sorted(p.name for p in package.iterdir()) == sorted([*OWN_PACKAGES, "baseline.py"])
        env = lambda_environment({**os.environ, "AWS_REGION": "us-east-1"}, package, REPO)
        audit = _audit(env, package, "authorizer.app, botocore.session")
        assert bool(list(package.rglob("*.pyc"))) is bytecode
    assert audit["own"] > 10
    assert audit["own_with_pyc"] == (audit["own"] if bytecode else 0)
    assert (audit["own_outside"], audit["writes_bytecode"]) == (0, 0)
    assert audit["sdk"] > 0
    assert audit["sdk_with_pyc"] == audit["sdk"]  # the SDK, as in the runtime, is precompiled
    assert audit["not_in_runtime"] == 0


def test_packages_the_runtime_lacks_cannot_be_imported() -> None:
    saved = {name: sys.modules.get(name) for name in ("awscrt",)}
    try:
        as_in_lambda_runtime()
        with pytest.raises(ImportError):
            importlib.import_module("awscrt")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_the_ratio_pairs_samples_run_back_to_back() -> None:
    """The median of the pairs' own ratios, not a ratio of two medians taken at different times."""
    tokengate = [{"total_ms": t} for t in (100, 200, 400)]
    assert paired_ratio([{"total_ms": b} for b in (130, 260, 520)], tokengate) == pytest.approx(1.3)
    # The machine slowed down threefold after the first pair, and disturbed one side of the last.
    slowed = [{"total_ms": t} for t in (100, 300, 300)]
    assert paired_ratio([{"total_ms": b} for b in (130, 390, 900)], slowed) == pytest.approx(1.3)
    with pytest.raises(ValueError):
        paired_ratio([{"total_ms": 1.0}], tokengate)
