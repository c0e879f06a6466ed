"""Imported tokens: a token that callers already hold (the reference design's one shared token,
say) becomes a client of a tenant, and those callers keep working unchanged.

The token has neither our prefix nor a key id, so nothing in it says which client it is. The
client gets a random key id like any other; its record keeps the token's SHA-256, never the token
(``ClientRecord.imported_sha256``), and the deployment's keyring maps that digest to the key id
(``KeyRing.imported``). The authorizer, which loads the keyring anyway, looks up the digest of a
presented value that is not one of our tokens: no read for anything that is not an imported
token, then the client's record as for any token (scopes, expiry, disable, revoke). The first
rotation gives the client a token of ours; the imported one stays valid through the grace
window, and the sweep takes it out of the map afterwards.

An imported token is as strong as whoever made it: one shorter than :data:`MIN_STRONG_LENGTH` or
that zxcvbn estimates at under 64 bits (``tokengate_core.tokens.strength``) is refused unless the
importer says so explicitly. An estimate catches what people choose (words, passwords, keyboard
rows, sequences, repetitions); it is not a proof of strength.
"""

from __future__ import annotations

from collections.abc import Callable

from tokengate_core.errors import BadRequestError, ConflictError, TokengateError
from tokengate_core.records.store import SecretsStore
from tokengate_core.tokens import keyring

#: Shorter than this, an imported token is weak whatever it holds: refused unless explicitly allowed.
MIN_STRONG_LENGTH = 20
#: Keyring writes that lost to a concurrent writer are tried again this many times in all.
KEYRING_ATTEMPTS = 3


class WeakTokenError(TokengateError):
    """An imported token too weak to keep using, and the importer did not accept that."""

    code = "weak_token"
    status = 422


def weakness(value: str) -> str | None:
    """Why ``value`` is too weak to go on using as a token, or None. The reason names sizes only."""
    if len(value) < MIN_STRONG_LENGTH:
        return f"shorter than {MIN_STRONG_LENGTH} characters"
    # Imported here: only an import pays for zxcvbn, and the leak function, which shares this
    # package but never imports a token, does not bundle it.
    from tokengate_core.tokens import strength

    bits = strength.estimated_bits(value)
    if bits < strength.MIN_BITS:
        return f"guessable (about {bits:.0f} bits by zxcvbn's estimate, {strength.MIN_BITS} needed)"
    return None


def _update(store: SecretsStore, change: Callable[[keyring.KeyRing], keyring.KeyRing]) -> None:
    """A keyring change, tried again when a concurrent writer (a key rotation, another import)
    changed the keyring first; a change that is itself refused (a conflict it raises) is not."""
    for attempt in range(KEYRING_ATTEMPTS):
        try:
            keyring.update(store, change)
            return
        except keyring.KeyRingError as error:
            raise BadRequestError(str(error)) from None
        except keyring.AlreadyImportedError:
            raise
        except ConflictError:
            if attempt == KEYRING_ATTEMPTS - 1:
                raise


def add_imported(store: SecretsStore, hexdigest: str, key_id: str) -> None:
    """Map the imported token's digest to its client: from now on the authorizer finds it."""
    _update(store, lambda ring: ring.with_imported(hexdigest, key_id))


def remove_imported(store: SecretsStore, hexdigests: set[str]) -> None:
    """Take digests out of the map: those tokens are not looked up any more."""
    if hexdigests:
        _update(store, lambda ring: ring.without_imported(hexdigests))
