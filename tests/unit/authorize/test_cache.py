"""The authorizer's cache: how long an entry answers fresh, then stale, and which one goes when it is full."""

from __future__ import annotations

from tokengate_core.authorize.cache import ClientCache, Entry


def test_unknown_ids_expire_at_the_negative_ttl_revocations_at_the_positive_one() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=10)
    cache.put("unknown", Entry("unknown", None, 0.0))
    cache.put("revoked", Entry("revoked", None, 0.0))
    assert cache.fresh("unknown", 9.9) is not None and cache.fresh("unknown", 10.0) is None
    assert cache.fresh("revoked", 29.9) is not None and cache.fresh("revoked", 30.0) is None
    assert cache.fresh("never-seen", 0.0) is None


def test_a_stale_entry_answers_up_to_max_stale() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=10)
    cache.put("k", Entry("found", None, 0.0))
    assert cache.fresh("k", 31) is None
    assert cache.stale("k", 299.9) is not None and cache.stale("k", 300.0) is None


def test_the_oldest_entry_is_evicted_and_a_refresh_makes_an_entry_new() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=2)
    cache.put("a", Entry("unknown", None, 0.0))
    cache.put("b", Entry("unknown", None, 0.0))
    cache.put("a", Entry("unknown", None, 1.0))  # refreshed: now the newest
    cache.put("c", Entry("unknown", None, 2.0))  # evicts b, the oldest
    assert len(cache) == 2
    assert cache.stale("b", 2.0) is None and cache.stale("a", 2.0) is not None
    cache.clear()
    assert len(cache) == 0
