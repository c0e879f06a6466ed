"""The token codec: format, checksum, that any single edit is caught before any I/O, and what a
token taken over from elsewhere may look like."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

KEY = tokens.new_key_id()
RING = keyring.new_keyring(0.0)
SIGN = RING.signer(0.0)
#: One token for the mutation properties: Hypothesis replays draws, so they must not depend on a
#: token that changes between replays.
TOKEN = tokens.generate(KEY, SIGN)
ALPHABET = string.ascii_letters + string.digits + "_-."


def test_generated_token_has_the_documented_shape() -> None:
    token = tokens.generate(KEY, SIGN)
    assert token.startswith(f"tg_{KEY}_")
    assert len(token) == tokens.token_format().token_length == 3 + 20 + 1 + 43 + 6
    assert set(token) <= set(tokens.BASE62 + "_")
    assert tokens.parse(token).key_id == KEY


def test_nonce_carries_160_bits_and_tag_95() -> None:
    assert 62**tokens.NONCE_LENGTH >= 2**160
    assert 62**tokens.TAG_LENGTH >= 2**95
    assert len({tokens.generate(KEY, SIGN) for _ in range(200)}) == 200


def test_key_ids_are_random_and_well_formed() -> None:
    ids = {tokens.new_key_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(tokens.is_key_id(k) for k in ids)
    assert not tokens.is_key_id(next(iter(ids)) + "\n")


@given(st.integers(min_value=0, max_value=200))
def test_round_trip(seed: int) -> None:
    key = tokens.encode_key_id(seed)
    token = tokens.generate(key, SIGN)
    parsed = tokens.parse(token)
    assert parsed.key_id == key
    assert parsed.digest == tokens.digest(token)
    assert RING.verify(parsed)


@settings(max_examples=300)
@given(st.data())
def test_any_single_substitution_is_rejected(data: st.DataObject) -> None:
    token = TOKEN
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != token[index]))
    mutated = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(tokens.TokenFormatError):
        tokens.parse(mutated)


@settings(max_examples=200)
@given(st.data())
def test_any_insertion_deletion_or_transposition_is_rejected(data: st.DataObject) -> None:
    token = TOKEN
    index = data.draw(st.integers(0, len(token) - 2))
    kind = data.draw(st.sampled_from(["insert", "delete", "swap"]))
    if kind == "insert":
        mutated = token[:index] + data.draw(st.sampled_from(ALPHABET)) + token[index:]
    elif kind == "delete":
        mutated = token[:index] + token[index + 1 :]
    else:
        if token[index] == token[index + 1]:
            return
        mutated = token[:index] + token[index + 1] + token[index] + token[index + 2 :]
    with pytest.raises(tokens.TokenFormatError):
        tokens.parse(mutated)


@given(st.text(max_size=200))
def test_arbitrary_text_never_parses_unless_well_formed(text: str) -> None:
    try:
        parsed = tokens.parse(text)
    except tokens.TokenFormatError as error:
        assert error.reason in ("malformed", "bad_checksum")
    else:  # pragma: no cover - would need a valid checksum by chance
        assert tokens.is_key_id(parsed.key_id)


@pytest.mark.parametrize(
    "presented",
    ["", " ", "t", "tg_", "x" * 10_000, "tg_é" + "a" * 65, "tg_\x00" + "a" * 65, "Bearer"],
)
def test_malformed_inputs(presented: str) -> None:
    with pytest.raises(tokens.TokenFormatError) as info:
        tokens.parse(presented)
    assert info.value.reason == "malformed"


def test_bad_checksum_is_distinguished() -> None:
    token = tokens.generate(KEY, SIGN)
    body, check = token[:-6], token[-6:]
    other = tokens.checksum(body + "x")[:6]
    assert other != check
    with pytest.raises(tokens.TokenFormatError) as info:
        tokens.parse(body + other)
    assert info.value.reason == "bad_checksum"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("abc", "abc"),
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer", "Bearer"),
        ("Basic abc", "Basic abc"),
    ],
)
def test_authorization_header_forms(header: str | None, expected: str | None) -> None:
    assert tokens.from_authorization_header(header) == expected


def test_parsed_token_repr_hides_the_secret() -> None:
    token = tokens.generate(KEY, SIGN)
    assert token[25:] not in repr(tokens.parse(token))


# -- per-deployment prefixes ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["tg_", "ab_", "acme_", "a1234567_", "z9_"])
def test_each_prefix_has_its_own_format(prefix: str) -> None:
    fmt = tokens.token_format(prefix)
    token = fmt.generate(KEY, SIGN)
    assert token.startswith(f"{prefix}{KEY}_") and len(token) == fmt.token_length == len(prefix) + 70
    assert fmt.parse(token).key_id == KEY and RING.verify(fmt.parse(token))
    assert tokens.parse(token).key_id == KEY  # the prefix is read from the token itself
    assert tokens.looks_like_token(token)
    assert tokens.token_format(prefix) is fmt  # compiled once per prefix


def test_a_format_refuses_another_prefix_token() -> None:
    other = tokens.token_format("acme_").generate(KEY, SIGN)
    with pytest.raises(tokens.TokenFormatError):
        tokens.token_format("tg_").parse(other)
    with pytest.raises(tokens.TokenFormatError):
        tokens.parse(other, "tg_")
    assert not tokens.token_format("tg_").owns(other)


@pytest.mark.parametrize("prefix", ["", "tg", "t_", "Tg_", "1g_", "tg-", "abcdefghi_", "tg__", "tg_\n", "é_"])
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    assert not tokens.is_prefix(prefix)
    with pytest.raises(ValueError, match="prefix"):
        tokens.token_format(prefix)


def test_the_scanner_pattern_finds_this_prefix_tokens_in_text_and_nothing_else() -> None:
    fmt = tokens.token_format("acme_")
    token = fmt.generate(KEY, SIGN)
    pattern = re.compile(fmt.scanner_pattern())
    assert pattern.findall(f'config = {{"key": "{token}"}}\nother') == [token]
    assert not pattern.search(tokens.token_format("tg_").generate(KEY, SIGN))
    assert not pattern.search("x" + token)  # inside a longer word
    assert not pattern.search(token[:-1])


def test_an_imported_token_is_visible_ascii_without_spaces() -> None:
    assert tokens.may_be_imported("x" * 8) and tokens.may_be_imported("!~" * 256)
    for value in ("x" * 7, "x" * 513, "has space inside", "tab\there-long", "é" * 10, "x" * 20 + "\n"):
        assert not tokens.may_be_imported(value)
