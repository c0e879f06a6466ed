"""The listing's page tokens: a MAC'd cursor that only its own tenant and deployment can continue."""

from __future__ import annotations

import pytest

from tokengate_core.admin.page_tokens import decode_page_token, encode_page_token
from tokengate_core.errors import (
    BadRequestError,
)

KEY = b"k" * 32


def test_a_page_token_round_trips_for_its_tenant_only() -> None:
    token = encode_page_token("acme", "secrets-manager-next-token", KEY)
    assert decode_page_token("acme", token, KEY) == "secrets-manager-next-token"
    for tenant, presented, key in (
        ("globex", token, KEY),  # another tenant's page
        ("acme", token, b"x" * 32),  # another deployment's key
        ("acme", token[:-1] + ("A" if token[-1] != "A" else "B"), KEY),  # a changed MAC
        ("acme", "not-a-page-token", KEY),
        ("acme", encode_page_token("acme", "", KEY), KEY),  # an empty store token is no token
    ):
        with pytest.raises(BadRequestError, match="invalid next_token"):
            decode_page_token(tenant, presented, key)
