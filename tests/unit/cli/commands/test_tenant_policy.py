"""`tokengate tenant-policy` prints a tenant admin's grant without loading the CDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tokengate.local import location


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
        cwd=Path(__file__).resolve().parents[4],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    assert policy["Statement"][0]["Resource"][0] == (
        f"arn:aws:execute-api:{location.DEFAULT_REGION}:{location.LOCAL_ACCOUNT_ID}:{location.LOCAL_API_ID}"
        "/dev/POST/admin/tenants/acme/clients"
    )
