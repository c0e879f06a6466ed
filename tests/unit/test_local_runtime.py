"""The local Lambda runtime: the handlers from services/, their own environment, fresh contexts,
deadlines, and containers that do not leak into each other or into this process."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from tokengate.local.runtime import (
    FUNCTION_TIMEOUT_SECONDS,
    FunctionRuntime,
    LocalLambdaContext,
    _Container,
    function_environment,
)
from tokengate_core.deployment.config import AdminSettings, AuthorizerSettings, ConfigError
from tokengate_core.deployment.functions import FUNCTIONS


def test_each_function_gets_its_settings_environment() -> None:
    env = function_environment("authorizer", {})
    assert env == AuthorizerSettings().to_env()
    assert set(env) <= set(AuthorizerSettings.env_names())


def test_the_local_environment_overrides_settings_but_never_the_rotation_arn() -> None:
    overrides = {
        "TOKENGATE_CACHE_TTL_SECONDS": "1",
        "TOKENGATE_ROTATION_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:rot",
    }
    assert function_environment("authorizer", overrides)["TOKENGATE_CACHE_TTL_SECONDS"] == "1.0"
    assert AdminSettings.env_name("rotation_function_arn") not in function_environment("admin", overrides)
    with pytest.raises(ConfigError, match="TOKENGATE_CACHE_TTL_SECONDS"):
        function_environment("authorizer", {"TOKENGATE_CACHE_TTL_SECONDS": "-5"})


def test_a_cold_start_reads_the_functions_environment_and_restores_the_process_one() -> None:
    assert "TOKENGATE_CACHE_TTL_SECONDS" not in os.environ
    runtime = FunctionRuntime(
        "authorizer", function_environment("authorizer", {"TOKENGATE_CACHE_TTL_SECONDS": "7"}), "us-east-1", "1" * 12
    )
    container = runtime._acquire()
    try:
        assert container.module.settings.cache_ttl_seconds == 7.0
        assert "TOKENGATE_CACHE_TTL_SECONDS" not in os.environ
        # A private copy: the real module name is untouched (tests importing authorizer.app are unaffected).
        assert container.module.__name__ != "authorizer.app"
        assert sys.modules.get("authorizer.app") is not container.module
    finally:
        runtime._release(container)
        runtime.shutdown()


def test_the_real_authorizer_denies_garbage_through_the_runtime() -> None:
    runtime = FunctionRuntime("authorizer", function_environment("authorizer", {}), "us-east-1", "1" * 12)
    event = {"version": "2.0", "type": "REQUEST", "routeKey": "ANY /invoke", "headers": {"authorization": "nope"}}
    try:
        assert runtime.invoke(event).value == {"isAuthorized": False}
    finally:
        runtime.shutdown()


class _Recorder:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.contexts: list[LocalLambdaContext] = []
        self.release = threading.Event()

    def __call__(self, event: Any, context: LocalLambdaContext) -> Any:
        self.contexts.append(context)
        if self.behaviour == "hang":
            self.release.wait(10)
        if self.behaviour == "raise":
            raise RuntimeError("boom")
        return {"remaining": context.get_remaining_time_in_millis()}


def _runtime_with(handler: _Recorder, timeout: float) -> tuple[FunctionRuntime, list[int]]:
    runtime = FunctionRuntime("main", {}, "us-east-1", "123456789012", timeout=timeout)
    cold_starts: list[int] = []

    def cold_start() -> _Container:
        cold_starts.append(1)
        return _Container(module=sys.modules[__name__], handler=handler)

    runtime._cold_start = cold_start  # type: ignore[method-assign]
    return runtime, cold_starts


def test_each_invocation_gets_a_fresh_context_with_the_deadline() -> None:
    handler = _Recorder("return")
    runtime, cold_starts = _runtime_with(handler, timeout=3)
    first, second = runtime.invoke({}), runtime.invoke({})
    runtime.shutdown()
    assert first.ok and 0 < first.value["remaining"] <= 3000
    assert handler.contexts[0].aws_request_id != handler.contexts[1].aws_request_id
    assert handler.contexts[0].invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:tokengate-main"
    assert len(cold_starts) == 1  # the warm container was reused
    assert second.ok


def test_an_invocation_past_its_deadline_is_a_timeout_and_its_container_is_dropped() -> None:
    handler = _Recorder("hang")
    runtime, cold_starts = _runtime_with(handler, timeout=0.2)
    try:
        assert runtime.invoke({}).error == "timeout"
        handler.behaviour = "return"
        assert runtime.invoke({}).ok
        assert len(cold_starts) == 2  # the timed-out sandbox was not reused
    finally:
        handler.release.set()
        runtime.shutdown()


def test_a_raising_handler_is_an_error_result_and_its_container_stays_warm() -> None:
    handler = _Recorder("raise")
    runtime, cold_starts = _runtime_with(handler, timeout=3)
    assert runtime.invoke({}).error == "RuntimeError"
    handler.behaviour = "return"
    assert runtime.invoke({}).ok
    runtime.shutdown()
    assert len(cold_starts) == 1


def test_events_and_results_cross_as_json() -> None:
    seen: list[Any] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append(event)
        event["mutated"] = True
        return {"ok": True} if event.get("good") else {"bad": object()}

    runtime = FunctionRuntime("main", {}, "us-east-1", "123456789012")
    runtime._cold_start = lambda: _Container(module=sys.modules[__name__], handler=handler)  # type: ignore[method-assign]
    sent = {"good": True}
    assert runtime.invoke(sent).value == {"ok": True}
    assert sent == {"good": True}, "the handler got a copy, as over the wire"
    assert runtime.invoke({"good": False}).error == "Runtime.MarshalError"
    runtime.shutdown()


def test_concurrent_invocations_get_separate_containers() -> None:
    runtime = FunctionRuntime("main", {}, "us-east-1", "123456789012", max_containers=3)
    gate = threading.Barrier(3, timeout=10)
    started: list[int] = []

    def cold_start() -> _Container:
        started.append(1)
        return _Container(module=sys.modules[__name__], handler=lambda e, c: gate.wait())

    runtime._cold_start = cold_start  # type: ignore[method-assign]
    threads = [threading.Thread(target=runtime.invoke, args=({},)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    runtime.shutdown()
    assert len(started) == 3


def test_timeouts_come_from_one_table() -> None:
    assert set(FUNCTION_TIMEOUT_SECONDS) == set(FUNCTIONS)
    assert FUNCTION_TIMEOUT_SECONDS["authorizer"] < FUNCTION_TIMEOUT_SECONDS["admin"] <= 30


def test_each_idle_reaches_idle_containers_only_and_returns_them_to_service() -> None:
    runtime = FunctionRuntime("authorizer", function_environment("authorizer", {}), "us-east-1", "1" * 12)
    busy, idle = runtime._acquire(), runtime._acquire()
    runtime._release(idle)
    reached: list[Any] = []
    try:
        assert runtime.each_idle(reached.append) == 1
        assert reached == [idle.module]
        assert runtime._acquire() is idle, "back in service"
        runtime._release(idle)
    finally:
        runtime._release(busy)
        runtime.shutdown()
