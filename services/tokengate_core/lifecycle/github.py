"""GitHub's secret scanning partner contract: the signature on each alert, and GitHub's keys.

GitHub POSTs a JSON array of matches and signs the raw body: ``Github-Public-Key-Identifier``
names one of the keys it publishes at ``https://api.github.com/meta/public_keys/secret_scanning``
(``{"public_keys": [{"key_identifier", "key": <PEM>, "is_current"}]}``), and
``Github-Public-Key-Signature`` is the base64 DER ECDSA P-256 SHA-256 signature of the body as sent.
Any listed key is accepted, current or not: GitHub signs with whichever it lists.

The keys are fetched (https, a bounded timeout, no redirects) or read from a file (tests, offline
use). A deployment shares one copy of the list among its containers (records/github_keys.py) and
asks GitHub at most once per TTL: GitHub limits unauthenticated requests per address, and Lambda's
addresses are shared. Early, for a key id not in the list, the deployment asks at most once a
minute: an outsider's made-up key ids cannot make it ask more than that. A key once held is never
dropped because a refresh failed: an alert signed with a known key verifies whatever GitHub's API
answers; only a list fetched successfully replaces it. With no key at all (none fetched or shared
yet, and GitHub unreachable), nothing can be verified and the caller answers 503 (GitHub delivers
again later).

Only this module imports ``cryptography`` (bundled with the leak function for its platform);
verification is the library's, nothing here is hand-made cryptography.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tokengate_core.errors import TokengateError

KEY_ID_HEADER = "github-public-key-identifier"
SIGNATURE_HEADER = "github-public-key-signature"
#: Between two refreshes of a deployment's list ahead of its TTL (a key id not held, or a refresh
#: that failed), and between two looks of one container at the shared copy.
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


class SharedCopy(Protocol):
    """A copy of the key list as the deployment keeps it: what GitHub served, and when."""

    @property
    def body(self) -> bytes: ...
    @property
    def fetched_at(self) -> float: ...


class SharedList(Protocol):
    """Where a deployment keeps the list for all its containers (records.github_keys.SharedKeyList);
    each call may raise (the table unreachable): the keys are then this container's business."""

    def read(self) -> SharedCopy | None: ...
    def claim_refresh(self, now: float, *, stale_before: float | None, retry_after: float) -> bool: ...
    def store(self, body: bytes, fetched_at: float) -> None: ...


class GitHubKeys:
    """GitHub's signing keys: from ``file`` if given, else GitHub's list at ``url``, kept ``ttl``
    seconds in ``shared`` (the deployment's copy) and in this container."""

    def __init__(
        self,
        *,
        url: str,
        file: str | None,
        ttl: float,
        timeout: float,
        shared: SharedList | None = None,
        fetch: Fetch = fetch_https,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url, self._file, self._ttl, self._timeout = url, file, ttl, timeout
        self._shared, self._fetch, self._clock = shared, fetch, clock
        self._keys: dict[str, ec.EllipticCurvePublicKey] | None = None
        self._fetched_at = float("-inf")  # when GitHub served the keys held (or the file was read)
        self._looked_at = float("-inf")  # this container's last refresh attempt

    def key(self, key_id: str) -> ec.EllipticCurvePublicKey | None:
        """The key with this id, or None if GitHub lists none; KeysUnavailable if no key is held."""
        now = self._clock()
        if now - self._fetched_at >= self._ttl:
            self._refresh(now, wanted=None)
        if self._keys is not None and key_id not in self._keys:
            self._refresh(now, wanted=key_id)  # a key GitHub may have added since
        if self._keys is None:
            raise KeysUnavailable("GitHub's keys unavailable: none fetched or shared yet")
        return self._keys.get(key_id)

    def _refresh(self, now: float, *, wanted: str | None) -> None:
        """Newer keys, for the TTL (``wanted`` None) or for a key id not held; at most once a minute
        per container, whatever the outcome."""
        if now - self._looked_at < MIN_REFRESH_SECONDS and self._keys is not None:
            return
        self._looked_at = now
        if self._file:
            with contextlib.suppress(OSError, KeysUnavailable):
                self._hold(Path(self._file).read_bytes(), now)
            return
        if self._shared is not None:
            try:
                self._refresh_shared(self._shared, now, wanted)
                return
            except (TokengateError, ValueError):
                pass  # the shared copy is unreachable: this container asks GitHub itself
        self._fetch_from_github(now)

    def _refresh_shared(self, shared: SharedList, now: float, wanted: str | None) -> None:
        """Take the deployment's copy if it is newer; if it is stale still (or lacks ``wanted``),
        fetch from GitHub only if this container wins the claim to."""
        copy = shared.read()
        if copy is not None and copy.fetched_at > self._fetched_at:
            with contextlib.suppress(KeysUnavailable):
                self._hold(copy.body, copy.fetched_at)
        if wanted is None and now - self._fetched_at < self._ttl:
            return  # another container refreshed it
        if wanted is not None and self._keys is not None and wanted in self._keys:
            return
        stale_before = now - self._ttl if wanted is None else None
        if shared.claim_refresh(now, stale_before=stale_before, retry_after=MIN_REFRESH_SECONDS):
            data = self._fetch_from_github(now)
            if data is not None:
                shared.store(data, now)
        # Else another container is on it, or asked GitHub less than a minute ago: the keys held
        # serve meanwhile.

    def _fetch_from_github(self, now: float) -> bytes | None:
        """GitHub's list, held if it parses; None (and the keys held kept) if it cannot be had."""
        try:
            data = self._fetch(self._url, self._timeout)
            self._hold(data, now)
        except (OSError, ValueError, http.client.HTTPException, KeysUnavailable):
            return None
        return data

    def _hold(self, data: bytes, fetched_at: float) -> None:
        """Hold the keys of ``data``: a list with no usable key replaces nothing."""
        keys = parse_keys(data)
        if not keys:
            raise KeysUnavailable("the key list holds no P-256 key")
        self._keys, self._fetched_at = keys, fetched_at
