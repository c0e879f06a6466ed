"""Where the local stack is: its state folder, address, stage and region when none is given.

``tokengate local`` and the CLI both read these, so a CLI started anywhere under the folder the
stack was started from finds the same state folder (and the local admin's credentials in it).
Importing this module loads nothing of the stack itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tokengate_core.deployment.routes import STAGE_DEFAULT

#: The state folder's name; ``tokengate local`` creates it in the current folder unless one of
#: its parents already has one.
STATE_DIR_NAME = ".tokengate"
HOME_ENV = "TOKENGATE_HOME"
PORT_ENV = "TOKENGATE_PORT"
HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_STAGE = STAGE_DEFAULT
DEFAULT_REGION = "us-east-1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: moto's default account, so the secret ARNs and the execute-api ARNs name the same account.
LOCAL_ACCOUNT_ID = "123456789012"
#: A fixed API id: principals.json resource patterns can name it.
LOCAL_API_ID = "tglocal001"


def stage_url(host: str, port: int, stage: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/{stage}"


#: The URL the CLI calls when nothing names another.
DEFAULT_URL = stage_url(HOST, DEFAULT_PORT, DEFAULT_STAGE)


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise ValueError("not a port number (0-65535)")
    return value


def env_port(environ: Mapping[str, str]) -> int:
    """$TOKENGATE_PORT, or the default; ValueError names the variable."""
    try:
        return port_number(environ.get(PORT_ENV, str(DEFAULT_PORT)))
    except ValueError as error:
        raise ValueError(f"{PORT_ENV}: {error}") from None


def discovered_state_dir(cwd: Path) -> Path:
    """The nearest ``.tokengate`` folder in ``cwd`` or its parents, else ``cwd/.tokengate``."""
    cwd = cwd.resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / STATE_DIR_NAME).is_dir():
            return folder / STATE_DIR_NAME
    return cwd / STATE_DIR_NAME


def state_dir(given: str | None, environ: Mapping[str, str], cwd: Path | None = None) -> Path:
    """--state-dir, else $TOKENGATE_HOME, else the discovered one (absolute in every case)."""
    base = Path.cwd() if cwd is None else cwd
    chosen = given or environ.get(HOME_ENV)
    if chosen:
        return (base / chosen).resolve()
    return discovered_state_dir(base)
