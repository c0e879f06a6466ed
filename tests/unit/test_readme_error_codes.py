"""The README's table of admin error codes is the code's: every code the admin function can answer
with, each with its status, and nothing else.

Every admin error response is built from a TokengateError subclass, so the codes are those of the
subclasses the admin function's import graph defines. A fresh interpreter imports only that graph
(this process may hold others, such as the rotation function's)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tokengate_core.admin.request_body import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \|", re.MULTILINE)

LIST_CODES = """
import json, sys
import admin.app
from tokengate_core.errors import TokengateError

def walk(cls):
    yield cls
    for sub in cls.__subclasses__():
        yield from walk(sub)

json.dump({cls.code: cls.status for cls in walk(TokengateError)}, sys.stdout)
"""


def admin_error_codes() -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "services"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", LIST_CODES], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    codes: dict[str, int] = json.loads(done.stdout)
    return codes


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
