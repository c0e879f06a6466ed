"""Third-party code a function needs beyond the Lambda runtime and the Powertools layer, bundled
for the Lambda platform without Docker.

The leak function verifies GitHub's ECDSA signatures with ``cryptography``; the admin function
estimates an imported token's strength with ``zxcvbn``. Each one's asset is the services/ folder
plus the wheels of its packages (and their dependencies) for the functions' platform: arm64 Linux
and the runtime's Python (infra/functions.py), installed by pip from binary wheels only, never
built. The version is the one installed here, so the code that ships
is the code the tests ran.

Downloading needs the package index, so it is a make step (``make lambda-deps``, part of every
target that synthesizes), not part of synth: synth and the tests stay offline. It fills
``build/lambda-deps/<function>/`` and records what it installed; synth refuses an install that
is missing or stale, naming the command that fixes it.

    python -m infra.bundle          # what `make lambda-deps` runs
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_

from infra.functions import ARCHITECTURE, RUNTIME, ServicesBundling, bundled_code
from tokengate_core.deployment.functions import FunctionName

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPS_ROOT = REPO_ROOT / "build" / "lambda-deps"
STAMP = "installed.json"
#: The Python distributions each function needs beyond the runtime and the layer.
BUNDLED: dict[FunctionName, tuple[str, ...]] = {"leaks": ("cryptography",), "admin": ("zxcvbn",)}
#: manylinux tags for arm64 that the runtime's Amazon Linux 2023 (glibc 2.34) runs.
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")


class BundleError(RuntimeError):
    """The bundled dependencies are missing or not what this checkout needs."""


def python_version() -> str:
    """``3.14`` for ``python3.14``: the functions' runtime, defined once in infra/functions.py."""
    return RUNTIME.name.removeprefix("python")


def requirements(name: FunctionName) -> list[str]:
    """``package==version`` for each distribution, at the version installed here."""
    return [f"{dist}=={importlib.metadata.version(dist)}" for dist in BUNDLED[name]]


def wanted(name: FunctionName) -> dict[str, Any]:
    """What an install for ``name`` must have been made for (its stamp)."""
    assert ARCHITECTURE.name == "arm64", "PLATFORMS are arm64 wheels"
    return {"requirements": requirements(name), "python": python_version(), "platforms": list(PLATFORMS)}


def deps_dir(name: FunctionName) -> Path:
    return DEPS_ROOT / name


def install(name: FunctionName) -> Path:
    """pip-install the function's wheels for the Lambda platform into its deps folder."""
    target = deps_dir(name)
    if target.exists():
        shutil.rmtree(target)
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version(),
        *platforms,
        "--target",
        str(target),
        *requirements(name),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter and arguments
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing a function runs
    (target / STAMP).write_text(json.dumps(wanted(name), indent=2) + "\n")
    return target


def checked(name: FunctionName) -> Path:
    """The function's deps folder, if it holds an install for this checkout; BundleError if not."""
    target = deps_dir(name)
    try:
        stamp = json.loads((target / STAMP).read_text())
    except (OSError, ValueError):
        stamp = None
    if stamp != wanted(name):
        problem = "missing" if stamp is None else "stale"
        raise BundleError(
            f"the {name} function's bundled dependencies are {problem} in {target}: run `make lambda-deps`"
            f" (pip-installs {', '.join(requirements(name))} for python {python_version()} arm64)"
        )
    return target


def function_code(name: FunctionName) -> lambda_.Code:
    """The function's own asset: services/ plus its bundled wheels (or synth stops with
    BundleError first)."""
    return bundled_code(ServicesBundling(checked(name), (STAMP,)), TOKENGATE_FUNCTION=name)


def main() -> int:
    for name in BUNDLED:
        target = install(name)
        print(f"{name}: {', '.join(requirements(name))} for python {python_version()} arm64 in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
