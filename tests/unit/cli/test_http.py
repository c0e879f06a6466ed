"""The CLI's HTTP failures as one line each: hints that fit the target, and the API's code with its
first detail."""

from __future__ import annotations

import urllib3

from tests.unit.cli.support import DEPLOYED
from tokengate.cli.errors import EXIT_UNREACHABLE
from tokengate.cli.http import api_error, unreachable


def test_unreachable_hints_fit_the_target() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    local = unreachable("http://127.0.0.1:8080/dev", refused)
    assert (local.code, local.exit_code) == ("unreachable", EXIT_UNREACHABLE)
    assert "connection refused" in local.message and "tokengate local" in local.message
    deployed = unreachable(DEPLOYED, urllib3.exceptions.NameResolutionError("x", None, OSError()))  # type: ignore[arg-type]
    assert "unknown host" in deployed.message and "tokengate local" not in deployed.message
    assert "--endpoint" in deployed.message
    slow = unreachable(DEPLOYED, urllib3.exceptions.ReadTimeoutError(None, "/", "slow"))  # type: ignore[arg-type]
    assert (slow.code, "no answer in time" in slow.message) == ("timeout", True)


def test_api_errors_keep_the_code_and_the_first_detail() -> None:
    detailed = api_error(
        422,
        {
            "code": "validation_error",
            "message": "request failed\nvalidation",
            "details": [{"loc": ["body", "x"], "msg": "bad"}],
        },
        "",
    )
    assert str(detailed) == "validation_error: request failed validation (body.x: bad)"
    assert str(api_error(403, {"message": "Forbidden"}, "")) == "forbidden: Forbidden"
    assert str(api_error(502, None, "<html>\n bad   gateway</html>")) == "bad_gateway: <html> bad gateway</html>"
    assert str(api_error(418, None, "")) == "http_418: HTTP 418"
