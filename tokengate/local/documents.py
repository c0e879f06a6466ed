"""The local stack's state as the store keeps it: one JSON document per secret, one per table item.

A document holds what Secrets Manager or DynamoDB would give back about the thing, not moto's
objects: a secret's versions that carry a staging label (a version without one is deprecated and
Secrets Manager removes it; see "Secret versions" in the Secrets Manager user guide), its tags,
description, resource policy, rotation settings and dates (creation, last change, the revocation
asked for); an item exactly as DynamoDB returns it (typed attribute values). Every document is
validated on the way in, so a damaged or hand-edited row stops the start with its name and what
is wrong instead of turning into a half-restored client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CURRENT = "AWSCURRENT"
#: DynamoDB's attribute value types (AttributeValue in the DynamoDB API reference).
_SCALARS = {"S": str, "N": str, "B": str, "BOOL": bool, "NULL": bool}
_SETS = ("SS", "NS", "BS")


class StateError(ValueError):
    """A document that is not a valid secret or item: what is wrong, in a few words."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Tag(_Strict):
    Key: str
    Value: str


class Version(_Strict):
    created: float
    stages: Annotated[list[str], Field(min_length=1)]
    string: str | None = None
    binary: str | None = None

    @model_validator(mode="after")
    def _one_value(self) -> Version:
        if (self.string is None) == (self.binary is None):
            raise ValueError("a version holds exactly one of string and binary")
        return self


class Rotation(_Strict):
    requested: bool = False
    enabled: bool = False
    lambda_arn: str = ""
    after_days: int = 0
    last: float | None = None
    next: float | None = None


class SecretDocument(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=512)]
    arn: Annotated[str, Field(pattern=r"^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")]
    description: str | None = None
    kms_key_id: str | None = None
    tags: list[Tag] | None = None
    created: float | None = None
    changed: float | None = None
    #: When the revoke (DeleteSecret with a recovery window) was asked for; None: not revoked.
    deleted: float | None = None
    policy: str | None = None
    rotation: Rotation = Rotation()
    versions: dict[str, Version]

    @model_validator(mode="after")
    def _stages_once(self) -> SecretDocument:
        seen: set[str] = set()
        for version in self.versions.values():
            for stage in version.stages:
                if stage in seen:
                    raise ValueError(f"stage {stage} is on more than one version")
                seen.add(stage)
        if self.versions and CURRENT not in seen:
            raise ValueError(f"no version carries {CURRENT}")
        return self

    @property
    def current(self) -> str | None:
        return next((vid for vid, v in self.versions.items() if CURRENT in v.stages), None)


def parse_secret(text: str) -> SecretDocument:
    try:
        return SecretDocument.model_validate_json(text)
    except ValidationError as error:
        raise StateError(_first_problem(error)) from None


def parse_item(text: str, key_attributes: tuple[str, ...]) -> dict[str, Any]:
    """An item's attributes, checked: every value a DynamoDB attribute value, the key ones present."""
    try:
        item = json.loads(text)
    except ValueError:
        raise StateError("not JSON") from None
    if not isinstance(item, dict) or not item:
        raise StateError("not a map of attributes")
    for name, value in item.items():
        _check_value(value, name)
    for name in key_attributes:
        if not isinstance(item.get(name), dict) or len(item[name]) != 1 or next(iter(item[name])) not in "SNB":
            raise StateError(f"key attribute {name} missing or not a string, number or binary")
    return item


def item_key(item: Mapping[str, Any], key_attributes: tuple[str, ...]) -> str:
    """The row key of an item: its key attributes' typed values, as canonical JSON."""
    return json.dumps([item[name] for name in key_attributes], sort_keys=True, separators=(",", ":"))


def dump(document: SecretDocument | Mapping[str, Any]) -> str:
    if isinstance(document, SecretDocument):
        return document.model_dump_json(exclude_defaults=True)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _check_value(value: Any, where: str, depth: int = 0) -> None:
    if depth > 32 or not isinstance(value, dict) or len(value) != 1:
        raise StateError(f"attribute {where}: not a DynamoDB attribute value")
    kind, inner = next(iter(value.items()))
    if kind in _SCALARS:
        ok = isinstance(inner, _SCALARS[kind]) and (kind != "NULL" or inner is True)
    elif kind in _SETS:
        ok = isinstance(inner, list) and bool(inner) and all(isinstance(v, str) for v in inner)
    elif kind == "L":
        ok = isinstance(inner, list)
        for index, element in enumerate(inner if ok else []):
            _check_value(element, f"{where}[{index}]", depth + 1)
    elif kind == "M":
        ok = isinstance(inner, dict)
        for name, element in (inner if ok else {}).items():
            _check_value(element, f"{where}.{name}", depth + 1)
    else:
        ok = False
    if not ok:
        raise StateError(f"attribute {where}: not a DynamoDB attribute value")


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# -- moto's objects -------------------------------------------------------------------------------------


def secret_document(secret: Any) -> SecretDocument:
    """A moto FakeSecret as a document (the versions that carry a stage and a value: a version
    Secrets Manager staged for a rotation whose createSecret has not put its value yet holds
    nothing to keep, and a rotation stopped there starts again with a new version)."""
    versions = {}
    for version_id, version in secret.versions.items():
        empty = version.get("secret_string") is None and version.get("secret_binary") is None
        if version.get("version_stages") and not empty:
            versions[version_id] = Version(
                created=float(version["createdate"]),
                stages=list(version["version_stages"]),
                string=version.get("secret_string"),
                binary=version.get("secret_binary") if "secret_string" not in version else None,
            )
    return SecretDocument(
        name=secret.name,
        arn=secret.arn,
        description=secret.description,
        kms_key_id=secret.kms_key_id,
        tags=[Tag(Key=t["Key"], Value=t["Value"]) for t in secret.tags] if secret.tags else None,
        created=_number(secret.created_date),
        changed=_number(secret.last_changed_date),
        deleted=_number(secret.deleted_date),
        policy=secret.policy,
        rotation=Rotation(
            requested=bool(secret.rotation_requested),
            enabled=bool(secret.rotation_enabled),
            lambda_arn=secret.rotation_lambda_arn or "",
            after_days=int(secret.auto_rotate_after_days or 0),
            last=_number(secret.last_rotation_date),
            next=_number(secret.next_rotation_date),
        ),
        versions=versions,
    )


def build_secret(document: SecretDocument, account: str, region: str) -> Any:
    """A moto FakeSecret from a document, in ``account`` and ``region`` (a state folder may be
    started in another region than the one it was saved in: the ARN follows, its name and suffix stay)."""
    from moto.secretsmanager.models import FakeSecret

    secret = FakeSecret(
        account_id=account,
        region_name=region,
        secret_id=document.name,
        secret_version={},
        version_id="",
        description=document.description,
        tags=[tag.model_dump() for tag in document.tags] if document.tags else None,
        kms_key_id=document.kms_key_id,
        last_changed_date=document.changed,  # type: ignore[arg-type]
        created_date=document.created,  # type: ignore[arg-type]
    )
    parts = document.arn.split(":", 6)
    secret.arn = ":".join([*parts[:3], region, account, *parts[5:]])
    secret.versions = {
        vid: {
            "createdate": v.created,
            "version_id": vid,
            "version_stages": list(v.stages),
            **({"secret_string": v.string} if v.string is not None else {"secret_binary": v.binary}),
        }
        for vid, v in document.versions.items()
    }
    current = document.current
    secret.set_default_version_id(current)
    if current is not None:
        secret.secret_string = document.versions[current].string
    secret.deleted_date = document.deleted
    secret.policy = document.policy
    rotation = document.rotation
    secret.rotation_requested = rotation.requested
    secret.rotation_enabled = rotation.enabled
    secret.rotation_lambda_arn = rotation.lambda_arn
    secret.auto_rotate_after_days = rotation.after_days
    secret.last_rotation_date = None if rotation.last is None else int(rotation.last)
    secret.next_rotation_date = None if rotation.next is None else int(rotation.next)
    return secret


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
