"""The domain's error codes: one string each for a denial reason, an error code and an alarm's
dimension value."""

from __future__ import annotations

from tokengate_core.authorize.decision import Reason
from tokengate_core.errors import BACKEND_UNAVAILABLE, CORRUPT_RECORD, CorruptRecordError, UnavailableError


def test_the_reasons_the_alarms_watch_are_the_error_codes() -> None:
    """One string each: the denial reason, the error code and the alarm's dimension value."""
    assert Reason.BACKEND_UNAVAILABLE.value == BACKEND_UNAVAILABLE == UnavailableError.code
    assert CORRUPT_RECORD == CorruptRecordError.code == "corrupt_record"
