"""The local stack's state folder: admin credentials, principals, and where the embedded AWS answers.

The secrets and the table's items live in state.db (tokengate.local.store), the events in
events.jsonl (tokengate.local.event_log); the small files here are written atomically, mode 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokengate.local.principals import Principal

CREDENTIALS_FILE = "credentials.json"
PRINCIPALS_FILE = "principals.json"
#: Where the running stack's embedded AWS (moto) answers, for the CLI's ``--from-secret`` and for
#: creating secrets beside the stack's (the reference design's): written at start, removed at stop.
AWS_ENDPOINT_FILE = "aws-endpoint.json"
ADMIN_ENV_KEY = "TOKENGATE_ADMIN_ACCESS_KEY_ID"
ADMIN_ENV_SECRET = "TOKENGATE_ADMIN_SECRET_ACCESS_KEY"
ADMIN_USER = "tokengate-local-admin"


def write_private(path: Path, data: str) -> None:
    """Write atomically, readable by the owner only (0600) from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def ensure_state_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        path.chmod(0o700)
    return path


# -- admin credentials ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str
    source: str  # "generated" (first start, show once) | "file" | "environment"

    def principal(self, account_id: str, region: str, api_id: str) -> Principal:
        from tokengate.local.principals import Principal  # the CLI reads credentials without pydantic models

        return Principal.model_validate(
            {
                "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key,
                "arn": f"arn:aws:iam::{account_id}:user/{ADMIN_USER}",
                "allow": [f"arn:aws:execute-api:{region}:{account_id}:{api_id}/*"],
            }
        )


def admin_credentials(state_dir: Path, region: str, environ: Mapping[str, str]) -> AdminCredentials:
    """The environment's pair if set (never written to disk), else credentials.json, else a new pair.

    A pair the local IAM would refuse is a ValueError naming where each bad value came from (never
    the value): the stack does not start with an admin that could never sign in."""
    key, secret = environ.get(ADMIN_ENV_KEY), environ.get(ADMIN_ENV_SECRET)
    if key or secret:
        if not (key and secret):
            raise ValueError(f"set both {ADMIN_ENV_KEY} and {ADMIN_ENV_SECRET}, or neither")
        given = AdminCredentials(key, secret, "environment")
        return _accepted(given, {"access_key_id": ADMIN_ENV_KEY, "secret_access_key": ADMIN_ENV_SECRET})
    path = state_dir / CREDENTIALS_FILE
    if path.exists():
        try:
            data = json.loads(path.read_text())
            stored = AdminCredentials(str(data["access_key_id"]), str(data["secret_access_key"]), "file")
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: not a valid credentials file (delete it to generate new ones)") from None
        return _accepted(stored, {name: f"{path}: {name}" for name in ("access_key_id", "secret_access_key")})
    alphabet = string.ascii_uppercase + "234567"
    generated = AdminCredentials(
        access_key_id="AKIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
        secret_access_key=secrets.token_urlsafe(30),
        source="generated",
    )
    payload = {
        "access_key_id": generated.access_key_id,
        "secret_access_key": generated.secret_access_key,
        "region": region,
        "note": "Local admin for `tokengate local` (full execute-api:Invoke). The tokengate CLI reads this file.",
    }
    write_private(path, json.dumps(payload, indent=2) + "\n")
    return generated


def _accepted(credentials: AdminCredentials, origins: Mapping[str, str]) -> AdminCredentials:
    from pydantic import ValidationError

    try:
        credentials.principal("123456789012", "us-east-1", "check")
    except ValidationError as error:
        problems = "; ".join(
            f"{origins.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'credentials'}: {e['msg']}"
            for e in error.errors()
        )
        raise ValueError(problems) from None
    return credentials


def read_local_credentials(state_dir: Path, environ: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """For the CLI: (access key id, secret, region) of the local admin, or None."""
    key, secret = environ.get(ADMIN_ENV_KEY), environ.get(ADMIN_ENV_SECRET)
    if key and secret:
        return key, secret, None
    path = state_dir / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        return str(data["access_key_id"]), str(data["secret_access_key"]), data.get("region")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_principals_file(state_dir: Path) -> Path:
    path = state_dir / PRINCIPALS_FILE
    if not path.exists():
        write_private(path, json.dumps({"principals": []}, indent=2) + "\n")
    return path


def write_aws_endpoint(state_dir: Path, url: str, region: str) -> None:
    write_private(state_dir / AWS_ENDPOINT_FILE, json.dumps({"url": url, "region": region}) + "\n")


def read_aws_endpoint(state_dir: Path) -> tuple[str, str] | None:
    """(url, region) of the running local stack's embedded AWS, or None when none is running."""
    try:
        data = json.loads((state_dir / AWS_ENDPOINT_FILE).read_text())
        return str(data["url"]), str(data["region"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
