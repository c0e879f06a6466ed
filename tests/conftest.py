"""Test harness: one embedded Secrets Manager per test process, started before any handler import.

Handlers read their configuration and build clients at import (cold start), so the endpoint and
fake credentials must be in the environment first. Nothing here reaches beyond loopback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from tokengate import use_services_path
from tokengate.emulator import SecretsManagerEmulator

use_services_path()

from tokengate_core.deployment.config import AdminSettings  # noqa: E402 - needs services/ on the path
from tokengate_core.deployment.functions import FUNCTIONS  # noqa: E402

_EMULATOR = SecretsManagerEmulator()

# Property tests assert answers, never speed: on a loaded machine a first example that compiles
# regexes or starts a client can take longer than Hypothesis's default 200 ms deadline.
settings.register_profile("tokengate", deadline=None)
settings.load_profile("tokengate")


def pytest_configure(config: pytest.Config) -> None:
    _EMULATOR.start()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": _EMULATOR.url,
            "AWS_ENDPOINT_URL_DYNAMODB": _EMULATOR.url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": _EMULATOR.url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "tokengate-test",
            "POWERTOOLS_DEV": "false",
        }
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    _EMULATOR.stop()


def forget_cached_state() -> None:
    import sys

    if "admin.app" in sys.modules:
        sys.modules["admin.app"].admin_context.reset()
    if "authorizer.app" in sys.modules:
        sys.modules["authorizer.app"].authorizer.reset()


@pytest.fixture
def emulator() -> Iterator[SecretsManagerEmulator]:
    """A clean emulator for one test: no secrets, no counts, no faults; the deployment's table.
    Handlers already imported forget what they cached from the previous test's deployment."""
    _EMULATOR.reset()
    _EMULATOR.create_table(AdminSettings().table_name)
    forget_cached_state()
    yield _EMULATOR
    _EMULATOR.inject(None)


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the functions wrote: log lines (through each logger's own JSON formatter,
    since Powertools binds its stream at import) plus EMF metrics printed to stdout."""
    import io
    import logging

    buffer = io.StringIO()
    attached: list[tuple[logging.Logger, logging.Handler]] = []
    for spec in FUNCTIONS.values():
        target = logging.getLogger(spec.service)
        formatter = next((h.formatter for h in target.handlers if h.formatter), None)
        stream: logging.Handler = logging.StreamHandler(buffer)
        if formatter is not None:
            stream.setFormatter(formatter)
        target.addHandler(stream)
        attached.append((target, stream))

    def read() -> str:
        out = capsys.readouterr()
        return buffer.getvalue() + out.out + out.err

    yield read
    for target, stream in attached:
        target.removeHandler(stream)
