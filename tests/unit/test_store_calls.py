"""The store's Secrets Manager calls: each on the right client, each a real client method."""

from __future__ import annotations

import boto3

from tests.support import store_calls
from tokengate_core.records.store import CONTROL_PLANE_OPERATIONS


def test_control_plane_calls_and_only_they_use_the_control_client() -> None:
    calls = store_calls()
    assert len(calls) >= 15  # the scan sees the calls (a refactor that hides them fails here)
    for operation, client in calls:
        expected = "_control" if operation in CONTROL_PLANE_OPERATIONS else "_client"
        assert client == expected, f"{operation} is made on self.{client}"
    assert {op for op, _ in calls} >= CONTROL_PLANE_OPERATIONS


def test_every_call_is_an_operation_of_the_secrets_manager_client() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    for operation, _ in store_calls():
        assert callable(getattr(client, operation, None)), operation
        assert getattr(client, operation).__name__ == operation  # what _call names in its messages
