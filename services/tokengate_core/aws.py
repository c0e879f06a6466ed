"""The boto3 client, created once per container, with short timeouts and bounded retries.

The endpoint comes from boto3's standard ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` variable, so the
same code talks to AWS or to the local stack's emulator with no local-only branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokengate_core.config import AdminSettings, StoreSettings
from tokengate_core.observability import keep_bodies_out_of_sdk_logs
from tokengate_core.registry import NameRegistry
from tokengate_core.store import SecretsStore

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_secretsmanager import SecretsManagerClient


def _config(settings: StoreSettings) -> Config:
    from botocore.config import Config

    keep_bodies_out_of_sdk_logs()
    return Config(
        connect_timeout=settings.sm_connect_timeout_seconds,
        read_timeout=settings.sm_read_timeout_seconds,
        # total_max_attempts counts the first call; botocore's max_attempts would count retries only.
        retries={"total_max_attempts": settings.sm_max_attempts, "mode": "standard"},
    )


def secretsmanager_client(settings: StoreSettings) -> SecretsManagerClient:
    import boto3  # deferred: a container that never misses the cache never pays for it

    return boto3.session.Session().client("secretsmanager", config=_config(settings))


def make_registry(settings: AdminSettings) -> NameRegistry:
    """The endpoint comes from ``AWS_ENDPOINT_URL_DYNAMODB`` where set (the local stack)."""
    import boto3

    return NameRegistry(boto3.session.Session().client("dynamodb", config=_config(settings)), settings.table_name)


def make_store(settings: StoreSettings, kms_key_id: str | None = None) -> SecretsStore:
    return SecretsStore(secretsmanager_client(settings), settings.secret_prefix, kms_key_id)
