"""The local stack's state folder: admin credentials, principals, and the stored state across restarts.

moto keeps everything in memory only, so the stack snapshots every secret through the Secrets
Manager API (the versions that carry a stage, their stages, tags, resource policy and
scheduled-deletion state; the signing keyring is a secret too) into secrets.json, and every item
of the deployment's DynamoDB table into table.json, after each admin write, each scheduled
rotation and on stop, and replays both through the same APIs at start. Both files are written
atomically with mode 0600. The API dates a replayed secret to the restart, so the replay sets its
creation and deletion dates back to what they were (``SecretsManagerEmulator.backdate``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import string
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from tokengate.local.principals import Principal

CREDENTIALS_FILE = "credentials.json"
PRINCIPALS_FILE = "principals.json"
SECRETS_FILE = "secrets.json"
TABLE_FILE = "table.json"
TABLE_FORMAT = 1
#: 2: ``deleted_date`` is when the deletion was asked for (1: when the recovery window ends).
SECRETS_FORMAT = 2
SECRETS_READABLE_FORMATS = (1, 2)
#: Where the running stack's embedded AWS (moto) answers, for the CLI's ``--from-secret`` and for
#: creating secrets beside the stack's (the reference design's): written at start, removed at stop.
AWS_ENDPOINT_FILE = "aws-endpoint.json"
ADMIN_ENV_KEY = "TOKENGATE_ADMIN_ACCESS_KEY_ID"
ADMIN_ENV_SECRET = "TOKENGATE_ADMIN_SECRET_ACCESS_KEY"
ADMIN_USER = "tokengate-local-admin"
MIN_RECOVERY_DAYS = 7


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


# -- snapshots ----------------------------------------------------------------------------------------


class CoalescedSaves:
    """Run ``save`` after writes, returning once a save begun after the call is done.

    Concurrent writers share saves: whoever finds none running takes one that covers every request
    so far, the others wait for it, so fifty parallel writes cost a few saves, not fifty.
    """

    def __init__(self, save: Callable[[], object]) -> None:
        self._save = save
        self._turns = threading.Condition()
        self._requested = 0
        self._written = 0
        self._saving = False

    def after_write(self) -> None:
        with self._turns:
            self._requested += 1
            ticket = self._requested
            while self._written < ticket:
                if self._saving:
                    self._turns.wait()
                    continue
                self._saving, covering, done = True, self._requested, False
                self._turns.release()
                try:
                    self._save()
                    done = True
                finally:
                    self._turns.acquire()
                    self._saving = False
                    if done:
                        self._written = max(self._written, covering)
                    self._turns.notify_all()


class TableSnapshot:
    """Save and replay every item of the deployment's DynamoDB table (the client-name claims, and
    the usage counters, so a restart neither resets a quota nor forgets a usage report).

    Items are kept exactly as DynamoDB returns them (typed attribute values), so they replay
    through PutItem unchanged, into whatever table the stack now uses."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        path: Path,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._table = table
        self._path = path
        self._now = now
        self._lock = threading.Lock()

    def save(self) -> int:
        with self._lock:
            items = self._scan()
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            document = {"format": TABLE_FORMAT, "saved_at": self._now().isoformat(), "items": items}
            write_private(self._path, json.dumps(document, indent=1, sort_keys=True) + "\n")
            return len(items)

    def _scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        for _ in range(100_000):
            kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self._client.scan(**kwargs)
            items += [dict(item) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return items

    def restore(self) -> int:
        """Replay table.json into the (empty) table; return how many items came back."""
        if not self._path.exists():
            return 0
        try:
            document = json.loads(self._path.read_text())
        except ValueError:
            raise ValueError(f"{self._path}: not valid JSON (move it away to start with no client names)") from None
        if not isinstance(document, dict) or document.get("format") != TABLE_FORMAT:
            found = document.get("format") if isinstance(document, dict) else None
            raise ValueError(f"{self._path}: unknown snapshot format {found!r}")
        items = document.get("items", [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValueError(f"{self._path}: items is not a list of DynamoDB items")
        with self._lock:
            for item in items:
                self._client.put_item(TableName=self._table, Item=item)
        return len(items)


class SecretsSnapshot:
    """Save and replay every secret through the Secrets Manager API.

    A revoked (scheduled-for-deletion) secret's value cannot be read, as in AWS, so its versions
    come from the last snapshot that could read them (every client is readable before its revoke,
    and a snapshot follows every admin write)."""

    def __init__(
        self,
        client: SecretsManagerClient,
        path: Path,
        *,
        recovery_window_days: int,
        backdate: Backdate | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._path = path
        self._recovery_window = timedelta(days=recovery_window_days)
        self._backdate = backdate
        self._now = now
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, str]] = {}  # secret name -> version id -> SecretString
        self._policies: dict[str, tuple[Any, str | None]] = {}  # secret name -> (LastChangedDate, policy)
        #: The names of the secrets the last restore brought back.
        self.restored_names: list[str] = []

    # -- save -------------------------------------------------------------------------------------

    def save(self) -> int:
        with self._lock:
            entries = [self._entry(listed) for listed in self._listed()]
            kept = [e for e in entries if e is not None]
            document = {"format": SECRETS_FORMAT, "saved_at": self._now().isoformat(), "secrets": kept}
            write_private(self._path, json.dumps(document, indent=1, sort_keys=True) + "\n")
            return len(kept)

    def _listed(self) -> list[dict[str, Any]]:
        pages = self._client.get_paginator("list_secrets").paginate(
            IncludePlannedDeletion=True, PaginationConfig={"PageSize": 100}
        )
        return [dict(s) for page in pages for s in page.get("SecretList", [])]

    def _entry(self, listed: dict[str, Any]) -> dict[str, Any] | None:
        """One secret from its ListSecrets entry. A version's value never changes, so only versions
        not seen before are read: a snapshot after one write costs one list plus that write's reads."""
        name = listed["Name"]
        stages = {vid: list(st) for vid, st in (listed.get("SecretVersionsToStages") or {}).items() if st}
        deleted = listed.get("DeletedDate")
        values = self._values.setdefault(name, {})
        if deleted is None:
            # A version staged for a rotation that never put its value has nothing to keep.
            staged_only = self._client.exceptions.ResourceNotFoundException
            for version_id in stages:
                if version_id not in values:
                    with contextlib.suppress(staged_only):
                        read = self._client.get_secret_value(SecretId=name, VersionId=version_id)
                        values[version_id] = read.get("SecretString", "")
        versions = [{"id": v, "stages": st, "secret_string": values[v]} for v, st in stages.items() if v in values]
        if not any("AWSCURRENT" in v["stages"] for v in versions):
            return None  # revoked before this stack could ever read it: nothing to restore it from
        changed = listed.get("LastChangedDate")
        if name not in self._policies or self._policies[name][0] != changed:
            try:
                policy = self._client.get_resource_policy(SecretId=name).get("ResourcePolicy")
            except ClientError:
                policy = None  # AWS may refuse this for a secret scheduled for deletion
            self._policies[name] = (changed, policy)
        return {
            "name": name,
            "description": listed.get("Description", ""),
            "tags": [{"Key": t["Key"], "Value": t["Value"]} for t in listed.get("Tags", []) or []],
            "versions": versions,
            "created_date": _iso(listed.get("CreatedDate")),
            "deleted_date": _iso(deleted),
            "resource_policy": self._policies[name][1],
        }

    # -- restore ----------------------------------------------------------------------------------

    def restore(self) -> int:
        """Replay secrets.json into an empty Secrets Manager; return how many secrets came back."""
        if not self._path.exists():
            return 0
        try:
            document = json.loads(self._path.read_text())
        except ValueError:
            raise ValueError(f"{self._path}: not valid JSON (move it away to start with no clients)") from None
        if document.get("format") not in SECRETS_READABLE_FORMATS:
            raise ValueError(f"{self._path}: unknown snapshot format {document.get('format')!r}")
        restored: list[str] = []
        with self._lock:
            for saved in document.get("secrets", []):
                entry = dict(saved)
                if document["format"] == 1 and entry.get("deleted_date"):
                    purged = datetime.fromisoformat(entry["deleted_date"])
                    entry["deleted_date"] = (purged - self._recovery_window).isoformat()
                if self._restore_one(entry):
                    restored.append(entry["name"])
        self.restored_names = restored
        return len(restored)

    def _restore_one(self, entry: dict[str, Any]) -> bool:
        name = entry["name"]
        versions: list[dict[str, Any]] = entry.get("versions") or []
        deleted = datetime.fromisoformat(entry["deleted_date"]) if entry.get("deleted_date") else None
        purged = None if deleted is None else deleted + self._recovery_window
        if purged is not None and purged <= self._now():
            return False  # its recovery window ended while the stack was stopped: gone, as in AWS
        current = next((v for v in versions if "AWSCURRENT" in v["stages"]), None)
        if current is None:
            return False
        previous = next((v for v in versions if "AWSPREVIOUS" in v["stages"]), None)
        others = [v for v in versions if v is not current and v is not previous]
        first = previous or current
        kwargs: dict[str, Any] = {
            "Name": name,
            "ClientRequestToken": first["id"],
            "SecretString": first["secret_string"],
            "Tags": entry.get("tags") or [],
        }
        if entry.get("description"):
            kwargs["Description"] = entry["description"]
        arn = self._client.create_secret(**kwargs)["ARN"]
        if previous is not None:
            # Putting the current value as AWSCURRENT moves AWSPREVIOUS onto the first version.
            self._client.put_secret_value(
                SecretId=name,
                ClientRequestToken=current["id"],
                SecretString=current["secret_string"],
                VersionStages=["AWSCURRENT"],
            )
        for version in others:
            self._client.put_secret_value(
                SecretId=name,
                ClientRequestToken=version["id"],
                SecretString=version["secret_string"],
                VersionStages=list(version["stages"]),
            )
        for version in [v for v in (current, previous) if v is not None]:
            # e.g. AWSPENDING left on the current version by a finished rotation
            for label in version["stages"]:
                if label not in ("AWSCURRENT", "AWSPREVIOUS"):
                    self._client.update_secret_version_stage(
                        SecretId=name, VersionStage=label, MoveToVersionId=version["id"]
                    )
        if entry.get("resource_policy"):
            self._client.put_resource_policy(SecretId=name, ResourcePolicy=entry["resource_policy"])
        self._values[name] = {v["id"]: v["secret_string"] for v in versions}
        if purged is not None:
            days = math.ceil((purged - self._now()) / timedelta(days=1))
            self._client.delete_secret(SecretId=name, RecoveryWindowInDays=max(MIN_RECOVERY_DAYS, min(30, days)))
        if self._backdate is not None:
            created = datetime.fromisoformat(entry["created_date"]) if entry.get("created_date") else None
            self._backdate(arn, created=created, deleted=deleted)
        return True


class Backdate(Protocol):
    """Sets a secret's creation and deletion dates, which the Secrets Manager API cannot."""

    def __call__(self, arn: str, *, created: datetime | None = None, deleted: datetime | None = None) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def write_aws_endpoint(state_dir: Path, url: str, region: str) -> None:
    write_private(state_dir / AWS_ENDPOINT_FILE, json.dumps({"url": url, "region": region}) + "\n")


def read_aws_endpoint(state_dir: Path) -> tuple[str, str] | None:
    """(url, region) of the running local stack's embedded AWS, or None when none is running."""
    try:
        data = json.loads((state_dir / AWS_ENDPOINT_FILE).read_text())
        return str(data["url"]), str(data["region"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
