"""What an imported token may be, and how the keyring keeps the map of imported digests."""

from __future__ import annotations

import json
import secrets
import string

import pytest

from tokengate_core.errors import AlreadyImportedError
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring
from tokengate_core.tokens.imports import MIN_ENTROPY_BITS, entropy_bits, weakness

RING = keyring.new_keyring(0.0)


@pytest.mark.parametrize(
    "value",
    [
        "password1",  # short
        "a" * 40,
        "ab" * 20,  # a repetition
        "Summer2024!Summer2024!",
        "abcabcabcabcabcabcabcabcx",  # few distinct characters
        "aaaaaaaaaaaaaaaaaaaabcdefghij",  # low entropy for its length
    ],
)
def test_weak_values_are_named_weak_by_size_only(value: str) -> None:
    reason = weakness(value)
    assert reason is not None and value not in reason


def test_random_values_are_strong() -> None:
    for alphabet, size in ((string.ascii_letters + string.digits, 24), (string.hexdigits[:16], 32)):
        value = "".join(secrets.choice(alphabet) for _ in range(size))
        assert weakness(value) is None, value
        assert entropy_bits(value) >= MIN_ENTROPY_BITS


def test_an_imported_token_is_visible_ascii_without_spaces() -> None:
    assert tokens.may_be_imported("x" * 8) and tokens.may_be_imported("!~" * 256)
    for value in ("x" * 7, "x" * 513, "has space inside", "tab\there-long", "é" * 10, "x" * 20 + "\n"):
        assert not tokens.may_be_imported(value)


def test_the_keyring_maps_imported_digests_to_key_ids_and_round_trips() -> None:
    key_id, digest = tokens.new_key_id(), tokens.digest("some imported value")
    ring = RING.with_imported(digest.hex(), key_id)
    assert ring.imported_key_id(digest) == key_id and RING.imported_key_id(digest) is None
    again = keyring.parse(ring.to_json())
    assert again.imported == {digest.hex(): key_id} and again.keys == ring.keys
    assert keyring.parse(ring.with_new_key(1.0).to_json()).imported == ring.imported
    assert keyring.parse(ring.with_legacy_key_ids({key_id}).to_json()).imported == ring.imported
    assert ring.without_imported({digest.hex()}).imported == {}
    with pytest.raises(AlreadyImportedError):
        ring.with_imported(digest.hex(), tokens.new_key_id())


def test_the_map_is_bounded_to_what_one_secret_holds() -> None:
    ring = RING
    for n in range(keyring.MAX_IMPORTED):
        ring = ring.with_imported(tokens.digest(str(n)).hex(), tokens.encode_key_id(n))
    with pytest.raises(keyring.KeyRingError, match="at most"):
        ring.with_imported(tokens.digest("one more").hex(), tokens.new_key_id())
    assert len(ring.to_json()) < 64 * 1024, "Secrets Manager's limit for a secret value"


@pytest.mark.parametrize(
    "imported",
    [
        [],
        {"ab" * 32: "not a key id"},
        {"AB" * 32: tokens.encode_key_id(1)},
        {"ab" * 31: tokens.encode_key_id(1)},
        {"ab" * 32: 5},
        {str(n).rjust(64, "0"): tokens.encode_key_id(n) for n in range(keyring.MAX_IMPORTED + 1)},
    ],
)
def test_a_malformed_map_is_a_corrupt_keyring(imported: object) -> None:
    data = json.loads(RING.to_json())
    data["imported"] = imported
    with pytest.raises(keyring.KeyRingError, match="imported"):
        keyring.parse(json.dumps(data))
