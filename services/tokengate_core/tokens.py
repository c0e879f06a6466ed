"""The token format: ``tg_<key id>_<nonce><tag><checksum>``.

* ``tg_`` makes a leaked token recognisable to secret scanners and to humans.
* The key id (20 lowercase base36 characters, 103 random bits) names exactly one secret, so the
  authorizer never lists anything on the hot path. It is random: it says nothing about the
  tenant or the client name, and no two deployments share one.
* The nonce is 160 random bits from :mod:`secrets` as 27 base62 characters.
* The tag is a MAC of everything before it under the deployment's signing key
  (:mod:`tokengate_core.keyring`), 95 bits as 16 base62 characters. It lets the authorizer tell a
  token tokengate minted from a made-up one with no backend read.
* The checksum is the CRC32 of everything before it as 6 base62 characters: public, so secret
  scanners and humans can tell a typo from a token without any key.

Only ``[0-9A-Za-z_]`` appears: safe in an HTTP header, a URL and a shell, and a double-click
selects the whole token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "tg_"
KEY_ID_LENGTH = 20
NONCE_LENGTH = 27
TAG_LENGTH = 16
SECRET_LENGTH = NONCE_LENGTH + TAG_LENGTH
CHECKSUM_LENGTH = 6
#: Everything a tag covers: prefix, key id, separator and nonce.
SIGNED_LENGTH = len(PREFIX) + KEY_ID_LENGTH + 1 + NONCE_LENGTH
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
    signed: str  # what the tag covers
    tag: str

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


def checksum(body: str) -> str:
    """CRC32 of the token body: catches every single-character edit and every transposition."""
    return _encode(zlib.crc32(body.encode("ascii")), BASE62, CHECKSUM_LENGTH)


def digest(token: str) -> bytes:
    """SHA-256 of a token: what the authorizer keeps in memory and compares in constant time."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def new_key_id() -> str:
    """A random key id: unguessable, and unrelated to the tenant or client name it will serve."""
    return encode_key_id(secrets.randbits(103))


def encode_key_id(value: int) -> str:
    return _encode(value, BASE36, KEY_ID_LENGTH)


def encode_tag(mac: bytes) -> str:
    """The token's tag from a MAC's first 95 bits (as many as 16 base62 characters hold)."""
    return _encode(int.from_bytes(mac[:12], "big") >> 1, BASE62, TAG_LENGTH)


def is_key_id(value: str) -> bool:
    return bool(_KEY_ID_RE.match(value))


def generate(key_id: str, sign: Callable[[str], str]) -> str:
    """A fresh token for ``key_id``: 160 random bits, tagged by ``sign`` (a keyring's signer)."""
    if not is_key_id(key_id):
        raise ValueError("invalid key id")
    nonce = _encode(secrets.randbits(160), BASE62, NONCE_LENGTH)
    signed = f"{PREFIX}{key_id}_{nonce}"
    tag = sign(signed)
    if len(tag) != TAG_LENGTH:
        raise ValueError("a tag has exactly TAG_LENGTH characters")
    body = signed + tag
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
    return ParsedToken(
        key_id=match.group(1),
        digest=digest(presented),
        signed=presented[:SIGNED_LENGTH],
        tag=presented[SIGNED_LENGTH:body_end],
    )


def from_authorization_header(value: str | None) -> str | None:
    """Accept ``<token>`` and ``Bearer <token>`` (scheme case-insensitive, as RFC 6750 allows)."""
    if value is None:
        return None
    value = value.strip()
    scheme, sep, rest = value.partition(" ")
    if sep and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None
