"""The faster botocore data loader: the same data as botocore's own, without the directory scan, and
for the authorizer the data the asset derives from botocore's (infra/sdk_data.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from infra.sdk_data import derive
from tokengate_core.runtime import aws, botocore_data
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


def _documentation_free(value: Any) -> Any:
    """``value`` with every ``documentation`` entry of a model removed (what the build strips)."""
    if isinstance(value, dict):
        return {k: _documentation_free(v) for k, v in value.items() if k != "documentation" or not isinstance(v, str)}
    if isinstance(value, list):
        return [_documentation_free(v) for v in value]
    return value


@pytest.fixture
def derived(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An asset with the derived data, as the build writes it, where the loader looks for it."""
    folder = derive(tmp_path / "asset")
    monkeypatch.setattr(botocore_data, "DERIVED_DIR", str(folder))
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    botocore_data._loader.cache_clear()
    yield folder
    botocore_data._loader.cache_clear()


def test_the_derived_data_is_botocores_without_documentation_and_other_services(derived: Path) -> None:
    ours, theirs = shared_loader(None, True), Loader()
    assert derived in [Path(p) for p in ours.search_paths]
    for service in SERVICES:
        model = ours.load_service_model(service, "service-2")
        assert model == _documentation_free(theirs.load_service_model(service, "service-2"))
        assert ours.load_service_model(service, "endpoint-rule-set-1") == theirs.load_service_model(
            service, "endpoint-rule-set-1"
        )
    endpoints, full = ours.load_data("endpoints"), theirs.load_data("endpoints")
    assert [p["partition"] for p in endpoints["partitions"]] == [p["partition"] for p in full["partitions"]]
    for mine, botocores in zip(endpoints["partitions"], full["partitions"], strict=True):
        assert mine["services"] == {k: v for k, v in botocores["services"].items() if k in SERVICES}
        assert {k: v for k, v in mine.items() if k != "services"} == {
            k: v for k, v in botocores.items() if k != "services"
        }


def test_the_authorizers_clients_on_derived_data_resolve_and_sign_as_on_botocores(derived: Path) -> None:
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        for service in SERVICES:
            slim = session_with(shared_loader(None, True)).create_client(service, region_name=region)
            full = session_with(Loader()).create_client(service, region_name=region)
            assert slim.meta.endpoint_url == full.meta.endpoint_url
            assert slim.meta.region_name == full.meta.region_name
            assert slim.meta.service_model.signing_name == full.meta.service_model.signing_name
            assert sorted(slim.meta.method_to_api_mapping) == sorted(full.meta.method_to_api_mapping)


def test_a_missing_or_unreadable_derived_file_is_read_from_botocore(derived: Path) -> None:
    (derived / "endpoints.json").write_text("{not json")
    for model in derived.glob("dynamodb/*/service-2.json"):
        model.unlink()
    loader = shared_loader(None, True)
    assert loader.load_data("endpoints") == Loader().load_data("endpoints")
    assert loader.load_service_model("dynamodb", "service-2") == Loader().load_service_model("dynamodb", "service-2")


def test_only_the_authorizers_session_reads_the_derived_data(derived: Path) -> None:
    assert str(derived) in aws.new_session().get_component("data_loader").search_paths
    assert str(derived) not in aws._session().get_component("data_loader").search_paths


def test_without_the_derived_folder_the_authorizer_reads_botocores_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(botocore_data, "DERIVED_DIR", str(tmp_path / "absent"))
    botocore_data._loader.cache_clear()
    try:
        loader = aws.new_session().get_component("data_loader")
        assert loader.search_paths == [Loader.CUSTOMER_DATA_PATH, Loader.BUILTIN_DATA_PATH]
    finally:
        botocore_data._loader.cache_clear()
