"""`tokengate local`: the whole API on loopback, no AWS account, no Docker.

Start order matters: the process environment (fake credentials, region, the embedded Secrets
Manager's and DynamoDB's endpoint) is in place before any handler module is imported, because
handlers read their configuration and build clients at import, exactly as on a Lambda cold start.
The deployment's table is created, and the saved state replayed, before the first request too.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import uvicorn
from botocore.exceptions import ClientError
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router

from tokengate.emulator import SecretsManagerEmulator
from tokengate.local import location
from tokengate.local.asgi import asgi_app
from tokengate.local.control import (
    FLUSH_USAGE_PATH,
    ROTATE_DUE_PATH,
    SWEEP_PATH,
    FlushUsageEndpoint,
    RotateDueEndpoint,
    SweepEndpoint,
)
from tokengate.local.event_log import EVENTS_FILE, EventLog
from tokengate.local.gateway import Gateway, StageConfig
from tokengate.local.iam import SigV4Verifier
from tokengate.local.principals import PrincipalDirectory, load_principals
from tokengate.local.runtime import FunctionRuntime, function_environment
from tokengate.local.scheduler import RotationScheduler, SweepTimer
from tokengate.local.state import (
    AWS_ENDPOINT_FILE,
    CREDENTIALS_FILE,
    PRINCIPALS_FILE,
    SECRETS_FILE,
    TABLE_FILE,
    AdminCredentials,
    CoalescedSaves,
    SecretsSnapshot,
    TableSnapshot,
    admin_credentials,
    ensure_principals_file,
    ensure_state_dir,
    write_aws_endpoint,
)
from tokengate_core.deployment.config import AdminSettings, ConfigError, RotationSettings
from tokengate_core.deployment.routes import FUNCTIONS, FunctionName, authorizer_cache_allowed
from tokengate_core.tokens import keyring

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

READY_PREFIX = "tokengate local stack ready: "
LOCK_FILE = ".lock"

_INHERITED_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
)

logger = logging.getLogger("tokengate.local")


class StartupError(RuntimeError):
    """A problem the user can fix (port in use, bad config file): one line, no traceback."""


@dataclass(frozen=True)
class LocalOptions:
    host: str = location.HOST
    port: int = location.DEFAULT_PORT
    stage: str = location.DEFAULT_STAGE
    state_dir: Path = field(default_factory=lambda: location.discovered_state_dir(Path.cwd()))
    region: str = location.DEFAULT_REGION
    authorizer_cache_ttl: float = 0.0
    rotation_check_interval: float = 60.0
    #: The sweep's schedule (daily in AWS); 0 turns the timer off (``POST /.local/sweep`` runs it).
    sweep_interval: float = 86400.0


def process_environment(region: str, endpoint: str) -> dict[str, str]:
    """What every local function sees besides its own settings: what Lambda's runtime would give it
    (region, credentials: fake ones here) plus boto3's standard endpoint variables for the services
    the embedded moto serves (Secrets Manager, DynamoDB for the name table, EventBridge for the
    lifecycle events)."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any pair
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,  # a developer's ~/.aws must not leak into the stack
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": endpoint,
    }


class LocalStack:
    """Everything behind the socket: emulator, functions, gateway, scheduler, persistence."""

    def __init__(self, options: LocalOptions, environ: Mapping[str, str]) -> None:
        self.options = options
        self._environ = dict(environ)
        self.state_dir = options.state_dir.resolve()
        self.emulator: SecretsManagerEmulator | None = None
        self.runtimes: dict[FunctionName, FunctionRuntime] = {}
        self.snapshot: SecretsSnapshot | None = None
        self.table_snapshot: TableSnapshot | None = None
        self.scheduler: RotationScheduler | None = None
        self.sweeper: SweepTimer | None = None
        self.gateway: Gateway | None = None
        self.control: RotateDueEndpoint | None = None
        self.flush_control: FlushUsageEndpoint | None = None
        self.sweep_control: SweepEndpoint | None = None
        self.admin: AdminCredentials | None = None
        self.restored = 0
        self.restored_keyring = False
        self._saves = CoalescedSaves(self._save)
        self._saving_allowed = False
        self._lock_file: IO[str] | None = None

    def start(self) -> None:
        try:
            ensure_state_dir(self.state_dir)
            self._lock_state_dir()
        except OSError as error:
            reason = "not a folder" if isinstance(error, FileExistsError | NotADirectoryError) else error.strerror
            raise StartupError(f"state folder {self.state_dir} (--state-dir or TOKENGATE_HOME): {reason}") from None
        region = self.options.region
        try:
            environments = {name: function_environment(name, self._environ) for name in FUNCTIONS}
            self.admin = admin_credentials(self.state_dir, region, self._environ)
            principals_path = ensure_principals_file(self.state_dir)
            load_principals(principals_path)  # a broken file fails the start, not a request
        except (ConfigError, ValueError) as error:
            raise StartupError(" ".join(str(error).split())) from None
        except OSError as error:
            raise StartupError(f"state folder {self.state_dir}: {error.strerror or error}") from None
        self._check_authorizer_cache(AdminSettings.from_env(environments["admin"]).usage_control)

        # Every event the functions put on the bus, as a subscriber would see it.
        self.emulator = SecretsManagerEmulator(on_events=EventLog(self.state_dir / EVENTS_FILE).append).start()
        for name in _INHERITED_AWS_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(process_environment(region, self.emulator.url))
        write_aws_endpoint(self.state_dir, self.emulator.url, region)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here

        from tokengate_core.records.names import create_table

        admin_settings = AdminSettings.from_env(environments["admin"])
        tables = _dynamodb_client()
        create_table(tables, admin_settings.table_name)
        self.table_snapshot = TableSnapshot(tables, admin_settings.table_name, self.state_dir / TABLE_FILE)
        self.snapshot = SecretsSnapshot(
            _secretsmanager_client(),
            self.state_dir / SECRETS_FILE,
            recovery_window_days=admin_settings.recovery_window_days,
            backdate=self.emulator.backdate,
        )
        for name, restore in ((TABLE_FILE, self.table_snapshot.restore), (SECRETS_FILE, self.snapshot.restore)):
            try:
                restored = restore()
            except ValueError as error:
                raise StartupError(str(error)) from None
            except (KeyError, TypeError, ClientError) as error:
                raise StartupError(
                    f"{self.state_dir / name}: cannot be restored ({type(error).__name__}); "
                    "move it away to start without it"
                ) from None
            if name == SECRETS_FILE:
                ring = keyring.secret_name(admin_settings.secret_prefix)
                self.restored_keyring = ring in self.snapshot.restored_names
                self.restored = restored - int(self.restored_keyring)
        self._saving_allowed = True  # never overwrite the saved state with a half-restored one

        self.runtimes = {
            name: FunctionRuntime(name, env, region, location.LOCAL_ACCOUNT_ID) for name, env in environments.items()
        }
        for name, runtime in self.runtimes.items():
            try:
                runtime.warm()
            except Exception as error:  # noqa: BLE001 - e.g. a Powertools variable it refuses at import
                reason = next(iter(str(error).splitlines()), "")
                raise StartupError(f"the {name} function cannot start: {type(error).__name__}: {reason}") from None

        stage = StageConfig(
            stage=self.options.stage,
            region=region,
            account_id=location.LOCAL_ACCOUNT_ID,
            api_id=location.LOCAL_API_ID,
            authorizer_cache_ttl=self.options.authorizer_cache_ttl,
        )
        admin = self.admin.principal(location.LOCAL_ACCOUNT_ID, region, location.LOCAL_API_ID)
        directory = PrincipalDirectory(admin, principals_path)
        self.gateway = Gateway(
            stage,
            self.runtimes,
            SigV4Verifier(directory, region),
            after_admin_write=self.persist,
        )
        from tokengate_core.runtime.aws import make_store

        store = make_store(RotationSettings.from_env(environments["rotation"]))
        self.scheduler = RotationScheduler(store, self.runtimes["rotation"].invoke, after_rotation=self.persist)
        if self.options.rotation_check_interval > 0:
            self.scheduler.start(self.options.rotation_check_interval)
        self._start_sweeper()
        # The controls answer the local admin only (not the principals of principals.json).
        only_admin = PrincipalDirectory(admin, None)
        self.control = RotateDueEndpoint(self.scheduler, SigV4Verifier(only_admin, region), stage.api_arn)
        self.flush_control = FlushUsageEndpoint(self._flush_and_save, SigV4Verifier(only_admin, region), stage.api_arn)
        assert self.sweeper is not None
        self.sweep_control = SweepEndpoint(self.sweeper.run, SigV4Verifier(only_admin, region), stage.api_arn)

    def _start_sweeper(self) -> None:
        self.sweeper = SweepTimer(self.runtimes["sweep"].invoke, after_sweep=self.persist)
        if self.options.sweep_interval > 0:
            self.sweeper.start(self.options.sweep_interval)

    def _check_authorizer_cache(self, usage_control: bool) -> None:
        """The deployed stack's rule (tokengate_core.deployment.routes.authorizer_cache_allowed), with this
        stack's names for the two settings."""
        ttl = self.options.authorizer_cache_ttl
        if ttl > 0 and not authorizer_cache_allowed(usage_control):
            raise StartupError(
                f"--authorizer-cache-ttl {ttl:g} needs {AdminSettings.env_name('usage_control')}=false: with usage"
                " control on, a cached allow would let requests past a rate limit, a quota or an IP allowlist"
            )

    def asgi_app(self, executor: ThreadPoolExecutor) -> Router:
        """The emulated stage, plus the local stack's own controls (tokengate.local.control)."""
        ready = (self.gateway, self.control, self.flush_control, self.sweep_control)
        assert None not in ready, "start() first"
        assert self.gateway and self.control and self.flush_control and self.sweep_control
        controls = [
            StarletteRoute(ROTATE_DUE_PATH, self.control.handle, methods=["POST"]),
            StarletteRoute(FLUSH_USAGE_PATH, self.flush_control.handle, methods=["POST"]),
            StarletteRoute(SWEEP_PATH, self.sweep_control.handle, methods=["POST"]),
        ]
        return asgi_app(self.gateway, executor, extra_routes=controls)

    def flush_usage(self) -> int:
        """Every idle authorizer container writes its usage counts now (tokengate.local.control);
        returns how many containers did."""
        runtime = self.runtimes.get("authorizer")
        if runtime is None or self.emulator is None:
            return 0
        now = time.time()
        return runtime.each_idle(lambda module: module.authorizer.usage.flush(None, now))

    def _flush_and_save(self) -> int:
        flushed = self.flush_usage()
        self.persist()
        return flushed

    def persist(self) -> None:
        """Save the state after a write (a failed save is logged: it must not fail the write)."""
        if self._saving_allowed:
            self._saves.after_write()

    def _save(self) -> None:
        for name, snapshot in ((SECRETS_FILE, self.snapshot), (TABLE_FILE, self.table_snapshot)):
            if snapshot is None:
                continue
            try:
                snapshot.save()
            except Exception as error:  # noqa: BLE001 - a failed save must not fail the request that caused it
                logger.warning("could not save %s: %s", name, type(error).__name__)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        try:
            self.flush_usage()  # as a container's counts would reach the table on its next requests
        except Exception as error:  # noqa: BLE001 - stopping must not fail on it; the counts are lost, as in AWS
            logger.warning("could not write the authorizers' usage counts: %s", type(error).__name__)
        if self.sweeper is not None:
            self.sweeper.stop()
        self.persist()
        for runtime in self.runtimes.values():
            runtime.shutdown()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
            (self.state_dir / AWS_ENDPOINT_FILE).unlink(missing_ok=True)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def _lock_state_dir(self) -> None:
        """One stack per state folder: two would overwrite each other's secrets.json."""
        import fcntl

        handle = (self.state_dir / LOCK_FILE).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StartupError(f"{self.state_dir} is in use by another `tokengate local`") from None
        self._lock_file = handle


def _secretsmanager_client() -> SecretsManagerClient:
    import boto3

    return boto3.session.Session().client("secretsmanager")


def _dynamodb_client() -> DynamoDBClient:
    import boto3

    return boto3.session.Session().client("dynamodb")


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything slow, so a busy port fails fast with one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, a kept-alive client waits out the peer's
    # 40 ms delayed-ACK timer on every response (measured by `make bench`: 48 ms -> ~1 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = "address already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        raise StartupError(
            f"cannot listen on {host}:{port}: {reason} (is another `tokengate local` running? "
            "pick another port with --port or TOKENGATE_PORT)"
        ) from None
    sock.listen(2048)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, announcing readiness once listening, and stopping on SIGINT/SIGTERM without
    re-raising the signal afterwards (the stack still has to save its state and stop the emulator)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        import signal

        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


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
        f"  console: {prog} console{flags}   # the same in a browser, on a one-time URL",
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


def serve(options: LocalOptions, environ: Mapping[str, str], out: IO[str] = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM; return the exit status. Raises StartupError for a fixable problem."""
    _configure_logging()
    sock = bind(options.host, options.port)
    port = int(sock.getsockname()[1])
    stack = LocalStack(options, environ)
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="gateway")
    try:
        stack.start()
        assert stack.gateway is not None
        url = location.stage_url(options.host, port, options.stage)

        def announce() -> None:
            out.write("\n".join(ready_lines(stack, url)) + "\n")
            out.flush()

        config = uvicorn.Config(
            stack.asgi_app(executor),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,
        )
        _Server(config, on_ready=announce).run(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    finally:
        stack.stop()
        executor.shutdown(wait=False, cancel_futures=True)
    out.write("tokengate local stack stopped\n")
    out.flush()
    return 0


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tokengate local: %(message)s"))
    root = logging.getLogger("tokengate")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
