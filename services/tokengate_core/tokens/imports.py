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

An imported token is as strong as whoever made it: one that is short or that zxcvbn estimates at
under 64 bits is refused unless the importer says so explicitly
(``tokengate_core.admin.strength``). An estimate catches what people choose (words, passwords,
keyboard rows, sequences, repetitions); it is not a proof of strength.
"""

from __future__ import annotations

from collections.abc import Callable

from tokengate_core.errors import AlreadyImportedError, BadRequestError, ConflictError
from tokengate_core.records.store import SecretsStore
from tokengate_core.tokens import keyring

#: Keyring writes that lost to a concurrent writer are tried again this many times in all.
KEYRING_ATTEMPTS = 3


def _update(store: SecretsStore, change: Callable[[keyring.KeyRing], keyring.KeyRing]) -> None:
    """A keyring change, tried again when a concurrent writer (a key rotation, another import)
    changed the keyring first; a change that is itself refused (a conflict it raises) is not."""
    for attempt in range(KEYRING_ATTEMPTS):
        try:
            keyring.update(store, change)
            return
        except keyring.KeyRingError as error:
            raise BadRequestError(str(error)) from None
        except AlreadyImportedError:
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
