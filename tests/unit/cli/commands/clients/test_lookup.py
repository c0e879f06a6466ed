"""A client name resolves to its own client, whether or not the admin API knows the name filter."""

from __future__ import annotations

from typing import Any

import pytest

from tokengate.cli.commands.clients import lookup


class ListingApi:
    """An admin API holding clients; ``names`` says whether it knows the ``name`` filter (an older
    deployment ignores the parameter and answers the tenant's first page)."""

    def __init__(self, clients_by_id: dict[str, str], *, names: bool) -> None:
        self.items = [{"client_id": cid, "client_name": name} for cid, name in clients_by_id.items()]
        self.names = names
        self.queries: list[Any] = []

    def call(self, method: str, path: str, body: Any = None, *, query: Any = None) -> Any:
        self.queries.append(query)
        wanted = (query or {}).get("name") if self.names else None
        items = [c for c in self.items if wanted is None or c["client_name"] == wanted]
        return {"items": items, "next_token": None}


@pytest.mark.parametrize("names", [True, False], ids=["name-lookup", "older-api"])
def test_a_name_resolves_to_its_own_client_whatever_the_api_answers(names: bool) -> None:
    api = ListingApi({"a" * 20: "first", "b" * 20: "billing"}, names=names)
    assert lookup.client_id(api, "acme", "billing") == "b" * 20  # type: ignore[arg-type]
    assert api.queries[0] == {"name": "billing"}
    assert len(api.queries) == 1, "the tenant's list is read only when the lookup finds nothing"
    with pytest.raises(Exception, match="client not found"):
        lookup.client_id(api, "acme", "nobody")  # type: ignore[arg-type]
    assert api.queries[1:] == [{"name": "nobody"}, {"limit": "50"}]
