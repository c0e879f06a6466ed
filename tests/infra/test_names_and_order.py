"""Names in the synthesized template: what one resource names by a string, it depends on; what must
be unique per account carries the region.

CloudFormation orders the creation of resources only by what links them: ``Ref``, ``Fn::GetAtt``,
``Fn::Sub`` and ``DependsOn``. A resource that names another in a plain string (a stage's
``RouteSettings`` keyed by route key, an alarm's dimension naming a stage) links nothing, so on a
fresh stack the two may be created in either order, and a service that checks the name (API
Gateway: ``NotFoundException: Unable to find Route by key``) fails the first deploy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

#: The property by which other resources or services can name a resource of each type, where the
#: template sets it as a literal string.
NAMED_BY = {
    "AWS::ApiGatewayV2::Route": "RouteKey",  # a stage's RouteSettings
    "AWS::ApiGatewayV2::Stage": "StageName",  # metric dimensions, execute-api ARNs
    "AWS::CloudWatch::Alarm": "AlarmName",  # composite alarm rules
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Logs::ResourcePolicy": "PolicyName",
    "AWS::SecretsManager::Secret": "Name",
}
#: Types that others refer to by id or ARN only (a Ref or GetAtt, which orders them), never by name.
REFERRED_BY_ID = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::IAM::Policy",
    "AWS::Lambda::Permission",
    "AWS::Lambda::LayerVersion",  # the shutdown extension's layer, in the authorizer's Layers by Ref
}
#: Names that are unique per account in every region at once, where a type takes one.
GLOBAL_NAMES = {
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::S3::Bucket": "BucketName",
}
REGION = {"Ref": "AWS::Region"}


def strings(value: Any) -> Iterator[str]:
    """Every string in a property tree: values, list items and the keys of objects."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def links(resource: dict[str, Any]) -> set[str]:
    """The logical ids a resource links to: DependsOn, Ref, Fn::GetAtt and ``${...}`` in Fn::Sub."""
    found = set(resource.get("DependsOn", []) if isinstance(resource.get("DependsOn"), list) else [])
    if isinstance(resource.get("DependsOn"), str):
        found.add(resource["DependsOn"])

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("Ref"), str):
                found.add(value["Ref"])
            if isinstance(value.get("Fn::GetAtt"), list):
                found.add(value["Fn::GetAtt"][0])
            sub = value.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) else sub
            if isinstance(text, str):
                found.update(part.split("}", 1)[0].split(".", 1)[0] for part in text.split("${")[1:])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource.get("Properties", {}))
    return found


def created_before(resources: dict[str, dict[str, Any]], logical_id: str) -> set[str]:
    """Every resource CloudFormation creates before ``logical_id``: its links, transitively."""
    seen: set[str] = set()
    pending = [logical_id]
    while pending:
        for linked in links(resources[pending.pop()]):
            if linked in resources and linked not in seen:
                seen.add(linked)
                pending.append(linked)
    return seen


def unordered_names(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource, name, named resource) for each name a resource uses in a string without
    depending on the resource of that name."""
    resources: dict[str, dict[str, Any]] = template["Resources"]
    names: dict[str, str] = {}
    for logical_id, resource in resources.items():
        prop = NAMED_BY.get(resource["Type"])
        value = resource.get("Properties", {}).get(prop) if prop else None
        if isinstance(value, str):
            names[value] = logical_id
    found = []
    for logical_id, resource in resources.items():
        before = created_before(resources, logical_id)
        for text in set(strings(resource.get("Properties", {}))):
            named = names.get(text)
            if named is not None and named != logical_id and named not in before:
                found.append((logical_id, text, named))
    return sorted(found)


# -- the checks, on hand-made templates -------------------------------------------------------------


def stage_and_route(**stage: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Route": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {"RouteKey": "POST /hook"}},
            "Integration": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {}},
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"StageName": "dev", "RouteSettings": {"POST /hook": {"ThrottlingRateLimit": 5}}},
                **stage,
            },
        }
    }


def test_a_name_in_a_string_without_a_dependency_is_found() -> None:
    assert unordered_names(stage_and_route()) == [("Stage", "POST /hook", "Route")]


@pytest.mark.parametrize(
    "stage",
    [
        {"DependsOn": ["Route"]},
        {"DependsOn": "Route"},
        {"DependsOn": ["Integration"]},  # ...and the integration depends on the route
    ],
)
def test_a_direct_or_transitive_dependency_orders_the_name(stage: dict[str, Any]) -> None:
    template = stage_and_route(**stage)
    if stage["DependsOn"] == ["Integration"]:
        template["Resources"]["Integration"]["Properties"]["Target"] = {"Ref": "Route"}
    assert unordered_names(template) == []


# -- the stack ---------------------------------------------------------------------------------------


def test_the_template_knows_how_each_of_its_resource_types_is_named(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    """A new resource type must be placed: named by a property, or referred to by id only."""
    for template in (template_json, variant_json):
        types = {resource["Type"] for resource in template["Resources"].values()}
        assert types <= NAMED_BY.keys() | REFERRED_BY_ID, types - NAMED_BY.keys() - REFERRED_BY_ID


def test_every_resource_depends_on_what_it_names_by_a_string(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    stage_settings = [
        r["Properties"]["RouteSettings"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Stage"
    ]
    assert stage_settings and all(stage_settings), "the leak route's own throttle is keyed by its route key"
    assert unordered_names(template_json) == []
    assert unordered_names(variant_json) == []


def test_names_unique_per_account_carry_the_region(template_json: dict[str, Any], variant_json: dict[str, Any]) -> None:
    """The same stack in a second region must not collide with the first: a name that is global
    to the account is either left to CloudFormation or includes the region."""
    for template in (template_json, variant_json):
        for logical_id, resource in template["Resources"].items():
            prop = GLOBAL_NAMES.get(resource["Type"])
            name = resource.get("Properties", {}).get(prop) if prop else None
            if name is not None:
                assert REGION in list(name_parts(name)), (logical_id, name)


def name_parts(name: Any) -> Iterator[Any]:
    """The parts of a name built with Fn::Join (a literal name is one part)."""
    if isinstance(name, dict) and "Fn::Join" in name:
        yield from name["Fn::Join"][1]
    else:
        yield name
