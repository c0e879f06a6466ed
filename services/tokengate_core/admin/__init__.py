"""The admin API: its request-body contract (``request_body``), the bodies it validates and
answers with (``api``, also the OpenAPI document's source), and the use cases behind each route,
plain functions over one shared ``context`` (store, registry, settings, clock, audit, events):
the client lifecycle (``clients``), imported tokens (``imports``), signing keys and the legacy
migration (``keys``) and usage reports (``usage_reports``). What a client looks like in a
response is ``views``; the list's MAC'd paging cursor is ``page_tokens``.
"""

__all__ = [
    "api",
    "clients",
    "context",
    "imports",
    "keys",
    "page_tokens",
    "request_body",
    "usage_reports",
    "views",
]
