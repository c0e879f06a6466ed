"""A client as the CLI shows it: what is set and only that, its usage policy included."""

from __future__ import annotations

from tokengate.cli.output import client_lines, table, when


def test_client_lines_show_what_is_set_and_only_that() -> None:
    client = {
        "client_id": "k",
        "tenant": "acme",
        "client_name": "billing",
        "status": "revoked",
        "enabled": True,
        "scopes": ["GET /invoke"],
        "expires_at": None,
        "created_at": "2026-01-02T03:04:05+00:00",
        "created_by": "arn:aws:iam::1:user/a",
        "rotation": {"period_days": 30, "grace_seconds": 60, "previous_token_valid_until": "2026-02-01T00:00:00Z"},
        "rotated_at": "2026-01-31T00:00:00+00:00",
        "token_fetch": True,
        "revoked_at": "2026-03-01T00:00:00+00:00",
        "revoked_by": "arn:aws:iam::1:user/b",
    }
    text = "\n".join(client_lines(client))
    assert "created         2026-01-02 03:04:05Z by arn:aws:iam::1:user/a" in text
    assert "every 30 days; grace 60 s; last 2026-01-31 00:00:00Z" in text
    assert "previous token  valid until 2026-02-01 00:00:00Z" in text
    assert "revoked         2026-03-01 00:00:00Z by arn:aws:iam::1:user/b" in text
    assert "reader" not in text and "updated" not in text
    assert "scopes          GET /invoke" in text
    assert when(None) == "-" and when("not a date") == "not a date"
    assert table([["a", "bb"]], ["X", "Y"]) == "X  Y\na  bb"
    # A revoked client's scopes are not readable (null): no line rather than a "-" that reads as "none".
    assert "scopes" not in "\n".join(client_lines({**client, "scopes": None}))
    assert "scopes          -" in "\n".join(client_lines({**client, "scopes": []}))


def test_client_lines_show_the_policy_it_has() -> None:
    base = {"client_id": "k", "tenant": "acme", "client_name": "partner", "status": "active", "enabled": True}
    limited = {
        **base,
        "rate_limit": {"requests_per_second": 2.0, "burst": 4},
        "quota": {"limit": 100, "period": "day"},
        "allowed_cidrs": ["203.0.113.0/24"],
        "on_limit": "tell_integration",
    }
    lines = {key.strip(): value for key, _, value in (line.partition("  ") for line in client_lines(limited))}
    assert lines["rate limit"].strip() == "2/s, burst 4"
    assert lines["quota"].strip() == "100 a day (UTC)"
    assert lines["allowed from"].strip() == "203.0.113.0/24"
    assert lines["on limit"].strip() == "tell_integration (429 from the integration)"
    plain = "\n".join(client_lines({**base, "on_limit": "deny"}))
    assert "rate limit" not in plain and "on limit" not in plain
