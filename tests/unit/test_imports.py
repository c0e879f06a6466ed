"""What an imported token may be, and how the keyring keeps the map of imported digests."""

from __future__ import annotations

import json
import secrets
import string

import pytest

from tokengate_core.admin.strength import CHUNK, MIN_BITS, MIN_STRONG_LENGTH, estimated_bits, weakness
from tokengate_core.errors import AlreadyImportedError
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

RING = keyring.new_keyring(0.0)


def random_value(alphabet: str, size: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(size))


@pytest.mark.parametrize(
    "value",
    [
        "password1",  # short
        # what people choose: passphrases, passwords with the usual decorations, repeated
        "correcthorsebatterystaple",
        "monkeydragonbaseballfootball",
        "Password123!Password123",
        "P@ssw0rdP@ssw0rdP@ssw0rd",
        "Summer2024!Summer2024!",
        "Tr0ub4dor&3Tr0ub4dor&3",
        "iloveyou1234567890!!",
        # keyboard rows and walks
        "qwertyuiopasdfghjklzxcvbnm",
        "QWERTYUIOPASDFGHJKLZXCVBNM",
        "1qaz2wsx3edc4rfv5tgb6yhn",
        "zaq1xsw2cde3vfr4bgt5nhy6",
        "1q2w3e4r5t6y7u8i9o0p",
        "!@#$%^&*()_+qwertyuiop",
        # sequences: the alphabet, both ways, digits
        "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "zyxwvutsrqponmlkjihgfedcba",
        "0123456789abcdefghijklmnopqrstuvwxyz",
        "0123456789" * 3,
        # repetitions
        "a" * 40,
        "ab" * 20,
        "abcabcabcabcabcabcabcabcx",
        # longer than one zxcvbn call takes: every part weak
        "Password123!" * 40,
        "abcdefghijklmnopqrstuvwxyz" * 19,
    ],
)
def test_guessable_values_are_weak_and_named_weak_by_size_only(value: str) -> None:
    reason = weakness(value)
    assert reason is not None and value not in reason
    assert len(value) < MIN_STRONG_LENGTH or estimated_bits(value) < MIN_BITS


@pytest.mark.parametrize(
    "alphabet",
    [string.ascii_letters + string.digits, string.hexdigits[:16], string.ascii_lowercase, string.punctuation],
)
def test_random_values_are_strong(alphabet: str) -> None:
    value = random_value(alphabet, 32)
    assert weakness(value) is None, value
    assert estimated_bits(value) >= MIN_BITS


def test_a_long_value_is_as_strong_as_its_strongest_part() -> None:
    """zxcvbn takes at most CHUNK characters a call, and an imported token may have 512."""
    strong = random_value(string.ascii_letters + string.digits, 40)
    assert weakness("abcdefghijklmnopqrstuvwxyz" * 10 + strong) is None
    assert weakness(random_value(string.ascii_letters + string.digits, 512)) is None
    assert weakness("Password123!" * (512 // 12)) is not None
    assert len("Password123!" * (512 // 12)) > CHUNK


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
