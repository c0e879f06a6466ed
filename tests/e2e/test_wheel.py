"""tokengate as a user installs it: the wheel built from this checkout, in a new virtualenv that has
only the run lock's packages, used from a folder outside the checkout. The local stack must start
from the wheel's own copy of the handlers and issue a token the stage accepts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, START_TIMEOUT, curl
from tokengate.local.process import READY_PREFIX

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wheel")]

#: What the checkout holds besides the sources (build output, environments, local state).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "cdk.out", "build", "dist", "*.egg-info", "__pycache__", ".tokengate", ".*_cache"
)


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_installed_wheel_runs_the_local_stack_and_issues_a_token(tmp_path: Path) -> None:
    # Nothing of this checkout or of the test run may leak into the installed tool.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TOKENGATE_", "PYTEST_", "AWS_", "PYTHON", "VIRTUAL_ENV"))
    }
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)
    dist = tmp_path / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "-w",
        dist,
        ".",
        cwd=source,
        env=env,
    )
    (wheel,) = dist.glob("tokengate-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=env)
    pip: list[str | Path] = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "--require-hashes", "--no-deps", "-r", REPO / "requirements" / "run.txt", cwd=tmp_path, env=env)
    run(*pip, "--no-deps", wheel, cwd=tmp_path, env=env)
    run(venv / "bin" / "python", "-m", "pip", "check", cwd=tmp_path, env=env)  # the wheel's own requirements hold

    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    where = run(venv / "bin" / "python", "-c", "import tokengate; print(tokengate.SERVICES_DIR)", cwd=project, env=env)
    assert Path(where.strip()).is_relative_to(venv), where  # the wheel's copy, not this checkout's
    # The console's page and vendored libraries, every file of them, from the wheel's own copy.
    listing = (
        "from tokengate.console.app import STATIC_DIR as d; print(d); "
        "print(*sorted(str(p.relative_to(d)) for p in d.rglob('*') if p.is_file()))"
    )
    static_dir, shipped = run(venv / "bin" / "python", "-c", listing, cwd=project, env=env).splitlines()
    assert Path(static_dir).is_relative_to(venv), static_dir
    static = REPO / "tokengate" / "console" / "static"
    assert shipped.split() == sorted(str(p.relative_to(static)) for p in static.rglob("*") if p.is_file())
    tokengate = venv / "bin" / "tokengate"
    assert run(tokengate, "--version", cwd=project, env=env).startswith("tokengate ")

    stack = subprocess.Popen(
        [str(tokengate), "local", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = threading.Event()
    url: list[str] = []
    lines: list[str] = []

    def watch() -> None:
        assert stack.stderr is not None
        for line in stack.stderr:
            lines.append(line)
            if line.startswith(READY_PREFIX):
                url.append(line[len(READY_PREFIX) :].strip())
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        ready.wait(START_TIMEOUT)
        assert url, "".join(lines) + (stack.stdout.read() if stack.poll() is not None and stack.stdout else "")
        # From a subfolder: the CLI finds the stack's state folder (.tokengate) by itself, and in
        # it the URL of the stack, on whatever port it runs (here a free one, --port 0).
        token = run(
            tokengate,
            "clients",
            "issue",
            "-t",
            "acme",
            "-n",
            "from-the-wheel",
            "-o",
            "token",
            cwd=project / "sub",
            env=env,
        ).strip()
        answer = curl(f"{url[0]}/invoke", {"Authorization": token})
        assert answer.status == 200 and answer.body["client_name"] == "from-the-wheel", answer
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=30)
    assert (project / ".tokengate" / "state.db").exists()
