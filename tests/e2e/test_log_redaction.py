"""The local stack with every logging switch on prints no token, Authorization value or session
token: whatever a client sends, whatever the admin API returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from tests.e2e.conftest import ROLE_SESSION, write_principals
from tests.e2e.harness import RunningStack, cli_json, curl, request, start_stack
from tests.e2e.signing import admin
from tests.integration.test_log_redaction import IMPORTED, LOUD, WEAK
from tests.support import mistyped
from tokengate.local.location import DEFAULT_REGION
from tokengate.sigv4 import sign
from tokengate_core.runtime.observability import REDACTED

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def loud_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state_dir: Path = tmp_path_factory.mktemp("loud") / "state"
    write_principals(state_dir)
    running = start_stack(state_dir, LOUD)
    yield running
    running.stop()


def test_no_credential_reaches_the_stack_output(loud_stack: RunningStack) -> None:
    issued = cli_json(loud_stack, "clients", "issue", "--tenant", "logs", "--name", "loud")
    token = issued["token"]
    client_id = issued["client"]["client_id"]
    for authorization in (token, f"Bearer {token}"):
        assert curl(f"{loud_stack.url}/invoke", {"Authorization": authorization}).status == 200
    assert curl(f"{loud_stack.url}/invoke", {"Authorization": mistyped(token)}).status == 403

    rotated = admin(loud_stack, "POST", f"/admin/tenants/logs/clients/{client_id}/rotate")
    assert rotated.status == 200
    new_token = rotated.body["token"]
    # Tokens in request bodies: a leak report (in the URL too) and imports, accepted and refused.
    report = {"tokens": [token], "url": f"https://paste.example/{token}?t={new_token}"}
    assert admin(loud_stack, "POST", "/admin/leaks", report).status == 200
    imported = {"tenant": "logs", "client_name": "legacy", "token": IMPORTED}
    assert admin(loud_stack, "POST", "/admin/imports", imported).status == 201
    weak = {"tenant": "logs", "client_name": "weak", "token": WEAK}
    assert admin(loud_stack, "POST", "/admin/imports", weak).status == 422

    session = Credentials(
        ROLE_SESSION["access_key_id"], ROLE_SESSION["secret_access_key"], ROLE_SESSION["session_token"]
    )
    signed = sign(
        "GET", f"{loud_stack.url}/admin/tenants/logs/clients", credentials=session, region=DEFAULT_REGION, body=b""
    )
    assert request("GET", signed.url, headers=signed.headers).status == 200
    signature = signed.headers["Authorization"]

    loud_stack.stop()
    printed = loud_stack.output()
    # Event logging and debug output were on: the events are there, redacted.
    assert '"routeKey"' in printed and REDACTED in printed
    assert "DEBUG" in printed
    secrets = (token, new_token, signature, signature.rsplit("=", 1)[1], ROLE_SESSION["session_token"], IMPORTED, WEAK)
    for secret in secrets:
        assert secret not in printed
    for value in (token, new_token):
        assert value.split("_")[2] not in printed
