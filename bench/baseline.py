"""The baseline: an authorizer written the way the reference design works, to measure against.

Per request it builds a new boto3 session and client, makes one GetSecretValue for the one secret
that holds every valid token, and allows when ``presented in stored``. Nothing is cached.

This is deliberately faithful, flaws included: the substring check accepts any fragment of any
stored token (an empty string, a single character), compares in variable time, and every request
costs a backend call, so a throttled or unreachable Secrets Manager denies everyone. Do not use it.
"""

from __future__ import annotations

import os
from typing import Any

import boto3  # at module top, as the reference design has it

SECRET_ID = os.environ.get("BASELINE_SECRET_ID", "baseline/api-tokens")


def handler(event: dict[str, Any], context: object) -> dict[str, bool]:
    headers = event.get("headers") or {}
    presented = headers.get("authorization", "")
    if presented.lower().startswith("bearer "):
        presented = presented[7:]
    try:
        session = boto3.session.Session()
        client = session.client("secretsmanager")
        stored = client.get_secret_value(SecretId=SECRET_ID)["SecretString"]
    except Exception:
        return {"isAuthorized": False}
    return {"isAuthorized": presented in stored}


def create_secret(tokens: list[str]) -> None:
    """Store the baseline's token list (one secret, newline-separated) in the emulator."""
    client = boto3.session.Session().client("secretsmanager")
    client.create_secret(Name=SECRET_ID, SecretString="\n".join(tokens))
