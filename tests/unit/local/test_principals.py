"""The local stack's principals: IAM's wildcards in their grants, and principals.json, reread when
it changes and named when it is invalid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.local.test_iam import ADMIN, ROLE
from tokengate.local.principals import PrincipalDirectory, iam_match, load_principals


def test_iam_wildcards() -> None:
    assert iam_match("arn:aws:execute-api:*", "arn:aws:execute-api:us-east-1:1:a/dev/GET/x/y")
    assert iam_match("a/*/c", "a/b/b/c") and iam_match("a?c", "abc")
    assert not iam_match("a?c", "abbc") and not iam_match("A*", "abc")
    assert iam_match("a*", "a*b") and iam_match("*", "") and not iam_match("?", "")
    assert iam_match("*x*", "\n/x\n") and not iam_match("a*b", "a/b/c")


@settings(deadline=None)
@given(st.text(alphabet="ab/*?", max_size=8), st.text(alphabet="ab/*?\n", max_size=10))
def test_iam_match_agrees_with_a_regex_translation(pattern: str, value: str) -> None:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    assert iam_match(pattern, value) is (re.fullmatch(regex, value, re.DOTALL) is not None)


def test_principals_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "principals.json"
    directory = PrincipalDirectory(ADMIN, path)
    assert directory.lookup(ROLE.access_key_id) is None
    entry = json.loads(ROLE.model_dump_json())
    entry["secret_access_key"] = "role-secret-access-key-0123456789"
    entry["session_token"] = "session-token-value"
    path.write_text(json.dumps({"principals": [entry]}))
    found = directory.lookup(ROLE.access_key_id)
    assert found is not None and found.arn == ROLE.arn
    assert directory.lookup(ADMIN.access_key_id) is ADMIN


def test_an_invalid_principals_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "principals.json"
    path.write_text(json.dumps({"principals": [{"access_key_id": "short"}]}))
    with pytest.raises(ValueError, match=r"principals\.json: not a valid principals file \(principals\.0\."):
        load_principals(path)
