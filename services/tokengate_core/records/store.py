"""Data access: one client = one secret named ``<prefix><key id>``. Nothing else talks to Secrets Manager.

The reads the authorizer makes, and the error mapping, are in :mod:`tokengate_core.records.secret_reader`,
which this store extends with everything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

from tokengate_core.errors import (
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    RevokedError,
    UnavailableError,
)
from tokengate_core.records.schedule import schedule_expression
from tokengate_core.records.secret_reader import SecretsReader, translate
from tokengate_core.tokens import format as tokens

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import (
        CreateSecretRequestTypeDef,
        ListSecretsRequestTypeDef,
        TagTypeDef,
        UpdateSecretVersionStageRequestTypeDef,
    )

    from tokengate_core.records.model import ClientRecord

P = ParamSpec("P")
R = TypeVar("R")

TAG_TENANT = "tokengate:tenant"
TAG_CLIENT = "tokengate:client-name"
TAG_ENABLED = "tokengate:enabled"
TAG_EXPIRES = "tokengate:expires-at"
TAG_CREATED_BY = "tokengate:created-by"
TAG_REVOKED_BY = "tokengate:revoked-by"

#: What Secrets Manager accepts in a tag value: letters, digits, whitespace and ``_ . : / = + - @``
#: (TagResource's tag restrictions), at most 256 characters (the Tag shape). This is the ASCII part
#: of that set, with a plain space for whitespace: an IAM ARN needs no more, and a tab or a
#: non-ASCII letter is not worth the risk of a value AWS refuses.
TAG_VALUE_CHARACTERS = "A-Za-z0-9 _.:/=+@-"
TAG_VALUE_PATTERN = f"^[{TAG_VALUE_CHARACTERS}]{{0,256}}$"
_TAG_VALUE_MAX = 256
_TAG_VALUE_OUTSIDE = re.compile(f"[^{TAG_VALUE_CHARACTERS}]")

#: The calls that start or stop work inside Secrets Manager rather than read or write a value:
#: RotateSecret (which runs the rotation function's test step), CancelRotateSecret, DeleteSecret.
#: The store makes them on its control-plane client (aws.control_plane_client: one attempt), and
#: their timeouts are reported as of unknown outcome.
CONTROL_PLANE_OPERATIONS = frozenset({"rotate_secret", "cancel_rotate_secret", "delete_secret"})


class SecretSummary(NamedTuple):
    """What ListSecrets/DescribeSecret tell about a client without reading its value."""

    key_id: str
    tenant: str
    client_name: str
    enabled: bool
    expires_at: datetime | None
    created_at: datetime | None
    created_by: str | None
    last_changed_at: datetime | None
    deleted_at: datetime | None
    revoked_by: str | None
    next_rotation_at: datetime | None
    version_stages: dict[str, list[str]]

    @property
    def revoked(self) -> bool:
        return self.deleted_at is not None


def _tags(entry: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in entry.get("Tags", []) or []}


def _iso(value: str | None) -> datetime | None:
    """A time tag. One that does not parse, or carries no zone (edited by hand), reads as absent:
    a tag is a listing aid (the record holds the expiry), and one bad tag must not fail a listing
    or the sweep for every client."""
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def tag_value(value: str) -> str:
    """``value`` as Secrets Manager accepts it: each other character becomes ``_``, then cut to length.

    Tag values carry IAM ARNs, and a role session name may hold characters a tag may not (``,``
    for one): unsanitized, TagResource would refuse the whole write. A tag is a listing aid only;
    the record keeps the exact actor (``created_by``, ``updated_by``) and the audit log names it.
    """
    return _TAG_VALUE_OUTSIDE.sub("_", value)[:_TAG_VALUE_MAX]


def tag_list(tags: dict[str, str]) -> list[TagTypeDef]:
    """Tags in the request shape, every value through :func:`tag_value`."""
    return [{"Key": key, "Value": tag_value(value)} for key, value in tags.items()]


def record_tags(record: ClientRecord) -> dict[str, str]:
    """Tags mirror the list-relevant fields so that listing needs no GetSecretValue per client."""
    tags = {
        TAG_TENANT: record.tenant,
        TAG_CLIENT: record.client_name,
        TAG_ENABLED: "true" if record.enabled else "false",
        TAG_CREATED_BY: record.created_by,
    }
    if record.expires_at is not None:
        tags[TAG_EXPIRES] = record.expires_at.isoformat()
    return {key: tag_value(value) for key, value in tags.items()}


def api_name(operation: str) -> str:
    """``rotate_secret`` -> ``RotateSecret``: how AWS, its errors and IAM name an operation."""
    return "".join(part.title() for part in operation.split("_"))


class SecretsStore(SecretsReader):
    """``control_client`` serves CONTROL_PLANE_OPERATIONS; without one (a function that never makes
    such a call, or a test) ``client`` serves them too."""

    def __init__(
        self,
        client: SecretsManagerClient,
        prefix: str,
        kms_key_id: str | None = None,
        *,
        control_client: SecretsManagerClient | None = None,
    ) -> None:
        super().__init__(client, prefix)
        self._control = control_client if control_client is not None else client
        self._kms_key_id = kms_key_id

    def key_id_of(self, name: str) -> str | None:
        return name[len(self.prefix) :] if name.startswith(self.prefix) else None

    # -- reads -------------------------------------------------------------------------------------

    def get(self, key_id: str, *, version_id: str | None = None, stage: str | None = None) -> ClientRecord:
        """One GetSecretValue; raises NotFound / Revoked / Unavailable / CorruptRecord."""
        return self.read(key_id, version_id=version_id, stage=stage)[0]

    def read(self, key_id: str, *, version_id: str | None = None, stage: str | None = None) -> tuple[ClientRecord, str]:
        """The record and the id of the version it came from (the base of an optimistic write)."""
        # Always name a stage: AWS defaults to AWSCURRENT anyway, and moto's default does not
        # follow UpdateSecretVersionStage (it keeps returning the version it last wrote).
        secret_id = self.secret_id(key_id)
        if version_id and stage:
            response = self._call(
                self._client.get_secret_value, SecretId=secret_id, VersionId=version_id, VersionStage=stage
            )
        elif version_id:
            response = self._call(self._client.get_secret_value, SecretId=secret_id, VersionId=version_id)
        else:
            response = self._call(self._client.get_secret_value, SecretId=secret_id, VersionStage=stage or "AWSCURRENT")
        try:
            from tokengate_core.records.model import (
                ClientRecord,  # the authorizer reads raw values: no model on its path
            )

            record = ClientRecord.from_secret_string(response["SecretString"])
        except (ValueError, KeyError):
            raise CorruptRecordError(f"secret for {key_id} is not a valid client record") from None
        if record.key_id != key_id:
            raise CorruptRecordError(f"secret for {key_id} names another key id")
        return record, response["VersionId"]

    def describe_raw(self, secret_id: str) -> dict[str, Any]:
        """DescribeSecret by name or ARN (the rotation function is handed an ARN)."""
        return dict(self._call(self._client.describe_secret, SecretId=secret_id))

    def describe(self, key_id: str) -> SecretSummary:
        summary = self._summary(self._call(self._client.describe_secret, SecretId=self.secret_id(key_id)))
        if summary is None:
            raise NotFoundError("client not found")
        return summary

    def list_page(
        self, tenant: str, *, limit: int, next_token: str | None, include_revoked: bool
    ) -> tuple[list[SecretSummary], str | None]:
        """One ListSecrets page for a tenant.

        ListSecrets' tag filters are prefix matches, and tag-key and tag-value filters are not
        paired, so every entry is checked again for the exact tenant tag here.
        """
        request: ListSecretsRequestTypeDef = {
            "MaxResults": limit,
            "IncludePlannedDeletion": include_revoked,
            "Filters": [
                {"Key": "name", "Values": [self.prefix]},
                {"Key": "tag-key", "Values": [TAG_TENANT]},
                {"Key": "tag-value", "Values": [tenant]},
            ],
            "SortOrder": "asc",
        }
        if next_token:
            request["NextToken"] = next_token
        response = self._call(self._client.list_secrets, **request)
        items = []
        for entry in response.get("SecretList", []):
            summary = self._summary(entry)
            if summary is not None and summary.tenant == tenant:
                items.append(summary)
        return items, response.get("NextToken")

    def list_all_key_ids(self) -> list[str]:
        """Every live client's key id (the local scheduler's scan; not used by the Lambdas)."""
        return [s.key_id for s in self.list_all(include_revoked=False)]

    def list_all(self, *, include_revoked: bool) -> list[SecretSummary]:
        """Every client of every tenant (a scan for operators, never on a request path)."""
        found: list[SecretSummary] = []
        token: str | None = None
        while True:
            request: ListSecretsRequestTypeDef = {
                "MaxResults": 100,
                "IncludePlannedDeletion": include_revoked,
                "Filters": [{"Key": "name", "Values": [self.prefix]}],
            }
            if token:
                request["NextToken"] = token
            response = self._call(self._client.list_secrets, **request)
            for entry in response.get("SecretList", []):
                summary = self._summary(entry)
                if summary is not None and tokens.is_key_id(summary.key_id):
                    found.append(summary)
            token = response.get("NextToken")
            if not token:
                return found

    def _summary(self, entry: Mapping[str, Any]) -> SecretSummary | None:
        key_id = self.key_id_of(entry.get("Name", ""))
        tags = _tags(entry)
        if key_id is None or TAG_TENANT not in tags:
            return None
        return SecretSummary(
            key_id=key_id,
            tenant=tags[TAG_TENANT],
            client_name=tags.get(TAG_CLIENT, ""),
            enabled=tags.get(TAG_ENABLED, "true") == "true",
            expires_at=_iso(tags.get(TAG_EXPIRES)),
            created_at=entry.get("CreatedDate"),
            created_by=tags.get(TAG_CREATED_BY),
            last_changed_at=entry.get("LastChangedDate"),
            deleted_at=entry.get("DeletedDate"),
            # The tag stays after a restore (Secrets Manager allows no tag change while a secret
            # is scheduled for deletion, so revokes tag first): it means something only then.
            revoked_by=tags.get(TAG_REVOKED_BY) if entry.get("DeletedDate") else None,
            next_rotation_at=entry.get("NextRotationDate"),
            version_stages={k: list(v) for k, v in (entry.get("VersionIdsToStages") or {}).items()},
        )

    # -- writes ------------------------------------------------------------------------------------

    def create(self, record: ClientRecord, request_token: str) -> str:
        """CreateSecret is atomic on the name, so a key id already in use is refused, never
        overwritten (client names are kept unique by :class:`~tokengate_core.records.names.NameRegistry`)."""
        request: CreateSecretRequestTypeDef = {
            "Name": self.secret_id(record.key_id),
            "ClientRequestToken": request_token,
            "Description": f"tokengate client {record.client_name} of tenant {record.tenant}",
            "SecretString": record.to_secret_string(),
            "Tags": tag_list(record_tags(record)),
        }
        try:
            return self._call(self._client.create_secret, **self._encrypted(request))["ARN"]
        except (ConflictError, RevokedError):
            raise ConflictError("key id already in use") from None

    def create_named(self, name: str, value: str, *, request_token: str, description: str) -> None:
        request: CreateSecretRequestTypeDef = {
            "Name": name,
            "ClientRequestToken": request_token,
            "Description": description,
            "SecretString": value,
        }
        try:
            self._call(self._client.create_secret, **self._encrypted(request))
        except RevokedError:
            raise ConflictError(f"secret {name} is scheduled for deletion") from None

    def put_named(self, name: str, value: str, *, request_token: str) -> None:
        try:
            self._call(
                self._client.put_secret_value, SecretId=name, ClientRequestToken=request_token, SecretString=value
            )
        except ConflictError:
            raise ConflictError("changed concurrently; read it again and retry") from None

    def put(self, record: ClientRecord, *, request_token: str, stages: Iterable[str] = ("AWSCURRENT",)) -> None:
        """PutSecretValue. A request token already used for a different value is refused by
        Secrets Manager: with a token derived from the base version, that is an optimistic lock."""
        try:
            self._call(
                self._client.put_secret_value,
                SecretId=self.secret_id(record.key_id),
                ClientRequestToken=request_token,
                SecretString=record.to_secret_string(),
                VersionStages=list(stages),
            )
        except ConflictError:
            raise ConflictError("the client was changed concurrently; read it again and retry") from None

    def move_stage(self, key_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        request: UpdateSecretVersionStageRequestTypeDef = {"SecretId": self.secret_id(key_id), "VersionStage": stage}
        if to_version:
            request["MoveToVersionId"] = to_version
        if from_version:
            request["RemoveFromVersionId"] = from_version
        self._call(self._client.update_secret_version_stage, **request)

    def set_tags(self, key_id: str, tags: dict[str, str]) -> None:
        self._call(self._client.tag_resource, SecretId=self.secret_id(key_id), Tags=tag_list(tags))

    def remove_tags(self, key_id: str, keys: list[str]) -> None:
        self._call(self._client.untag_resource, SecretId=self.secret_id(key_id), TagKeys=keys)

    def schedule_deletion(self, key_id: str, recovery_days: int) -> None:
        self._call(self._control.delete_secret, SecretId=self.secret_id(key_id), RecoveryWindowInDays=recovery_days)

    def restore(self, key_id: str) -> None:
        self._call(self._client.restore_secret, SecretId=self.secret_id(key_id))

    def force_delete(self, key_id: str) -> None:
        """Only to undo a half-made client; never for a revoke (that must stay restorable)."""
        self._call(self._control.delete_secret, SecretId=self.secret_id(key_id), ForceDeleteWithoutRecovery=True)

    def allow_reader(self, key_id: str, principal_arn: str, secret_arn: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TokengateClientReadsOwnToken",
                    "Effect": "Allow",
                    "Principal": {"AWS": principal_arn},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": secret_arn,
                }
            ],
        }
        self._call(
            self._client.put_resource_policy,
            SecretId=self.secret_id(key_id),
            ResourcePolicy=json.dumps(policy),
            BlockPublicPolicy=True,
        )

    def schedule_rotation(self, key_id: str, function_arn: str, days: int) -> None:
        self._call(
            self._control.rotate_secret,
            SecretId=self.secret_id(key_id),
            RotationLambdaARN=function_arn,
            # A schedule expression, which an admin write (a PutSecretValue) does not move (schedule.py).
            RotationRules={"ScheduleExpression": schedule_expression(days)},
            RotateImmediately=False,
        )

    def cancel_rotation(self, key_id: str) -> None:
        self._call(self._control.cancel_rotate_secret, SecretId=self.secret_id(key_id))

    def _encrypted(self, request: CreateSecretRequestTypeDef) -> CreateSecretRequestTypeDef:
        """New secrets under the deployment's customer-managed key, when it has one."""
        if self._kms_key_id:
            request["KmsKeyId"] = self._kms_key_id
        return request

    @staticmethod
    def _call(operation: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Every Secrets Manager call goes through here: ``operation`` is a typed client method
        (``self._control``'s for CONTROL_PLANE_OPERATIONS), and every failure leaves as a domain
        error, nothing raw."""
        try:
            return operation(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure becomes a domain error, nothing escapes raw
            from botocore.exceptions import ReadTimeoutError

            name = getattr(operation, "__name__", "")
            if name in CONTROL_PLANE_OPERATIONS and isinstance(error, ReadTimeoutError):
                # The outcome is unknown, so say so: the caller must look before trying again.
                raise UnavailableError(
                    f"Secrets Manager did not answer {api_name(name)} in time; the request was not"
                    " completed and not retried, and the call may still take effect: check the client"
                    " before retrying"
                ) from None
            raise translate(error) from None
