"""botocore's built-in event handlers, registered only where they can fire for tokengate's clients.

A new botocore session registers every one of botocore's built-in handlers (``BUILTIN_HANDLERS``:
about 130, mostly for S3, EC2, Glacier and the documentation generator), checking each one's
signature with ``inspect`` and aliasing its event name; each client then copies the whole tree.
That is about 11 ms of a cold start (most of a session's cost), spent on handlers that never fire
for DynamoDB, Secrets Manager or EventBridge.

A handler's event name says where it fires: ``<event>[.<service id>[.<operation>]]``, matched by
prefix, with ``*`` for any part. A session built by :func:`session_for_tokengate` registers the built-in
handlers whose name has no service part, has ``*`` there, or names one of :data:`SERVICE_IDS` or
:data:`CREDENTIAL_SERVICE_IDS` (the services a credential provider may call through the same
session), in botocore's own order and registration mode, and none of the documentation
generator's (``docs.*``, which fire only when botocore renders documentation). For every event a
client of these services emits, the handlers found are then the same as in a session with them
all: tests/unit/runtime/test_botocore_handlers.py checks that, event by event, against the
installed botocore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.session import Session

#: The event-name service id (botocore's ``service_id.hyphenize()``) of each service in
#: ``aws.SERVICES``; a test derives them from the service models.
SERVICE_IDS: dict[str, str] = {"dynamodb": "dynamodb", "events": "eventbridge", "secretsmanager": "secrets-manager"}
#: The services botocore's credential providers create clients for (AssumeRole, web identity, SSO,
#: console sign-in), whose handlers a session keeps so that any credential source works as before.
CREDENTIAL_SERVICE_IDS = frozenset({"sts", "sso", "sso-oidc", "signin"})
#: The documentation generator's events.
DOCS_EVENT = "docs"


def fires_for_tokengate(event_name: str) -> bool:
    """Whether a handler registered for ``event_name`` can fire for a client of tokengate's
    services or of a credential provider's."""
    event, _, rest = event_name.partition(".")
    if event == DOCS_EVENT:
        return False
    service = rest.partition(".")[0]
    return not service or service == "*" or service in SERVICE_IDS.values() or service in CREDENTIAL_SERVICE_IDS


def session_for_tokengate() -> Session:
    """A botocore session with only the built-in handlers that can fire for tokengate's clients,
    registered as Session registers them (aliased, in botocore's order, before any initializer
    that ``botocore.register_initializer`` added runs), into the emitter handed to Session()."""
    from botocore import handlers
    from botocore.hooks import EventAliaser, HierarchicalEmitter
    from botocore.session import Session

    emitter = HierarchicalEmitter()
    events = EventAliaser(emitter)
    for spec in handlers.BUILTIN_HANDLERS:
        event_name, handler = spec[0], spec[1]
        if not fires_for_tokengate(event_name):
            continue
        if len(spec) == 2:
            events.register(event_name, handler)
        elif spec[2] is handlers.REGISTER_FIRST:
            events.register_first(event_name, handler)
        elif spec[2] is handlers.REGISTER_LAST:
            events.register_last(event_name, handler)
    return Session(event_hooks=emitter, include_builtin_handlers=False)
