"""Unit tests of zict_core.Buffer against the Buffer contract (CONTRACT.md)."""

from __future__ import annotations

import pickle
import threading
import typing
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView

import pytest
from buffer_utils import (
    NoOverwriteDict,
    NoReadDict,
    NoReadFast,
    Recorder,
    check_consistent,
)

import zict_core
from zict_core import Buffer, Cache, File, Func, WeakValueMapping
from zict_core.common import ZictBase


def len_weight(key, value):
    """Module-level (picklable) weight: the length of the value."""
    return len(value)


def value_weight(key, value):
    return value


# ---------------------------------------------------------------- promotion


def test_read_from_slow_promotes_and_spills_lru():
    buf = Buffer({}, {}, 2)
    buf["a"] = 1
    buf["b"] = 2
    buf["c"] = 3
    assert dict(buf.slow) == {"a": 1}
    assert list(buf.fast.order) == ["b", "c"]

    assert buf["a"] == 1
    # a is now the most recent key in fast; b (least recent) went to slow
    assert list(buf.fast.order) == ["c", "a"]
    assert dict(buf.fast.d) == {"c": 3, "a": 1}
    assert dict(buf.slow) == {"b": 2}
    check_consistent(buf)


def test_read_from_fast_makes_key_most_recent():
    buf = Buffer({}, {}, 3)
    for k in "abc":
        buf[k] = k
    assert buf["a"] == "a"
    assert list(buf.fast.order) == ["b", "c", "a"]
    buf["d"] = "d"  # spills the LRU key, which is now b, not a
    assert dict(buf.slow) == {"b": "b"}


def test_heavy_value_read_stays_in_slow():
    buf = Buffer({}, {}, 10, weight=len_weight)
    buf["x"] = "123"
    buf["y"] = "4567"
    buf["h"] = "h" * 11  # heavier than n: straight to slow
    assert "h" in buf.slow and "h" not in buf.fast
    order = list(buf.fast.order)
    fast = dict(buf.fast.d)

    assert buf["h"] == "h" * 11
    assert buf["h"] == "h" * 11
    assert dict(buf.slow) == {"h": "h" * 11}
    assert dict(buf.fast.d) == fast
    assert list(buf.fast.order) == order  # reading h spilled nothing, touched nothing
    check_consistent(buf)


def test_value_as_heavy_as_n_is_promoted():
    buf = Buffer({}, {}, 10, weight=len_weight)
    buf["a"] = "a" * 10
    buf["b"] = "b"  # spills a (10 + 1 > 10)
    assert "a" in buf.slow
    assert buf["a"] == "a" * 10
    # weight == n is not "heavier than n": a is promoted, b goes to slow
    assert dict(buf.fast.d) == {"a": "a" * 10}
    assert dict(buf.slow) == {"b": "b"}


def test_promotion_after_n_lowered():
    buf = Buffer({}, {}, 10, weight=len_weight)
    buf["a"] = "aaaaa"
    buf["b"] = "bbbbbbbbbb"  # 15 > 10: a spills
    assert "a" in buf.slow
    buf.n = 4
    assert buf["a"] == "aaaaa"  # now heavier than n: stays in slow
    assert "a" in buf.slow and "a" not in buf.fast


# ------------------------------------------------------------------ setting


def test_set_deletes_from_slow_before_writing():
    slow = NoOverwriteDict()
    buf = Buffer({}, slow, 1)
    for i in range(20):
        buf["a"] = i  # a is in slow from the second round on
        assert "a" not in slow  # the old copy is gone at once
        buf["b"] = i  # spills a again: slow would assert on an overwrite
        assert slow["a"] == i
        buf[f"k{i % 3}"] = i  # spills b
    check_consistent(buf)


def test_set_noevict_deletes_from_slow_and_never_spills():
    slow = NoOverwriteDict()
    buf = Buffer({}, slow, 2)
    buf["a"] = 1
    buf["b"] = 2
    buf["c"] = 3
    assert "a" in slow

    buf.set_noevict("a", 10)
    assert "a" not in slow
    buf.set_noevict("d", 4)
    buf.set_noevict("e", 5)
    assert dict(buf.fast.d) == {"b": 2, "c": 3, "a": 10, "d": 4, "e": 5}
    assert buf.fast.total_weight == 5 > buf.n
    assert dict(slow) == {}

    buf.evict_until_below_target()
    assert dict(buf.fast.d) == {"d": 4, "e": 5}
    assert dict(slow) == {"b": 2, "c": 3, "a": 10}
    check_consistent(buf)


def test_set_noevict_heavy_key_stays_until_evicted():
    buf = Buffer({}, {}, 5, weight=value_weight)
    buf.set_noevict("h", 9)
    buf.set_noevict("x", 1)
    assert set(buf.fast.d) == {"h", "x"}
    assert list(buf.fast.heavy) == ["h"]
    buf.evict_until_below_target()
    # the heavy key goes first, and that is enough
    assert dict(buf.slow) == {"h": 9}
    assert dict(buf.fast.d) == {"x": 1}


def test_evict_until_below_target_explicit_n():
    buf = Buffer({}, {}, 10, weight=value_weight)
    for k, v in zip("abcd", (1, 2, 3, 4)):
        buf[k] = v
    assert buf.fast.total_weight == 10
    buf.evict_until_below_target(5)
    assert dict(buf.slow) == {"a": 1, "b": 2, "c": 3}
    assert dict(buf.fast.d) == {"d": 4}
    assert buf.n == 10  # the explicit target is not stored
    buf.evict_until_below_target(0)
    assert dict(buf.fast.d) == {}
    assert buf.fast.total_weight == 0
    assert len(buf) == 4


def test_n_and_offset_pass_through():
    buf = Buffer({}, {}, 10, weight=value_weight)
    assert buf.n == buf.fast.n == 10
    assert buf.offset == buf.fast.offset == 0
    for k in "abcde":
        buf[k] = 2
    assert buf.fast.total_weight == 10

    buf.n = 6
    buf.offset = 2
    assert buf.fast.n == 6 and buf.fast.offset == 2
    # changing n/offset evicts nothing by itself
    assert len(buf.fast) == 5 and not buf.slow
    buf.evict_until_below_target()
    # total_weight + offset <= n: 2 keys (4 + 2 <= 6)
    assert list(buf.fast.d) == ["d", "e"]
    assert buf.fast.total_weight + buf.offset <= buf.n

    buf.fast.n = 3
    assert buf.n == 3
    buf.fast.offset = 0
    assert buf.offset == 0
    buf.evict_until_below_target()
    assert list(buf.fast.d) == ["e"]


def test_offset_does_not_make_keys_heavy():
    buf = Buffer({}, {}, 10, weight=value_weight)
    buf.offset = 8
    buf["a"] = 5  # 5 + 8 > 10: evicted, but because of the offset, not as heavy
    assert dict(buf.slow) == {"a": 5}
    buf.offset = 0
    assert buf["a"] == 5  # 5 <= n: promoted
    assert dict(buf.fast.d) == {"a": 5}


def test_n_float_and_inf():
    buf = Buffer({}, {}, 2.5, weight=lambda k, v: 1.25)
    buf["a"] = 1
    buf["b"] = 2
    buf["c"] = 3
    assert dict(buf.slow) == {"a": 1}
    assert buf.fast.total_weight == 2.5
    buf.n = float("inf")
    for i in range(100):
        buf[i] = i
    assert len(buf.fast) == 102


# ---------------------------------------------------------------- callbacks


@pytest.mark.parametrize("as_list", [False, True])
def test_callbacks_callable_or_list(as_list):
    f2s, s2f = Recorder(), Recorder()
    buf = Buffer(
        {},
        {},
        1,
        fast_to_slow_callbacks=[f2s] if as_list else f2s,
        slow_to_fast_callbacks=[s2f] if as_list else s2f,
    )
    assert buf.fast_to_slow_callbacks == [f2s]
    assert buf.slow_to_fast_callbacks == [s2f]
    buf["a"] = 1
    buf["b"] = 2
    assert f2s.calls == [("a", 1)]
    assert buf["a"] == 1
    assert s2f.calls == [("a", 1)]
    assert f2s.calls == [("a", 1), ("b", 2)]


def test_several_callbacks_run_in_order_with_key_in_both_tiers():
    seen = []

    def first(k, v):
        # the value is written to slow, and still in fast, while callbacks run
        seen.append(("first", k, v, k in buf.slow, k in buf.fast))

    def second(k, v):
        seen.append(("second", k, v))

    def back(k, v):
        seen.append(("back", k, v, k in buf.fast, k in buf.slow))

    buf = Buffer(
        {}, {}, 1, fast_to_slow_callbacks=[first, second], slow_to_fast_callbacks=[back]
    )
    buf["a"] = 1
    buf["b"] = 2
    assert seen == [("first", "a", 1, True, True), ("second", "a", 1)]
    seen.clear()
    buf["a"]
    # a promoted (in fast, out of slow) before its callback; then b spilled
    assert ("back", "a", 1, True, False) in seen
    assert ("first", "b", 2, True, True) in seen


def test_callbacks_not_called_when_nothing_moves():
    f2s, s2f = Recorder(), Recorder()
    buf = Buffer({}, {}, 5, fast_to_slow_callbacks=f2s, slow_to_fast_callbacks=s2f)
    buf["a"] = 1
    buf["a"]
    buf["a"] = 2
    del buf["a"]
    assert f2s.calls == [] and s2f.calls == []


# ---------------------------------------------------- views, contains, len


def test_items_values_keys_never_reorder_fast():
    buf = Buffer({}, {}, 3)
    for k in "abcde":
        buf[k] = k.upper()
    order = list(buf.fast.order)
    fast, slow = dict(buf.fast.d), dict(buf.slow)

    assert isinstance(buf.items(), ItemsView)
    assert isinstance(buf.values(), ValuesView)
    assert isinstance(buf.keys(), KeysView)
    items = list(buf.items())
    assert items == list(fast.items()) + list(slow.items())
    assert list(buf.values()) == [v for _, v in items]
    assert list(buf.keys()) == [k for k, _ in items]
    assert list(buf) == [k for k, _ in items]
    assert "A" in buf.values()  # a value in slow
    assert "E" in buf.values()  # a value in fast
    assert "Z" not in buf.values()
    assert len(buf.items()) == len(buf.values()) == 5

    assert list(buf.fast.order) == order
    assert dict(buf.fast.d) == fast and dict(buf.slow) == slow


def test_items_contains_never_reorders_or_promotes():
    # ItemsView.__contains__ of collections.abc looks the key up with
    # mapping[key]: on a Buffer that would reorder fast and promote from slow
    # (zict 3.0.0 does; its values() view overrides __contains__, items() not)
    buf = Buffer({}, {}, 2)
    for k in "abc":
        buf[k] = k.upper()
    order, slow = list(buf.fast.order), dict(buf.slow)
    assert ("a", "A") in buf.items()  # in slow
    assert ("b", "B") in buf.items()  # least recent in fast
    assert ("a", "X") not in buf.items()
    assert ("z", "Z") not in buf.items()
    assert list(buf.fast.order) == order
    assert dict(buf.slow) == slow


def test_contains_checks_both_tiers_without_reading():
    slow = NoReadDict()
    buf = Buffer(NoReadFast(), slow, 2)
    buf.set_noevict("f", 1)
    dict.__setitem__(slow, "s", 2)  # bypass: it would be written by a spill
    order = list(buf.fast.order)
    assert "f" in buf
    assert "s" in buf
    assert "x" not in buf
    assert 123 not in buf
    assert list(buf.fast.order) == order
    assert dict.copy(slow) == {"s": 2}


def test_discard_and_keys_view_do_not_read():
    slow = NoReadDict()
    buf = Buffer({}, slow, 2)
    dict.__setitem__(slow, "s", 2)
    assert "s" in buf.keys()  # noqa: SIM118 -- the KeysView itself
    buf.discard("s")
    buf.discard("missing")
    assert "s" not in buf


def test_len_and_iteration():
    buf = Buffer({}, {}, 3)
    assert len(buf) == 0
    assert list(buf) == []
    for i in range(10):
        buf[i] = i
        assert len(buf) == i + 1
    assert len(buf.fast) == 3 and len(buf.slow) == 7
    assert sorted(buf) == list(range(10))
    # fast keys first (d's order), then slow's
    assert list(buf) == list(buf.fast.d) + list(buf.slow)
    del buf[0]  # from slow
    del buf[9]  # from fast
    assert len(buf) == 8
    with pytest.raises(KeyError):
        del buf[0]
    assert len(buf) == 8
    check_consistent(buf)


def test_iteration_survives_keys_moving_between_tiers():
    buf = Buffer({}, {}, 2)
    for k in "abcde":
        buf[k] = k
    assert list(buf) == ["d", "e", "a", "b", "c"]
    it = iter(buf)
    assert next(it) == "d"
    buf.fast.evict("d")  # d: fast -> slow, behind the iterator
    assert next(it) == "e"
    assert buf["b"] == "b"  # b: slow -> fast (spilling e), ahead of the iterator
    # every key exactly once, none repeated although d, e and b moved
    assert sorted(it) == ["a", "b", "c"]
    check_consistent(buf)


def test_iteration_under_heavy_churn_never_raises_or_repeats():
    # Under this much churn a key can be skipped (zict 3.0.0 skips the very
    # same keys: dict iteration over a compacted dict); it must never raise,
    # repeat a key, or yield one that is not there.
    buf = Buffer({}, {}, 5)
    for i in range(40):
        buf[i] = i
    seen = []
    for key in buf:
        seen.append(key)
        assert buf[key] == key
        assert buf[(key * 7) % 40] == (key * 7) % 40
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(range(40))
    assert len(seen) > 20
    check_consistent(buf)


def test_get_pop_setdefault_update_clear():
    buf = Buffer({}, {}, 2)
    buf.update({"a": 1, "b": 2}, c=3)
    assert dict(buf.slow) == {"a": 1}
    assert buf.get("a") == 1
    assert buf.get("zz", "dflt") == "dflt"
    assert buf.setdefault("a", 100) == 1
    assert buf.setdefault("d", 4) == 4
    assert buf.pop("a") == 1
    assert "a" not in buf
    assert buf.pop("a", None) is None
    with pytest.raises(KeyError):
        buf.pop("a")
    assert buf == {"b": 2, "c": 3, "d": 4}
    buf.clear()
    assert len(buf) == 0 and not buf.fast and not buf.slow
    assert buf.fast.total_weight == 0


def test_missing_key():
    buf = Buffer({}, {}, 2)
    with pytest.raises(KeyError):
        buf["x"]
    with pytest.raises(KeyError):
        del buf["x"]
    assert len(buf) == 0


def test_str_repr():
    slow = {}
    buf = Buffer({}, slow, 2)
    buf["a"] = 1
    for s in (str(buf), repr(buf)):
        assert s.startswith("Buffer<")
        assert str(buf.fast) in s
        assert str(slow) in s


def test_str_names_the_subclass(tmp_path):
    # zict 3.0.0 always prints "Buffer<...>"; the contract asks that str()
    # names the class
    buf = SpillLike(str(tmp_path), 10)
    assert str(buf).startswith("SpillLike<") and repr(buf) == str(buf)


# ------------------------------------------------------------- pickling


def test_pickle_round_trip():
    buf = Buffer({}, {}, 6, weight=len_weight)
    for k in "abcd":
        buf[k] = k * 2
    assert dict(buf.slow) == {"a": "aa"}
    buf2 = pickle.loads(pickle.dumps(buf))
    assert type(buf2) is Buffer
    assert dict(buf2.fast.d) == dict(buf.fast.d)
    assert list(buf2.fast.order) == list(buf.fast.order)
    assert dict(buf2.fast.weights) == dict(buf.fast.weights)
    assert buf2.fast.total_weight == buf.fast.total_weight == 6
    assert dict(buf2.slow) == {"a": "aa"}
    assert buf2.n == 6
    assert buf2.weight is len_weight
    assert buf2.lock is not buf.lock
    assert not buf2.lock._is_owned()

    # the copy spills into its own slow, not the original's
    buf2["e"] = "ee"
    assert dict(buf2.slow) == {"a": "aa", "b": "bb"}
    assert dict(buf.slow) == {"a": "aa"}
    assert buf2["a"] == "aa"
    assert "a" in buf2.fast and "a" in buf.slow
    check_consistent(buf2)
    check_consistent(buf)


def test_pickle_keeps_callbacks_and_subclass_attributes():
    buf = Attrs({}, {}, 1, fast_to_slow_callbacks=[len_weight])
    buf.extra = [1, 2]
    buf["x"] = "x"
    buf2 = pickle.loads(pickle.dumps(buf))
    assert type(buf2) is Attrs
    assert buf2.extra == [1, 2] and buf2.tag == "attrs"
    assert buf2.fast_to_slow_callbacks == [len_weight]
    assert dict(buf2.fast.d) == {"x": "x"}


class Attrs(Buffer):
    def __init__(self, *args, **kwargs):
        self.tag = "attrs"
        super().__init__(*args, **kwargs)


# ------------------------------------------------------------------ typing


def test_generic_subscription():
    alias = Buffer[str, bytes]
    assert typing.get_origin(alias) is Buffer
    assert typing.get_args(alias) == (str, bytes)

    def f(b: Buffer[str, bytes]) -> Buffer[str, bytes]:
        return b

    assert typing.get_type_hints(f)["b"] == alias


def test_isinstance_and_zictbase_api():
    buf = Buffer({}, {}, 2)
    assert isinstance(buf, MutableMapping)
    assert isinstance(buf, ZictBase)
    assert isinstance(buf, zict_core.common.ZictBase)
    assert zict_core.buffer.Buffer is Buffer
    with buf.lock:
        assert buf.lock._is_owned()
        with buf.unlock():
            assert not buf.lock._is_owned()
        assert buf.lock._is_owned()
    with buf as b:
        assert b is buf
    assert buf.fast.closed  # __exit__ closed it


def test_close_and_flush_reach_both_tiers():
    class Tier(dict):
        closed = flushed = 0

        def close(self):
            self.closed += 1

        def flush(self):
            self.flushed += 1

    fast, slow = Tier(), Tier()
    buf = Buffer(fast, slow, 2)
    buf.flush()
    assert fast.flushed == slow.flushed == 1
    buf.close()
    assert fast.closed >= 1 and slow.closed >= 1
    assert buf.fast.closed


# ---------------------------------------------- a SpillBuffer-shaped subclass


class PickleFailure(Exception):
    pass


class SpillLimit(Exception):
    pass


class Handled(Exception):
    pass


class AnyKeyFile(File):
    def _safe_key(self, key):
        return super()._safe_key(str(key))


class PickleSlow(Func):
    """dumps/loads over a File, wrapping serialization errors and enforcing a
    maximum number of bytes on disk (as dask's Slow mapping does)."""

    def __init__(self, directory, max_bytes=False):
        super().__init__(pickle.dumps, pickle.loads, AnyKeyFile(directory))
        self.max_bytes = max_bytes
        self.sizes = {}

    def __setitem__(self, key, value):
        try:
            blob = self.dump(value)
        except Exception as e:
            raise PickleFailure(key, e) from e
        assert key not in self.d, "Buffer overwrote a key in slow"
        if (
            self.max_bytes is not False
            and sum(self.sizes.values()) + len(blob) > self.max_bytes
        ):
            raise SpillLimit(key)
        self.d[key] = blob
        self.sizes[key] = len(blob)

    def __delitem__(self, key):
        super().__delitem__(key)
        del self.sizes[key]


def sizeof(key, value):
    return len(value) if isinstance(value, (bytes, str, list)) else 1


class SpillLike(Buffer):
    def __init__(self, spill_directory, target, max_spill=False):
        self.before_init = "set before super().__init__"
        slow = Cache(
            PickleSlow(spill_directory, max_spill),
            WeakValueMapping(),
            update_on_set=False,
        )
        super().__init__(fast={}, slow=slow, n=target, weight=sizeof)
        self.errors = []
        self.reads_from_memory = 0
        self.reads_from_disk = 0
        self.logged_pickle_errors = set()

    def _handle(self, key, exc):
        self.errors.append(exc)
        if isinstance(exc, PickleFailure):
            bad_key, orig = exc.args
            assert bad_key in self.fast and bad_key not in self.slow
            if bad_key == key:
                del self[key]
                raise orig
            self.logged_pickle_errors.add(bad_key)
            raise Handled()
        if isinstance(exc, SpillLimit):
            (bad_key,) = exc.args
            assert bad_key in self.fast and bad_key not in self.slow
            raise Handled()
        if isinstance(exc, OSError):
            raise Handled()
        raise exc

    def __setitem__(self, key, value):
        try:
            try:
                super().__setitem__(key, value)
            except (PickleFailure, SpillLimit, OSError) as e:
                self._handle(key, e)
            self.logged_pickle_errors.discard(key)
        except Handled:
            assert key in self.fast
            assert key not in self.slow

    def __getitem__(self, key):
        if key in self.fast:
            self.reads_from_memory += 1
        else:
            self.reads_from_disk += 1
        return super().__getitem__(key)

    def __delitem__(self, key):
        super().__delitem__(key)
        self.logged_pickle_errors.discard(key)

    def pop(self, key, default=None):
        raise NotImplementedError("not supported")

    def evict(self):
        try:
            try:
                _, _, weight = self.fast.evict()
            except (PickleFailure, SpillLimit, OSError) as e:
                self._handle(None, e)
            return weight
        except Handled:
            return -1

    @property
    def memory(self):
        return self.fast

    @property
    def disk(self):
        return self.slow.data


def test_spill_like_round_trip(tmp_path):
    buf = SpillLike(str(tmp_path), 10)
    assert buf.before_init == "set before super().__init__"
    assert buf.errors == [] and buf.n == 10
    buf["a"] = b"12345"
    buf["b"] = b"12345"
    buf[("tuple", 1)] = b"123"  # non-str keys go through _safe_key
    assert set(buf.memory) == {"b", ("tuple", 1)}
    assert set(buf.disk) == {"a"}
    assert len(list(tmp_path.iterdir())) == 1
    assert buf["a"] == b"12345"
    assert buf.reads_from_disk == 1
    assert buf["a"] == b"12345"
    assert buf.reads_from_memory == 1
    assert "a" in buf.fast and "a" not in buf.disk
    assert set(buf.disk) == {"b"}
    assert buf[("tuple", 1)] == b"123"
    buf.n = 0
    assert buf.evict() == 5  # the LRU key: a
    assert buf.evict() == 3
    with pytest.raises(KeyError):
        buf.evict()
    assert not buf.fast and len(buf.disk) == 3
    with pytest.raises(NotImplementedError):
        buf.pop("a")
    del buf["a"]
    assert "a" not in buf and len(buf) == 2
    assert buf.stats.spills == 4


def test_spill_like_unpicklable_heavy_key_is_dropped(tmp_path):
    buf = SpillLike(str(tmp_path), 10)
    buf["x"] = b"1"
    bad = [threading.Lock()] * 20  # heavier than n, cannot be pickled
    with pytest.raises(TypeError):
        buf["bad"] = bad
    assert "bad" not in buf
    # the failed heavy key made the LRU spill the others instead
    assert set(buf.disk) == {"x"}
    assert buf["x"] == b"1"
    check_consistent(buf)


def test_spill_like_unpicklable_older_key_stays_in_memory(tmp_path):
    buf = SpillLike(str(tmp_path), 3)
    lock = threading.Lock()
    buf["bad"] = lock  # weight 1
    buf["y"] = b"12"
    buf["z"] = b"1"  # bad must spill first, and cannot: swallowed
    assert isinstance(buf.errors[-1], PickleFailure)
    assert buf.logged_pickle_errors == {"bad"}
    assert buf.fast.d["bad"] is lock
    assert "z" in buf.fast and "bad" not in buf.slow
    assert buf.evict() == -1
    assert buf.stats.spill_failures == 2
    del buf["bad"]
    assert buf.logged_pickle_errors == set()
    assert buf.evict() == 2
    check_consistent(buf)


def test_spill_like_max_spill(tmp_path):
    buf = SpillLike(str(tmp_path), 1, max_spill=len(pickle.dumps(b"a")) + 1)
    buf["a"] = b"a"
    buf["b"] = b"b"  # a spills
    buf["c"] = b"c"  # b would exceed max_spill: stays in fast
    assert isinstance(buf.errors[-1], SpillLimit)
    assert set(buf.disk) == {"a"}
    assert set(buf.fast) == {"b", "c"}
    assert len(buf) == 3
    # promoting a frees the disk for b, but then c does not fit: a reader
    # that spills gets the error, nothing is lost
    with pytest.raises(SpillLimit):
        buf["a"]
    assert set(buf.fast) == {"c", "a"}
    assert set(buf.disk) == {"b"}
    check_consistent(buf)


def test_spill_like_disk_full(tmp_path):
    class FullFile(AnyKeyFile):
        full = False

        def __setitem__(self, key, value):
            if self.full:
                raise OSError(28, "No space left on device")
            super().__setitem__(key, value)

    buf = SpillLike(str(tmp_path), 1)
    disk = FullFile(str(tmp_path / "full"))
    buf.slow.data.d = disk
    buf["a"] = b"a"
    disk.full = True
    buf["b"] = b"b"
    assert isinstance(buf.errors[-1], OSError)
    assert set(buf.fast) == {"a", "b"} and not buf.disk
    disk.full = False
    assert buf.evict() == 1
    assert set(buf.disk) == {"a"}


# ----------------------------------------- overrides called by internal paths


class Recording(Buffer):
    def __init__(self, *args, **kwargs):
        self.log = []
        super().__init__(*args, **kwargs)

    def fast_to_slow(self, key, value):
        self.log.append(("f2s", key, value))
        super().fast_to_slow(key, value)

    def slow_to_fast(self, key):
        value = super().slow_to_fast(key)
        self.log.append(("s2f", key, value))
        return value


def test_overrides_called_by_internal_paths():
    buf = Recording({}, {}, 2)
    buf["a"] = 1
    buf["b"] = 2
    buf["c"] = 3
    assert buf.log == [("f2s", "a", 1)]
    assert buf["a"] == 1
    assert buf.log == [
        ("f2s", "a", 1),
        ("f2s", "b", 2),
        ("s2f", "a", 1),
    ] or buf.log == [
        ("f2s", "a", 1),
        ("s2f", "a", 1),
        ("f2s", "b", 2),
    ]
    buf.log.clear()
    buf.set_noevict("d", 4)
    buf.evict_until_below_target()
    assert buf.log == [("f2s", "c", 3)]
    buf.log.clear()
    buf.fast.evict()
    assert buf.log == [("f2s", "a", 1)]
    assert buf.get("b") == 2
    assert ("s2f", "b", 2) in buf.log


def test_override_replaces_spill():
    class Transform(Buffer):
        def fast_to_slow(self, key, value):
            self.slow[key] = ("wrapped", value)

        def slow_to_fast(self, key):
            with self.lock:
                _, value = self.slow.pop(key)
                self.fast[key] = value
                return value

    buf = Transform({}, {}, 1)
    buf["a"] = 1
    buf["b"] = 2
    assert buf.slow == {"a": ("wrapped", 1)}
    assert buf["a"] == 1
    assert buf.slow == {"b": ("wrapped", 2)}


def test_fast_to_slow_override_raising_keeps_key():
    class Refuse(Buffer):
        def fast_to_slow(self, key, value):
            raise RuntimeError(key)

    buf = Refuse({}, {}, 1)
    buf["a"] = 1
    with pytest.raises(RuntimeError):
        buf["b"] = 2
    assert dict(buf.fast.d) == {"a": 1, "b": 2}
    assert not buf.slow
    check_consistent(buf)


# ------------------------------------------------------------------ counters


def test_stats_scripted_sequence():
    buf = Buffer({}, {}, 2, weight=value_weight)
    assert tuple(buf.stats) == (0, 0, 0, 0, 0, 0)
    assert tuple(buf.fast.stats) == (0, 0, 0)
    buf["a"] = 1
    buf["b"] = 1
    buf["c"] = 1  # spills a
    s = buf.stats
    assert (s.hits, s.misses, s.spills, s.spill_failures) == (0, 0, 1, 0)
    assert (s.spilled_weight, s.unspilled_weight) == (1, 0)
    assert buf.fast.stats.evictions == 1

    assert buf["b"] == 1  # hit
    assert buf["c"] == 1  # hit
    assert buf["a"] == 1  # miss: promoted, spills b
    s = buf.stats
    assert (s.hits, s.misses, s.spills, s.spill_failures) == (2, 1, 2, 0)
    assert (s.spilled_weight, s.unspilled_weight) == (2, 1)
    f = buf.fast.stats
    assert (f.hits, f.misses, f.evictions) == (2, 1, 2)

    with pytest.raises(KeyError):
        buf["nope"]  # neither tier: not a Buffer hit nor a read from slow
    assert buf.stats.hits == 2 and buf.stats.misses == 1
    assert buf.fast.stats.misses == 2  # but a failed lookup in fast

    "b" in buf  # noqa: B015 -- contains is not a read
    "a" in buf  # noqa: B015
    list(buf.items())
    assert buf.stats.hits == 2 and buf.stats.misses == 1

    buf.set_noevict("w", 2)  # weight 2: total 4
    buf.evict_until_below_target()  # spills c, a (LRU first) -> weight 2 left
    s = buf.stats
    assert (s.spills, s.spilled_weight) == (4, 4)
    assert buf.fast.stats.evictions == 4

    assert buf["a"] == 1  # miss, promoted; evicts w (2 + 1 > 2)
    s = buf.stats
    assert (s.misses, s.unspilled_weight, s.spills, s.spilled_weight) == (2, 2, 5, 6)

    del buf["a"]
    del buf["b"]
    assert buf.stats == s  # deletes count nothing


def test_stats_heavy_read_counts_as_read_from_slow():
    buf = Buffer({}, {}, 5, weight=value_weight)
    buf["h"] = 9  # heavy: spilled at once
    assert buf.stats.spills == 1 and buf.stats.spilled_weight == 9
    assert buf["h"] == 9
    s = buf.stats
    # documented: misses count reads served by slow, heavy or not
    assert s.misses == 1 and s.hits == 0
    assert "h" not in buf.fast
    assert s.spills == 1  # nothing was spilled by that read


def test_stats_spill_failures():
    from buffer_utils import FaultDict

    slow = FaultDict()
    cb_fail = []

    def cb(k, v):
        if k in cb_fail:
            raise ValueError(k)

    buf = Buffer({}, slow, 1, weight=value_weight, fast_to_slow_callbacks=cb)
    buf["a"] = 1
    slow.fail_set = {"a"}
    with pytest.raises(OSError):
        buf["b"] = 1
    s = buf.stats
    assert (s.spills, s.spill_failures, s.spilled_weight) == (0, 1, 0)
    slow.fail_set = set()
    cb_fail.append("a")
    with pytest.raises(ValueError):
        buf.evict_until_below_target()
    s = buf.stats
    assert (s.spills, s.spill_failures, s.spilled_weight) == (0, 2, 0)
    cb_fail.clear()
    buf.evict_until_below_target()
    assert buf.stats.spills == 1 and buf.stats.spill_failures == 2


def test_stats_is_an_immutable_snapshot_and_reset():
    buf = Buffer({}, {}, 1)
    buf["a"] = 1
    buf["b"] = 2
    buf["a"]
    buf["a"]
    snap = buf.stats
    fsnap = buf.fast.stats
    assert snap._fields == (
        "hits",
        "misses",
        "spills",
        "spill_failures",
        "spilled_weight",
        "unspilled_weight",
    )
    assert fsnap._fields == ("hits", "misses", "evictions")
    assert snap.hits == 1 and snap.misses == 1 and snap.spills == 2
    with pytest.raises(AttributeError):
        snap.hits = 10
    with pytest.raises(TypeError):
        snap[0] = 10
    buf["b"]
    assert snap.hits == 1 and snap.misses == 1  # the old snapshot did not move
    assert buf.stats.misses == 2

    buf.reset_stats()
    assert tuple(buf.stats) == (0, 0, 0, 0, 0, 0)
    assert tuple(buf.fast.stats) == (0, 0, 0)
    assert dict(buf.fast.d) == {"b": 2} and dict(buf.slow) == {"a": 1}  # data intact
    buf["b"]
    assert buf.stats.hits == 1 and buf.fast.stats.hits == 1


def test_stats_fields_are_documented():
    doc = type(Buffer({}, {}, 1).stats).__doc__
    for field in (
        "hits",
        "misses",
        "spills",
        "spill_failures",
        "spilled_weight",
        "unspilled_weight",
    ):
        assert field in doc


@pytest.mark.parametrize("which", ["buffer", "fast"])
def test_stats_snapshot_pickles(which):
    # a named tuple snapshot is sent around (e.g. in metrics); it must pickle,
    # which needs its class importable under its __module__
    buf = Buffer({}, {}, 1)
    buf["a"] = 1
    buf["b"] = 1
    snap = buf.stats if which == "buffer" else buf.fast.stats
    assert snap.__module__.startswith("zict_core")
    assert pickle.loads(pickle.dumps(snap)) == snap


def test_stats_float_weights():
    buf = Buffer({}, {}, 1.0, weight=lambda k, v: 0.75)
    buf["a"] = 1
    buf["b"] = 2
    assert buf.stats.spilled_weight == 0.75
    buf["a"]
    assert buf.stats.unspilled_weight == 0.75
    assert buf.stats.spilled_weight == 1.5
