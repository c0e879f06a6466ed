"""What a client is: the rules a record obeys (``rules``: patterns and limits, standard library
only), its record (the pydantic model in ``model``, and the authorizer's strict, pydantic-free
reading of it in ``view``, both applying ``rules``), where it lives (one secret per client,
``store``), and the per-tenant name claims that keep names unique (``names``, on DynamoDB).
"""

__all__ = ["model", "names", "rules", "store", "view"]
