"""The local stack behind the socket: the embedded AWS, the functions, the emulated stage, the
scheduler and sweeper, the local controls and the saved state (tokengate.local.process runs it).

Start order matters: the process environment (fake credentials, region, the embedded Secrets
Manager's and DynamoDB's endpoint) is in place before any handler module is imported, because
handlers read their configuration and build clients at import, exactly as on a Lambda cold start.
The deployment's table is created, and the saved state replayed, before the first request too.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from botocore.exceptions import ClientError
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router

from tokengate.emulator import SecretsManagerEmulator
from tokengate.local import location, running
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
from tokengate.local.runtime import FunctionRuntime, function_environment, local_defaults
from tokengate.local.scheduler import RotationScheduler, SweepTimer
from tokengate.local.state import (
    AWS_ENDPOINT_FILE,
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
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.deployment.routes import authorizer_cache_allowed
from tokengate_core.tokens import keyring
from tokengate_core.tokens.format import is_key_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient


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
            own = local_defaults(self._environ)
            environments = {name: function_environment(name, own) for name in FUNCTIONS}
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
                restore()
            except ValueError as error:
                raise StartupError(str(error)) from None
            except (KeyError, TypeError, ClientError) as error:
                raise StartupError(
                    f"{self.state_dir / name}: cannot be restored ({type(error).__name__}); "
                    "move it away to start without it"
                ) from None
            if name == SECRETS_FILE:
                prefix, names = admin_settings.secret_prefix, self.snapshot.restored_names
                self.restored_keyring = keyring.secret_name(prefix) in names
                # Client secrets only: not the keyring, nor a secret made beside the stack's own
                # (the reference design's stand-in, say).
                self.restored = sum(1 for n in names if n.startswith(prefix) and is_key_id(n[len(prefix) :]))
        self._saving_allowed = True  # never overwrite the saved state with a half-restored one

        self._start_functions(environments, principals_path)

    def _start_functions(self, environments: dict[FunctionName, dict[str, str]], principals_path: Path) -> None:
        """The functions (warm, as after a cold start), the stage in front of them, the scheduler, the
        sweeper and the local controls, once the state they serve is restored."""
        region = self.options.region
        assert self.admin is not None, "the settings first"
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
        assert self.emulator is not None
        self.scheduler = RotationScheduler(
            store, self.runtimes["rotation"].invoke, self.emulator.stage_rotation, after_rotation=self.persist
        )
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
        if self._lock_file is not None:  # only a stack that held the folder published a URL in it
            running.withdraw_stage_url(self.state_dir)
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def _lock_state_dir(self) -> None:
        """One stack per state folder: two would overwrite each other's secrets.json."""
        import fcntl

        handle = (self.state_dir / running.LOCK_FILE).open("a")
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
