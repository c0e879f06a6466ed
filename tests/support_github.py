"""A stand-in for GitHub's secret scanning: signing keys, the published key list, signed alerts."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tokengate_core.lifecycle.github import KEY_ID_HEADER, SIGNATURE_HEADER


@dataclass
class SigningKey:
    key_id: str
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def pem(self) -> str:
        public = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return public.decode()

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def key_list(*keys: SigningKey, current: str | None = None) -> str:
    """The JSON GitHub publishes at /meta/public_keys/secret_scanning."""
    entries = [{"key_identifier": k.key_id, "key": k.pem(), "is_current": k.key_id == current} for k in keys]
    return json.dumps({"public_keys": entries})


def write_key_list(path: Path, *keys: SigningKey, current: str | None = None) -> Path:
    path.write_text(key_list(*keys, current=current))
    return path


def alert_body(*tokens: str, url: str = "https://github.com/octo/repo/blob/abc/config.env") -> bytes:
    matches = [{"token": t, "type": "tokengate_token", "url": url, "source": "content"} for t in tokens]
    return json.dumps(matches).encode()


def alert_event(body: bytes, key: SigningKey | None, *, signature: str | None = None) -> dict[str, Any]:
    """The payload 2.0 event API Gateway hands the leak function for GitHub's POST."""
    headers = {"content-type": "application/json", "host": "api.example.com", "user-agent": "GitHub-Hookshot"}
    if key is not None:
        headers[KEY_ID_HEADER] = key.key_id
        headers[SIGNATURE_HEADER] = signature if signature is not None else key.sign(body)
    return {
        "version": "2.0",
        "routeKey": "POST /leaks/github",
        "rawPath": "/dev/leaks/github",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": "POST", "path": "/dev/leaks/github", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "req",
            "routeKey": "POST /leaks/github",
            "stage": "dev",
        },
        **_event_body(body),
    }


class KeyListEndpoint:
    """GitHub's key list endpoint, as ``GitHubKeys`` fetches it: counts the requests, and fails
    (unreachable, or a 403 for the rate limit) while ``failing``."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.requests = 0
        self.failing = False

    def __call__(self, url: str, timeout: float) -> bytes:
        self.requests += 1
        if self.failing:
            raise OSError("HTTP Error 403: rate limit exceeded")
        return key_list(*self.keys).encode()


@dataclass
class Clock:
    """A wall clock that moves only when told."""

    now: float

    def __call__(self) -> float:
        return self.now


def _event_body(body: bytes) -> dict[str, Any]:
    """As API Gateway passes a body: text when it is UTF-8, else base64."""
    try:
        return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
