"""Bytecode for the runtime's Python, compiled into each function asset at synth.

Lambda imports a function's modules from its package, which is read-only: with no ``.pyc`` there,
every cold start compiles each of tokengate's modules from source, and the authorizer's cold start
is what tokengate is measured on. Python reads a module's bytecode from
``__pycache__/<module>.<cache tag>.pyc`` beside its source when the file's magic number is its own
([PEP 3147](https://peps.python.org/pep-3147/)), so an asset that carries bytecode made by the
runtime's Python version is imported without compiling.

Bytecode is specific to a Python minor version, and this machine's Python is not the runtime's. The
compiler is therefore the runtime's own CPython release built for WebAssembly (Pyodide, pinned in
package.json and installed by ``npm ci``), run with node (infra/bytecode.mjs): no download, no Docker.

The files are *checked-hash* ``.pyc`` files ([PEP 552](https://peps.python.org/pep-0552/)): each
holds a hash of its source, which the importer compares before using it, so a ``.pyc`` whose source
changed is recompiled, never run, whatever the files' times in the zip Lambda unpacks. A ``.pyc``
with another version's magic number is ignored the same way: the worst a mismatch can do is the
compile this saves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("bytecode.mjs")
#: CPython's magic number per minor version: the first two bytes of each .pyc, little-endian
#: (CPython's Include/internal/pycore_magic_number.h; 3627 is every 3.14 release's, from 3.14rc1).
MAGIC_NUMBERS = {"3.14": 3627}
#: The compile is one process per asset; a few seconds where node has loaded Pyodide once.
TIMEOUT_SECONDS = 300


class BytecodeError(Exception):
    """The asset cannot carry bytecode for the runtime: synth stops with this one line."""


def runtime_version(runtime_name: str) -> str:
    """``python3.14`` -> ``3.14``."""
    if not runtime_name.startswith("python"):
        raise BytecodeError(f"not a Python runtime: {runtime_name}")
    return runtime_name.removeprefix("python")


def cache_tag(version: str) -> str:
    """``3.14`` -> ``cpython-314``: the part of a .pyc's name that says which Python made it."""
    major, minor = version.split(".")
    return f"cpython-{major}{minor}"


def compile_asset(folder: Path, version: str) -> dict[str, Any]:
    """Compile every .py under ``folder`` for Python ``version``; what the compiler reported."""
    node = shutil.which("node")
    if node is None:
        raise BytecodeError(f"bytecode for Python {version}: node is not installed (make install)")
    if version not in MAGIC_NUMBERS:
        raise BytecodeError(f"bytecode for Python {version}: no known magic number (infra/bytecode.py)")
    try:
        done = subprocess.run(  # noqa: S603 - node, our own script, a folder we made
            [node, str(SCRIPT), str(folder), version],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BytecodeError(f"bytecode for Python {version}: the compiler took over {TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if "pyodide" in why and ("Cannot find" in why or "ERR_MODULE_NOT_FOUND" in why):
            why = "Pyodide is not installed (make install runs npm ci)"
        raise BytecodeError(f"bytecode for Python {version}: {why}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if report.get("cache_tag") != cache_tag(version) or report.get("magic") != MAGIC_NUMBERS[version]:
        raise BytecodeError(f"bytecode for Python {version}: the compiler made {report}")
    return report
