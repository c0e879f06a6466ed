"""The template's signing keyring: created with a generated first key the core accepts, under the
clients' prefix and key, and covered by the prefix grants."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.test_template import DEFAULT_PREFIX, actions_of, keyring_ref, resources, statements_by_function
from tests.infra.variants import KMS_KEY_ARN
from tokengate_core.deployment.routes import FunctionName
from tokengate_core.tokens import keyring

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def the_keyring(template: dict[str, Any]) -> dict[str, Any]:
    (secret,) = resources(template, "AWS::SecretsManager::Secret").values()
    return secret


def test_the_stack_creates_the_keyring_with_a_generated_first_key(template: Template) -> None:
    template.resource_count_is("AWS::SecretsManager::Secret", 1)
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "Properties": {
                "Name": keyring.secret_name(DEFAULT_PREFIX),
                "GenerateSecretString": {
                    "SecretStringTemplate": json.dumps({"version": keyring.FORMAT_VERSION}, separators=(",", ":")),
                    "GenerateStringKey": "k1",
                    "ExcludePunctuation": True,
                    "PasswordLength": 64,
                },
                "KmsKeyId": Match.absent(),
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    # Secrets Manager never rotates it: POST /admin/keys/rotate adds keys and keeps the old ones.
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 0)


def test_what_the_keyring_generates_is_a_keyring_the_core_accepts() -> None:
    generated = {"version": keyring.FORMAT_VERSION, "k1": "A1b2" * 16}  # 64 letters and digits
    ring = keyring.parse(json.dumps(generated))
    assert [k.name for k in ring.keys] == ["k1"] and ring.keys[0].added_at is None


def test_the_keyring_follows_the_prefix_and_the_key(variant_json: dict[str, Any]) -> None:
    props = the_keyring(variant_json)["Properties"]
    assert props["Name"] == keyring.secret_name("acme/tokens/")
    assert props["KmsKeyId"] == KMS_KEY_ARN


@pytest.mark.parametrize(
    ("function", "needed"),
    [
        ("authorizer", {"secretsmanager:GetSecretValue"}),
        ("rotation", {"secretsmanager:GetSecretValue"}),
        ("admin", {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}),
    ],
)
def test_the_grants_cover_the_keyring(template_json: dict[str, Any], function: FunctionName, needed: set[str]) -> None:
    name = the_keyring(template_json)["Properties"]["Name"]
    covering = set()
    for statement in statements_by_function(template_json)[function]:
        resource = statement["Resource"]
        if resource == keyring_ref(template_json):  # the authorizer's grant names the keyring itself
            covering |= actions_of([statement], "secretsmanager:")
        elif isinstance(resource, dict) and "Fn::Join" in resource:
            pattern = resource["Fn::Join"][1][-1].removeprefix(":secret:")
            if fnmatch.fnmatchcase(name, pattern):
                covering |= actions_of([statement], "secretsmanager:")
    assert needed <= covering
