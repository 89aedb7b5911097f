"""Fault injection on every failure path of zict_core.Buffer.

Contract: when ``slow.__setitem__`` or a fast_to_slow callback raises (a full
disk, a pickling error, any exception), the key stays in fast, is absent from
slow, and the very exception object propagates. Nothing is lost, nothing is
left in both tiers, the weights stay consistent, and ``spill_failures`` counts.
"""

from __future__ import annotations

import pickle
import threading

import pytest
from buffer_utils import FaultDict, check_consistent

from zict_core import Buffer, Func


def value_weight(key, value):
    return value if isinstance(value, int) else 1


class Abort(BaseException):
    """Not an Exception (like KeyboardInterrupt, without upsetting pytest)."""


def assert_kept_in_fast(buf, key, value):
    assert key in buf.fast.d
    assert buf.fast.d[key] is value
    assert key in buf.fast.weights
    assert key not in buf.slow
    check_consistent(buf)


def assert_unlocked(buf, is_locked):
    assert not is_locked(buf)
    assert not is_locked(buf.fast)


# The ways a spill of the least recently used key ("a") can be triggered.
TRIGGERS = [
    "set",
    "set_noevict+evict",
    "evict_until_below_target",
    "fast.evict",
    "promotion",
    "update",
]


def make_full(buf):
    """buf holds a=1 (LRU) and b=1 with n=2: one more key forces a spill of a."""
    buf["a"] = 1
    buf["b"] = 1
    assert list(buf.fast.order) == ["a", "b"]


def trigger(buf, how):
    if how == "set":
        buf["c"] = 1
    elif how == "set_noevict+evict":
        buf.set_noevict("c", 1)
        buf.evict_until_below_target()
    elif how == "evict_until_below_target":
        buf.evict_until_below_target(1)
    elif how == "fast.evict":
        buf.fast.evict()
    elif how == "promotion":
        buf.slow_plain_put("c", 1)
        buf["c"]
    elif how == "update":
        buf.update({"c": 1})
    else:  # pragma: no cover
        raise AssertionError(how)


class TBuffer(Buffer):
    def slow_plain_put(self, key, value):
        dict.__setitem__(self.slow, key, value)


# ------------------------------------------------------- slow.__setitem__


@pytest.mark.parametrize("how", TRIGGERS)
def test_disk_full_on_spill(how, is_locked):
    slow = FaultDict()
    buf = TBuffer({}, slow, 2, weight=value_weight)
    make_full(buf)
    a_value = buf.fast.d["a"]
    slow.fail_set = {"a"}
    with pytest.raises(OSError) as info:
        trigger(buf, how)
    assert info.value is slow.raised[-1]
    assert info.value.errno == 28
    assert_kept_in_fast(buf, "a", a_value)
    assert buf.stats.spill_failures == 1
    assert buf.stats.spills == 0 and buf.stats.spilled_weight == 0
    assert buf.fast.stats.evictions == 0
    assert_unlocked(buf, is_locked)
    assert buf._cancel_restore == {}
    assert buf.fast._cancel_evict == {}

    # the disk has room again: a spills normally
    slow.fail_set = set()
    assert buf.fast.evict("a") == ("a", 1, 1)
    assert dict(slow) == {"a": 1} or how == "promotion"
    assert dict.get(slow, "a") == 1
    assert buf.stats.spills == 1
    check_consistent(buf)


def test_disk_full_keeps_newly_set_key_and_all_others():
    slow = FaultDict()
    buf = Buffer({}, slow, 3)
    for k in "abc":
        buf[k] = k
    slow.fail_next_set = 1
    with pytest.raises(OSError) as info:
        buf["d"] = "d"
    assert info.value is slow.raised[-1]
    assert dict(buf.fast.d) == {"a": "a", "b": "b", "c": "c", "d": "d"}
    assert dict(slow) == {}
    assert len(buf) == 4
    check_consistent(buf)


def test_failure_midway_through_multi_key_spill():
    slow = FaultDict()
    buf = Buffer({}, slow, 10)
    for k in "abcdef":
        buf[k] = k
    slow.fail_set = {"c"}
    with pytest.raises(OSError) as info:
        buf.evict_until_below_target(2)
    assert info.value is slow.raised[-1]
    assert dict(slow) == {"a": "a", "b": "b"}  # spilled before the failure
    assert list(buf.fast.d) == ["c", "d", "e", "f"]
    assert buf.stats.spills == 2 and buf.stats.spill_failures == 1
    assert len(buf) == 6
    check_consistent(buf)


def test_partial_write_then_error_leaves_nothing_in_slow():
    # A slow mapping that stores the value and then raises (an fsync or a
    # metadata write failing after the data went in): the key must still end
    # up in fast only.
    slow = FaultDict()
    slow.store_then_fail = True
    buf = Buffer({}, slow, 1)
    buf["a"] = "A"
    slow.fail_set = {"a"}
    with pytest.raises(OSError) as info:
        buf["b"] = "B"
    assert info.value is slow.raised[-1]
    assert buf.fast.d["a"] == "A"
    assert "a" not in slow
    assert len(buf) == 2
    check_consistent(buf)


def test_base_exception_from_slow_keeps_key():
    slow = FaultDict(exc=Abort)
    buf = Buffer({}, slow, 1)
    buf["a"] = "A"
    slow.fail_set = {"a"}
    with pytest.raises(Abort) as info:
        buf["b"] = "B"
    assert info.value is slow.raised[-1]
    assert_kept_in_fast(buf, "a", "A")
    assert buf.stats.spill_failures == 1


# ------------------------------------------------------------ pickling


class Unpicklable:
    def __reduce__(self):
        raise pickle.PicklingError("refuses to be pickled")


@pytest.mark.parametrize(
    "make_bad",
    [lambda: lambda: 1, threading.Lock, Unpicklable],
    ids=["lambda", "lock", "reduce-raises"],
)
@pytest.mark.parametrize("how", ["set", "evict_until_below_target", "fast.evict"])
def test_pickling_error_on_spill(make_bad, how, is_locked):
    raised = []

    def dumps(value):
        try:
            return pickle.dumps(value)
        except Exception as e:
            raised.append(e)
            raise

    inner = {}
    slow = Func(dumps, pickle.loads, inner)
    buf = TBuffer({}, slow, 2)
    bad = make_bad()
    buf["a"] = bad
    buf["b"] = "fine"
    with pytest.raises(Exception) as info:
        trigger(buf, how)
    assert len(raised) == 1
    assert info.value is raised[0]
    assert_kept_in_fast(buf, "a", bad)
    assert inner == {}
    assert buf.stats.spill_failures == 1
    assert_unlocked(buf, is_locked)

    # other keys still spill (b is not stuck behind a forever once a is gone)
    del buf["a"]
    buf.evict_until_below_target(0)
    assert set(slow) == {"b"} | ({"c"} if how == "set" else set())
    assert buf["b"] == "fine"


def test_pickling_error_on_heavy_key():
    # A key heavier than n that cannot be pickled: it stays in fast, and the
    # LRU evicts the other keys instead to make room.
    inner = {}
    buf = Buffer(
        {},
        Func(pickle.dumps, pickle.loads, inner),
        5,
        weight=lambda k, v: 9 if k == "bad" else v,
    )
    buf["x"] = 1
    buf["y"] = 2
    bad = threading.Lock()
    with pytest.raises(TypeError):
        buf["bad"] = bad
    assert_kept_in_fast(buf, "bad", bad)
    assert set(inner) == {"x", "y"}  # evicted instead
    assert "bad" not in buf.fast.heavy  # not retried first forever
    assert buf.fast.total_weight == 9
    assert buf.stats.spill_failures == 1


# ------------------------------------------------------- heavy key spill fails


def test_heavy_key_whose_spill_fails(is_locked):
    slow = FaultDict()
    buf = Buffer({}, slow, 10, weight=value_weight)
    buf["x"] = 3
    buf["y"] = 4
    slow.fail_set = {"h"}
    with pytest.raises(OSError) as info:
        buf["h"] = 20
    assert info.value is slow.raised[-1]
    assert_kept_in_fast(buf, "h", 20)
    # the rest of the LRU was evicted instead
    assert dict(slow) == {"x": 3, "y": 4}
    assert list(buf.fast.heavy) == []
    assert buf.fast.total_weight == 20
    assert buf.stats.spill_failures == 1 and buf.stats.spills == 2
    assert_unlocked(buf, is_locked)

    # a later key: h is no longer first in line but is the LRU key, so it is
    # retried; it fails again and the new key stays too
    with pytest.raises(OSError):
        buf["z"] = 1
    assert set(buf.fast.d) == {"h", "z"}
    assert buf.stats.spill_failures == 2
    slow.fail_set = set()
    buf.evict_until_below_target()
    assert dict(buf.fast.d) == {"z": 1}
    assert slow["h"] == 20
    check_consistent(buf)


def test_heavy_key_and_everything_else_fail():
    slow = FaultDict()
    buf = Buffer({}, slow, 10, weight=value_weight)
    buf["x"] = 3
    slow.fail_set = {"h", "x"}
    with pytest.raises(OSError) as info:
        buf["h"] = 20
    # the error reported is the heavy key's, the first one raised
    assert info.value is slow.raised[0]
    assert set(buf.fast.d) == {"x", "h"}
    assert dict(slow) == {}
    assert buf.fast.total_weight == 23
    check_consistent(buf)


# ------------------------------------------------------ fast_to_slow callback


@pytest.mark.parametrize("how", TRIGGERS)
def test_fast_to_slow_callback_raises(how, is_locked):
    raised = []
    seen = []

    def cb(key, value):
        seen.append((key, key in slow))
        if key == "a":
            e = ValueError("callback failed")
            raised.append(e)
            raise e

    slow = FaultDict()
    buf = TBuffer({}, slow, 2, weight=value_weight, fast_to_slow_callbacks=[cb])
    make_full(buf)
    with pytest.raises(ValueError) as info:
        trigger(buf, how)
    assert info.value is raised[0]
    assert seen[0] == ("a", True)  # the callback ran after the write ...
    assert_kept_in_fast(buf, "a", 1)  # ... which was undone
    assert buf.stats.spill_failures == 1 and buf.stats.spills == 0
    assert_unlocked(buf, is_locked)


def test_second_callback_raises_after_first_ran():
    log = []

    def first(k, v):
        log.append(k)

    def second(k, v):
        raise RuntimeError(k)

    buf = Buffer({}, {}, 1, fast_to_slow_callbacks=[first, second])
    buf["a"] = 1
    with pytest.raises(RuntimeError, match="a"):
        buf["b"] = 2
    assert log == ["a"]
    assert_kept_in_fast(buf, "a", 1)
    assert_kept_in_fast(buf, "b", 2)


def test_callback_raising_base_exception():
    def cb(k, v):
        raise Abort(k)

    buf = Buffer({}, {}, 1, fast_to_slow_callbacks=cb)
    buf["a"] = 1
    with pytest.raises(Abort):
        buf["b"] = 2
    assert_kept_in_fast(buf, "a", 1)
    assert buf.stats.spill_failures == 1


# ------------------------------------------------------ slow_to_fast callback


def test_slow_to_fast_callback_raises(is_locked):
    raised = []

    def cb(key, value):
        e = LookupError(key)
        raised.append(e)
        raise e

    slow = FaultDict()
    buf = Buffer({}, slow, 2, slow_to_fast_callbacks=cb)
    vals = {k: [k] for k in "abc"}
    for k in "abc":
        buf[k] = vals[k]
    assert "a" in slow
    with pytest.raises(LookupError) as info:
        buf["a"]
    assert info.value is raised[0]
    # the move itself completed: a is in fast only, the LRU back under n
    assert_kept_in_fast(buf, "a", vals["a"])
    assert dict(slow) == {"b": ["b"]}
    assert buf.fast.total_weight == 2
    assert buf.stats.misses == 1
    assert_unlocked(buf, is_locked)
    assert buf._cancel_restore == {}
    assert buf["a"] == ["a"]  # now a hit: no callback


# --------------------------------------------------------- slow.__getitem__


@pytest.mark.parametrize("exc", [OSError, Abort])
def test_slow_getitem_raises(exc, is_locked):
    slow = FaultDict(exc=lambda: exc("read failed"))
    buf = Buffer({}, slow, 2)
    for k in "abc":
        buf[k] = k
    order = list(buf.fast.order)
    slow.fail_get = {"a"}
    with pytest.raises(exc) as info:
        buf["a"]
    assert info.value is slow.raised[-1]
    # nothing moved: a is still (only) in slow with its value
    assert dict.get(slow, "a") == "a"
    assert "a" not in buf.fast
    assert list(buf.fast.order) == order
    assert buf.stats.misses == 0 and buf.stats.unspilled_weight == 0
    assert buf._cancel_restore == {}
    assert len(buf) == 3
    assert_unlocked(buf, is_locked)
    check_consistent(buf)

    slow.fail_get = set()
    assert buf["a"] == "a"
    assert "a" in buf.fast and "a" not in slow


def test_weight_raises_on_promotion():
    def weight(k, v):
        if v == "boom":
            raise ZeroDivisionError(k)
        return 1

    buf = Buffer({}, {}, 1, weight=weight)
    dict.__setitem__(buf.slow, "a", "boom")
    with pytest.raises(ZeroDivisionError):
        buf["a"]
    assert buf.slow == {"a": "boom"}
    assert "a" not in buf.fast
    assert buf._cancel_restore == {}
    check_consistent(buf)


def test_slow_delitem_keyerror_during_promotion_tolerated():
    # a slow mapping whose delete raises KeyError right after a read (e.g.
    # another process removed the file): the value read is kept in fast
    class Vanishing(dict):
        def __delitem__(self, key):
            super().__delitem__(key)
            raise KeyError(key)

    buf = Buffer({}, Vanishing(), 5)
    dict.__setitem__(buf.slow, "a", 1)
    assert buf["a"] == 1
    assert dict(buf.fast.d) == {"a": 1}
    assert "a" not in buf.slow
