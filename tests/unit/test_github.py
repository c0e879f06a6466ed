"""GitHub's alert signatures and key list: GitHub's own published example verifies, anything else
does not, and the keys are fetched sparingly, over https or loopback, never by redirect."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support_github import Clock, KeyListEndpoint, SigningKey, key_list
from tokengate_core.deployment.config import ConfigError, LeakSettings
from tokengate_core.lifecycle import github

#: GitHub's documented example (secret scanning partner program): a test key, its id, a payload
#: and the signature GitHub shows for it.
DOC_KEY_ID = "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d"
DOC_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsz9ugWDj5jK5ELBK42ynytbo38gP
HzZFI03Exwz8Lh/tCfL3YxwMdLjB+bMznsanlhK0RwcGP3IDb34kQDIo3Q==
-----END PUBLIC KEY-----
"""
DOC_PAYLOAD = b'[{"token":"some_token","type":"some_type","url":"some_url","source":"some_source"}]'
DOC_SIGNATURE = "MEUCIFLZzeK++IhS+y276SRk2Pe5LfDrfvTXu6iwKKcFGCrvAiEAhHN2kDOhy2I6eGkOFmxNkOJ+L2y8oQ9A2T9GGJo6WJY="


def doc_keys() -> dict[str, ec.EllipticCurvePublicKey]:
    return github.parse_keys(json.dumps({"public_keys": [{"key_identifier": DOC_KEY_ID, "key": DOC_KEY}]}))


def test_githubs_own_example_verifies() -> None:
    key = doc_keys()[DOC_KEY_ID]
    assert github.verify(key, DOC_SIGNATURE, DOC_PAYLOAD)


@pytest.mark.parametrize(
    ("signature", "payload"),
    [
        (DOC_SIGNATURE, DOC_PAYLOAD + b"\n"),  # the raw body, not a re-serialisation
        (DOC_SIGNATURE, DOC_PAYLOAD.replace(b"some_token", b"other_tokn")),
        (DOC_SIGNATURE[:-4] + "AAA=", DOC_PAYLOAD),
        ("not base64!", DOC_PAYLOAD),
        ("", DOC_PAYLOAD),
        ("QUJD", DOC_PAYLOAD),  # base64 of "ABC": not DER
        ("A" * 4000, DOC_PAYLOAD),
    ],
)
def test_anything_else_does_not(signature: str, payload: bytes) -> None:
    assert not github.verify(doc_keys()[DOC_KEY_ID], signature, payload)


def test_a_key_list_keeps_only_p256_keys() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()

    def pem(key: Any) -> str:
        return str(
            key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        )

    good = SigningKey("good")
    entries = [
        {"key_identifier": "p384", "key": pem(p384)},
        {"key_identifier": "rsa", "key": pem(rsa_key)},
        {"key_identifier": "junk", "key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"},
        {"key_identifier": 5, "key": good.pem()},
        "not an entry",
        {"key_identifier": "good", "key": good.pem(), "is_current": False},
    ]
    assert set(github.parse_keys(json.dumps({"public_keys": entries}))) == {"good"}
    for text in ("[]", "{}", "not json", '{"public_keys": 3}'):
        with pytest.raises(github.KeysUnavailable):
            github.parse_keys(text)


def test_keys_are_kept_for_their_ttl_and_an_unknown_id_refetches_at_most_once_a_minute() -> None:
    old, new = SigningKey("old"), SigningKey("new")
    fetch, clock = KeyListEndpoint(old), Clock(1000.0)
    keys = github.GitHubKeys(url="https://example.com/keys", file=None, ttl=3600, timeout=1, fetch=fetch, clock=clock)
    assert keys.key("old") is not None and fetch.requests == 1
    for _ in range(100):  # an outsider's made-up key ids
        assert keys.key("made-up") is None
    assert fetch.requests == 1
    fetch.keys.append(new)
    clock.now += 61
    assert keys.key("new") is not None and fetch.requests == 2  # a key GitHub just added
    clock.now += 3600
    keys.key("old")
    assert fetch.requests == 3  # the TTL


def test_a_known_key_never_fails_because_a_refresh_failed() -> None:
    key, fetch, clock = SigningKey("k"), KeyListEndpoint(), Clock(1000.0)
    fetch.keys = [key]
    keys = github.GitHubKeys(url="https://example.com/keys", file=None, ttl=600, timeout=1, fetch=fetch, clock=clock)
    assert keys.key("k") is not None
    fetch.failing = True
    for _ in range(50):  # GitHub unreachable (or rate-limiting us) for many TTLs
        clock.now += 700
        assert keys.key("k") is not None
        assert keys.key("made-up") is None  # an unknown id is a 401, not a 503
    assert fetch.requests == 51  # a stale list is retried at most once a minute meanwhile
    fetch.failing = False
    fetch.keys = [SigningKey("other")]
    clock.now += 700
    assert keys.key("k") is None and keys.key("other") is not None  # a list fetched replaces it


@pytest.mark.parametrize(
    "served",
    [b'{"public_keys": []}', b"<html>rate limited</html>", b'{"public_keys": [{"key_identifier": "x", "key": "?"}]}'],
)
def test_a_list_with_no_usable_key_replaces_nothing(served: bytes) -> None:
    key, fetch, clock = SigningKey("k"), KeyListEndpoint(), Clock(1000.0)
    fetch.keys = [key]
    keys = github.GitHubKeys(url="https://example.com/keys", file=None, ttl=600, timeout=1, fetch=fetch, clock=clock)
    assert keys.key("k") is not None
    keys._fetch = lambda url, timeout: served
    clock.now += 700
    assert keys.key("k") is not None


def test_with_no_key_ever_had_nothing_verifies() -> None:
    fetch, clock = KeyListEndpoint(SigningKey("k")), Clock(1000.0)
    fetch.failing = True
    keys = github.GitHubKeys(url="https://example.com/keys", file=None, ttl=600, timeout=1, fetch=fetch, clock=clock)
    with pytest.raises(github.KeysUnavailable):
        keys.key("k")


class _KeyListHandler(http.server.BaseHTTPRequestHandler):
    """Serves its server's ``state``: a status, an optional Location and a body."""

    def do_GET(self) -> None:
        state: dict[str, Any] = self.server.state  # type: ignore[attr-defined]
        self.send_response(state["status"])
        if state["location"]:
            self.send_header("Location", state["location"])
        self.end_headers()
        self.wfile.write(state["body"])

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def key_server() -> Iterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"status": 200, "body": key_list(SigningKey("served")).encode(), "location": None}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeyListHandler)
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/keys", state
    server.shutdown()


def test_keys_are_fetched_over_http_from_the_configured_url_only(key_server: tuple[str, dict[str, Any]]) -> None:
    url, state = key_server
    assert set(github.parse_keys(github.fetch_https(url, 2))) == {"served"}
    state["status"], state["location"] = 302, "http://127.0.0.1:9/elsewhere"
    with pytest.raises(OSError):
        github.fetch_https(url, 2)  # no redirect is followed
    state["status"], state["location"], state["body"] = 200, None, b"x" * (github.MAX_KEYS_BYTES + 1)
    with pytest.raises(github.KeysUnavailable):
        github.fetch_https(url, 2)


@pytest.mark.parametrize(
    "url", ["http://example.com/keys", "ftp://example.com/keys", "file:///etc/passwd", "http://10.0.0.1/keys", ""]
)
def test_the_keys_url_is_https_or_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="TOKENGATE_GITHUB_KEYS_URL"):
        LeakSettings.from_env({"TOKENGATE_GITHUB_KEYS_URL": url})
    assert LeakSettings.from_env({"TOKENGATE_GITHUB_KEYS_URL": "http://127.0.0.1:8000/k"}).github_keys_url
