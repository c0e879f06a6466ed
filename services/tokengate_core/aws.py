"""The boto3 clients, created once per container: short timeouts and bounded retries for reads and
writes, one unhurried attempt for the control-plane calls.

The endpoint comes from boto3's standard ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` variable, so the
same code talks to AWS or to the local stack's emulator with no local-only branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokengate_core.config import AdminSettings, StoreSettings
from tokengate_core.store import SecretsStore

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_secretsmanager import SecretsManagerClient

#: RotateSecret, CancelRotateSecret and DeleteSecret (store.CONTROL_PLANE_OPERATIONS) are never
#: retried: a call that timed out may have been applied, and a second RotateSecret then finds the
#: first one's AWSPENDING version and fails as "rotation in progress", which the admin API would
#: answer by undoing a client that was fine.
CONTROL_PLANE_MAX_ATTEMPTS = 1


def _client(session: Session, settings: StoreSettings, read_timeout: float, attempts: int) -> SecretsManagerClient:
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.sm_connect_timeout_seconds,
        read_timeout=read_timeout,
        # total_max_attempts counts the first call; botocore's max_attempts would count retries only.
        retries={"total_max_attempts": attempts, "mode": "standard"},
    )
    return session.client("secretsmanager", config=config)


def _session() -> Session:
    import boto3  # deferred: a container that never misses the cache never pays for it

    return boto3.session.Session()


def secretsmanager_client(settings: StoreSettings, session: Session | None = None) -> SecretsManagerClient:
    """Reads and writes: a short read timeout and ``sm_max_attempts`` attempts."""
    return _client(session or _session(), settings, settings.sm_read_timeout_seconds, settings.sm_max_attempts)


def control_plane_client(settings: AdminSettings, session: Session | None = None) -> SecretsManagerClient:
    """RotateSecret, CancelRotateSecret, DeleteSecret: their own read timeout, one attempt."""
    return _client(
        session or _session(), settings, settings.sm_control_read_timeout_seconds, CONTROL_PLANE_MAX_ATTEMPTS
    )


def make_store(settings: StoreSettings, kms_key_id: str | None = None) -> SecretsStore:
    """The store for a function; only the admin function, the one that makes control-plane calls,
    gets the second client (the authorizer's cold start stays one client)."""
    session = _session()
    control = control_plane_client(settings, session) if isinstance(settings, AdminSettings) else None
    return SecretsStore(
        secretsmanager_client(settings, session), settings.secret_prefix, kms_key_id, control_client=control
    )
