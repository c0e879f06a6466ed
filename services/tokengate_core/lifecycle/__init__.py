"""What happens to a client over time: lifecycle ``events`` on EventBridge (their
``detail_types`` on their own, cheap to import), scheduled ``rotation`` (Secrets Manager's four
steps), the daily ``sweep``, token ``delivery`` (``GET /token``), and the response to a leaked
token (``leaks``, with GitHub's signature in ``github``).
"""

__all__ = ["delivery", "detail_types", "events", "github", "leaks", "rotation", "sweep"]
