"""Finding clients through the admin API: a client's path, the tenant's list page by page, and a
client name resolved to its id (every command that takes CLIENT accepts either)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient

#: Clients per request when --page-size is not given (the CLI's choice; the API caps it).
DEFAULT_PAGE_SIZE = 50


def clients_path(tenant: str, client: str | None = None, action: str | None = None) -> str:
    path = f"/admin/tenants/{quote(tenant, safe='')}/clients"
    if client is not None:
        path += f"/{quote(client, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


@dataclass
class Listing:
    items: list[Any]
    next_token: str | None


def list_clients(
    api: AdminClient,
    tenant: str,
    *,
    status: str | None = None,
    unused_since: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_items: int | None = None,
    next_token: str | None = None,
) -> Listing:
    """Up to ``max_items`` clients (all of them when None) from ``next_token`` on, and where to go
    on from. No page is cut short: the last request asks for just what is missing, so the API's
    own next_token is the place to resume."""
    items: list[Any] = []
    while True:
        wanted = page_size if max_items is None else min(page_size, max_items - len(items))
        query = {"limit": str(wanted)}
        if status:
            query["status"] = status
        if unused_since:
            query["unused_since"] = unused_since
        if next_token:
            query["next_token"] = next_token
        page = api.call("GET", clients_path(tenant), query=query)
        items += page.get("items", [])
        next_token = page.get("next_token") or None
        if next_token is None or (max_items is not None and len(items) >= max_items):
            return Listing(items, next_token)


def client_id(api: AdminClient, tenant: str, value: str) -> str:
    """A client id as given, or the id of the tenant's client of that name: the API looks a name up
    in one read of its name table (revoked clients included: they can be restored), and the
    tenant's list is read only when that finds nothing."""
    from tokengate_core.records.rules import CLIENT_NAME_PATTERN
    from tokengate_core.tokens import format as tokens

    if tokens.is_key_id(value):
        return value
    if not re.match(CLIENT_NAME_PATTERN, value):
        # A token given where a client goes must not be printed back.
        shown = "CLIENT" if tokens.is_secret_shaped(value) else repr(value)
        raise CliError("usage", f"{shown} is neither a client id nor a client name", EXIT_USAGE)
    page = api.call("GET", clients_path(tenant), query={"name": value}).get("items", [])
    found = [c["client_id"] for c in page if c.get("client_name") == value]
    if not found:
        # An admin API older than name lookups ignores ``name`` (hence the filter above), and a
        # name recorded before the name table existed is only in the list: look there too.
        found = [c["client_id"] for c in list_clients(api, tenant).items if c.get("client_name") == value]
    if not found:
        raise CliError("not_found", "client not found")
    if len(found) > 1:  # names are unique per tenant: only a broken name table could allow this
        raise CliError("conflict", f"{len(found)} clients are named {value!r}: give a client id ({', '.join(found)})")
    return str(found[0])
