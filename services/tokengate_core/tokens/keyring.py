"""The deployment's signing keys: the MAC that makes every token recognisably ours, offline.

Every token carries a tag, a MAC of its prefix, key id and nonce under one of these keys (see
:mod:`tokengate_core.tokens.format`). The authorizer checks the tag before it looks anything up, so a
made-up token, whether its key id is invented or copied from a real token, is denied with no
backend read, and outsiders cannot make us pay for reads or learn from timing which ids exist.

The keys live in one secret, ``<secret prefix>keyring``, as a JSON object::

    {"version": 1, "k1": "<secret>", "k2": "<secret>", "added_at": {"k2": 1764000000},
     "legacy_key_ids": ["..."]}

The stack creates it with ``k1`` (CloudFormation generates the value); where it is absent (the
local stack, or a stack deployed without it) the admin function creates it on first use.
Rotating adds ``k<n+1>``; old keys stay, because tokens minted under them are still in use until
every client has rotated. A key signs new tokens only once it is :data:`REFRESH_SECONDS` old,
so every authorizer container, which reloads the keyring at least that often, already knows it.

``legacy_key_ids`` are clients whose tokens predate the tags (tokengate 0.1): the authorizer looks
those ids up without a tag, so their holders keep working until they rotate.

``imported`` maps the SHA-256 (hex) of each imported token (a token taken over from elsewhere,
which has neither our prefix nor a key id) to the key id of the client that holds it. The
authorizer looks a presented value that is not one of our tokens up here by its digest: a value
that is not an imported token costs no read, and the map tells nothing about stored secrets
(its keys are digests; finding one needs the token). An entry stays while its client accepts
the token (during the grace window after a rotation too); the sweep removes the others.

Parsing is hand-written and strict, because the authorizer imports this module on its cold path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from tokengate_core.errors import AlreadyImportedError, ConflictError, CorruptRecordError, NotFoundError
from tokengate_core.tokens import format as tokens

if TYPE_CHECKING:
    from tokengate_core.records.store import SecretsStore

#: How often an authorizer container reloads the keyring; also how old a key must be to sign.
REFRESH_SECONDS = 300.0
SECRET_NAME = "keyring"
#: The first key's name (keys are ``k<n>``, from 1); the stack generates it under this name.
FIRST_KEY = "k1"
FORMAT_VERSION = 1
MAX_KEYS = 16
MAX_LEGACY_IDS = 100_000
#: The keyring is one secret (64 KB at most, Secrets Manager's limit): room for this many imports.
MAX_IMPORTED = 256
_DIGEST_HEX = re.compile(r"[0-9a-f]{64}")
_RESERVED = ("version", "added_at", "legacy_key_ids", "imported")
_KEY_NAME = re.compile(r"^k([1-9][0-9]{0,5})$")
_KEY_VALUE = re.compile(r"^[\x21-\x7e]{32,512}$")
_DOMAIN = b"tokengate-token\x00"
_VERSIONS = uuid.UUID("0d7b3f2a-63c4-4a8e-9a51-3f1e0c6b9d24")


class KeyRingError(ValueError):
    """The keyring secret is not what tokengate writes; its value is never part of the message."""


class SigningKey(NamedTuple):
    name: str
    secret: bytes
    added_at: float | None  # None: present from the start (the stack made it)

    def __repr__(self) -> str:  # never the secret
        return f"SigningKey(name={self.name!r}, added_at={self.added_at!r})"

    @property
    def number(self) -> int:
        return int(self.name[1:])

    def tag(self, signed: str) -> str:
        return tokens.encode_tag(hmac.digest(self.secret, _DOMAIN + signed.encode("ascii"), hashlib.sha256))


class KeyRing(NamedTuple):
    keys: tuple[SigningKey, ...]  # oldest first
    legacy_key_ids: frozenset[str] = frozenset()
    #: SHA-256 hex of an imported token -> the key id of the client holding it.
    imported: Mapping[str, str] = MappingProxyType({})

    def verify(self, parsed: tokens.ParsedToken) -> bool:
        """Whether one of our keys made this tag (each comparison in constant time)."""
        return any(hmac.compare_digest(key.tag(parsed.signed), parsed.tag) for key in self.keys)

    def derive(self, label: bytes) -> bytes:
        """A secret for another purpose (page tokens), from the oldest key: stable across rotations."""
        return hmac.digest(self.keys[0].secret, b"tokengate-derived\x00" + label, hashlib.sha256)

    def is_legacy(self, key_id: str) -> bool:
        return key_id in self.legacy_key_ids

    def imported_key_id(self, digest: bytes) -> str | None:
        """The client that imported the token with this SHA-256, if one did. Looking a digest of
        what was presented up tells nothing about stored secrets; the match itself is confirmed as
        for every token, in constant time against the client's record (TokenAuthorizer)."""
        return self.imported.get(digest.hex())

    def with_imported(self, hexdigest: str, key_id: str) -> KeyRing:
        if hexdigest in self.imported:
            raise AlreadyImportedError("this token is already imported")
        if len(self.imported) >= MAX_IMPORTED:
            raise KeyRingError(f"a keyring holds at most {MAX_IMPORTED} imported tokens")
        return KeyRing(self.keys, self.legacy_key_ids, {**self.imported, hexdigest: key_id})

    def without_imported(self, hexdigests: set[str]) -> KeyRing:
        return KeyRing(self.keys, self.legacy_key_ids, {d: k for d, k in self.imported.items() if d not in hexdigests})

    def signing_key(self, now: float) -> SigningKey:
        """The newest key every authorizer container has had time to load (else the oldest)."""
        ready = [k for k in self.keys if k.added_at is None or now - k.added_at >= REFRESH_SECONDS]
        return ready[-1] if ready else self.keys[0]

    def signer(self, now: float) -> Callable[[str], str]:
        return self.signing_key(now).tag

    def with_new_key(self, now: float) -> KeyRing:
        if len(self.keys) >= MAX_KEYS:
            raise KeyRingError(f"a keyring holds at most {MAX_KEYS} keys")
        name = f"k{self.keys[-1].number + 1}"
        return KeyRing((*self.keys, SigningKey(name, _new_secret().encode(), now)), self.legacy_key_ids, self.imported)

    def with_legacy_key_ids(self, key_ids: set[str]) -> KeyRing:
        return KeyRing(self.keys, frozenset(key_ids), self.imported)

    def describe(self, now: float) -> list[dict[str, Any]]:
        """What an operator may see: names and ages, never a key."""
        signing = self.signing_key(now).name
        return [{"name": k.name, "added_at": k.added_at, "signing": k.name == signing} for k in self.keys]

    def to_json(self) -> str:
        data: dict[str, Any] = {"version": FORMAT_VERSION}
        data.update({k.name: k.secret.decode("ascii") for k in self.keys})
        added = {k.name: k.added_at for k in self.keys if k.added_at is not None}
        if added:
            data["added_at"] = added
        if self.legacy_key_ids:
            data["legacy_key_ids"] = sorted(self.legacy_key_ids)
        if self.imported:
            data["imported"] = dict(sorted(self.imported.items()))
        return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def new_keyring(now: float) -> KeyRing:
    return KeyRing((SigningKey(FIRST_KEY, _new_secret().encode(), now),))


def parse(text: str) -> KeyRing:
    """Strictly validate a keyring secret; raise :class:`KeyRingError` naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError:
        raise KeyRingError("keyring is not JSON") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise KeyRingError("keyring has no supported version")
    added = data.get("added_at", {})
    if not isinstance(added, dict):
        raise KeyRingError("keyring added_at is not an object")
    legacy = data.get("legacy_key_ids", [])
    if not isinstance(legacy, list) or len(legacy) > MAX_LEGACY_IDS:
        raise KeyRingError("keyring legacy_key_ids is not a list of key ids")
    if not all(isinstance(k, str) and tokens.is_key_id(k) for k in legacy):
        raise KeyRingError("keyring legacy_key_ids is not a list of key ids")
    imported = data.get("imported", {})
    if (
        not isinstance(imported, dict)
        or len(imported) > MAX_IMPORTED
        or not all(
            isinstance(d, str) and _DIGEST_HEX.fullmatch(d) and isinstance(k, str) and tokens.is_key_id(k)
            for d, k in imported.items()
        )
    ):
        raise KeyRingError("keyring imported is not a map of token digests to key ids")
    keys = []
    for name, value in data.items():
        if name in _RESERVED:
            continue
        if not _KEY_NAME.match(name) or not isinstance(value, str) or not _KEY_VALUE.match(value):
            raise KeyRingError(f"keyring entry {name[:16]!r} is not a key")
        when = added.get(name)
        if when is not None and (not isinstance(when, int | float) or isinstance(when, bool)):
            raise KeyRingError(f"keyring added_at of {name} is not a time")
        keys.append(SigningKey(name, value.encode("ascii"), None if when is None else float(when)))
    if not keys or len(keys) > MAX_KEYS:
        raise KeyRingError(f"keyring holds 1 to {MAX_KEYS} keys")
    keys.sort(key=lambda k: k.number)
    return KeyRing(tuple(keys), frozenset(legacy), dict(imported))


# -- the keyring secret (admin and rotation functions) ---------------------------------------------


def secret_name(prefix: str) -> str:
    """Under the clients' prefix, so the grants that cover the clients cover it; never a key id."""
    return f"{prefix}{SECRET_NAME}"


def load(store: SecretsStore) -> tuple[KeyRing, str]:
    """The keyring and its version (the base of an optimistic write). Raises NotFoundError."""
    text, version = store.read_named(secret_name(store.prefix))
    try:
        return parse(text), version
    except KeyRingError as error:
        raise CorruptRecordError(str(error)) from None


def ensure(store: SecretsStore, now: float) -> KeyRing:
    """The keyring, created on first use where the stack did not create it."""
    try:
        return load(store)[0]
    except NotFoundError:
        pass
    ring = new_keyring(now)
    try:
        store.create_named(
            secret_name(store.prefix),
            ring.to_json(),
            request_token=str(uuid.uuid4()),
            description="tokengate signing keys (token tags); never logged",
        )
    except ConflictError:
        return load(store)[0]  # another container created it first
    return ring


def update(store: SecretsStore, change: Callable[[KeyRing], KeyRing]) -> KeyRing:
    """Apply ``change`` optimistically: of two concurrent writers from one base, one wins (409)."""
    ring, base = load(store)
    changed = change(ring)
    store.put_named(secret_name(store.prefix), changed.to_json(), request_token=str(uuid.uuid5(_VERSIONS, base)))
    return changed
