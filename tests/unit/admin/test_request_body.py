"""The body parser's limits against the json module: within them it agrees, past them it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokengate_core.admin.request_body import MAX_JSON_DEPTH, parse_json
from tokengate_core.errors import InvalidJsonError

# Strings full of the characters a bracket counter could trip on.
tricky_text = st.text(alphabet='[]{}"\\ab,:\n\u00e9', max_size=12)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(value=values, indent=st.sampled_from([None, 2]))
def test_parses_what_json_parses_within_the_depth_limit(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    if depth(value) <= MAX_JSON_DEPTH:
        assert parse_json(text) == json.loads(text)
    else:
        with pytest.raises(InvalidJsonError, match="deeper"):
            parse_json(text)


@given(value=values)
def test_wrapping_past_the_limit_is_refused(value: Any) -> None:
    wrapped: Any = value
    for _ in range(MAX_JSON_DEPTH + 1 - depth(value)):
        wrapped = [wrapped]
    with pytest.raises(InvalidJsonError):
        parse_json(json.dumps(wrapped))
