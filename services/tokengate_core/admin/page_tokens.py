"""The admin list's paging cursor: Secrets Manager's NextToken, MAC'd together with the tenant it
belongs to, so a caller can neither forge one nor page through another tenant's clients.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from tokengate_core.errors import BadRequestError
from tokengate_core.tokens import keyring

PAGE_TOKEN_PATTERN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})")
_PAGE_TOKEN_LABEL = b"tokengate page token v1"


def page_token_key(ring: keyring.KeyRing) -> bytes:
    """The MAC key for page tokens: derived from the deployment's keyring, so it is secret, the
    same in every admin container, and needs nothing provisioned. A token this deployment did not
    issue, a token altered in any bit, or one issued for another tenant is refused with 400
    before Secrets Manager is called."""
    return ring.derive(_PAGE_TOKEN_LABEL)


def _page_mac(key: bytes, tenant: str, payload: str) -> str:
    message = b"\0".join([_PAGE_TOKEN_LABEL, tenant.encode(), payload.encode()])
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_page_token(tenant: str, store_token: str, key: bytes) -> str:
    """Our page token wraps Secrets Manager's, MAC'd together with the tenant it belongs to:
    ``<base64url NextToken>.<base64url HMAC-SHA256>``."""
    payload = _b64(store_token.encode())
    return f"{payload}.{_page_mac(key, tenant, payload)}"


def decode_page_token(tenant: str, token: str, key: bytes) -> str:
    """Secrets Manager's NextToken, if ``token`` is one we issued for ``tenant``; otherwise 400."""
    match = PAGE_TOKEN_PATTERN.fullmatch(token)
    if match is not None:
        payload, mac = match.groups()
        if hmac.compare_digest(_page_mac(key, tenant, payload), mac):
            try:
                store_token = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
            except (ValueError, binascii.Error):
                store_token = ""
            if store_token:
                return store_token
    raise BadRequestError("invalid next_token: pass back the value a previous page returned")
