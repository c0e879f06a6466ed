"""The CLI in this process: parsing, target resolution, error translation, output, completion."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tokengate.cli import main
from tokengate.cli.commands.completion import script
from tokengate.cli.errors import EXIT_STATUSES, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.cli.http import api_error, unreachable
from tokengate.cli.options import GLOBAL_DEFAULTS, finish, timestamp
from tokengate.cli.output import client_lines, table, when
from tokengate.cli.parser import build_parser
from tokengate.cli.target import resolve_target
from tokengate.local import location

CLOSED = "http://127.0.0.1:9/dev"  # nothing listens on the discard port; no test here reaches it


def parse(*argv: str) -> argparse.Namespace:
    return finish(build_parser().parse_args(argv))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No AWS or tokengate settings from the test process; no ~/.aws either."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "TOKENGATE_ENDPOINT",
        "TOKENGATE_PORT",
        "TOKENGATE_HOME",
        "TOKENGATE_ADMIN_ACCESS_KEY_ID",
        "TOKENGATE_ADMIN_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def local_state(folder: Path, region: str = "us-east-1") -> Path:
    state = folder / location.STATE_DIR_NAME
    state.mkdir(parents=True)
    (state / "credentials.json").write_text(
        json.dumps({"access_key_id": "AKIALOCAL", "secret_access_key": "local-secret", "region": region})
    )
    return state


# -- parsing ----------------------------------------------------------------------------------------


def test_global_options_work_before_or_after_the_command() -> None:
    before = parse("--endpoint", CLOSED, "--output", "json", "--timeout", "5", "clients", "list", "-t", "acme")
    after = parse("clients", "list", "-t", "acme", "--endpoint-url", CLOSED, "-o", "json", "--timeout", "5")
    for args in (before, after):
        assert (args.endpoint, args.output, args.timeout, args.tenant) == (CLOSED, "json", 5.0, "acme")
    # After the command wins over before it; nothing given is the documented default.
    assert parse("--region", "eu-west-1", "keys", "list", "--region", "us-west-2").region == "us-west-2"
    defaults = parse("keys", "list")
    assert {name: getattr(defaults, name) for name in GLOBAL_DEFAULTS if name != "output"} == {
        k: v for k, v in GLOBAL_DEFAULTS.items() if k != "output"
    }
    assert defaults.output == "table"
    assert parse("clients", "issue", "-t", "a", "-n", "b").output == "table"
    assert parse("token", "fetch").output == "token"


def test_an_output_the_command_does_not_have_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", "token", "clients", "list", "-t", "acme"]) == EXIT_USAGE
    assert capsys.readouterr().err == "error: usage: this command has no --output token (choose from table, json)\n"


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"tokengate {version('tokengate')}\n"


def _commands(parser: argparse.ArgumentParser, path: str = "tokengate") -> Iterator[tuple[str, Any]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or path.endswith(" local"):
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_option_has_help_and_every_command_has_examples() -> None:
    commands = dict(_commands(build_parser()))
    assert "tokengate clients issue" in commands and "tokengate tenant-policy" in commands
    for path, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("examples:\n  ") and "tokengate " in parser.epilog, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"{path} {action.option_strings or action.dest}"


def test_top_level_help_lists_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for status, meaning in EXIT_STATUSES.items():
        assert f"{status} {meaning}" in " ".join(out.split())


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "issue", "--tenant", "acme"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        err == "error: usage: the following arguments are required: --name/-n (see `tokengate clients issue --help`)\n"
    )
    assert main(["clients", "list", "-t", "acme", "--max-items", "0"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: usage: argument --max-items: must be >= 1")
    assert main(["nonsense"]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


def test_errors_are_json_with_output_json(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "list", "-t", "acme", "-o", "json"]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert json.loads(err)["code"] == "no_credentials"


# -- dates ------------------------------------------------------------------------------------------


def test_times_without_a_zone_are_utc() -> None:
    assert timestamp("2030-01-01") == datetime(2030, 1, 1, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30") == datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30:00+02:00") == datetime(2030, 1, 1, 10, 30, tzinfo=UTC)
    assert timestamp("2030-01-01T12:30:00Z").tzinfo is not None
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO 8601"):
        timestamp("next tuesday")


def test_a_new_client_that_would_be_expired_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    status = main(["clients", "issue", "-t", "acme", "-n", "late", "--expires-at", yesterday, "--endpoint", CLOSED])
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: usage: --expires-at {yesterday} 00:00:00Z is in the past")


# -- target resolution --------------------------------------------------------------------------------


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


DEPLOYED = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


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


# -- HTTP errors and output -----------------------------------------------------------------------------


def test_unreachable_hints_fit_the_target() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    local = unreachable("http://127.0.0.1:8080/dev", refused)
    assert (local.code, local.exit_code) == ("unreachable", EXIT_UNREACHABLE)
    assert "connection refused" in local.message and "tokengate local" in local.message
    deployed = unreachable(DEPLOYED, urllib3.exceptions.NameResolutionError("x", None, OSError()))  # type: ignore[arg-type]
    assert "unknown host" in deployed.message and "tokengate local" not in deployed.message
    assert "--endpoint" in deployed.message
    slow = unreachable(DEPLOYED, urllib3.exceptions.ReadTimeoutError(None, "/", "slow"))  # type: ignore[arg-type]
    assert (slow.code, "no answer in time" in slow.message) == ("timeout", True)


def test_api_errors_keep_the_code_and_the_first_detail() -> None:
    detailed = api_error(
        422,
        {
            "code": "validation_error",
            "message": "request failed\nvalidation",
            "details": [{"loc": ["body", "x"], "msg": "bad"}],
        },
        "",
    )
    assert str(detailed) == "validation_error: request failed validation (body.x: bad)"
    assert str(api_error(403, {"message": "Forbidden"}, "")) == "forbidden: Forbidden"
    assert str(api_error(502, None, "<html>\n bad   gateway</html>")) == "bad_gateway: <html> bad gateway</html>"
    assert str(api_error(418, None, "")) == "http_418: HTTP 418"


def test_client_lines_show_what_is_set_and_only_that() -> None:
    client = {
        "client_id": "k",
        "tenant": "acme",
        "client_name": "billing",
        "status": "revoked",
        "enabled": True,
        "scopes": ["GET /invoke"],
        "expires_at": None,
        "created_at": "2026-01-02T03:04:05+00:00",
        "created_by": "arn:aws:iam::1:user/a",
        "rotation": {"period_days": 30, "grace_seconds": 60, "previous_token_valid_until": "2026-02-01T00:00:00Z"},
        "rotated_at": "2026-01-31T00:00:00+00:00",
        "token_fetch": True,
        "revoked_at": "2026-03-01T00:00:00+00:00",
        "revoked_by": "arn:aws:iam::1:user/b",
    }
    text = "\n".join(client_lines(client))
    assert "created         2026-01-02 03:04:05Z by arn:aws:iam::1:user/a" in text
    assert "every 30 days; grace 60 s; last 2026-01-31 00:00:00Z" in text
    assert "previous token  valid until 2026-02-01 00:00:00Z" in text
    assert "revoked         2026-03-01 00:00:00Z by arn:aws:iam::1:user/b" in text
    assert "reader" not in text and "updated" not in text
    assert "scopes          GET /invoke" in text
    assert when(None) == "-" and when("not a date") == "not a date"
    assert table([["a", "bb"]], ["X", "Y"]) == "X  Y\na  bb"
    # A revoked client's scopes are not readable (null): no line rather than a "-" that reads as "none".
    assert "scopes" not in "\n".join(client_lines({**client, "scopes": None}))
    assert "scopes          -" in "\n".join(client_lines({**client, "scopes": []}))


# -- completion and pipes -----------------------------------------------------------------------------


def complete(line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end) with the generated script loaded."""
    words = line.split(" ")
    program = (
        script(build_parser(), "bash")
        + f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}; _tokengate;"
        + ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, timeout=30)
    return [w for w in result.stdout.splitlines() if w]


def test_bash_completion_knows_commands_options_and_choices() -> None:
    assert complete("tokengate cl") == ["clients"]
    assert complete("tokengate clients ") == [
        "issue",
        "list",
        "show",
        "update",
        "revoke",
        "restore",
        "rotate",
        "usage",
        "import",
    ]
    assert "--max-items" in complete("tokengate clients list --")
    assert complete("tokengate clients list --status r") == ["revoked"]
    assert complete("tokengate --output json clients li") == ["list"]  # a global option's value is skipped
    assert complete("tokengate -o ") == ["table", "json", "token"]
    assert complete("tokengate clients issue --name ") == []  # a free value: nothing to offer
    assert complete("tokengate completion ") == ["bash", "zsh"]


def test_zsh_completion_is_the_bash_script_through_bashcompinit() -> None:
    zsh = script(build_parser(), "zsh")
    assert "bashcompinit" in zsh.splitlines()[1]
    assert zsh.splitlines()[2:] == script(build_parser(), "bash").splitlines()[1:]


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "tokengate.cli", "completion", "bash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert reader_gone.stdout is not None and reader_gone.stderr is not None
    reader_gone.stdout.close()  # like `| head -0`: every write now fails with EPIPE
    assert reader_gone.wait(timeout=60) == 0
    assert reader_gone.stderr.read() == b""


def test_tenant_policy_never_loads_the_cdk() -> None:
    program = (
        "import sys; from tokengate.cli import main; "
        "status = main(['tenant-policy', '-t', 'acme']); "
        "assert 'aws_cdk' not in sys.modules and 'constructs' not in sys.modules; sys.exit(status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    assert policy["Statement"][0]["Resource"][0] == (
        f"arn:aws:execute-api:{location.DEFAULT_REGION}:{location.LOCAL_ACCOUNT_ID}:{location.LOCAL_API_ID}"
        "/dev/POST/admin/tenants/acme/clients"
    )
