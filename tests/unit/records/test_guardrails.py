"""A tenant's guardrails as rules: what they accept as settings, what a client must keep, which
changes loosen them, and which scopes lie within which patterns (checked against the authorizer's
own reading of a scope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tokengate_core.records.guardrails import Guardrails, loosened, outside, problems, scope_within
from tokengate_core.records.rules import scope_regex

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"max_lifetime_days": 0}, "max_lifetime_days"),
        ({"max_lifetime_days": -5}, "max_lifetime_days"),
        ({"max_lifetime_days": 10**9}, "max_lifetime_days"),
        ({"max_lifetime_days": 1.5}, "max_lifetime_days"),
        ({"max_rotation_period_days": 0}, "max_rotation_period_days"),
        ({"max_rotation_period_days": 1000}, "max_rotation_period_days"),
        ({"allowed_scopes": []}, "allowed_scopes"),
        ({"allowed_scopes": ["GET invoke"]}, "allowed_scopes"),
        ({"allowed_scopes": ["FETCH /x"]}, "allowed_scopes"),
        ({"allowed_scopes": ["GET /x", "GET /x"]}, "allowed_scopes"),
        ({"default_usage_policy": {}}, "default_usage_policy"),
        ({"default_usage_policy": {"quota": {"limit": 0, "period": "day"}}}, "default_usage_policy"),
        ({"default_usage_policy": {"allowed_cidrs": ["0.0.0.0/0"]}}, "default_usage_policy"),
        ({"default_usage_policy": {"on_limit": "deny"}}, "default_usage_policy"),
        ({"max_age": 3}, "max_age"),
    ],
)
def test_nonsense_settings_are_refused_naming_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Guardrails.model_validate(fields)
    assert where in str(refused.value)


def test_guardrails_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(ValidationError, match="expire before its required rotation"):
        Guardrails(max_lifetime_days=30, max_rotation_period_days=90)
    assert Guardrails(max_lifetime_days=90, max_rotation_period_days=90).max_rotation_period_days == 90


def test_a_client_must_keep_each_limit() -> None:
    rails = Guardrails(max_lifetime_days=30, max_rotation_period_days=7, allowed_scopes=["GET /reports/**"])
    good: dict[str, Any] = {
        "expires_at": NOW + timedelta(days=30),
        "rotation_period_days": 7,
        "scopes": ["GET /reports/2026/*"],
    }
    assert problems(rails, now=NOW, **good) == []
    for change, expected in (
        ({"expires_at": None}, "expires_at is required"),
        ({"expires_at": NOW + timedelta(days=30, seconds=1)}, "more than 30 days away"),
        ({"rotation_period_days": None}, "rotation_period_days is required"),
        ({"rotation_period_days": 8}, "rotation_period_days is above 7"),
        ({"scopes": ["GET /reports/x", "POST /reports/x", "*"]}, "2 scope(s) lie outside"),
    ):
        found = problems(rails, now=NOW, **{**good, **change})
        assert len(found) == 1 and expected in found[0]


def test_no_guardrails_no_problems() -> None:
    assert problems(Guardrails(), expires_at=None, rotation_period_days=None, scopes=["*"], now=NOW) == []


@pytest.mark.parametrize(
    ("before", "after", "fields"),
    [
        ({"max_lifetime_days": 30}, {"max_lifetime_days": 31}, ["max_lifetime_days"]),
        ({"max_lifetime_days": 30}, {}, ["max_lifetime_days"]),
        ({"max_lifetime_days": 30}, {"max_lifetime_days": 7}, []),
        ({}, {"max_lifetime_days": 7}, []),
        ({"max_rotation_period_days": 30}, {"max_rotation_period_days": 60}, ["max_rotation_period_days"]),
        ({"allowed_scopes": ["GET /a/*"]}, {"allowed_scopes": ["GET /a/x", "GET /a/y"]}, []),
        ({"allowed_scopes": ["GET /a/*"]}, {"allowed_scopes": ["GET /a/**"]}, ["allowed_scopes"]),
        ({"allowed_scopes": ["GET /a/*"]}, {"allowed_scopes": ["ANY /a/x"]}, ["allowed_scopes"]),
        ({"allowed_scopes": ["GET /a/*"]}, {}, ["allowed_scopes"]),
        ({"default_usage_policy": {"quota": {"limit": 5, "period": "day"}}}, {}, []),
    ],
)
def test_what_loosens(before: dict[str, Any], after: dict[str, Any], fields: list[str]) -> None:
    assert loosened(Guardrails.model_validate(before), Guardrails.model_validate(after)) == fields


@pytest.mark.parametrize(
    ("scope", "pattern", "within"),
    [
        ("GET /invoke", "*", True),
        ("*", "ANY /**", True),
        ("*", "GET /**", False),
        ("*", "ANY /*", False),
        ("GET /a/b", "ANY /a/*", True),
        ("* /a/b", "GET /a/*", False),
        ("ANY /a/b", "* /a/*", True),
        ("GET /a/*", "GET /a/*", True),
        ("GET /a/**", "GET /a/*", False),
        ("GET /a/*/c", "GET /a/**", True),
        ("GET /a/x*", "GET /a/*", True),
        ("GET /a/*", "GET /a/x*", False),
        ("GET /a/b/c", "GET /a/*", False),
        ("GET /items/{id}", "GET /items/*", True),
    ],
)
def test_scope_within(scope: str, pattern: str, within: bool) -> None:
    assert scope_within(scope, pattern) is within
    assert outside([scope], [pattern]) == ([] if within else [scope])


METHODS = st.sampled_from(["GET", "POST", "ANY", "*"])
PATHS = st.lists(st.sampled_from(["/", "a", "b", "*", "**"]), max_size=6).map(lambda parts: "/" + "".join(parts))
REQUEST_PATHS = st.lists(st.sampled_from(["/", "a", "b", "ab"]), max_size=6).map(lambda parts: "/" + "".join(parts))


@settings(max_examples=400, deadline=None)
@given(m1=METHODS, p1=PATHS, m2=METHODS, p2=PATHS, method=st.sampled_from(["GET", "POST"]), path=REQUEST_PATHS)
def test_a_scope_within_a_pattern_lets_through_nothing_the_pattern_refuses(
    m1: str, p1: str, m2: str, p2: str, method: str, path: str
) -> None:
    """Sound by the authorizer's meaning: whatever the scope matches, the pattern matches."""
    scope, pattern = f"{m1} {p1}", f"{m2} {p2}"
    if scope_within(scope, pattern) and scope_regex(scope).match(f"{method} {path}"):
        assert scope_regex(pattern).match(f"{method} {path}")
