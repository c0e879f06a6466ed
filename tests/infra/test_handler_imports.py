"""Every module a handler imports is in what Lambda gives it: its asset, the layer, the runtime.

Each handler is imported in a fresh interpreter whose import system refuses any top-level module
that is not in the standard library, the services/ asset, the Powertools layer or the Lambda
Python runtime, with the environment the template gives the function. Where a call needs no AWS,
the handler is also invoked once, to reach imports made lazily on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from infra import SERVICES_DIR
from infra.testing import functions_by_handler
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

#: What the official Powertools V3 layer ships: `pip install "aws-lambda-powertools[all]"`, then
#: boto*, s3transfer, dateutil, urllib3, six and jmespath deleted (they come with the runtime).
#: Source: aws-powertools/powertools-lambda-python, layer_v3/docker/Dockerfile; the [all] extra's
#: requirements are in aws_lambda_powertools' package metadata (Requires-Dist ... extra == 'all').
LAYER_PACKAGES = {
    "aws_lambda_powertools",
    "typing_extensions",
    # pydantic, pydantic-settings and their dependencies
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_inspection",
    "pydantic_settings",
    "dotenv",
    # aws-xray-sdk (Tracer)
    "aws_xray_sdk",
    "wrapt",
    # fastjsonschema (Validation), jsonpath-ng (Data Masking), pyjwt + cryptography (JWT)
    "fastjsonschema",
    "jsonpath_ng",
    "ply",
    "jwt",
    "cryptography",
    "cffi",
    "_cffi_backend",
    "pycparser",
    # aws-encryption-sdk (Data Masking)
    "aws_encryption_sdk",
    "attr",
    "attrs",
}

#: What the Lambda Python runtime itself provides besides the standard library: the AWS SDK.
RUNTIME_PACKAGES = {"boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six", "jmespath"}

#: Stand-ins for the values CloudFormation fills in at deploy time.
DEPLOY_TIME_VALUES = {
    "TOKENGATE_ROTATION_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:rotation",
    "TOKENGATE_TABLE_NAME": "TokenGate-NamesTable-1A2B3C4D5E6F",
}

CONTEXT = {
    "function_name": "tokengate-test",
    "memory_limit_in_mb": 256,
    "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:tokengate-test",
    "aws_request_id": "00000000-0000-0000-0000-000000000000",
}


def http_event(method: str, path: str, route_key: str, authorizer: dict[str, Any], body: Any = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": f"/dev{path}",
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **({"content-type": "application/json"} if body is not None else {})},
        **({"body": json.dumps(body)} if body is not None else {}),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": f"/dev{path}", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req",
            "routeKey": route_key,
            "stage": "dev",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
            "authorizer": authorizer,
        },
        "isBase64Encoded": False,
    }


ADMIN_IAM = {"iam": {"userArn": "arn:aws:iam::123456789012:user/admin"}}

#: Invocations per function that need no AWS call, and the status code each must produce.
INVOCATIONS: dict[FunctionName, list[tuple[dict[str, Any], Any]]] = {
    # No Authorization header: denied before any cache or Secrets Manager lookup.
    "authorizer": [
        (
            {"version": "2.0", "type": "REQUEST", "routeKey": "ANY /invoke", "rawPath": "/dev/invoke", "headers": {}},
            {"isAuthorized": False},
        )
    ],
    "main": [
        (
            http_event(
                "GET",
                "/invoke",
                "ANY /invoke",
                {"lambda": {"tenant": "acme", "client_id": "k", "client_name": "svc", "scopes": ""}},
            ),
            200,
        )
    ],
    "admin": [
        (http_event("GET", "/admin/openapi.json", "ANY /admin/{proxy+}", ADMIN_IAM), 200),
        # A weak token is refused before anything is read; judging it loads zxcvbn, which must come
        # from the function's own asset.
        (
            http_event(
                "POST",
                "/admin/imports",
                "ANY /admin/{proxy+}",
                ADMIN_IAM,
                {"tenant": "acme", "client_name": "legacy", "token": "correcthorsebatterystaple"},
            ),
            422,
        ),
    ],
    # Every rotation step reads Secrets Manager: import only.
    "rotation": [],
    # No authorizer context: refused before the client's secret is read.
    "delivery": [(http_event("GET", "/token", "GET /token", {}), 403)],
    # The sweep lists Secrets Manager first thing: import only.
    "sweep": [],
    # No GitHub signature: refused before GitHub's keys are fetched or anything is read. Its import
    # loads cryptography (the signature check), which must come from its own asset.
    "leaks": [(http_event("POST", "/leaks/github", "POST /leaks/github", {}), 401)],
}

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, json, os, sys

    allowed = set(json.loads(os.environ.pop("TG_ALLOWED")))
    sys.path.insert(0, os.environ.pop("TG_SERVICES"))
    refused = []

    class LambdaImports(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            # _sysconfigdata_*: the interpreter's build-time config, stdlib in all but name.
            if top in allowed or top in sys.stdlib_module_names or top.startswith("_sysconfigdata_"):
                return None
            refused.append(name)
            raise ModuleNotFoundError(f"{name!r} is in neither the asset, the layer nor the runtime", name=name)

    sys.meta_path.insert(0, LambdaImports())
    module_name, _, attribute = os.environ.pop("TG_HANDLER").rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    invocations = json.loads(os.environ.pop("TG_INVOCATIONS"))
    context = type("Context", (), json.loads(os.environ.pop("TG_CONTEXT", "{}")))()
    results = [handler(invocation, context) for invocation in invocations]
    print(json.dumps({"refused": refused, "results": results}))
    """
)


def asset_packages(root: Path = SERVICES_DIR) -> set[str]:
    """Top-level importable names in an asset: packages, modules and extension modules."""
    return {p.name for p in root.iterdir() if (p / "__init__.py").exists()} | {
        p.name.split(".", 1)[0] for p in root.iterdir() if p.suffix in (".py", ".so")
    }


def function_asset(assembly: Path, template: dict[str, Any], name: FunctionName) -> Path:
    """The folder the function's zip is made of, in a synthesized cloud assembly."""
    key = functions_by_handler(template)[FUNCTIONS[name].handler]["Code"]["S3Key"]
    return assembly / f"asset.{key.removesuffix('.zip')}"


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_handler_imports_only_what_lambda_provides(name: FunctionName, assembly_dir: Path, tmp_path: Path) -> None:
    spec = FUNCTIONS[name]
    template_json = json.loads((assembly_dir / "TokenGate.template.json").read_text())
    variables = functions_by_handler(template_json)[spec.handler]["Environment"]["Variables"]
    # A function with bundled wheels may import them from its own asset only, not from the layer.
    asset = asset_packages(function_asset(assembly_dir, template_json, name))
    bundled = asset - asset_packages()
    allowed = asset | (LAYER_PACKAGES - bundled) | RUNTIME_PACKAGES
    function_env = {k: v if isinstance(v, str) else DEPLOY_TIME_VALUES[k] for k, v in variables.items()}
    invocations = INVOCATIONS[name]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        # Unroutable on purpose: these invocations must not reach any AWS service.
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:9",
        **function_env,
        "TG_ALLOWED": json.dumps(sorted(allowed)),
        "TG_SERVICES": str(SERVICES_DIR),
        "TG_HANDLER": spec.handler,
        "TG_INVOCATIONS": json.dumps([event for event, _ in invocations]),
        "TG_CONTEXT": json.dumps(CONTEXT),
    }
    # -I: no current directory, PYTHONPATH or user site on the path, just like Lambda's /var/task;
    # -B: no __pycache__ written into services/.
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", SCRIPT],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for (_, expected), outcome in zip(invocations, report["results"], strict=True):
        assert (outcome["statusCode"] if isinstance(expected, int) else outcome) == expected, outcome
    # Optional imports a library tried and handled are fine; nothing the handler needs was refused,
    # or it would have failed above. Name them anyway, so a surprise shows in the test output.
    assert all(n.partition(".")[0] not in {"tokengate", "moto", "starlette", "uvicorn"} for n in report["refused"])


def test_the_hook_refuses_what_lambda_lacks(tmp_path: Path) -> None:
    """The gate itself: a module outside the allowed set fails to import."""
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("")
    (tmp_path / "probe" / "app.py").write_text("import moto\n\ndef handler(event, context):\n    return None\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TG_ALLOWED": json.dumps(["probe"]),
        "TG_SERVICES": str(tmp_path),
        "TG_HANDLER": "probe.app.handler",
        "TG_INVOCATIONS": "[]",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", SCRIPT],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "'moto' is in neither the asset, the layer nor the runtime" in result.stderr


def elf_machine(path: Path) -> int:
    """The e_machine field of an ELF file (183: AArch64; 62: x86-64)."""
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_the_leak_function_carries_cryptography_for_its_platform_in_its_own_asset(assembly_dir: Path) -> None:
    """The function's zip holds cryptography and its native dependencies, built for arm64 and the
    runtime's Python, none of it shared with the other functions' asset."""
    from infra.bundle import BUNDLED, python_version
    from infra.functions import ARCHITECTURE

    template_json = json.loads((assembly_dir / "TokenGate.template.json").read_text())
    leaks = function_asset(assembly_dir, template_json, "leaks")
    shared = {function_asset(assembly_dir, template_json, n) for n in FUNCTIONS if n not in BUNDLED}
    assert len(shared) == 1 and leaks not in shared
    (shared_asset,) = shared
    assert "cryptography" in asset_packages(leaks) and "cryptography" not in asset_packages(shared_asset)
    assert ARCHITECTURE.name == "arm64"
    natives = list(leaks.rglob("*.so"))
    assert natives and {elf_machine(p) for p in natives} == {183}
    rust = leaks / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so"
    assert rust.exists()
    tags = [
        line.split(": ", 1)[1]
        for line in next(leaks.glob("cryptography-*.dist-info/WHEEL")).read_text().splitlines()
        if line.startswith("Tag: ")
    ]
    assert tags and all("aarch64" in tag and "abi3" in tag for tag in tags)
    minor = python_version().replace(".", "")
    cffi = [p.name for p in leaks.glob("_cffi_backend.*.so")]
    assert cffi == [f"_cffi_backend.cpython-{minor}-aarch64-linux-gnu.so"]


def _bundled() -> list[tuple[FunctionName, str]]:
    from infra.bundle import BUNDLED

    return [(name, dist) for name, dists in BUNDLED.items() for dist in dists]


@pytest.mark.parametrize(("name", "dist"), _bundled())
def test_a_bundled_distribution_ships_in_its_functions_own_asset_at_the_version_tested(
    name: FunctionName, dist: str, assembly_dir: Path
) -> None:
    """What the function imports from it is in its zip, at the version the tests ran, and in no
    other function's (the handler-import test above then allows it to that function only)."""
    import importlib.metadata

    template_json = json.loads((assembly_dir / "TokenGate.template.json").read_text())
    asset = function_asset(assembly_dir, template_json, name)
    others = {function_asset(assembly_dir, template_json, n) for n in FUNCTIONS if n != name}
    installed = importlib.metadata.distribution(dist)
    top_level = {top for top, dists in importlib.metadata.packages_distributions().items() if dist in dists}
    assert top_level and top_level <= asset_packages(asset)
    assert all(top_level.isdisjoint(asset_packages(other)) for other in others)
    assert [p.name for p in asset.glob(f"{dist}-*.dist-info")] == [f"{dist}-{installed.version}.dist-info"]


def test_every_asset_carries_the_botocore_data_derived_for_the_authorizers_clients(
    assembly_dir: Path, tmp_path: Path
) -> None:
    """What the authorizer's loader searches first (botocore_data.DERIVED_DIR) ships in the zip,
    derived from the botocore installed here (infra/sdk_data.py); services/ itself holds none."""
    from infra.sdk_data import ASSET_PATH, derive
    from tokengate_core.runtime.aws import SERVICES

    expected = derive(tmp_path)
    files = sorted(p.relative_to(expected) for p in expected.rglob("*.json"))
    assert Path("endpoints.json") in files and len(files) == len(SERVICES) + 1
    assert not (SERVICES_DIR / ASSET_PATH).exists()
    template_json = json.loads((assembly_dir / "TokenGate.template.json").read_text())
    for name in FUNCTIONS:
        shipped = function_asset(assembly_dir, template_json, name) / ASSET_PATH
        assert sorted(p.relative_to(shipped) for p in shipped.rglob("*.json")) == files, name
        assert all((shipped / f).read_bytes() == (expected / f).read_bytes() for f in files), name
