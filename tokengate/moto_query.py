"""moto's DynamoDB Query made to read what DynamoDB reads: the key condition's range, not the table.

moto 5's ``Table.query`` collects every item of the table (sorted), keeps the partition's, and then
checks the sort-key condition item by item over the whole partition, so a Query of the change
feed's newest entries costs O(items in the table), and every authorizer container of the local
stack makes one a second. The local stack also keeps feed entries AWS's TTL would delete, so that
cost grows with every admin write. DynamoDB reads only the items in the key condition's range
(Developer Guide, "Querying tables in DynamoDB": the sort key condition narrows what is read, and
a Query is charged for what it reads). The emulator (tokengate.emulator) applies this once per
process; ``tests/unit/test_moto_query.py`` holds it to moto's own answers.
"""

from __future__ import annotations

from typing import Any


class _Partition:
    """A moto table seen through one partition's candidates: ``all_items`` is what moto's Query
    walks; everything else is the table's own."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def narrow_moto_query() -> None:
    """Make moto's DynamoDB Query on a table's own key cost what it reads, not the table's size.

    moto 5's ``Table.query`` collects every item of the table (sorted), keeps the partition's,
    and then checks the sort-key condition item by item over the whole partition, so a Query
    of the change feed's newest entries costs O(items in the table). DynamoDB reads only the
    items in the key condition's range ("Query operations in DynamoDB": the sort key condition
    narrows what is read). Here moto's own Query runs over the partition's items that satisfy
    the sort-key condition: the same items in the same order, so the same answer (the 1 MB
    page limit counts only those items either way, since an item outside the range is never
    added to a page). Queries of an index, or with a legacy filter, run unchanged.
    """
    from moto.dynamodb.comparisons import get_comparison_func
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_tokengate_narrow_query", False):
        return
    original = Table.query

    def query(  # noqa: PLR0917 - moto's own signature, passed through
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        positional = (limit, exclusive_start_key, scan_index_forward, projection_expressions, index_name, *args)
        ranges = kwargs.get("range_key_conditions") or []
        own_key = all(name == self.range_key_attr for name, _, _ in ranges) and len(ranges) <= 1
        legacy = set(kwargs) - {"consistent_read", "filter_expression", "hash_key_conditions", "range_key_conditions"}
        if index_name or not self.range_key_attr or not own_key or legacy:
            return original(self, hash_key, range_comparison, range_objs, *positional, **kwargs)
        partition = self.items.get(hash_key) or {}
        candidates = list(partition.values())
        if range_comparison is not None:
            # DynamoType.compare, with the condition's values cast once rather than per item.
            compare = get_comparison_func(range_comparison)
            bounds = [obj.cast_value for obj in range_objs]
            candidates = [
                item
                for item in candidates
                if compare(item.range_key.value if item.range_key.type == "S" else item.range_key.cast_value, *bounds)
            ]
        view: Any = _Partition(self, candidates)
        return original(view, hash_key, range_comparison, range_objs, *positional, **kwargs)

    Table.query = query  # type: ignore[method-assign]
    Table._tokengate_narrow_query = True  # type: ignore[attr-defined]
