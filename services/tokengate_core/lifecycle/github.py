"""GitHub's secret scanning partner contract: the signature on each alert, and GitHub's keys.

GitHub POSTs a JSON array of matches and signs the raw body: ``Github-Public-Key-Identifier``
names one of the keys it publishes at ``https://api.github.com/meta/public_keys/secret_scanning``
(``{"public_keys": [{"key_identifier", "key": <PEM>, "is_current"}]}``), and
``Github-Public-Key-Signature`` is the base64 DER ECDSA P-256 SHA-256 signature of the body as sent.
Any listed key is accepted, current or not: GitHub signs with whichever it lists.

The keys are fetched (https, a bounded timeout, no redirects) or read from a file (tests, offline
use), kept for a TTL, and refetched early only for a key id not in the list, at most once a
minute: an outsider's made-up key ids cannot make us fetch more than that. If a refresh fails,
the keys already held serve one more TTL; with none at all, nothing can be verified and the
caller answers 503 (GitHub delivers again later).

Only this module imports ``cryptography`` (bundled with the leak function for its platform);
verification is the library's, nothing here is hand-made cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_ID_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
#: A key id is never refetched for more often than this.
MIN_REFRESH_SECONDS = 60.0
#: The key list is small (a few PEM keys); anything bigger is not GitHub's.
MAX_KEYS_BYTES = 256 * 1024
#: A DER-encoded P-256 signature is at most 72 bytes; the header's base64 of it at most 96.
MAX_SIGNATURE_CHARS = 128
MAX_KEY_ID_CHARS = 128


class KeysUnavailable(Exception):
    """No GitHub key is held and none could be fetched: nothing can be verified now."""


Fetch = Callable[[str, float], bytes]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an error: the keys come from the configured URL or nowhere


def fetch_https(url: str, timeout: float) -> bytes:
    """GET the key list: the URL is configuration (https, or http on loopback), never a caller's."""
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the settings' pattern
        url, headers={"Accept": "application/json", "User-Agent": "tokengate-secret-scanning"}
    )
    with opener.open(request, timeout=timeout) as response:
        if response.status != 200:
            raise KeysUnavailable(f"key list answered {response.status}")
        data: bytes = response.read(MAX_KEYS_BYTES + 1)
    if len(data) > MAX_KEYS_BYTES:
        raise KeysUnavailable("key list too large")
    return data


def parse_keys(text: bytes | str) -> dict[str, ec.EllipticCurvePublicKey]:
    """The P-256 keys of a key list, by id; an entry that is not one is skipped."""
    try:
        data = json.loads(text)
    except ValueError:
        raise KeysUnavailable("key list is not JSON") from None
    entries = data.get("public_keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable("key list has no public_keys")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key_id, pem = entry.get("key_identifier"), entry.get("key")
        if not isinstance(key_id, str) or not isinstance(pem, str) or not 0 < len(key_id) <= MAX_KEY_ID_CHARS:
            continue
        try:
            key = serialization.load_pem_public_key(pem.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
            continue
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            keys[key_id] = key
    return keys


def verify(key: ec.EllipticCurvePublicKey, signature: str, body: bytes) -> bool:
    """ECDSA P-256 SHA-256 over the raw body, the signature base64 DER; False for anything else."""
    if len(signature) > MAX_SIGNATURE_CHARS:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


class GitHubKeys:
    """GitHub's signing keys: from ``file`` if given, else from ``url``; kept ``ttl`` seconds."""

    def __init__(
        self,
        *,
        url: str,
        file: str | None,
        ttl: float,
        timeout: float,
        fetch: Fetch = fetch_https,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url, self._file, self._ttl, self._timeout = url, file, ttl, timeout
        self._fetch, self._clock = fetch, clock
        self._keys: dict[str, ec.EllipticCurvePublicKey] | None = None
        self._loaded_at = float("-inf")
        self._tried_at = float("-inf")

    def key(self, key_id: str) -> ec.EllipticCurvePublicKey | None:
        """The key with this id, or None if GitHub lists none; KeysUnavailable if none is held."""
        now = self._clock()
        if now - self._loaded_at >= self._ttl:
            self._refresh(now)
        assert self._keys is not None
        found = self._keys.get(key_id)
        if found is None and now - self._tried_at >= MIN_REFRESH_SECONDS:
            # A key GitHub added since the last fetch; at most one fetch a minute for unknown ids.
            self._refresh(now)
            found = self._keys.get(key_id)
        return found

    def _refresh(self, now: float) -> None:
        if now - self._tried_at < MIN_REFRESH_SECONDS and self._keys is not None:
            return
        self._tried_at = now
        try:
            data = Path(self._file).read_bytes() if self._file else self._fetch(self._url, self._timeout)
            self._keys, self._loaded_at = parse_keys(data), now
        except (OSError, KeysUnavailable) as error:
            # The keys held serve one more TTL; past that, or with none, nothing is verified.
            if self._keys is None or now - self._loaded_at >= 2 * self._ttl:
                self._keys = None
                raise KeysUnavailable(f"GitHub's keys unavailable ({type(error).__name__})") from None
