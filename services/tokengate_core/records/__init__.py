"""What a client is: its record (the pydantic model in ``model``, the authorizer's strict,
pydantic-free reading of it in ``view``), where it lives (one secret per client, ``store``), and
the per-tenant name claims that keep names unique (``names``, on DynamoDB).
"""

__all__ = ["model", "names", "store", "view"]
