"""A small Lambda runtime: the handler code from services/, one execution environment per request.

Like Lambda, a function has containers (here: separately loaded copies of its handler module),
each serving one invocation at a time; a cold start loads a fresh copy with the function's own
environment, so module-level state (the authorizer's cache, the admin app) is per container, as in
AWS. An invocation gets a fresh context with a deadline; one that outlives it is abandoned with
its container and reported as a timeout. An idle container is ended as Lambda ends idle
environments (:meth:`FunctionRuntime.reclaim_idle`): one of a function with the shutdown extension
gets its SIGTERM first (tokengate_core.runtime.shutdown), and anything else is simply dropped.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate import use_services_path
from tokengate_core.authorize.settings import LOG_LEVEL_ENV
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.runtime import shutdown

#: Timeouts (s) and memory (MB) as the CDK stack deploys them: both read tokengate_core.deployment.routes.FUNCTIONS.
FUNCTION_TIMEOUT_SECONDS: dict[FunctionName, float] = {n: s.timeout_seconds for n, s in FUNCTIONS.items()}
FUNCTION_MEMORY_MB: dict[FunctionName, int] = {n: s.memory_mb for n, s in FUNCTIONS.items()}

#: The functions' log level locally unless POWERTOOLS_LOG_LEVEL says otherwise (in AWS: INFO): the
#: terminal of `make run` shows what went wrong, not a line per request.
LOCAL_LOG_LEVEL = "WARNING"

#: Environment variables a function must never see locally (see function_environment).
_LOCAL_ABSENT = {"admin": {AdminSettings.env_name("rotation_function_arn")}}

#: Lambda SIGKILLs what is still running at the end of the shutdown phase (2,000 ms, "Lambda
#: Extensions API", Shutdown phase); the function keeps to its own, shorter, share of it.
SHUTDOWN_PHASE_SECONDS = 2.0

# Cold starts patch os.environ (handlers read their configuration at import): one at a time.
_COLD_START_LOCK = threading.Lock()
_COPY_IDS = itertools.count(1)


def function_environment(name: FunctionName, overrides: Mapping[str, str]) -> dict[str, str]:
    """A function's own environment: its settings model's variables, exactly the ones the CDK stack sets.

    ``overrides`` (the local stack's own environment) may set any of them, e.g.
    TOKENGATE_CACHE_TTL_SECONDS=1 for a test; values are validated exactly as at a cold start.
    The admin function gets no rotation function ARN: locally the schedule lives in the record and
    the local scheduler plays Secrets Manager's part.
    """
    spec = FUNCTIONS[name]
    absent = _LOCAL_ABSENT.get(name, set())
    settings = spec.settings.from_env({k: v for k, v in overrides.items() if k not in absent})
    return {k: v for k, v in settings.to_env().items() if k not in absent}


def local_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """The local stack's environment for its functions: ``environ``, with the local log level
    unless it names one."""
    return {LOG_LEVEL_ENV: LOCAL_LOG_LEVEL, **environ}


class LocalLambdaContext(LambdaContext):
    """A fresh context per invocation, with the function's deadline."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int, timeout: float) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = function_arn
        self._memory_limit_in_mb = memory_mb
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - time.monotonic()) * 1000))


#: The invocation's changes could not be saved (tokengate.local.journal): they were undone.
STATE_NOT_SAVED = "StateNotSaved"


class UnitOfWork(Protocol):
    """What an invocation's changes are committed as: the handler runs inside it, it is committed
    before the result goes back, and rolled back when the invocation fails or times out."""

    def run(self, fn: Callable[..., Any], *args: Any) -> Any: ...
    def commit(self) -> bool: ...
    def rollback(self) -> None: ...


@dataclass(frozen=True)
class Invocation:
    """What an invocation came to: a value, or an error (``timeout``, the exception's type name,
    or :data:`STATE_NOT_SAVED`)."""

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Container:
    module: ModuleType
    handler: Callable[[Any, Any], Any]
    idle_since: float = 0.0  # time.monotonic() when it last went idle


@dataclass
class FunctionRuntime:
    name: FunctionName
    env: dict[str, str]
    region: str
    account_id: str
    max_containers: int = 10
    timeout: float | None = None
    #: Each invocation's unit of work (the local stack's journal); None: changes are not tracked.
    begin: Callable[[], UnitOfWork] | None = None
    _idle: list[_Container] = field(default_factory=list)
    _count: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _executor: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        # Twice the containers: an abandoned (timed-out) invocation keeps its thread until it returns.
        self._executor = ThreadPoolExecutor(
            max_workers=2 * self.max_containers, thread_name_prefix=f"lambda-{self.name}"
        )

    @property
    def function_name(self) -> str:
        return f"tokengate-{self.name}"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def timeout_seconds(self) -> float:
        return self.timeout if self.timeout is not None else FUNCTION_TIMEOUT_SECONDS[self.name]

    def warm(self) -> None:
        """One container ready before the first request (so the ready line means ready)."""
        self._release(self._acquire())

    def invoke(self, event: Any) -> Invocation:
        """Invoke as Lambda does: the event crosses as JSON (the handler gets its own copy) and so
        does the result (a value JSON cannot carry is the runtime's marshal error)."""
        event = json.loads(json.dumps(event))
        container = self._acquire()
        context = LocalLambdaContext(
            self.function_name, self.function_arn, FUNCTION_MEMORY_MB[self.name], self.timeout_seconds
        )
        assert self._executor is not None
        work = self.begin() if self.begin is not None else None
        future: Future[Any] = (
            self._executor.submit(work.run, container.handler, event, context)
            if work is not None
            else self._executor.submit(container.handler, event, context)
        )
        try:
            value = future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            # Lambda kills the sandbox: this container is not reused (its thread finishes on its own).
            if work is not None:
                work.rollback()
            self._discard()
            return Invocation(error="timeout")
        except Exception as error:  # noqa: BLE001 - a handler error is an invocation result, as in Lambda
            if work is not None:
                work.rollback()
            self._release(container)
            return Invocation(error=type(error).__name__)
        if work is not None and not work.commit():
            self._discard()  # its memory may hold what was undone (a lease, say): the next one starts clean
            return Invocation(error=STATE_NOT_SAVED)
        self._release(container)
        try:
            return Invocation(value=json.loads(json.dumps(value)))
        except (TypeError, ValueError):
            return Invocation(error="Runtime.MarshalError")

    def each_idle(self, action: Callable[[ModuleType], None]) -> int:
        """Run ``action`` on the module of every idle container; return how many it ran on.

        Lambda offers nothing like it: the local stack's controls use it to do now what a
        container would do on a later invocation (write its usage counts). The containers are
        taken out of service meanwhile, so no invocation shares one with ``action``; a busy
        container is left alone."""
        with self._cond:
            taken, self._idle = self._idle, []
        try:
            for container in taken:
                action(container.module)
        finally:
            with self._cond:
                self._idle.extend(taken)
                self._cond.notify_all()
        return len(taken)

    def reclaim_idle(self, idle_for: float = 0.0) -> int:
        """End every container idle for ``idle_for`` seconds or more, as Lambda ends idle
        environments; return how many ended. A function with the shutdown extension
        (FunctionSpec.graceful_shutdown) gets SIGTERM first: its handler module's hook runs, its
        writes saved as an invocation's, and whatever it has not done by the end of the shutdown
        phase is undone (Lambda's SIGKILL). Any other function's containers just end."""
        now = time.monotonic()
        with self._cond:
            ending = [c for c in self._idle if now - c.idle_since >= idle_for]
            self._idle = [c for c in self._idle if now - c.idle_since < idle_for]
        try:
            for container in ending:
                self._terminate(container)
        finally:
            with self._cond:
                self._count -= len(ending)
                self._cond.notify_all()
        return len(ending)

    def _terminate(self, container: _Container) -> None:
        hook = getattr(container.module, shutdown.HOOK, None)
        if not FUNCTIONS[self.name].graceful_shutdown or hook is None:
            return
        assert self._executor is not None
        work = self.begin() if self.begin is not None else None
        future: Future[Any] = self._executor.submit(work.run, hook) if work is not None else self._executor.submit(hook)
        try:
            future.result(timeout=SHUTDOWN_PHASE_SECONDS)
        except Exception:  # noqa: BLE001 - killed or failed: what it did is undone, as SIGKILL would lose it
            if work is not None:
                work.rollback()
            return
        if work is not None:
            work.commit()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- containers -------------------------------------------------------------------------------

    def _acquire(self) -> _Container:
        with self._cond:
            while not self._idle and self._count >= self.max_containers:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return self._cold_start()
        except BaseException:
            self._discard()
            raise

    def _release(self, container: _Container) -> None:
        container.idle_since = time.monotonic()
        with self._cond:
            self._idle.append(container)
            self._cond.notify()

    def _discard(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def _cold_start(self) -> _Container:
        module_name, _, attribute = FUNCTIONS[self.name].handler.rpartition(".")
        with _COLD_START_LOCK:
            saved = {k: os.environ.get(k) for k in self.env}
            os.environ.update(self.env)
            try:
                module = load_module_copy(module_name)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        handler = getattr(module, attribute)
        return _Container(module=module, handler=handler)


def handler_file(module_name: str) -> str:
    """The source file of a handler module under services/ (what Lambda would import)."""
    use_services_path()
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module {module_name} under services/")
    return spec.origin


def load_module_copy(module_name: str) -> ModuleType:
    """A private copy of a handler module: its own globals, as a separate Lambda container has.

    It is registered under a unique name (never the real one), so importing the handler module
    elsewhere in this process (a test, say) is unaffected."""
    path = handler_file(module_name)
    copy_name = f"_tokengate_local_{module_name.replace('.', '_')}_{next(_COPY_IDS)}"
    spec = importlib.util.spec_from_file_location(copy_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[copy_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(copy_name, None)
        raise
    return module
