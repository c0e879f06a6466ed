"""The token format: ``tg_<key id>_<secret><checksum>``.

* ``tg_`` makes a leaked token recognisable to secret scanners and to humans.
* The key id (20 lowercase base36 characters) names exactly one secret, so the authorizer never
  lists anything on the hot path.
* The secret is 32 bytes from :mod:`secrets` (256 bits) as 43 base62 characters.
* The checksum is the CRC32 of everything before it as 6 base62 characters, so a truncated or
  mistyped token is rejected before any backend call.

Only ``[0-9A-Za-z_]`` appears: safe in an HTTP header, a URL and a shell, and a double-click
selects the whole token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "tg_"
KEY_ID_LENGTH = 20
SECRET_LENGTH = 43
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + KEY_ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

KEY_ID_PATTERN = rf"[0-9a-z]{{{KEY_ID_LENGTH}}}"
_KEY_ID_RE = re.compile(rf"^{KEY_ID_PATTERN}$")
_TOKEN_RE = re.compile(
    rf"^{PREFIX}({KEY_ID_PATTERN})_([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


class TokenFormatError(ValueError):
    """A presented string is not a tokengate token; ``reason`` is a stable machine code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A structurally valid token. ``repr`` never shows the secret part."""

    key_id: str
    digest: bytes

    def __repr__(self) -> str:
        return f"ParsedToken(key_id={self.key_id!r})"


def _encode(value: int, alphabet: str, width: int) -> str:
    base = len(alphabet)
    chars = []
    for _ in range(width):
        value, rem = divmod(value, base)
        chars.append(alphabet[rem])
    if value:
        raise ValueError("value does not fit the width")
    return "".join(reversed(chars))


def _decode(text: str, alphabet: str) -> int:
    base = len(alphabet)
    value = 0
    for char in text:
        value = value * base + alphabet.index(char)
    return value


def checksum(body: str) -> str:
    """CRC32 of the token body: catches every single-character edit and every transposition."""
    return _encode(zlib.crc32(body.encode("ascii")), BASE62, CHECKSUM_LENGTH)


def digest(token: str) -> bytes:
    """SHA-256 of a token: what the authorizer keeps in memory and compares in constant time."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def new_key_id() -> str:
    """A random key id (used when a caller does not derive one)."""
    return _encode(secrets.randbits(103), BASE36, KEY_ID_LENGTH)


def derive_key_id(tenant: str, client_name: str) -> str:
    """The key id of a (tenant, client name) pair.

    Deriving it makes the name unique per tenant by construction: Secrets Manager's CreateSecret
    is atomic on the secret name, so two concurrent issues of one name cannot both succeed.
    The key id is public (it is in every token), so deriving it reveals nothing.
    """
    raw = hashlib.sha256(f"tokengate-key-id\x00{tenant}\x00{client_name}".encode()).digest()
    return _encode(int.from_bytes(raw[:13], "big") >> 1, BASE36, KEY_ID_LENGTH)


def is_key_id(value: str) -> bool:
    return bool(_KEY_ID_RE.match(value))


def generate(key_id: str) -> str:
    """A fresh token for ``key_id`` with 256 bits of randomness."""
    if not is_key_id(key_id):
        raise ValueError("invalid key id")
    secret = _encode(int.from_bytes(secrets.token_bytes(32), "big"), BASE62, SECRET_LENGTH)
    body = f"{PREFIX}{key_id}_{secret}"
    return body + checksum(body)


def parse(presented: str) -> ParsedToken:
    """Validate structure and checksum without any I/O; raise :class:`TokenFormatError`.

    The length check comes first so that a 10 KB header costs nothing to reject.
    """
    if len(presented) != TOKEN_LENGTH:
        raise TokenFormatError("malformed")
    match = _TOKEN_RE.match(presented)
    if match is None:
        raise TokenFormatError("malformed")
    body_end = TOKEN_LENGTH - CHECKSUM_LENGTH
    # The checksum is not secret, so an ordinary comparison is fine here.
    if checksum(presented[:body_end]) != match.group(3):
        raise TokenFormatError("bad_checksum")
    return ParsedToken(key_id=match.group(1), digest=digest(presented))


def from_authorization_header(value: str | None) -> str | None:
    """Accept ``<token>`` and ``Bearer <token>`` (scheme case-insensitive, as RFC 6750 allows)."""
    if value is None:
        return None
    value = value.strip()
    scheme, sep, rest = value.partition(" ")
    if sep and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None
