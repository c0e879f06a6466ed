"""The faster botocore data loader: the same data as botocore's own, without the directory scan."""

from __future__ import annotations

import os
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from tokengate_core.runtime import aws
from tokengate_core.runtime.aws import SERVICES
from tokengate_core.runtime.botocore_data import ServiceDataLoader, shared_loader

DATA_FILES = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
MODEL_TYPES = ("service-2", "endpoint-rule-set-1")


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every scan of botocore's data directories, by model type."""
    seen: list[str] = []
    original = Loader.list_available_services

    def counting(self: Loader, type_name: str) -> list[str]:
        seen.append(type_name)
        return original(self, type_name)

    monkeypatch.setattr(Loader, "list_available_services", counting)
    return seen


def session_with(loader: Loader) -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", loader)
    return session


def test_it_loads_exactly_what_botocores_loader_loads() -> None:
    ours, theirs = ServiceDataLoader(), Loader()
    for name in DATA_FILES:
        assert ours.load_data(name) == theirs.load_data(name), name
    for service in SERVICES:
        for type_name in MODEL_TYPES:
            assert ours.load_service_model(service, type_name) == theirs.load_service_model(service, type_name)


def test_tokengates_clients_are_made_without_scanning_every_service(scans: list[str]) -> None:
    session = session_with(ServiceDataLoader())
    for service in SERVICES:
        client = session.create_client(service, region_name="us-east-1")
        assert client.meta.service_model.service_name == service
    assert scans == []


def test_another_service_is_found_by_botocores_own_scan(scans: list[str]) -> None:
    """A credential provider may need STS or SSO: such a client still comes from the same session."""
    session = session_with(ServiceDataLoader())
    sts = session.create_client("sts", region_name="us-east-1")
    assert sts.meta.service_model.service_name == "sts"
    assert "service-2" in scans
    with pytest.raises(UnknownServiceError):
        session.create_client("no-such-service", region_name="us-east-1")


def test_the_functions_sessions_share_one_loader_that_honours_aws_data_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    first, second = aws._session(), aws._session()
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader") is shared_loader(None)

    extra = os.pathsep.join([str(tmp_path / "a"), "~/models"])
    monkeypatch.setenv("AWS_DATA_PATH", extra)
    custom = aws._session().get_component("data_loader")
    assert isinstance(custom, ServiceDataLoader)
    assert custom.search_paths[:2] == [str(tmp_path / "a"), os.path.expanduser("~/models")]
    assert Loader.BUILTIN_DATA_PATH in custom.search_paths
