"""What ``tokengate local`` tells the person who started it: the ready banner and the stop line.

The first line, ``tokengate local stack ready: <stage URL>``, is the contract for scripts and
tests; the rest says how to reach the stack from another terminal.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tokengate.local import location
from tokengate.local.event_log import EVENTS_FILE
from tokengate.local.state import CREDENTIALS_FILE, PRINCIPALS_FILE, SECRETS_FILE, TABLE_FILE

if TYPE_CHECKING:
    from tokengate.local.server import LocalStack

READY_PREFIX = "tokengate local stack ready: "
STOPPED_LINE = "tokengate local stack stopped"


def ready_lines(stack: LocalStack, url: str) -> list[str]:
    """The ready banner. Its CLI lines work as printed in a new terminal started in the same folder,
    whatever this one's TOKENGATE_PORT or TOKENGATE_HOME: they name the endpoint and the state
    folder whenever the CLI would not find them by itself."""
    options = stack.options
    where = []
    if url != location.DEFAULT_URL:
        where.append(f"--endpoint {url}")
    if stack.state_dir != location.discovered_state_dir(Path.cwd()):
        where.append(f"--state-dir {shlex.quote(str(stack.state_dir))}")
    flags = "".join(f" {w}" for w in where)
    # The way this stack was started is the way to reach the CLI (.venv/bin/tokengate under `make run`).
    prog = sys.argv[0] if Path(sys.argv[0]).name == "tokengate" else "tokengate"
    lines = [
        f"{READY_PREFIX}{url}",
        f'  invoke (Lambda authorizer):  curl -H "Authorization: $TOKEN" {url}/invoke',
        f"  admin API (AWS_IAM, SigV4 service execute-api, region {options.region}):  {url}/admin/...",
        f"  CLI:    {prog} clients issue --tenant acme --name my-first-client{flags}",
        f"          {prog} clients list --tenant acme{flags}",
        f"          {prog} local rotate-due --advance 30{flags}   # scheduled rotations, as if 30 days had passed",
        f"  events: {prog} events tail{flags}   # lifecycle events, as EventBridge delivers them",
        f"  state:  {stack.state_dir} ({SECRETS_FILE}, {TABLE_FILE}, {EVENTS_FILE}, {CREDENTIALS_FILE}, "
        f"{PRINCIPALS_FILE})",
    ]
    if stack.restored or stack.restored_keyring:
        keys = " and the signing keyring" if stack.restored_keyring else ""
        lines.append(f"  restored {stack.restored} client secret(s){keys} from {SECRETS_FILE}")
    admin = stack.admin
    if admin is not None and admin.source == "generated":
        # The secret stays in the file: this output is also where the functions' logs go.
        lines.append(
            f"  admin credentials: generated now, access key id {admin.access_key_id}; the pair is in "
            f"{stack.state_dir / CREDENTIALS_FILE} (mode 0600), where the CLI reads it"
        )
    elif admin is not None and admin.source == "environment":
        lines.append("  admin credentials: from TOKENGATE_ADMIN_ACCESS_KEY_ID / TOKENGATE_ADMIN_SECRET_ACCESS_KEY")
    lines.append("  Ctrl-C stops the stack (state is saved).")
    return lines
