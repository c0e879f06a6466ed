"""Clients for the local stack's unit tests, issued through the admin use cases themselves."""

from __future__ import annotations

from typing import Any

from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext

ACTOR = "arn:aws:iam::123456789012:user/tester"


def issue(admin: AdminContext, name: str, **fields: Any) -> tuple[str, str]:
    issued = clients.issue(admin, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token
