"""Test helpers on top of tokengate.testing.gateway_events: call the admin handler and issue clients."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokengate.testing.gateway_events import ACCOUNT, ADMIN_ARN, FakeClock, FakeContext, admin_event, authorizer_event
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

#: A signer for tokens that need no deployment (unit tests of the codec and the record).
SIGN = keyring.new_keyring(0.0).signer(0.0)


def forged(key_id: str) -> str:
    """A well-formed token (right checksum) whose tag no deployment key made."""
    return tokens.generate(key_id, lambda signed: "0" * tokens.TAG_LENGTH)


def mistyped(token: str) -> str:
    """``token`` with its last character changed, always to a different one, as a typo would."""
    return token[:-1] + ("y" if token.endswith("x") else "x")


def minted(key_id: str) -> str:
    """A token for ``key_id`` tagged by this deployment's keyring: genuine, but not the client's."""
    from tokengate_core.deployment.config import StoreSettings
    from tokengate_core.runtime.aws import make_store

    return tokens.generate(key_id, keyring.ensure(make_store(StoreSettings()), 0.0).signer(0.0))


__all__ = [
    "ACCOUNT",
    "ADMIN_ARN",
    "SIGN",
    "AdminResponse",
    "FakeClock",
    "FakeContext",
    "admin_event",
    "authorizer_event",
    "forged",
    "minted",
    "mistyped",
]


def staged_version(arn: str) -> str:
    """A new version of the secret ``arn``, staged AWSPENDING as Secrets Manager stages it before
    it invokes the rotation function: the ClientRequestToken of one rotation."""
    import uuid

    from tokengate.emulator import stage_rotation

    version = str(uuid.uuid4())
    stage_rotation(arn, version)
    return version


@dataclass
class AdminResponse:
    status: int
    body: Any
    headers: dict[str, str]


def call_admin(method: str, path: str, body: Any = None, **kwargs: Any) -> AdminResponse:
    return call_admin_event(admin_event(method, path, body, **kwargs))


def call_admin_event(event: dict[str, Any]) -> AdminResponse:
    from admin import app as admin_app

    response = admin_app.handler(event, FakeContext())
    text = response.get("body") or "null"
    return AdminResponse(response["statusCode"], json.loads(text), response.get("headers") or {})


def send_body(
    method: str,
    path: str,
    body: bytes | str,
    content_type: str | None = "application/json",
    *,
    base64_encoded: bool = False,
    headers: dict[str, str] | None = None,
) -> AdminResponse:
    """An admin request with exactly this body, as API Gateway passes it (bytes it cannot pass as
    text arrive base64-encoded)."""
    event = admin_event(method, path)
    event["headers"] = {"host": "api.example.com", **(headers or {})}
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    if base64_encoded:
        raw = body.encode() if isinstance(body, str) else body
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"] = body if isinstance(body, str) else body.decode("utf-8")
    return call_admin_event(event)


def issue(tenant: str, name: str, **fields: Any) -> tuple[str, str]:
    """Issue a client through the admin API; return (client_id, token)."""
    response = call_admin("POST", f"/admin/tenants/{tenant}/clients", {"client_name": name, **fields})
    assert response.status == 201, response.body
    return response.body["client"]["client_id"], response.body["token"]


def rewrite_record(client_id: str, change: Callable[[dict[str, Any]], str], tags: dict[str, str] | None = None) -> None:
    """Change a client's stored value (and tags) behind the admin API's back, as a hand edit or a
    record written before a rule existed would."""
    import boto3

    sm = boto3.client("secretsmanager")
    secret_id = f"tokengate/clients/{client_id}"
    value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    sm.put_secret_value(SecretId=secret_id, SecretString=change(value))
    if tags:
        sm.tag_resource(SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def rewrite_index_doc(client_id: str, change: Callable[[dict[str, Any]], Any]) -> None:
    """Change a client's digest index doc behind the writers' backs (a hand edit, a bug elsewhere)."""
    import boto3

    from tokengate_core.deployment.config import AdminSettings
    from tokengate_core.records.index import index_key

    table, dynamodb = AdminSettings().table_name, boto3.client("dynamodb")
    item = dynamodb.get_item(TableName=table, Key=index_key(client_id), ConsistentRead=True)["Item"]
    doc = json.loads(item["doc"]["S"])
    item["doc"] = {"S": json.dumps(change(doc) or doc)}
    dynamodb.put_item(TableName=table, Item=item)


def store_calls() -> list[tuple[str, str]]:
    """(operation, client attribute) for each Secrets Manager call in store.py: the calls are
    ``self._call(self._client.<operation>, ...)`` or ``self._call(self._control.<operation>, ...)``."""
    import ast
    from pathlib import Path

    from tokengate import SERVICES_DIR

    calls = []
    for node in ast.walk(ast.parse((Path(SERVICES_DIR) / "tokengate_core" / "records" / "store.py").read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_call"):
            continue
        method = node.args[0] if node.args else None
        if isinstance(method, ast.Attribute) and isinstance(method.value, ast.Attribute):
            calls.append((method.attr, method.value.attr))
    return calls


class EventSink:
    """Every lifecycle event on the default bus, as a subscriber sees it: a rule matching tokengate's
    source sends them to an SQS queue of the embedded moto, read back here."""

    def __init__(self) -> None:
        import os

        import boto3

        from tokengate_core.lifecycle.events import SOURCE

        # The emulator serves every service on one endpoint; SQS has no variable of its own set.
        self._sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"])
        events = boto3.client("events")
        self._queue = self._sqs.create_queue(QueueName="tokengate-events")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"]
        events.put_rule(Name="tokengate-events", EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="tokengate-events", Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}])
        self.raw: list[str] = []

    def drain(self) -> list[dict[str, Any]]:
        """The events delivered since the last drain, oldest first."""
        received: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return received
            for message in messages:
                self.raw.append(message["Body"])
                received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])

    def types(self) -> list[str]:
        return [event["detail-type"] for event in self.drain()]
