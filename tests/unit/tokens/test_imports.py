"""How strong a token must be to be imported: weakness is named by size only, and random values pass."""

from __future__ import annotations

import secrets
import string

import pytest

from tokengate_core.tokens.imports import MIN_ENTROPY_BITS, entropy_bits, weakness


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
