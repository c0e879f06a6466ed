"""A session with botocore's built-in handlers narrowed to tokengate's services finds, for every event
a client of those services can emit, exactly the handlers a session with all of them finds."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore import handlers

from tokengate_core.runtime import botocore_handlers
from tokengate_core.runtime.aws import SERVICES
from tokengate_core.runtime.botocore_handlers import (
    CREDENTIAL_SERVICE_IDS,
    SERVICE_IDS,
    fires_for_tokengate,
    session_for_tokengate,
)

#: Events botocore emits per client or per call (botocore/client.py, endpoint.py, args.py, signers.py,
#: retries), besides those the built-in handlers name.
EMITTED = (
    "choose-service-name",
    "creating-client-class",
    "before-endpoint-resolution",
    "provide-client-params",
    "before-parameter-build",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "needs-retry",
    "after-call",
    "after-call-error",
    "before-parse",
    "response-received",
    "service-data-loaded",
    "getattr",
)


def _handlers(session: botocore.session.Session, event_name: str) -> list[Any]:
    """The handlers an event finds, in order. A handler an initializer made for this session (one
    closure per session, Powertools' user-agent one say) is named by where it is defined."""
    events: Any = session._events  # type: ignore[attr-defined]  # the aliaser around the HierarchicalEmitter
    builtin = {id(spec[1]) for spec in handlers.BUILTIN_HANDLERS}
    found = events._emitter._handlers.prefix_search(events._alias_event_name(event_name))
    return [h if id(h) in builtin else f"{h.__module__}.{h.__qualname__}" for h in found]


def _event_names(service: str) -> list[str]:
    model = botocore.session.get_session().get_service_model(service)
    service_id = model.service_id.hyphenize()
    families = set(EMITTED) | {spec[0].partition(".")[0] for spec in handlers.BUILTIN_HANDLERS}
    families.discard(botocore_handlers.DOCS_EVENT)
    names = []
    for family in sorted(families):
        names += [family, f"{family}.{service_id}"]
        names += [f"{family}.{service_id}.{operation}" for operation in model.operation_names]
    return names


def test_the_service_ids_are_the_models_own() -> None:
    session = botocore.session.get_session()
    assert set(SERVICE_IDS) == set(SERVICES)
    for service in SERVICES:
        assert SERVICE_IDS[service] == session.get_service_model(service).service_id.hyphenize()


@pytest.mark.parametrize("service", [*SERVICES, *sorted(CREDENTIAL_SERVICE_IDS)])
def test_every_event_of_our_services_finds_the_same_handlers_in_the_same_order(service: str) -> None:
    full, ours = botocore.session.get_session(), session_for_tokengate()
    names = _event_names(service)
    assert len(names) > 100
    differing = [name for name in names if _handlers(full, name) != _handlers(ours, name)]
    assert differing == []


def test_the_narrowed_session_drops_the_other_services_and_the_docs_handlers() -> None:
    full, ours = botocore.session.get_session(), session_for_tokengate()
    for name in (
        "before-parameter-build.s3.PutObject",
        "before-call.ec2.CopySnapshot",
        "docs.request-params.s3.CopyObject.complete-section",
    ):
        theirs, kept = _handlers(full, name), _handlers(ours, name)
        assert set(kept) < set(theirs), name  # the service's own handlers are gone, the generic ones stay
        assert all(fires_for_tokengate(spec[0]) for spec in handlers.BUILTIN_HANDLERS if spec[1] in kept), name
    kept = [spec for spec in handlers.BUILTIN_HANDLERS if fires_for_tokengate(spec[0])]
    assert 0 < len(kept) < len(handlers.BUILTIN_HANDLERS) / 2


@pytest.mark.parametrize(
    ("event_name", "fires"),
    [
        ("before-call", True),
        ("before-call.*", True),
        ("before-parameter-build.dynamodb.GetItem", True),
        ("needs-retry.secrets-manager", True),
        ("choose-signer.sts.AssumeRoleWithWebIdentity", True),
        ("before-call.s3.PutObject", False),
        ("docs.request-params.dynamodb.GetItem", False),
        ("docs", False),
        ("before-parse.ec2.*", False),
    ],
)
def test_which_event_names_fire_for_tokengate(event_name: str, fires: bool) -> None:
    assert fires_for_tokengate(event_name) is fires


def test_clients_of_the_narrowed_session_make_calls(aws: None) -> None:
    from tokengate_core.runtime.aws import new_session

    session = new_session()
    client: Any = session.create_client("secretsmanager")
    created = client.create_secret(Name="narrowed-session", SecretString="x")
    assert client.get_secret_value(SecretId=created["ARN"])["SecretString"] == "x"
