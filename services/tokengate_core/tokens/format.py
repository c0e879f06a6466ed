"""The token format: ``<prefix><key id>_<nonce><tag><checksum>``, e.g. ``tg_<key id>_...``.

* The prefix (``tg_`` unless the deployment chose its own) makes a leaked token recognisable to
  secret scanners and to humans; a deployment with its own prefix enrols its own pattern.
* The key id (20 lowercase base36 characters, 103 random bits) names exactly one secret, so the
  authorizer never lists anything on the hot path. It is random: it says nothing about the
  tenant or the client name, and no two deployments share one.
* The nonce is 160 random bits from :mod:`secrets` as 27 base62 characters.
* The tag is a MAC of everything before it under the deployment's signing key
  (:mod:`tokengate_core.tokens.keyring`), 95 bits as 16 base62 characters. It lets the authorizer tell a
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
from functools import lru_cache
from typing import NamedTuple

#: The token prefix of a deployment that sets none. Each deployment may choose its own (CDK
#: context ``tokenPrefix``, ``TOKENGATE_TOKEN_PREFIX``), so each can enrol its own pattern with
#: secret scanners: a letter, one to seven lowercase letters or digits, and ``_``.
DEFAULT_PREFIX = "tg_"
#: Any valid prefix, unanchored (to find tokens in a text).
ANY_PREFIX_PATTERN = r"[a-z][a-z0-9]{1,7}_"
PREFIX_PATTERN = rf"^{ANY_PREFIX_PATTERN}$"
_PREFIX_RE = re.compile(ANY_PREFIX_PATTERN)
_PREFIX_MAX_LENGTH = 9
KEY_ID_LENGTH = 20
NONCE_LENGTH = 27
TAG_LENGTH = 16
SECRET_LENGTH = NONCE_LENGTH + TAG_LENGTH
CHECKSUM_LENGTH = 6

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

KEY_ID_PATTERN = rf"[0-9a-z]{{{KEY_ID_LENGTH}}}"
_KEY_ID_RE = re.compile(KEY_ID_PATTERN)
_TAIL_PATTERN = rf"({KEY_ID_PATTERN})_([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
#: A tokengate token of any deployment (any valid prefix), wherever it appears in a text.
ANY_TOKEN_PATTERN = rf"{ANY_PREFIX_PATTERN}{KEY_ID_PATTERN}_[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}"
_ANY_TOKEN_RE = re.compile(ANY_TOKEN_PATTERN)
#: Text shaped like a secret: the start of a token of any deployment (a prefix, a key id and
#: ``_`` are enough), or a SHA-256 in hex. Whatever the service shows beyond its callers (a client
#: name, a lifecycle event's detail) may hold none: names are refused, details checked.
SECRET_SHAPED_PATTERN = rf"{ANY_PREFIX_PATTERN}{KEY_ID_PATTERN}_[0-9A-Za-z]*|\b[0-9a-f]{{64}}\b"
SECRET_SHAPED = re.compile(SECRET_SHAPED_PATTERN)


#: What an imported token (one a deployment took over from elsewhere, see ``tokengate_core.tokens.imports``)
#: may be: visible ASCII, no spaces, 8 to 512 characters. Anything else the authorizer denies
#: without looking at the imported tokens at all.
IMPORTED_PATTERN = r"[\x21-\x7e]{8,512}"
_IMPORTED_RE = re.compile(IMPORTED_PATTERN)


class TokenFormatError(ValueError):
    """A presented string is not a tokengate token; ``reason`` is a stable machine code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ParsedToken(NamedTuple):
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


# fullmatch, not ``^...$``: ``$`` also matches before a final newline.
def is_key_id(value: str) -> bool:
    return bool(_KEY_ID_RE.fullmatch(value))


def is_prefix(value: str) -> bool:
    return bool(_PREFIX_RE.fullmatch(value))


def looks_like_token(value: str) -> bool:
    """Shaped like a tokengate token of some deployment (any prefix; no checksum checked)."""
    return bool(_ANY_TOKEN_RE.fullmatch(value))


def is_secret_shaped(text: str) -> bool:
    """Whether ``text`` holds anything :data:`SECRET_SHAPED` finds."""
    return SECRET_SHAPED.search(text) is not None


def may_be_imported(value: str) -> bool:
    """Whether ``value`` could be an imported token (its shape only)."""
    return bool(_IMPORTED_RE.fullmatch(value))


class TokenFormat(NamedTuple):
    """The tokens of one prefix: their lengths and their regex, compiled once (:func:`token_format`)."""

    prefix: str
    token_length: int
    #: Everything a tag covers: prefix, key id, separator and nonce.
    signed_length: int
    regex: re.Pattern[str]

    def owns(self, presented: str) -> bool:
        """Whether ``presented`` carries this prefix (nothing else about it is checked)."""
        return presented.startswith(self.prefix)

    def parse(self, presented: str) -> ParsedToken:
        """Validate structure and checksum without any I/O; raise :class:`TokenFormatError`.

        The length check comes first so that a 10 KB header costs nothing to reject.
        """
        if len(presented) != self.token_length:
            raise TokenFormatError("malformed")
        match = self.regex.match(presented)
        if match is None:
            raise TokenFormatError("malformed")
        body_end = self.token_length - CHECKSUM_LENGTH
        # The checksum is not secret, so an ordinary comparison is fine here.
        if checksum(presented[:body_end]) != match.group(3):
            raise TokenFormatError("bad_checksum")
        return ParsedToken(
            key_id=match.group(1),
            digest=digest(presented),
            signed=presented[: self.signed_length],
            tag=presented[self.signed_length : body_end],
        )

    def generate(self, key_id: str, sign: Callable[[str], str]) -> str:
        """A fresh token for ``key_id``: 160 random bits, tagged by ``sign`` (a keyring's signer)."""
        if not is_key_id(key_id):
            raise ValueError("invalid key id")
        nonce = _encode(secrets.randbits(160), BASE62, NONCE_LENGTH)
        signed = f"{self.prefix}{key_id}_{nonce}"
        tag = sign(signed)
        if len(tag) != TAG_LENGTH:
            raise ValueError("a tag has exactly TAG_LENGTH characters")
        body = signed + tag
        return body + checksum(body)

    def scanner_pattern(self) -> str:
        """The regular expression a secret scanner (GitHub's partner program) matches these tokens
        with: the literal prefix, then the key id and the rest, between word boundaries."""
        tail = f"[0-9a-z]{{{KEY_ID_LENGTH}}}_[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}"
        return rf"\b{re.escape(self.prefix)}{tail}\b"


@lru_cache(maxsize=16)
def token_format(prefix: str = DEFAULT_PREFIX) -> TokenFormat:
    """The format of ``prefix``, built once per prefix; ValueError for a prefix no deployment may use."""
    if not is_prefix(prefix):
        raise ValueError(f"a token prefix matches {PREFIX_PATTERN}")
    signed_length = len(prefix) + KEY_ID_LENGTH + 1 + NONCE_LENGTH
    return TokenFormat(
        prefix=prefix,
        token_length=signed_length + TAG_LENGTH + CHECKSUM_LENGTH,
        signed_length=signed_length,
        regex=re.compile(rf"^{re.escape(prefix)}{_TAIL_PATTERN}$"),
    )


def generate(key_id: str, sign: Callable[[str], str], prefix: str = DEFAULT_PREFIX) -> str:
    return token_format(prefix).generate(key_id, sign)


def parse(presented: str, prefix: str | None = None) -> ParsedToken:
    """Parse with ``prefix``'s format, or, without one, with the format of whichever valid prefix the
    token carries (stored records, tools). A deployment's authorizer parses with its own format
    only, so a token of another deployment never reaches a lookup."""
    if prefix is None:
        end = presented.find("_", 0, _PREFIX_MAX_LENGTH)
        prefix = presented[: end + 1]
        if end < 0 or not is_prefix(prefix):
            raise TokenFormatError("malformed")
    return token_format(prefix).parse(presented)


def from_authorization_header(value: str | None) -> str | None:
    """Accept ``<token>`` and ``Bearer <token>`` (scheme case-insensitive, as RFC 6750 allows)."""
    if value is None:
        return None
    value = value.strip()
    scheme, sep, rest = value.partition(" ")
    if sep and scheme.lower() == "bearer":
        value = rest.strip()
    return value or None
