"""One container's last-use writes: once per client per interval, a failure retried after
RETRY_SECONDS (not at every request), never raised, the memory bounded, and a container's first
use written at its next use or its end when the authorizer defers it."""

from __future__ import annotations

from tokengate_core.authorize.last_used import INTERVAL_SECONDS, RETRY_SECONDS, LastUsed


class Store:
    def __init__(self) -> None:
        self.writes: list[tuple[str, float]] = []
        self.fail = False

    def mark_used(self, key_id: str, at: float) -> None:
        if self.fail:
            raise TimeoutError("slow")
        self.writes.append((key_id, at))


def test_one_write_per_client_per_interval() -> None:
    store = Store()
    used = LastUsed(lambda: store)
    for second in range(int(INTERVAL_SECONDS)):
        used.seen("a", 1000.0 + second)
    used.seen("a", 1000.0 + INTERVAL_SECONDS)
    used.seen("b", 1000.0)
    assert store.writes == [("a", 1000.0), ("a", 1000.0 + INTERVAL_SECONDS), ("b", 1000.0)]


def test_a_failure_is_counted_reported_and_retried_later_not_at_once() -> None:
    store, reported = Store(), []
    used = LastUsed(lambda: store, on_failure=lambda key_id, error: reported.append((key_id, error)))
    store.fail = True
    used.seen("a", 0.0)
    used.seen("a", RETRY_SECONDS - 1)
    assert used.failures == 1 and reported == [("a", "TimeoutError")]
    store.fail = False
    used.seen("a", RETRY_SECONDS)
    assert store.writes == [("a", RETRY_SECONDS)]


def test_the_memory_is_bounded() -> None:
    store = Store()
    used = LastUsed(lambda: store, max_entries=3)
    for n in range(10):
        used.seen(f"c{n}", 0.0)
    used.seen("c9", 1.0)  # still remembered: no second write
    used.seen("c0", 1.0)  # evicted long ago: written again, at worst
    assert len(store.writes) == 11


def test_a_deferred_first_use_is_written_with_its_time_at_the_next_use_and_builds_nothing_before() -> None:
    store, built = Store(), []

    def build() -> Store:
        built.append(1)
        return store

    used = LastUsed(build, defer_first=True)
    used.seen("a", 100.0)
    assert (store.writes, built, used.writes) == ([], [], 0)
    used.seen("a", 160.0)  # within the interval: the first use is written, not this one
    assert store.writes == [("a", 100.0)] and built == [1]
    used.seen("b", 170.0)  # only the first use waits
    assert store.writes == [("a", 100.0), ("b", 170.0)]
    used.seen("a", 100.0 + INTERVAL_SECONDS)  # the interval counts from the first use
    assert store.writes[-1] == ("a", 100.0 + INTERVAL_SECONDS)


def test_a_deferred_first_use_is_written_by_flush_and_a_failure_is_retried_later() -> None:
    store, reported = Store(), []
    used = LastUsed(lambda: store, defer_first=True, on_failure=lambda key_id, error: reported.append(key_id))
    used.seen("a", 100.0)
    store.fail = True
    used.flush(150.0)
    assert used.failures == 1 and reported == ["a"]
    used.flush(151.0)  # nothing pending any more
    used.seen("a", 150.0 + RETRY_SECONDS - 1)
    store.fail = False
    used.seen("a", 150.0 + RETRY_SECONDS)
    assert store.writes == [("a", 150.0 + RETRY_SECONDS)] and used.failures == 1
    used.flush(200.0)
    assert store.writes == [("a", 150.0 + RETRY_SECONDS)]
