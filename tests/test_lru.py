"""Unit tests of zict_core.LRU: every point of the LRU contract (CONTRACT.md, issue 2).

Behaviour shared with zict 3.0.0 is also covered by the differential state machine
(test_lru_differential.py); this file pins down each point on its own, plus the
places where zict_core deliberately differs (weights are computed and checked
before anything changes, so a failing weight leaves the LRU unchanged).
"""

from __future__ import annotations

import gc
import math
import pickle
import sys
import threading
import weakref
from collections import UserDict
from collections.abc import Mapping, MutableMapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from fractions import Fraction

import pytest
import zict
from lru_utils import (
    Boom,
    LoggingDict,
    LoggingDictSubclass,
    assert_real_zict,
    check_consistent,
    snapshot,
)

import zict_core
from zict_core import LRU
from zict_core.common import ZictBase, nodefault

assert_real_zict(zict)


def by_value(k, v):
    """Weight function: the value is the weight."""
    return v


def logger(log, tag=None):
    def cb(k, v):
        log.append((k, v) if tag is None else (tag, k, v))

    return cb


# --------------------------------------------------------------- constructor


def test_constructor_defaults():
    d = {}
    lru = LRU(3, d)
    assert lru.d is d
    assert lru.n == 3 and type(lru.n) is int
    assert lru.offset == 0 and type(lru.offset) is int
    assert lru.total_weight == 0 and type(lru.total_weight) is int
    assert lru.on_evict == [] and lru.on_cancel_evict == []
    assert lru.closed is False
    assert len(lru) == 0 and not lru
    assert list(lru.order) == list(lru.heavy) == list(lru.weights) == []
    assert lru.weight("k", "v") == 1
    lru["x"] = "anything"
    assert lru.weights["x"] == 1 and type(lru.weights["x"]) is int


@pytest.mark.parametrize("n", ["3", None, [3], 3j, object()])
def test_constructor_rejects_non_number_n(n):
    with pytest.raises(TypeError, match=r"\bn must be a real number"):
        LRU(n, {})


def test_constructor_rejects_nan_n():
    with pytest.raises(ValueError, match=r"\bn must not be NaN"):
        LRU(float("nan"), {})


@pytest.mark.parametrize("d", [None, 3, "abc", object(), frozenset()])
def test_constructor_rejects_non_mapping_d(d):
    with pytest.raises(TypeError, match="MutableMapping"):
        LRU(3, d)


def test_constructor_rejects_sequence_as_d():
    """A list has __getitem__/__setitem__/__delitem__/__iter__ but is not a
    mapping: it must be rejected as clearly as any other non-mapping."""
    with pytest.raises(TypeError, match="MutableMapping"):
        LRU(3, [1, 2])


@pytest.mark.parametrize("weight", [None, 1, "len"])
def test_constructor_rejects_non_callable_weight(weight):
    with pytest.raises(TypeError, match="weight must be callable"):
        LRU(3, {}, weight=weight)


@pytest.mark.parametrize("arg", ["on_evict", "on_cancel_evict"])
@pytest.mark.parametrize("value", [3, [print, 3], "abc"])
def test_constructor_rejects_bad_callbacks(arg, value):
    with pytest.raises(TypeError, match=arg):
        LRU(3, {}, **{arg: value})


def test_constructor_leaves_d_alone_on_bad_arguments():
    d = {"a": 1}
    with pytest.raises(TypeError):
        LRU("x", d)
    with pytest.raises(TypeError):
        LRU(3, d, on_evict=5)
    assert d == {"a": 1}


def test_single_callable_is_wrapped_in_a_list():
    def f(k, v):
        pass

    def g(k, v):
        pass

    lru = LRU(3, {}, on_evict=f, on_cancel_evict=g)
    assert lru.on_evict == [f] and type(lru.on_evict) is list
    assert lru.on_cancel_evict == [g] and type(lru.on_cancel_evict) is list
    lru = LRU(3, {}, on_evict=[f, g], on_cancel_evict=(g,))
    assert lru.on_evict == [f, g]
    assert lru.on_cancel_evict == [g]
    lru.on_evict = g
    assert lru.on_evict == [g]
    lru.on_evict = None
    assert lru.on_evict == []
    # The list is live: appending a callback takes effect (dask does this)
    log = []
    lru.on_evict.append(logger(log))
    lru.n = 1
    lru["a"] = 1
    lru["b"] = 2
    assert log == [("a", 1)]


def test_adopts_non_empty_d_in_order_with_weights():
    d = {"a": 1, "b": 3, "c": 2, "d": 5}
    lru = LRU(3, d, weight=by_value)
    assert lru.d is d
    assert list(lru.order) == ["a", "b", "c", "d"]
    assert dict(lru.weights) == d
    assert lru.total_weight == 11 and type(lru.total_weight) is int
    # adoption marks keys at least as heavy as n (a later insert: heavier than n)
    assert list(lru.heavy) == ["b", "d"]
    # nothing was evicted by the constructor
    assert d == {"a": 1, "b": 3, "c": 2, "d": 5}
    lru.evict_until_below_target()
    # heavy keys first, oldest first, until the total fits
    assert d == {"a": 1, "c": 2}
    check_consistent(lru)


def test_adoption_matches_zict():
    d = {1: 10, 2: 20, 3: 30, 4: 60}

    def w(k, v):
        return v * 2

    ours, theirs = LRU(100, dict(d), weight=w), zict.LRU(100, dict(d), weight=w)
    assert snapshot(ours) == snapshot(theirs)


def test_adoption_with_a_bad_weight_raises():
    with pytest.raises(ValueError, match="negative"):
        LRU(3, {"a": -1}, weight=by_value)
    err = Boom()

    def w(k, v):
        raise err

    with pytest.raises(Boom) as info:
        LRU(3, {"a": 1}, weight=w)
    assert info.value is err


# ---------------------------------------------------------- n and offset


@pytest.mark.parametrize("attr", ["n", "offset"])
@pytest.mark.parametrize(
    "bad, exc",
    [("1", TypeError), (None, TypeError), (2j, TypeError), (float("nan"), ValueError)],
)
def test_n_and_offset_setters_reject_bad_values(attr, bad, exc):
    lru = LRU(5, {"a": 1})
    lru.offset = 1
    before = snapshot(lru)
    with pytest.raises(exc, match=rf"\b{attr} must"):
        setattr(lru, attr, bad)
    assert snapshot(lru) == before


def test_lowering_n_evicts_nothing_until_asked():
    log = []
    lru = LRU(10, {}, weight=by_value, on_evict=logger(log))
    for k, v in zip("abcd", [4, 3, 2, 1]):
        lru[k] = v
    lru.n = 3
    assert lru.n == 3
    assert log == [] and len(lru) == 4
    # existing keys are not re-examined for heaviness
    assert list(lru.heavy) == []
    lru.evict_until_below_target()
    assert log == [("a", 4), ("b", 3)]
    assert dict(lru) == {"c": 2, "d": 1}
    # the new n decides what counts as heavy from now on
    lru.set_noevict("e", 4)
    assert list(lru.heavy) == ["e"]


def test_offset_evicts_nothing_until_asked_and_keeps_heavy_threshold():
    log = []
    lru = LRU(5, {}, weight=by_value, on_evict=logger(log))
    lru["a"] = 2
    lru["b"] = 2
    lru.offset = 2
    assert lru.offset == 2 and log == []
    assert str(lru) == "<LRU: 6/5 on dict>"
    lru.evict_until_below_target()
    assert log == [("a", 2)]
    # 4 is not heavy with n=5, although 4 + offset > n
    lru.set_noevict("c", 4)
    assert list(lru.heavy) == []
    lru.set_noevict("d", 6)
    assert list(lru.heavy) == ["d"]
    lru.offset = -100
    lru.evict_until_below_target()
    # below target: heavy keys stay too (eviction is driven by the total)
    assert set(lru) == {"b", "c", "d"}
    lru.offset = 0
    lru.evict_until_below_target()
    assert log == [("a", 2), ("d", 6), ("b", 2)]
    assert dict(lru) == {"c": 4}


def test_evict_until_below_target_custom_n():
    lru = LRU(100, {}, weight=by_value)
    for k, v in zip("abc", [30, 30, 30]):
        lru[k] = v
    lru.evict_until_below_target()  # no-op
    assert len(lru) == 3
    lru.evict_until_below_target(60)
    assert list(lru) == ["b", "c"]
    lru.evict_until_below_target(0)  # 0 is a target, not "use self.n"
    assert len(lru) == 0
    assert lru.total_weight == 0
    with pytest.raises(TypeError):
        lru.evict_until_below_target("x")


def test_n_accepts_sys_maxsize_and_inf():
    lru = LRU(sys.maxsize, {}, weight=by_value)
    lru["a"] = sys.maxsize - 1
    lru["b"] = 1
    assert lru.total_weight == sys.maxsize and type(lru.total_weight) is int
    lru["c"] = 1  # total exceeds maxsize (no C overflow): "a" goes
    assert dict(lru) == {"b": 1, "c": 1}
    assert lru.total_weight == 2 and type(lru.total_weight) is int
    lru["huge"] = sys.maxsize + 10  # heavier than n: evicted at once
    assert "huge" not in lru and lru.total_weight == 2

    lru = LRU(math.inf, {}, weight=by_value)
    for i in range(5):
        lru[i] = 10**30 + i
    assert len(lru) == 5
    assert lru.total_weight == sum(10**30 + i for i in range(5))
    assert type(lru.total_weight) is int
    assert lru.n == math.inf
    lru.n = -math.inf
    lru.evict_until_below_target()
    assert len(lru) == 0


# ---------------------------------------------------------------- weights


def test_int_weights_stay_int():
    lru = LRU(10, {}, weight=lambda k, v: len(v))
    lru["a"] = "xyz"
    lru["b"] = "xy"
    assert all(type(w) is int for w in lru.weights.values())
    assert lru.total_weight == 5 and type(lru.total_weight) is int
    assert lru.evict() == ("a", "xyz", 3)
    assert type(lru.evict()[2]) is int
    assert lru.total_weight == 0 and type(lru.total_weight) is int


def test_float_weights():
    lru = LRU(20, {}, weight=by_value)
    lru["a"] = 5.5
    lru["b"] = 0.1
    lru["c"] = 3
    expect = 0
    for w in (5.5, 0.1, 3):
        expect += w
    assert lru.total_weight == expect and type(lru.total_weight) is float
    assert type(lru.weights["a"]) is float and type(lru.weights["c"]) is int
    assert lru.evict() == ("a", 5.5, 5.5)
    expect -= 5.5
    assert lru.total_weight == expect
    lru["d"] = 15.5  # 0.1 + 3 + 15.5 fits in 20
    assert len(lru) == 3
    lru["e"] = 2.5  # 21.1 > 20: "b" goes, 21.0 > 20: "c" goes
    assert list(lru) == ["d", "e"]
    expect = expect + 15.5 + 2.5 - 0.1 - 3
    assert lru.total_weight == expect and type(lru.total_weight) is float


@pytest.mark.parametrize("num", [Fraction, Decimal])
def test_fraction_and_decimal_weights(num):
    lru = LRU(num(3), {}, weight=by_value)
    lru["a"] = num(1) / num(2)
    lru["b"] = num(3) / num(2)
    assert lru.total_weight == 2 and type(lru.total_weight) is num
    assert type(lru.weights["a"]) is num
    lru["c"] = num(5) / num(4)  # 3.25 > 3: "a" goes
    assert list(lru) == ["b", "c"]
    assert lru.total_weight == num(11) / num(4)
    assert type(lru.total_weight) is num
    lru["d"] = num(7) / num(2)  # heavier than n
    assert "d" not in lru
    check_consistent(lru)


def test_big_int_weights_stay_exact():
    lru = LRU(2**70, {}, weight=by_value)
    for k in "abc":
        lru[k] = 2**62  # the sum overflows 64 bits
    assert lru.total_weight == 3 * 2**62 and type(lru.total_weight) is int
    lru["d"] = 2**68
    assert lru.total_weight == 3 * 2**62 + 2**68
    del lru["d"]
    assert lru.total_weight == 3 * 2**62 and type(lru.total_weight) is int


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ("3", TypeError, "weight must be a real number"),
        (None, TypeError, "weight must be a real number"),
        (1j, TypeError, "weight must be a real number"),
        (float("nan"), ValueError, "NaN"),
        (-1, ValueError, "negative"),
        (-0.5, ValueError, "negative"),
        (float("inf"), ValueError, "finite"),
    ],
)
@pytest.mark.parametrize("method", ["__setitem__", "set_noevict"])
@pytest.mark.parametrize("existing", [False, True])
def test_bad_weight_value_leaves_lru_unchanged(bad, exc, match, method, existing):
    values = {"a": 1, "b": 2}
    lru = LRU(10, LoggingDict(), weight=lambda k, v: values[v])
    lru["x"] = "a"
    lru["y"] = "b"
    lru["x"]
    values["bad"] = bad
    before = snapshot(lru)
    lru.d.log.clear()
    with pytest.raises(exc, match=match):
        getattr(lru, method)("x" if existing else "z", "bad")
    assert lru.d.log == []  # d was not even touched
    assert snapshot(lru) == before
    check_consistent(lru)


@pytest.mark.parametrize("existing", [False, True])
def test_weight_function_raising_leaves_lru_unchanged(existing):
    err = Boom("weight")

    def weight(k, v):
        if v == "bad":
            raise err
        return 1

    lru = LRU(10, {}, weight=weight)
    lru["x"] = "old"
    lru["y"] = "y"
    before = snapshot(lru)
    with pytest.raises(Boom) as info:
        lru["x" if existing else "z"] = "bad"
    assert info.value is err
    assert snapshot(lru) == before


def test_weight_function_raising_differs_from_zict():
    """Deliberate: zict 3.0.0 removes the old value before calling the weight
    function, so a raising weight loses the key; zict_core keeps it."""

    def weight(k, v):
        if v == "bad":
            raise Boom()
        return 1

    ours, theirs = LRU(10, {}, weight=weight), zict.LRU(10, {}, weight=weight)
    for lru in (ours, theirs):
        lru["x"] = "old"
        with pytest.raises(Boom):
            lru["x"] = "bad"
    assert dict(ours) == {"x": "old"}
    assert dict(theirs) == {}


@pytest.mark.parametrize("existing", [False, True])
def test_weight_that_cannot_be_added_to_the_total_leaves_lru_unchanged(existing):
    """float + Decimal raises TypeError: the key must not end up in d without a
    weight (every key of d has a weight)."""
    lru = LRU(10, {}, weight=by_value)
    lru["a"] = 0.5
    lru["b"] = 0.25
    before = snapshot(lru)
    with pytest.raises(TypeError):
        lru["b" if existing else "c"] = Decimal(1)
    assert snapshot(lru) == before
    check_consistent(lru)


def test_weight_function_called_once_per_insertion():
    calls = []

    def weight(k, v):
        calls.append(k)
        return 1

    lru = LRU(2, {"p": 0}, weight=weight, on_evict=lambda k, v: None)
    assert calls == ["p"]
    lru["a"] = 1
    lru.set_noevict("b", 2)
    lru["a"] = 3
    lru["a"]
    lru.get_all_or_nothing(["a", "b"])
    lru.evict("a")
    del lru["b"]
    lru.evict_until_below_target()
    assert calls == ["p", "a", "b", "a"]


def test_weight_setter():
    lru = LRU(100, {}, weight=by_value)
    lru["a"] = 4
    lru.weight = lambda k, v: 2 * v
    lru["b"] = 4
    assert dict(lru.weights) == {"a": 4, "b": 8}
    assert lru.total_weight == 12
    with pytest.raises(TypeError, match="weight must be callable"):
        lru.weight = 3
    lru["c"] = 1
    assert lru.weights["c"] == 2  # unchanged weight function after the error
    check_consistent(lru)


def test_weights_view():
    lru = LRU(10, {}, weight=by_value)
    lru["a"] = 1
    lru["b"] = 2
    lru["a"]
    w = lru.weights
    assert isinstance(w, Mapping)
    assert w["a"] == 1
    with pytest.raises(KeyError):
        w["zz"]
    assert "a" in w and "zz" not in w and [1] not in w
    assert list(w) == ["b", "a"]  # LRU order
    assert w == {"a": 1, "b": 2}
    assert len(w) == 2
    lru["c"] = 3
    assert len(w) == 3  # a live view
    with pytest.raises(TypeError):
        w["a"] = 5  # read-only


# ----------------------------------------------------------- order and heavy


def test_order_is_least_recent_first_and_getitem_reorders():
    lru = LRU(10, {})
    for k in "abcd":
        lru[k] = k.upper()
    assert list(lru.order) == ["a", "b", "c", "d"]
    assert lru["b"] == "B"
    assert list(lru.order) == ["a", "c", "d", "b"]
    assert list(lru) == ["a", "b", "c", "d"]  # iteration follows d
    lru["a"] = "A2"  # replacing makes it most recent
    assert list(lru.order) == ["c", "d", "b", "a"]
    with pytest.raises(KeyError):
        lru["zz"]
    assert list(lru.order) == ["c", "d", "b", "a"]
    assert lru.get("zz", 5) == 5
    assert lru.get("c") == "C"
    assert list(lru.order) == ["d", "b", "a", "c"]
    lru.n = 2
    lru.evict_until_below_target()
    assert list(lru.order) == ["a", "c"]
    assert list(lru) == ["c", "a"]  # d's order: "a" was re-inserted


def test_order_and_heavy_are_set_like_views():
    lru = LRU(3, {}, weight=by_value)
    lru.set_noevict("a", 1)
    lru.set_noevict("b", 5)
    o, h = lru.order, lru.heavy
    assert isinstance(o, AbstractSet) and isinstance(h, AbstractSet)
    assert o == {"a", "b"} and h == {"b"}
    assert len(o) == 2 and len(h) == 1
    assert "a" in o and "a" not in h and "b" in h
    assert [1] not in o and [1] not in h  # unhashable: simply absent
    assert o - h == {"a"}
    lru.set_noevict("c", 4)
    assert list(h) == ["b", "c"]  # live views
    with pytest.raises(RuntimeError):
        for k in o:
            lru[k + "x"] = 1
    with pytest.raises(TypeError):
        pickle.dumps(o)
    assert repr(o).startswith("OrderView(")


def test_heavy_keys_evicted_first_oldest_first():
    log = []
    lru = LRU(10, {}, weight=by_value, on_evict=logger(log))
    lru.set_noevict("a", 1)
    lru.set_noevict("h1", 11)
    lru.set_noevict("b", 10)  # == n: not heavy on insert
    lru.set_noevict("h2", 12)
    assert list(lru.heavy) == ["h1", "h2"]
    lru["h1"]  # reading a heavy key does not change the heavy order
    assert list(lru.heavy) == ["h1", "h2"]
    assert lru.evict() == ("h1", 11, 11)
    assert lru.evict() == ("h2", 12, 12)
    assert lru.evict() == ("a", 1, 1)
    assert list(lru) == ["b"]
    # a heavy key set through __setitem__ is evicted right after insertion
    lru["h3"] = 11
    assert "h3" not in lru and log[-1] == ("h3", 11)
    # replacing a heavy key by a light value un-marks it
    lru.set_noevict("h4", 20)
    lru.set_noevict("h4", 1)
    assert list(lru.heavy) == []
    del lru["b"]
    lru.set_noevict("h5", 20)
    del lru["h5"]
    assert list(lru.heavy) == []
    check_consistent(lru)


def test_set_noevict():
    log = []
    lru = LRU(2, {}, weight=by_value, on_evict=logger(log))
    lru.set_noevict("a", 1)
    lru.set_noevict("b", 1)
    lru.set_noevict("c", 5)
    lru.set_noevict("d", 1)
    assert log == [] and len(lru) == 4
    assert lru.total_weight == 8
    assert list(lru.heavy) == ["c"]
    lru.evict_until_below_target()
    assert log == [("c", 5), ("a", 1)]
    assert dict(lru) == {"b": 1, "d": 1}


# -------------------------------------------------------------- evict


def test_evict_return_values_and_errors():
    lru = LRU(10, {}, weight=lambda k, v: len(v))
    lru["x"] = "aaa"
    lru["y"] = "bb"
    lru["z"] = "c"
    lru["x"]
    assert lru.evict() == ("y", "bb", 2)
    assert lru.evict("x") == ("x", "aaa", 3)
    with pytest.raises(KeyError, match="nope"):
        lru.evict("nope")
    assert lru.evict() == ("z", "c", 1)
    with pytest.raises(KeyError, match=r"evict\(\): dictionary is empty"):
        lru.evict()
    with pytest.raises(KeyError):
        lru.evict("x")
    assert lru.total_weight == 0
    check_consistent(lru)


def test_evict_leaves_value_in_d_while_callbacks_run():
    seen = []

    def cb(k, v):
        seen.append((k in lru.d, k in lru, lru.d.get(k), k in lru.weights))

    lru = LRU(1, {}, on_evict=cb)
    lru["a"] = 1
    lru["b"] = 2
    assert seen == [(True, True, 1, True)]
    assert dict(lru) == {"b": 2}


def test_callbacks_run_with_the_lock_released(is_locked):
    inside = []
    lru = LRU(1, {}, on_evict=lambda k, v: inside.append(is_locked(lru)))
    lru["a"] = 1
    lru["b"] = 1
    assert inside == [False]


# ---------------------------------------------------------- get_all_or_nothing


def test_get_all_or_nothing():
    lru = LRU(10, {"a": 1, "b": 2, "c": 3, "d": 4})
    assert lru.get_all_or_nothing(["c", "a"]) == {"c": 3, "a": 1}
    assert list(lru.get_all_or_nothing(["c", "a"])) == ["c", "a"]
    assert list(lru.order) == ["b", "d", "c", "a"]
    with pytest.raises(KeyError, match="zz"):
        lru.get_all_or_nothing(["b", "zz", "yy", "d"])
    assert list(lru.order) == ["b", "d", "c", "a"]  # untouched
    assert lru.get_all_or_nothing([]) == {}
    assert lru.get_all_or_nothing(k for k in ["b", "b"]) == {"b": 2}
    assert list(lru.order) == ["d", "c", "a", "b"]
    with pytest.raises(TypeError):
        lru.get_all_or_nothing([[1]])
    assert list(lru.order) == ["d", "c", "a", "b"]


# -------------------------------------------------------------- callbacks


def test_on_evict_called_in_order_before_removal():
    log = []
    lru = LRU(2, {}, on_evict=[logger(log, 1), logger(log, 2)])
    lru["a"] = 1
    lru["b"] = 2
    lru["c"] = 3
    assert log == [(1, "a", 1), (2, "a", 1)]


def test_raising_callback_keeps_key_and_propagates_same_exception():
    err = Boom("disk full")
    log = []
    fail = [True]

    def cb(k, v):
        if fail[0]:
            raise err

    lru = LRU(2, {}, on_evict=[logger(log, "before"), cb, logger(log, "after")])
    lru["a"] = 1
    lru["b"] = 2
    with pytest.raises(Boom) as info:
        lru["c"] = 3
    assert info.value is err
    assert log == [("before", "a", 1)]  # later callbacks did not run
    assert dict(lru) == {"a": 1, "b": 2, "c": 3}
    assert list(lru.order) == ["a", "b", "c"]  # a keeps its place
    assert lru.total_weight == 3 and dict(lru.weights) == {"a": 1, "b": 1, "c": 1}
    assert lru.stats.evictions == 0
    check_consistent(lru)

    with pytest.raises(Boom) as info:
        lru.evict("b")
    assert info.value is err
    assert "b" in lru

    fail[0] = False
    lru.evict_until_below_target()
    assert dict(lru) == {"b": 2, "c": 3}
    assert log[-1] == ("after", "a", 1)
    assert lru.stats.evictions == 1


def test_raising_callback_on_heavy_key_drops_heavy_mark():
    def cb(k, v):
        if k == "h":
            raise Boom()

    lru = LRU(5, {}, weight=by_value, on_evict=cb)
    lru.set_noevict("a", 1)
    lru.set_noevict("h", 9)
    lru.set_noevict("b", 1)
    assert list(lru.heavy) == ["h"]
    with pytest.raises(Boom):
        lru.evict()
    assert list(lru.heavy) == []
    assert list(lru.order) == ["a", "h", "b"]
    # the next default victim is the least recently used key
    assert lru.evict() == ("a", 1, 1)


def test_heavy_insert_that_cannot_be_evicted_evicts_the_rest():
    log = []

    def cb(k, v):
        log.append(k)
        if v >= 10:
            raise Boom(k)

    lru = LRU(5, {}, weight=by_value, on_evict=cb)
    lru["a"] = 1
    lru["b"] = 2
    with pytest.raises(Boom, match="big"):
        lru["big"] = 10
    # big could not leave: a and b were evicted to make room instead
    assert log == ["big", "a", "b"]
    assert dict(lru) == {"big": 10}
    assert list(lru.heavy) == []
    assert lru.total_weight == 10

    with pytest.raises(Boom, match="big2"):
        lru["big2"] = 11
    # big2 failed, then the rest (big) was tried and failed too: both stay
    assert log == ["big", "a", "b", "big2", "big"]
    assert dict(lru) == {"big": 10, "big2": 11}
    assert list(lru.order) == ["big", "big2"]
    assert lru.total_weight == 21
    check_consistent(lru)


def test_heavy_insert_that_cannot_be_evicted_matches_zict():
    def run(cls):
        log = []

        def cb(k, v):
            log.append(k)
            if v >= 10:
                raise Boom(k)

        lru = cls(5, {}, weight=by_value, on_evict=cb)
        out = []
        for k, v in [("a", 1), ("b", 2), ("big", 10), ("c", 1), ("big2", 11)]:
            try:
                lru[k] = v
                out.append(None)
            except Boom as e:
                out.append(str(e))
            out.append(snapshot(lru))
        return out, log

    assert run(LRU) == run(zict.LRU)


def test_on_cancel_evict_when_callback_deletes_or_replaces_the_key():
    """Single-threaded reentrancy: an on_evict callback that deletes or replaces
    the key being evicted cancels the eviction (same outcome as zict)."""

    def run(cls, action):
        log = []

        def cb(k, v):
            log.append(("evict", k, v))
            if k == "a" and v == 1:
                if action == "del":
                    del lru["a"]
                elif action == "set":
                    lru.set_noevict("a", 2)
                else:
                    lru["b"]

        lru = cls(5, {}, on_evict=cb, on_cancel_evict=logger(log, "cancel"))
        lru["a"] = 1
        lru["b"] = 1
        result = lru.evict()
        return result, log, snapshot(lru)

    for action in ("del", "set", "get"):
        ours, theirs = run(LRU, action), run(zict.LRU, action)
        assert ours == theirs, action
    assert run(LRU, "del")[0] == (None, None, 0)
    assert run(LRU, "set")[2]["d"] == [("b", 1), ("a", 2)]
    assert run(LRU, "get")[0] == ("a", 1, 1)


def test_evict_of_a_key_already_being_evicted_returns_none():
    inner = []

    def cb(k, v):
        if not inner:
            inner.append(lru.evict(k))

    lru = LRU(5, {}, on_evict=cb)
    lru["a"] = 1
    assert lru.evict("a") == ("a", 1, 1)
    assert inner == [(None, None, 0)]
    assert len(lru) == 0


def test_reentrant_insert_from_on_evict_does_not_spin():
    """An on_evict callback that inserts into the same LRU starts a nested
    eviction loop. That loop must not pick the key already under eviction again
    (zict 3.0.0 loops forever here: its evict() keeps returning (None, None, 0)
    for that key while the total stays above n)."""
    log = []

    def cb(k, v):
        log.append(k)
        if k == "a":
            lru["c"] = 1

    lru = LRU(2, {}, on_evict=cb)
    lru["a"] = 1
    lru["b"] = 1
    t = threading.Thread(target=lru.__setitem__, args=("x", 1), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "nested eviction spins"
    assert len(lru) <= 2
    assert log[:2] == ["a", "b"]
    check_consistent(lru)


# ------------------------------------------------------------ close, context


def test_close_stops_eviction_and_closes_d():
    class D(UserDict):
        closed = 0
        flushed = 0

        def close(self):
            self.closed += 1

        def flush(self):
            self.flushed += 1

    d = D()
    lru = LRU(2, d)
    lru.flush()
    assert d.flushed == 1
    lru.close()
    assert lru.closed is True and d.closed == 1
    for k in "abcd":
        lru[k] = 1
    assert len(lru) == 4  # no eviction once closed
    lru.evict_until_below_target()
    assert len(lru) == 4
    assert lru.evict() == ("a", 1, 1)  # explicit eviction still works
    lru.closed = False
    lru.evict_until_below_target()
    assert list(lru) == ["c", "d"]


def test_close_inside_callback_aborts_eviction_loop():
    log = []

    def cb(k, v):
        log.append(k)
        if len(log) == 2:
            lru.close()

    lru = LRU(10, {}, weight=by_value, on_evict=cb)
    for k in "abcd":
        lru[k] = 2
    lru["e"] = 9  # would evict a, b, c, d
    assert lru.closed
    assert log == ["a", "b"]
    assert list(lru) == ["c", "d", "e"]


def test_context_manager():
    class D(UserDict):
        closed = False

        def close(self):
            self.closed = True

    with LRU(2, D()) as lru:
        assert isinstance(lru, LRU)
        lru["a"] = 1
        assert not lru.closed
    assert lru.closed and lru.d.closed

    with pytest.raises(Boom), LRU(2, D()) as lru2:
        raise Boom()
    assert lru2.closed


def test_str_and_repr_name_the_class():
    lru = LRU(4, {}, weight=by_value)
    lru["a"] = 1.5
    assert str(lru) == repr(lru) == "<LRU: 1.5/4 on dict>"
    lru.offset = 1
    assert str(lru) == "<LRU: 2.5/4 on dict>"
    d = UserDict()
    lru = LRU(2, d)
    assert str(d) in str(lru) and "LRU" in repr(lru)

    class MyLRU(LRU):
        pass

    assert repr(MyLRU(2, {})).startswith("<MyLRU: ")


# ----------------------------------------------------------------- pickling


class PicklableCallback:
    def __init__(self):
        self.log = []

    def __call__(self, k, v):
        self.log.append((k, v))


def test_pickle_round_trip():
    cb = PicklableCallback()
    lru = LRU(10, {}, weight=by_value, on_evict=cb)
    lru.set_noevict("a", 1)
    lru.set_noevict("h", 12)
    lru.set_noevict("b", 2.5)
    lru.set_noevict("c", Fraction(1, 3))
    lru.set_noevict("h2", 11)
    lru["a"]
    lru.offset = 2
    before = snapshot(lru)
    with lru.lock:  # pickled while locked: the copy gets a fresh, free lock
        lru2 = pickle.loads(pickle.dumps(lru))
        assert lru2.lock is not lru.lock
        assert lru2.lock.acquire(blocking=False)
        lru2.lock.release()
    assert type(lru2) is LRU
    assert snapshot(lru2) == before
    assert list(lru2.heavy) == ["h", "h2"]
    assert lru2.weight is by_value
    assert len(lru2.on_evict) == 1 and isinstance(lru2.on_evict[0], PicklableCallback)
    check_consistent(lru2)
    # the copy is independent and fully working
    lru2.evict_until_below_target()
    assert lru2.on_evict[0].log == [("h", 12), ("h2", 11)]
    assert list(lru2) == ["a", "b", "c"]
    assert cb.log == []
    assert snapshot(lru) == before


def test_pickle_subclass_keeps_attributes():
    lru = MyLRU(3, {"a": 1})
    lru.tag = "hello"
    lru2 = pickle.loads(pickle.dumps(lru))
    assert type(lru2) is MyLRU and lru2.tag == "hello"
    assert dict(lru2) == {"a": 1}


class LimitLRU(LRU):
    """A subclass whose constructor has another signature (as dask's do)."""

    def __init__(self, d, *, limit):
        super().__init__(limit, d)
        self.extra = "x"


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_copy_subclass_with_own_constructor_signature(how):
    import copy

    lru = LimitLRU({"a": 1}, limit=5)
    lru["b"] = 2
    lru["a"]
    if how == "pickle":
        lru2 = pickle.loads(pickle.dumps(lru))
    else:
        lru2 = copy.deepcopy(lru)
        assert lru2.d is not lru.d
    assert type(lru2) is LimitLRU and lru2.extra == "x"
    assert list(lru2.order) == ["b", "a"] and lru2.n == 5
    lru2["c"] = 3
    assert "c" in lru2 and "c" not in lru


def test_pickle_closed_lru():
    lru = LRU(3, {"a": 1})
    lru.close()
    assert pickle.loads(pickle.dumps(lru)).closed


# ------------------------------------------------------------ types, ABCs


def test_generic_subscription():
    alias = LRU[str, int]
    assert alias.__origin__ is LRU
    assert alias.__args__ == (str, int)
    assert isinstance(alias(3, {}), LRU)


def test_isinstance_mutable_mapping_and_zictbase():
    lru = LRU(3, {})
    assert isinstance(lru, MutableMapping)
    assert isinstance(lru, ZictBase)
    assert issubclass(LRU, ZictBase)
    assert isinstance(MyLRU(3, {}), ZictBase)


def test_mutable_mapping_mixin_methods():
    d = LoggingDict()
    lru = LRU(10, d)
    lru.update({"a": 1}, b=2)
    lru.update([("c", 3)])
    assert dict(lru) == {"a": 1, "b": 2, "c": 3}
    assert lru.setdefault("a", 9) == 1 and lru.setdefault("e", 5) == 5
    assert lru.pop("e") == 5 and lru.pop("e", None) is None
    d.log.clear()
    lru.discard("a")
    lru.discard("zz")
    assert ("get", "a") not in d.log  # discard never reads the value
    assert lru == {"b": 2, "c": 3}
    lru.clear()
    assert len(lru) == 0 and lru.total_weight == 0 and not lru.weights
    with pytest.raises(KeyError):
        lru.popitem()
    check_consistent(lru)


# ------------------------------------------------------------- subclasses


class MyLRU(LRU):
    pass


def test_python_subclass_with_own_init_and_attributes():
    class Sub(LRU):
        def __init__(self, d, *, limit):
            super().__init__(limit, d, weight=by_value)
            self.extra = []

        def __getitem__(self, key):
            self.extra.append(key)
            return super().__getitem__(key)

    s = Sub({}, limit=5)
    s["a"] = 2
    s["b"] = 2
    assert s["a"] == 2 and s.extra == ["a"]
    s["c"] = 2
    assert list(s) == ["a", "c"]
    assert isinstance(s, LRU) and isinstance(s, MutableMapping)
    assert s.get("a") == 2 and s.extra == ["a", "a"]


def test_subclass_evict_override_used_by_setitem():
    class Sub(LRU):
        def evict(self, key=nodefault):
            out = super().evict(key)
            self.evicted.append(out)
            return out

    s = Sub(2, {})
    s.evicted = []
    s["a"] = 1
    s["b"] = 2
    s["c"] = 3
    s.set_noevict("d", 4)
    assert s.evicted == [("a", 1, 1)]
    s.evict_until_below_target()
    assert s.evicted == [("a", 1, 1), ("b", 2, 1)]
    assert dict(s) == {"c": 3, "d": 4}


def test_subclass_set_noevict_and_evict_until_below_target_overrides():
    calls = []

    class Sub(LRU):
        def set_noevict(self, key, value):
            calls.append(("set_noevict", key))
            super().set_noevict(key, value)

        def evict_until_below_target(self, n=None):
            calls.append(("evict_until", n))
            super().evict_until_below_target(n)

    s = Sub(1, {})
    s["a"] = 1
    s["b"] = 2
    assert calls == [
        ("set_noevict", "a"),
        ("evict_until", None),
        ("set_noevict", "b"),
        ("evict_until", None),
    ]
    assert dict(s) == {"b": 2}


# ------------------------------------------------------ the values' mapping


@pytest.mark.parametrize("cls", [LoggingDict, LoggingDictSubclass])
def test_non_dict_d_goes_through_its_own_methods(cls):
    d = cls()
    lru = LRU(2, d)
    lru["a"] = 1
    assert ("set", "a") in d.log
    d.log.clear()
    assert lru["a"] == 1
    assert d.log == [("get", "a")]
    d.log.clear()
    del lru["a"]
    assert d.log == [("del", "a")]
    lru["a"] = 1
    lru["b"] = 2
    d.log.clear()
    lru["c"] = 3  # evicts a: read for the callbacks, then deleted
    assert ("set", "c") in d.log and ("del", "a") in d.log
    d.log.clear()
    assert lru.get_all_or_nothing(["b", "c"]) == {"b": 2, "c": 3}
    assert d.log == [("get", "b"), ("get", "c")]
    assert dict(d) == {"b": 2, "c": 3}
    check_consistent(lru)


def test_non_dict_d_adopted_through_its_items():
    d = LoggingDict({"a": 1, "b": 2})
    lru = LRU(5, d)
    assert list(lru.order) == ["a", "b"]
    assert lru.total_weight == 2


# ------------------------------------------------------------------ stats


def test_stats_and_reset():
    lru = LRU(2, {})
    assert tuple(lru.stats) == (0, 0, 0)
    lru["a"] = 1
    lru["b"] = 2
    lru["a"]
    lru["a"]
    with pytest.raises(KeyError):
        lru["zz"]
    lru["c"] = 3  # evicts b
    lru.evict("a")
    lru.get_all_or_nothing(["c"])
    s = lru.stats
    assert (s.hits, s.misses, s.evictions) == (3, 1, 2)
    lru.reset_stats()
    assert tuple(lru.stats) == (0, 0, 0)

    def fail(k, v):
        raise Boom()

    lru.on_evict = fail
    with pytest.raises(Boom):
        lru.evict()
    assert lru.stats.evictions == 0  # a failed eviction is not counted


# --------------------------------------------------------------------- GC


class Holder:
    """Hashable object that holds a reference (to the LRU, closing a cycle)."""

    def __init__(self, ref):
        self.ref = ref


@pytest.mark.parametrize("where", ["key", "value", "weight", "callback", "nested"])
def test_cycles_through_the_lru_are_collected(where):
    gc.collect()
    lru = LRU(10, {}, weight=by_value if where == "weight" else (lambda k, v: 1))
    if where == "key":
        lru[Holder(lru)] = 1
    elif where == "value":
        lru["a"] = Holder(lru)
    elif where == "weight":

        class W(Fraction):
            pass

        w = W(1, 2)
        w.ref = lru
        lru["a"] = w
        del w
    elif where == "callback":
        lru.on_evict.append(lambda k, v, lru=lru: None)
    else:  # through another LRU's adopted d
        lru["other"] = LRU(10, {Holder(lru): lru})
    ref = weakref.ref(lru)
    del lru
    gc.collect()
    assert ref() is None


def test_keys_released_after_eviction_and_deletion():
    class K:
        pass

    lru = LRU(1, {})
    k1, k2 = K(), K()
    r1, r2 = weakref.ref(k1), weakref.ref(k2)
    lru[k1] = 1
    lru[k2] = 2  # evicts k1
    del k1
    assert r1() is None
    del lru[k2]
    del k2
    assert r2() is None


# --------------------------------------------------------------- bad keys


def test_unhashable_keys_raise_type_error_and_change_nothing():
    lru = LRU(3, {}, on_evict=lambda k, v: None)
    lru["a"] = 1
    before = snapshot(lru)
    for op in (
        lambda: lru.__setitem__([1], 2),
        lambda: lru.set_noevict([1], 2),
        lambda: lru[[1]],
        lambda: lru.__delitem__([1]),
        lambda: lru.evict([1]),
        lambda: lru.get_all_or_nothing(["a", [1]]),
    ):
        with pytest.raises(TypeError):
            op()
        assert snapshot(lru) == before


def test_key_whose_eq_raises():
    class BadEq:
        def __hash__(self):
            return hash("a")

        def __eq__(self, other):
            raise Boom("eq")

    lru = LRU(3, {})
    lru["a"] = 1
    before = snapshot(lru)
    with pytest.raises(Boom):
        lru[BadEq()] = 2
    assert snapshot(lru) == before
    check_consistent(lru)


def test_zict_core_is_the_lru_under_test():
    assert LRU is zict_core.LRU is zict_core.lru.LRU


# --------------------------------------------------------- faults in d


class FaultyDict(UserDict):
    """A MutableMapping whose methods raise Boom on cue."""

    def __init__(self):
        super().__init__()
        self.fail = set()

    def __getitem__(self, key):
        if "get" in self.fail:
            raise Boom("get")
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        if "set" in self.fail:
            raise Boom("set")
        super().__setitem__(key, value)

    def __delitem__(self, key):
        if "del" in self.fail:
            raise Boom("del")
        super().__delitem__(key)


@pytest.mark.parametrize(
    "fail, op",
    [
        ("set", lambda lru: lru.__setitem__("z", 5)),
        ("set", lambda lru: lru.__setitem__("a", 5)),
        ("set", lambda lru: lru.set_noevict("a", 5)),
        ("get", lambda lru: lru.evict()),
        ("get", lambda lru: lru.evict("b")),
        ("get", lambda lru: lru["a"]),
        ("get", lambda lru: lru.get_all_or_nothing(["b", "a"])),
        ("del", lambda lru: lru.evict()),
        ("del", lambda lru: lru.__delitem__("a")),
    ],
)
def test_d_raising_leaves_lru_unchanged(fail, op):
    log = []
    d = FaultyDict()
    lru = LRU(10, d, weight=by_value, on_evict=logger(log))
    lru["a"] = 1
    lru["b"] = 2
    lru["a"]
    before = snapshot(lru)
    d.fail.add(fail)
    with pytest.raises(Boom, match=fail):
        op(lru)
    d.fail.clear()
    assert snapshot(lru) == before
    check_consistent(lru)
    # and it keeps working
    lru.n = 1
    lru.evict_until_below_target()
    assert dict(lru) == {"a": 1}
