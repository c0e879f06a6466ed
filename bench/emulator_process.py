"""The emulator in a process of its own, for a section whose load would otherwise share one Python
interpreter lock with the service it calls.

The bench's emulator runs in the bench's process (other sections write into its backends
directly). Sixteen simulated containers serving in threads of that process starve it: every
call they make waits for the lock they hold, which DynamoDB, a service of its own, never does.
``python -m bench.emulator_process <table>`` starts the same emulator (moto behind
``tokengate.emulator``, with the bench's moto shortcuts) on loopback, creates the deployment's
table, prints its URL and serves until its standard input closes: when :func:`separate_emulator`
leaves, or when the bench process ends for any reason.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from unittest import mock

from bench.common import REPO, child_environment, quiet

#: The endpoint variables a function's clients read (tokengate_core.runtime.aws).
ENDPOINT_VARIABLES = tuple(name for name in child_environment("") if name.startswith("AWS_ENDPOINT_URL_"))
URL_PREFIX = "http://127.0.0.1:"


@contextlib.contextmanager
def separate_emulator(table: str) -> Iterator[str]:
    """A fresh emulator in its own process, with ``table``; its URL. It stops when this ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.emulator_process", table],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith(URL_PREFIX):
            raise RuntimeError(f"the emulator process did not start (it printed {url!r})")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def functions_calling(url: str, *modules: str) -> Iterator[list[Any]]:
    """The handler ``modules`` imported afresh with every endpoint at ``url`` (their clients are
    built at import), and imported afresh again with the previous endpoints afterwards."""
    try:
        with mock.patch.dict(os.environ, dict.fromkeys(ENDPOINT_VARIABLES, url)):
            with quiet():
                fresh = [importlib.reload(importlib.import_module(name)) for name in modules]
            yield fresh
    finally:
        with quiet():
            for name in modules:
                importlib.reload(sys.modules[name])


def main() -> None:
    from bench.common import speed_up_moto
    from tokengate.emulator import SecretsManagerEmulator

    speed_up_moto()
    emulator = SecretsManagerEmulator().start()
    try:
        emulator.create_table(sys.argv[1])
        print(emulator.url, flush=True)
        sys.stdin.read()  # until the parent closes it or ends
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
