"""Local stand-ins for IAM identities: an access key, its secret, an ARN and the execute-api
resources it may invoke (IAM wildcards), from the local admin and principals.json.

The SigV4 verifier (:mod:`tokengate.local.iam`) looks signers up here; nothing here verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from tokengate_core.records.model import ReaderArn

ACCESS_KEY_PATTERN = r"^[A-Z0-9]{16,128}$"


class Principal(BaseModel):
    """One local IAM identity. ``allow`` holds execute-api:Invoke resource patterns (IAM wildcards)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key_id: Annotated[str, Field(pattern=ACCESS_KEY_PATTERN)]
    secret_access_key: Annotated[SecretStr, Field(min_length=16)]
    arn: ReaderArn  # an IAM or STS principal, as a client's reader_arn
    allow: Annotated[list[str], Field(min_length=1)]
    session_token: SecretStr | None = None
    user_id: str | None = None

    @property
    def account_id(self) -> str:
        return self.arn.split(":")[4]

    @property
    def caller_id(self) -> str:
        """What AWS reports as userId/callerId: AIDA... for a user, AROA...:session for a role session."""
        if self.user_id:
            return self.user_id
        digest = hashlib.sha256(self.arn.encode()).hexdigest().upper()
        resource = self.arn.split(":", 5)[5]
        if resource.startswith("assumed-role/"):
            session = resource.rsplit("/", 1)[-1]
            return f"AROA{digest[:17]}:{session}"
        return f"AIDA{digest[:17]}"

    def may_invoke(self, resource_arn: str) -> bool:
        return any(iam_match(pattern, resource_arn) for pattern in self.allow)


class PrincipalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principals: list[Principal] = []


def iam_match(pattern: str, value: str) -> bool:
    """IAM resource wildcards: ``*`` is any run of characters (slashes too), ``?`` exactly one.

    Greedy with a single resume point (the last ``*`` seen), so a check costs at most
    len(pattern) x len(value) steps. A regex with several ``.*`` backtracks polynomially in the
    length of the request path, which a caller chooses: seconds per request at a few hundred
    characters against a pattern with five wildcards.
    """
    p = v = 0
    star, resume = -1, 0
    while v < len(value):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, v
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", value[v]):
            p += 1
            v += 1
        elif star >= 0:
            resume += 1
            p, v = star + 1, resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


class PrincipalDirectory:
    """The admin principal plus those in principals.json, re-read when the file changes, so a
    tenant-scoped principal can be added while the stack runs."""

    def __init__(self, admin: Principal, path: Path | None) -> None:
        self._admin = admin
        self._path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._file: dict[str, Principal] = {}

    def lookup(self, access_key_id: str) -> Principal | None:
        if not re.fullmatch(ACCESS_KEY_PATTERN, access_key_id):
            # Nobody holds such a key; and compare_digest refuses non-ASCII text.
            return None
        if hmac.compare_digest(access_key_id, self._admin.access_key_id):
            return self._admin
        return self._from_file().get(access_key_id)

    def _from_file(self) -> dict[str, Principal]:
        if self._path is None:
            return {}
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime
            except FileNotFoundError:
                self._file, self._mtime = {}, None
                return self._file
            if mtime != self._mtime:
                self._file = {p.access_key_id: p for p in load_principals(self._path)}
                self._mtime = mtime
            return self._file


def load_principals(path: Path) -> list[Principal]:
    """Raise ValueError naming the file when it is not valid (the stack refuses to start on it)."""
    try:
        return PrincipalsFile.model_validate(json.loads(path.read_text())).principals
    except (ValueError, ValidationError) as error:
        raise ValueError(f"{path}: not a valid principals file ({_first_problem(error)})") from None


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return type(error).__name__


def api_arn(region: str, account_id: str, api_id: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}"


def execute_api_arn(api: str, stage: str, method: str, path: str) -> str:
    """The resource an execute-api:Invoke policy names: ``<api arn>/<stage>/<METHOD>/<path without leading slash>``."""
    return f"{api}/{stage}/{method.upper()}/{path.lstrip('/')}"
