"""The admin API: its request-body contract (``request_body``), the bodies it validates and
answers with (``api``, also the OpenAPI document's source), and the use cases behind each route
(``clients``).
"""

__all__ = ["api", "clients", "request_body"]
