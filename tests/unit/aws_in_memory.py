"""Unit tests that need Secrets Manager and DynamoDB use moto's in-memory backends (the ``aws``
fixture in conftest.py): an admin context over them, and AWS's errors made by hand."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.records.names import NameRegistry, create_table
from tokengate_core.records.store import SecretsStore

ACTOR = "arn:aws:iam::123456789012:user/tester"


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "Op",
    )


class Failing:
    """A Secrets Manager client whose ``operation`` fails as Secrets Manager would."""

    def __init__(self, client: Any, operation: str, error: Exception) -> None:
        self._client, self._operation, self._error = client, operation, error

    def __getattr__(self, name: str) -> Any:
        if name == self._operation:

            def fail(**_: Any) -> Any:
                raise self._error

            fail.__name__ = name
            return fail
        return getattr(self._client, name)


def context(secretsmanager: Any, dynamodb: Any = None) -> AdminContext:
    """An admin context over ``secretsmanager`` and ``dynamodb`` (default: moto's own client)."""
    settings = AdminSettings()
    create_table(boto3.client("dynamodb", region_name="us-east-1"), settings.table_name)
    dynamodb = dynamodb or boto3.client("dynamodb", region_name="us-east-1")
    store = SecretsStore(secretsmanager, settings.secret_prefix)
    return AdminContext(store=store, settings=settings, registry=NameRegistry(dynamodb, settings.table_name))
