"""The README's table of admin error codes is the code's: every code the admin function can answer
with, each with its status, and nothing else.

Every error response is built from a TokengateError subclass and every subclass is defined in
tokengate_core.errors (tests/unit/test_errors_module.py holds that), so the admin's codes are that
module's, but for the rotation function's refusal of a step, which Secrets Manager sees as a failed
invocation and no caller of the admin API ever receives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tokengate_core import errors
from tokengate_core.admin.request_body import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \|", re.MULTILINE)
#: Raised only by the rotation function: never an admin API response.
NOT_ADMIN = {errors.RotationError}


def _walk(cls: type[errors.TokengateError]) -> Iterator[type[errors.TokengateError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _walk(sub)


def admin_error_codes() -> dict[str, int]:
    defined = [cls for cls in _walk(errors.TokengateError) if cls.__module__ == errors.__name__]
    return {cls.code: cls.status for cls in defined if cls not in NOT_ADMIN}


def readme_error_codes() -> dict[str, int]:
    rows = ROW.findall(README.read_text())
    codes = {code: int(status) for code, status in rows}
    assert len(codes) == len(rows), "a code is listed twice"
    return codes


def test_the_readme_lists_every_admin_error_code_with_its_status() -> None:
    from_code = admin_error_codes()
    assert {"internal_error", "forbidden", "validation_error", "route_not_found"} <= set(from_code)
    assert readme_error_codes() == from_code


def test_the_openapi_document_declares_every_client_error_status() -> None:
    from admin import app

    declared = {int(status) for status in app.ERRORS}
    assert {s for s in admin_error_codes().values() if s != 500} <= declared


def test_the_readme_states_the_body_limits_the_code_enforces() -> None:
    text = " ".join(README.read_text().split())
    assert f"at most {MAX_BODY_BYTES // 1024} KiB, nested at most {MAX_JSON_DEPTH} deep" in text
    assert f"over {MAX_BODY_BYTES // 1024} KiB" in text
    assert f"a number over {MAX_NUMBER_CHARS} characters" in text
