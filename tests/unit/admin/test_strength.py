"""Whether a token to import is too guessable to accept: zxcvbn's estimate against a documented threshold."""

from __future__ import annotations

import secrets
import string

import pytest

from tokengate_core.admin.strength import CHUNK, MIN_BITS, MIN_STRONG_LENGTH, estimated_bits, weakness
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
