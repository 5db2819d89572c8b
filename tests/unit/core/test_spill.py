"""SpillingMap behaves as a dict whatever part of it is on disk, and keeps only about `hot` entries in memory."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mallbridge_core import spill
from mallbridge_core.spill import SpillFile, SpillingMap, TaggedDict

KEYS = st.sampled_from([f"order-{i}" for i in range(12)])
VALUES = st.one_of(st.integers(), st.text(max_size=5), st.tuples(st.integers(), st.none()))


def spilling(file: SpillFile, hot: int) -> SpillingMap[str, Any]:
    return SpillingMap(file, hot=hot, encode=pickle.dumps, decode=pickle.loads)


class AgainstADict(RuleBasedStateMachine):
    """Random operations on a SpillingMap and on a dict: every answer and the contents stay the same."""

    def __init__(self) -> None:
        super().__init__()
        self.file = SpillFile()
        self.hot = 1
        self.map: SpillingMap[str, Any] = spilling(self.file, self.hot)
        self.other: SpillingMap[str, Any] = spilling(self.file, 2)  # shares the file: the maps must not see each other
        self.model: dict[str, Any] = {}

    @rule(hot=st.integers(min_value=1, max_value=4))
    @precondition(lambda self: not self.model)
    def start_with(self, hot: int) -> None:
        self.hot = hot
        self.map = spilling(self.file, hot)

    @rule(key=KEYS, value=VALUES)
    def set(self, key: str, value: Any) -> None:
        self.map[key] = value
        self.model[key] = value
        self.other[key] = ("other", value)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert self.map.get(key) == self.model.get(key)
        assert self.map.get(key, "default") == self.model.get(key, "default")

    @rule(key=KEYS)
    def getitem(self, key: str) -> None:
        if key in self.model:
            assert self.map[key] == self.model[key]
        else:
            with pytest.raises(KeyError):
                self.map[key]

    @rule(key=KEYS)
    def contains(self, key: str) -> None:
        assert (key in self.map) == (key in self.model)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        if key in self.model:
            del self.map[key]
            del self.model[key]
        else:
            with pytest.raises(KeyError):
                del self.map[key]

    @rule(key=KEYS, value=VALUES)
    def setdefault(self, key: str, value: Any) -> None:
        assert self.map.setdefault(key, value) == self.model.setdefault(key, value)

    @invariant()
    def same_contents(self) -> None:
        assert len(self.map) == len(self.model)
        assert sorted(self.map) == sorted(self.model)
        assert dict(self.map.items()) == self.model

    @invariant()
    def memory_is_bounded(self) -> None:
        assert self.map.in_memory <= self.hot + max(1, self.hot // 8)
        assert self.map.in_memory + self.map.spilled == len(self.model)

    def teardown(self) -> None:
        self.file.close()


TestAgainstADict = AgainstADict.TestCase
TestAgainstADict.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_thousands_of_writes_keep_only_the_hot_part_in_memory_and_read_back_exactly() -> None:
    file = SpillFile()
    stamp = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    orders = spilling(file, 100)
    for n in range(5_000):
        orders[f"A-{n}"] = (n, f"SK{n:09d}", stamp)
    assert (len(orders), orders.spilled) == (5_000, 5_000 - orders.in_memory)
    assert 100 <= orders.in_memory <= 112
    assert orders["A-0"] == (0, "SK000000000", stamp)  # back from disk, tz and all
    assert orders.get("A-0") == (0, "SK000000000", stamp)  # now in memory
    assert "A-4999" in orders
    assert "A-5000" not in orders
    file.close()


def test_the_least_recently_used_entries_are_the_ones_spilled() -> None:
    file = SpillFile()
    orders = spilling(file, 8)
    for n in range(9):
        orders[str(n)] = n
    orders.get("0")  # now the most recently used
    orders["9"] = 9  # over the limit (8 + 1): back down to 8 in memory
    assert orders.in_memory == 8
    spilled = set(orders) - set(list(orders)[: orders.in_memory])
    assert spilled == {"1", "2"}
    file.close()


def test_hot_below_one_is_refused_with_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="hot: 0 is not allowed; allowed: 1 or more"):
        spilling(SpillFile(), 0)


def test_when_the_file_cannot_be_written_entries_stay_in_memory_and_spilling_resumes_later(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    file = SpillFile()
    orders = spilling(file, 4)
    monkeypatch.setattr(spill, "_PUT", "INSERT INTO no_such_table VALUES (?, ?, ?, ?)")
    for n in range(50):
        orders[str(n)] = n
    assert (orders.in_memory, orders.spilled) == (50, 0)
    assert dict(orders.items()) == {str(n): n for n in range(50)}
    assert "cannot spill order state" in caplog.text
    monkeypatch.undo()
    orders["50"] = 50
    orders["51"] = 51  # the next batch's worth: spilled again, down to `hot`
    assert orders.in_memory <= 4 + 1
    assert dict(orders.items()) == {str(n): n for n in range(52)}
    file.close()


def test_when_an_old_value_cannot_be_removed_from_the_file_nothing_is_spilled_over_the_new_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    file = SpillFile()
    orders = spilling(file, 2)
    for n in range(6):
        orders[str(n)] = n
    spilled = next(key for key in orders if key not in list(orders)[: orders.in_memory])
    monkeypatch.setattr(spill, "_DROP", "DELETE FROM no_such_table WHERE map = ? AND key = ?")
    orders[spilled] = "new"  # its old value stays in the file
    for n in range(6, 20):
        orders[str(n)] = n
    assert orders[spilled] == "new"
    assert (orders.spilled, orders.in_memory) == (4, 17)  # nothing more was written to the file
    assert "keeping every state in memory from now on" in caplog.text
    file.close()


ORDERS = st.tuples(st.sampled_from(["acme", "beta"]), st.sampled_from([f"O-{i}" for i in range(8)]))
FILED = st.tuples(st.integers(min_value=0, max_value=3), st.text(max_size=3))


def by_order(file: SpillFile, hot: int) -> SpillingMap[tuple[str, str], tuple[int, str]]:
    """The publisher's shape: (tenant, order) keys kept as text in the file, values filed by partition."""
    return SpillingMap(
        file,
        hot=hot,
        encode=pickle.dumps,
        decode=pickle.loads,
        key_text="\x1f".join,
        text_key=lambda text: tuple(text.split("\x1f")),  # type: ignore[arg-type,return-value]
        tag=lambda value: value[0],
    )


class TaggedAgainstADict(RuleBasedStateMachine):
    """Tuple keys and tags: finding and removing the entries of some tags, whichever tier they are in."""

    def __init__(self) -> None:
        super().__init__()
        self.file = SpillFile()
        self.map = by_order(self.file, 2)
        self.model: dict[tuple[str, str], tuple[int, str]] = {}

    @rule(key=ORDERS, value=FILED)
    def put(self, key: tuple[str, str], value: tuple[int, str]) -> None:
        self.map[key] = value
        self.model[key] = value

    @rule(key=ORDERS)
    def get(self, key: tuple[str, str]) -> None:
        assert self.map.get(key) == self.model.get(key)

    @rule(key=ORDERS)
    def delete(self, key: tuple[str, str]) -> None:
        if key in self.model:
            del self.map[key]
            del self.model[key]

    @rule(tags=st.sets(st.integers(min_value=0, max_value=3), max_size=2))
    def keys_tagged(self, tags: set[int]) -> None:
        found = self.map.keys_tagged(tags)
        assert len(found) == len(set(found))
        assert set(found) == {key for key, (tag, _) in self.model.items() if tag in tags}

    @rule(tags=st.sets(st.integers(min_value=0, max_value=3), max_size=2))
    def remove_tagged(self, tags: set[int]) -> None:
        self.map.remove_tagged(tags)
        self.model = {key: value for key, value in self.model.items() if value[0] not in tags}

    @invariant()
    def same_contents(self) -> None:
        assert len(self.map) == len(self.model)
        assert dict(self.map.items()) == self.model
        assert self.map.in_memory + self.map.spilled == len(self.model)

    def teardown(self) -> None:
        self.file.close()


TestTaggedAgainstADict = TaggedAgainstADict.TestCase
TestTaggedAgainstADict.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_a_map_without_tags_refuses_to_look_for_them() -> None:
    with pytest.raises(TypeError, match="no `tag` given"):
        spilling(SpillFile(), 2).keys_tagged({1})


def test_the_in_memory_counterpart_finds_and_removes_by_tag_as_the_spilling_map_does() -> None:
    file = SpillFile()
    spilled, kept = by_order(file, 1), TaggedDict[tuple[str, str], tuple[int, str]](lambda value: value[0])
    for n in range(10):
        for m in (spilled, kept):
            m[("acme", f"O-{n}")] = (n % 3, "x")
    assert sorted(spilled.keys_tagged({0, 2})) == sorted(kept.keys_tagged({0, 2}))
    assert len(kept.keys_tagged({0, 2})) == 7
    spilled.remove_tagged({1})
    kept.remove_tagged({1})
    assert dict(spilled.items()) == dict(kept)
    assert len(kept) == 7
    file.close()


def test_an_entry_read_back_and_moved_to_another_tag_survives_removing_its_old_tag() -> None:
    """Read back from the file, an entry keeps its row (it is filed); set under another tag, that row is
    older than the value in memory. Removing the old tag removes the row, not the entry."""
    file = SpillFile()
    orders = by_order(file, 1)
    orders[("acme", "O-1")] = (0, "a")
    orders[("acme", "O-2")] = (0, "b")
    orders[("acme", "O-3")] = (0, "c")  # O-1 and O-2 now in the file
    assert orders[("acme", "O-1")] == (0, "a")  # back in memory, its row kept
    orders[("acme", "O-1")] = (1, "moved")
    orders.remove_tagged({0})
    assert dict(orders.items()) == {("acme", "O-1"): (1, "moved")}
    assert len(orders) == 1
    orders[("acme", "O-4")] = (1, "d")
    orders[("acme", "O-5")] = (1, "e")  # O-1 goes to the file again, written anew
    assert dict(orders.items()) == {("acme", "O-1"): (1, "moved"), ("acme", "O-4"): (1, "d"), ("acme", "O-5"): (1, "e")}
    assert sorted(orders.keys_tagged({1})) == [("acme", "O-1"), ("acme", "O-4"), ("acme", "O-5")]
    file.close()


def test_reading_back_writes_nothing_and_an_unchanged_entry_leaves_memory_for_free() -> None:
    file = SpillFile()
    orders = spilling(file, 1)
    for n in range(3):
        orders[str(n)] = n
    assert [orders[str(n)] for n in range(3)] == [0, 1, 2]  # now every entry has been in the file once
    writes = file.db.total_changes
    for _ in range(2):
        assert [orders[str(n)] for n in range(3)] == [0, 1, 2]  # each read back in turn, the others leaving
    assert file.db.total_changes == writes  # no row written or removed: they were all unchanged
    orders["0"] = "changed"
    assert [orders[str(n)] for n in (1, 2)] == [1, 2]  # "0" leaves memory, changed: its row written anew
    assert file.db.total_changes > writes
    assert orders["0"] == "changed"
    file.close()
