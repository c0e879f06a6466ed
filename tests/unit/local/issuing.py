"""Clients for the local stack's unit tests, issued through the client service itself."""

from __future__ import annotations

from typing import Any

from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.clients import ClientService

ACTOR = "arn:aws:iam::123456789012:user/tester"


def issue(service: ClientService, name: str, **fields: Any) -> tuple[str, str]:
    issued = service.issue("acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token
