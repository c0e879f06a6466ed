"""The local stack's controls: what the rotate-due control reads from its body, and what it refuses."""

from __future__ import annotations

import json

import pytest

from tokengate.local.control import MAX_ADVANCE_DAYS, parse_advance


@pytest.mark.parametrize(
    ("body", "days"),
    [(b"", 0.0), (b"{}", 0.0), (b'{"advance_days": 7}', 7.0), (b'{"advance_days": 0.5}', 0.5)],
)
def test_advance_days_is_read_from_the_body(body: bytes, days: float) -> None:
    assert parse_advance(body) == days


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b"NaN",
        b'{"advance_days": -1}',
        b'{"advance_days": "7"}',
        b'{"advance_days": true}',
        b'{"advance_days": NaN}',
        json.dumps({"advance_days": MAX_ADVANCE_DAYS + 1}).encode(),
    ],
)
def test_advance_days_out_of_range_or_not_a_number_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_advance(body)
