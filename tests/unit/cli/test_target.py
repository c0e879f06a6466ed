"""Which stage the CLI calls and with whose credentials: the local stack's state folder, the
endpoint from a flag, the environment or a stack's output, and the region to sign for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.support import CLOSED, DEPLOYED, parse
from tokengate.cli import main
from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.cli.target import resolve_target
from tokengate.local import location


def local_state(folder: Path, region: str = "us-east-1") -> Path:
    state = folder / location.STATE_DIR_NAME
    state.mkdir(parents=True)
    (state / "credentials.json").write_text(
        json.dumps({"access_key_id": "AKIALOCAL", "secret_access_key": "local-secret", "region": region})
    )
    return state


def test_the_local_state_folder_is_found_from_a_subdirectory(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local_state(tmp_path, region="eu-central-1")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    clean_env.chdir(deep)
    target = resolve_target(parse("keys", "list"), {})
    assert (target.base_url, target.access_key, target.secret_key) == (
        location.DEFAULT_URL,
        "AKIALOCAL",
        "local-secret",
    )
    assert target.region == "eu-central-1"  # the stack's, from its credentials file
    assert location.state_dir(None, {}, deep) == tmp_path / location.STATE_DIR_NAME
    assert location.state_dir("x", {"TOKENGATE_HOME": "/elsewhere"}, deep) == deep / "x"
    assert location.state_dir(None, {"TOKENGATE_HOME": "/elsewhere"}, deep) == Path("/elsewhere")


def test_no_local_state_says_where_it_looked(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(CliError) as error:
        resolve_target(parse("keys", "list"), {})
    assert error.value.exit_code == EXIT_UNREACHABLE
    assert str(tmp_path / ".tokengate" / "credentials.json") in error.value.message
    assert "here or in a parent folder" in error.value.message


def test_the_endpoint_comes_from_the_flag_the_environment_or_the_port(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_state(tmp_path)
    assert resolve_target(parse("keys", "list"), {"TOKENGATE_PORT": "9000"}).base_url == "http://127.0.0.1:9000/dev"
    env = {"TOKENGATE_ENDPOINT": "http://localhost:7000/prod/", "TOKENGATE_PORT": "9000"}
    assert resolve_target(parse("keys", "list"), env).base_url == "http://localhost:7000/prod"
    flagged = parse("keys", "list", "--endpoint", "http://127.0.0.1:6000/dev/admin")
    assert resolve_target(flagged, env).base_url == "http://127.0.0.1:6000/dev"  # AdminBaseUrl works too
    with pytest.raises(CliError, match="TOKENGATE_PORT: not a port number") as bad:
        resolve_target(parse("keys", "list"), {"TOKENGATE_PORT": "80000"})
    assert bad.value.exit_code == EXIT_USAGE
    with pytest.raises(CliError, match="not an http"):
        resolve_target(parse("keys", "list", "--endpoint", "ftp://x"), {})
    with pytest.raises(CliError, match="not both"):
        resolve_target(parse("keys", "list", "--endpoint", CLOSED, "--stack-name", "S"), {})


def test_a_deployed_url_is_signed_with_the_aws_chain_for_its_own_region(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAAWS")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    clean_env.setenv("AWS_REGION", "us-west-2")
    target = resolve_target(parse("keys", "list", "--endpoint", DEPLOYED), {"AWS_REGION": "us-west-2"})
    assert (target.access_key, target.region) == ("AKIAAWS", "eu-west-1")  # the URL's region first
    custom = "https://tokens.example.com/dev"
    assert resolve_target(parse("keys", "list", "--endpoint", custom), {"AWS_REGION": "us-west-2"}).region == (
        "us-west-2"
    )
    clean_env.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert resolve_target(parse("keys", "list", "--endpoint", custom), {"AWS_REGION": "us-west-2"}).region == (
        "us-west-2"  # AWS_REGION before AWS_DEFAULT_REGION, as the AWS CLI reads them
    )
    assert resolve_target(parse("keys", "list", "--endpoint", custom), {}).region == "ap-south-1"
    flagged = parse("keys", "list", "--endpoint", DEPLOYED, "--region", "sa-east-1")
    assert resolve_target(flagged, {}).region == "sa-east-1"


def test_aws_problems_are_one_line_each(clean_env: pytest.MonkeyPatch) -> None:
    custom = parse("keys", "list", "--endpoint", "https://tokens.example.com/dev")
    with pytest.raises(CliError, match="no AWS credentials found"):
        resolve_target(custom, {})
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAAWS")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    with pytest.raises(CliError, match="--region or set AWS_REGION") as no_region:
        resolve_target(custom, {})
    assert no_region.value.exit_code == EXIT_USAGE
    with pytest.raises(CliError, match="nobody") as no_profile:
        resolve_target(parse("keys", "list", "--profile", "nobody"), {})
    assert no_profile.value.code == "no_credentials"


def test_a_loopback_url_with_aws_credentials_signs_for_the_local_region(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAAWS")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    clean_env.setenv("AWS_REGION", "eu-west-1")
    target = resolve_target(parse("keys", "list", "--credentials", "aws"), {"AWS_REGION": "eu-west-1"})
    assert (target.access_key, target.region) == ("AKIAAWS", location.DEFAULT_REGION)


def test_a_stack_name_reads_the_api_url_output(clean_env: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKIAAWS")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    clean_env.setenv("AWS_REGION", "eu-west-1")
    template = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"ApiUrl": {"Value": DEPLOYED}}}
    bare = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
        cloudformation.create_stack(StackName="TokenGate", TemplateBody=json.dumps(template))
        cloudformation.create_stack(StackName="Bare", TemplateBody=json.dumps(bare))
        env = {"AWS_REGION": "eu-west-1"}
        target = resolve_target(parse("keys", "list", "--stack-name", "TokenGate"), env)
        assert (target.base_url, target.region) == (DEPLOYED, "eu-west-1")
        with pytest.raises(CliError, match="has no ApiUrl output"):
            resolve_target(parse("keys", "list", "--stack-name", "Bare"), env)
        with pytest.raises(CliError) as missing:
            resolve_target(parse("keys", "list", "--stack-name", "Nothing"), env)
        assert (missing.value.code, missing.value.exit_code) == ("stack_not_found", EXIT_UNREACHABLE)
        assert main(["tenant-policy", "-t", "acme", "--stack-name", "TokenGate"]) == 0
