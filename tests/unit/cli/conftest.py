"""Fixtures of the CLI's unit tests: an environment without AWS or tokengate settings, and a
recording admin API in place of HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.support import FakeApi
from tokengate.cli.commands.clients import imports, read, write


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No AWS or tokengate settings from the test process; no ~/.aws either."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "TOKENGATE_ENDPOINT",
        "TOKENGATE_PORT",
        "TOKENGATE_HOME",
        "TOKENGATE_ADMIN_ACCESS_KEY_ID",
        "TOKENGATE_ADMIN_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi({"client": {"client_name": "partner", "tenant": "acme"}, "token": "t", "buckets": []})
    for module in (read, write, imports):
        monkeypatch.setattr(module, "admin_client", lambda args: fake)
    yield fake
