"""The authorizer's decision (``decision``): parse, look up through the per-container ``cache``,
compare in constant time, check state and scope; its hand-validated ``settings`` and usage
control (``usage``: rate limits, quotas, IP allowlists on DynamoDB), and what integrations answer
a request it let through over a limit (``limited``). Nothing here imports pydantic: this is the
measured cold path.
"""

__all__ = ["cache", "decision", "limited", "settings", "usage"]
