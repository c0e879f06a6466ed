"""Client names through the admin API: unique in a tenant under concurrent issues, held while a
client is revoked and freed once it is purged, and independent across tenants."""

from __future__ import annotations

import threading

import boto3
import pytest

from tests.support import call_admin, issue

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


def test_client_names_stay_unique_under_concurrent_issues() -> None:
    results: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(call_admin("POST", BASE, {"client_name": "racer"}).status)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] + [409] * 7
    assert len(call_admin("GET", BASE).body["items"]) == 1


def test_a_name_is_held_while_revoked_and_freed_once_purged() -> None:
    client_id, _ = issue("acme", "ci")
    assert call_admin("POST", BASE, {"client_name": "ci"}).status == 409
    assert call_admin("DELETE", f"{BASE}/{client_id}").status == 200
    refused = call_admin("POST", BASE, {"client_name": "ci"})
    assert refused.status == 409 and "restore" in refused.body["message"]
    boto3.client("secretsmanager").delete_secret(
        SecretId=f"tokengate/clients/{client_id}", ForceDeleteWithoutRecovery=True
    )  # what the end of the recovery window does
    reissued, _ = issue("acme", "ci")
    assert reissued != client_id
    assert call_admin("POST", BASE, {"client_name": "ci"}).status == 409


def test_the_same_name_in_two_tenants_is_two_clients() -> None:
    a, _ = issue("acme", "ci")
    b, _ = issue("globex", "ci")
    assert a != b
