"""No token, Authorization value or session token in anything the main, admin, delivery and leak
functions print, with every logging switch on: Powertools event logging, DEBUG level, Powertools'
own debug output (POWERTOOLS_DEBUG, which also logs each admin route's arguments) and development
mode, and the root logger at DEBUG (as Lambda's AWS_LAMBDA_LOG_LEVEL=DEBUG sets it). Tokens reach
the functions in headers, cookies, leak reports (GitHub's and an operator's, in the tokens and in
the URL), imports and bodies that fail validation.

Powertools reads these switches at import, so the handlers run in a fresh interpreter, against
this process's embedded Secrets Manager; everything the child prints is scanned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.runtime.observability import REDACTED, redact_event

REPO = Path(__file__).resolve().parents[2]
LOUD = {
    "POWERTOOLS_LOGGER_LOG_EVENT": "true",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
    "POWERTOOLS_DEBUG": "true",
    "POWERTOOLS_DEV": "true",
}
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE01/20261125/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-security-token, "
    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)
SESSION_TOKEN = "FwoGZXIvYXdzEJr-session-token-that-must-not-be-logged"
#: Values for the import route: a token callers already hold (made up, strong), and a weak one.
IMPORTED = "ref-4qK9vTz2Lw8nXc3RbY7mJp5sHd1Gf6Ae"
WEAK = "correcthorsebatterystaple"

CHILD = r"""
import json, logging, os, pathlib, sys
from tokengate.testing.gateway_events import FakeContext, admin_event, authorizer_event

job = json.load(sys.stdin)
os.environ["TOKENGATE_GITHUB_KEYS_FILE"] = job["github_keys_file"]
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
from admin import app as admin_app
from delivery import app as delivery_app
from leaks import app as leaks_app
from main import app as main_app
from tests.support_github import SigningKey, alert_body, alert_event, write_key_list

github = SigningKey("loud-key")
write_key_list(pathlib.Path(job["github_keys_file"]), github)
issued = []

def admin(method, path, body=None, raw_body=None, headers=None):
    event = admin_event(method, path, body, raw_body=raw_body)
    event["headers"].update(headers or {})
    response = admin_app.handler(event, FakeContext())
    return response["statusCode"], json.loads(response.get("body") or "null")

base = "/admin/tenants/acme/clients"
credentials = {"authorization": job["sigv4"], "x-amz-security-token": job["session_token"]}
status, body = admin("POST", base, {"client_name": "logbot"}, headers=credentials)
assert status == 201, body
client_id = body["client"]["client_id"]
issued.append(body["token"])
status, body = admin("POST", f"{base}/{client_id}/rotate", headers=credentials)
assert status == 200, body
issued.append(body["token"])
admin("GET", base, headers=credentials)
admin("GET", f"{base}/{client_id}", headers=credentials)
# A caller pasting a token into a body, valid JSON or not, and into a header of its own.
admin("PATCH", f"{base}/{client_id}", {"scopes": [issued[0]]}, headers=credentials)
admin("PATCH", f"{base}/{client_id}", raw_body='{"scopes": ["' + issued[0], headers=credentials)
admin("GET", base, headers={**credentials, "x-debug-token": issued[0]})

for authorization in (issued[1], "Bearer " + issued[1], "bearer " + issued[0]):
    event = authorizer_event(authorization)
    event["requestContext"]["authorizer"] = {
        "lambda": {"tenant": "acme", "client_id": client_id, "client_name": "logbot", "scopes": "*"}
    }
    event["cookies"] = ["session=" + issued[1]]
    response = main_app.handler(event, FakeContext())
    assert response["statusCode"] == 200, response
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /token"
    response = delivery_app.handler(event, FakeContext())
    assert response["statusCode"] in (200, 403), response

# Leaks reported by an operator and by GitHub, the tokens also in the URL.
for token in issued:
    url = f"https://paste.example/{token}?t={token}"
    status, body = admin("POST", "/admin/leaks", {"tokens": [token], "url": url}, headers=credentials)
    assert status == 200, body
alert = alert_body(*issued, url="https://github.com/o/r/blob/x/.env?" + issued[0])
assert leaks_app.handler(alert_event(alert, github), FakeContext())["statusCode"] == 200
# A token callers already hold, imported; and one refused as weak.
status, body = admin(
    "POST", "/admin/imports", {"tenant": "acme", "client_name": "legacy", "token": job["imported"]}, headers=credentials
)
assert status == 201, body
status, body = admin(
    "POST", "/admin/imports", {"tenant": "acme", "client_name": "weak", "token": job["weak"]}, headers=credentials
)
assert status == 422, body

with open(job["issued_file"], "w") as handle:
    json.dump(issued, handle)
"""


def run_loud(job: dict[str, str]) -> str:
    env = {
        **os.environ,
        **LOUD,
        "PYTHONPATH": os.pathsep.join([str(REPO / "services"), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(job),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_main_and_admin_log_no_credential_with_every_logging_switch_on(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    issued_file = tmp_path / "issued.json"
    job = {
        "sigv4": SIGV4,
        "session_token": SESSION_TOKEN,
        "issued_file": str(issued_file),
        "github_keys_file": str(tmp_path / "github-keys.json"),
        "imported": IMPORTED,
        "weak": WEAK,
    }
    printed = run_loud(job)
    issued = json.loads(issued_file.read_text())
    assert len(issued) == 2
    # The switches took effect: events were logged (redacted) and DEBUG output was written, the
    # admin routes' arguments among it.
    assert '"routeKey"' in printed and REDACTED in printed
    assert "DEBUG:aws_lambda_powertools" in printed and "Calling API Route Handler" in printed
    for secret in [*issued, SIGV4, SESSION_TOKEN, SIGV4.rsplit("=", 1)[1], IMPORTED, WEAK]:
        assert secret not in printed
    for token in issued:
        assert token.split("_")[2] not in printed  # not even the secret part on its own


def test_redaction_keeps_what_helps_and_drops_what_authenticates() -> None:
    token = "tg_7gcwj9lfd4pw7m56qdlj_D8YDwvhKlA3y5bJdCMagiku61AsqfS5rfgn0pj038Yz4CURMB"
    event: dict[str, Any] = {
        "routeKey": "ANY /invoke",
        "rawPath": "/dev/invoke",
        "rawQueryString": f"debug={token}",
        "headers": {"Authorization": f"Bearer {token}", "X-Amz-Security-Token": SESSION_TOKEN, "accept": "*/*"},
        "multiValueHeaders": {"cookie": ["a=b"]},
        "identitySource": [token],
        "cookies": [f"s={token}"],
        "body": json.dumps({"token": token}),
        "requestContext": {"authorizer": {"lambda": {"tenant": "acme"}}, "http": {"method": "GET"}},
    }
    redacted = redact_event(event)
    text = json.dumps(redacted)
    assert token not in text and SESSION_TOKEN not in text and "a=b" not in text
    assert redacted["headers"] == {"Authorization": REDACTED, "X-Amz-Security-Token": REDACTED, "accept": "*/*"}
    assert redacted["routeKey"] == "ANY /invoke" and redacted["rawPath"] == "/dev/invoke"
    assert redacted["requestContext"] == event["requestContext"]
    assert redacted["body"] == f"[{len(event['body'])} characters]"
    assert event["headers"]["Authorization"] == f"Bearer {token}"  # the handler's own event is untouched


def _request_bodies() -> list[type[Any]]:
    from tokengate_core.admin import api

    found: list[type[Any]] = []
    pending = list(api._Body.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return sorted(found, key=lambda model: model.__name__)


@pytest.mark.parametrize("model", _request_bodies(), ids=lambda model: model.__name__)
def test_no_request_body_shows_a_value_in_its_repr(model: Any) -> None:
    """Powertools' debug output formats each route's arguments with repr: a body names its fields only."""
    marker = "a-value-that-must-not-show"
    body = model.model_construct(**dict.fromkeys(model.model_fields, marker))
    for text in (repr(body), str(body), f"{ {'body': body} }"):
        assert marker not in text
        assert all(name in text for name in model.model_fields) or not model.model_fields
