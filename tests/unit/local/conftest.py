"""Fixtures of the local stack's unit tests."""

from __future__ import annotations

import pytest

from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.runtime.aws import make_registry, make_store


@pytest.fixture
def admin(emulator: SecretsManagerEmulator) -> AdminContext:
    settings = AdminSettings()
    return AdminContext(store=make_store(settings), settings=settings, registry=make_registry(settings))
