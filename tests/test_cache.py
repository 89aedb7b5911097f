"""zict_core.Cache and WeakValueMapping."""

from __future__ import annotations

import gc
import itertools
import pickle
import random
import threading
import time
import weakref
from collections import UserDict
from concurrent.futures import ThreadPoolExecutor

import pytest
import zict
from hypothesis import given, settings
from hypothesis import strategies as st

from zict_core import Cache, File, Func, WeakValueMapping
from zict_core.common import ZictBase

try:
    from tests.storage_utils import assert_real_zict, check_mapping, fd_leaks
except ImportError:
    from storage_utils import (  # type: ignore[no-redef]
        assert_real_zict,
        check_mapping,
        fd_leaks,
    )

__all__ = ["fd_leaks"]


def test_get_set_del():
    d = Cache({}, {})
    with pytest.raises(KeyError):
        d[0]
    assert (d.data, d.cache) == ({}, {})
    d[1] = 10
    assert (d.data, d.cache) == ({1: 10}, {1: 10})
    assert d[1] == 10
    d.cache.clear()
    assert d[1] == 10
    assert d.cache == {1: 10}
    d[1] = 20
    assert (d.data, d.cache) == ({1: 20}, {1: 20})
    del d[1]
    assert (d.data, d.cache) == ({}, {})
    with pytest.raises(KeyError):
        del d[1]
    assert d._last_updated == {}


def test_mapping():
    d = Cache({}, {})
    check_mapping(d)
    assert isinstance(d, ZictBase)
    assert Cache[str, bytes] is not None
    assert not d.cache and not d.data and not d._last_updated
    assert "Cache" in str(d) and "Cache" in repr(d)


def test_len_iter_contains_never_read_data():
    class NoReads(UserDict):
        def __getitem__(self, key):
            raise AssertionError("read")

    d = Cache(NoReads({1: 10, 2: 20}), {})
    assert len(d) == 2
    assert list(d) == [1, 2]
    assert 1 in d and 3 not in d
    assert d.keys() == {1, 2}
    assert d.cache == {}


def test_update_on_set_false():
    d = Cache({}, {}, update_on_set=False)
    d[1] = 10
    assert (d.data, d.cache) == ({1: 10}, {})
    assert d[1] == 10
    assert d.cache == {1: 10}
    d[1] = 20
    assert (d.data, d.cache) == ({1: 20}, {})


def test_keys_already_in_data_are_readable():
    """zict 3.0.0 raises KeyError here (it only knows keys written through it)."""
    d = Cache({"old": 1}, {})
    assert d["old"] == 1
    assert d.cache == {"old": 1}
    del d["old"]
    assert (d.data, d.cache, d._last_updated) == ({}, {}, {})
    with pytest.raises(KeyError):
        d["old"]
    assert d._last_updated == {}


def test_failed_write_invalidates_cache():
    class Refuse(UserDict):
        def __setitem__(self, key, value):
            if value == "fail":
                self.data.pop(key, None)
                raise OSError("disk full")
            super().__setitem__(key, value)

    d = Cache(Refuse(), {})
    d[1] = 10
    assert d.cache == {1: 10}
    with pytest.raises(OSError):
        d[1] = "fail"
    assert (d.data.data, d.cache, d._last_updated) == ({}, {}, {})


def test_failed_write_keeping_old_value(tmp_path, fd_leaks):
    """File keeps the old value when a write fails: so does the Cache."""
    d = Cache(File(tmp_path), {})
    d["k"] = b"old"
    with pytest.raises(TypeError):
        d["k"] = 123
    assert d["k"] == b"old"
    assert "k" in d._last_updated


class Value:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return self.n == other.n


def test_dask_stack(tmp_path, fd_leaks):
    """distributed's SpillBuffer slow tier: Cache(Func(File), WeakValueMapping())."""
    d = Cache(Func(pickle.dumps, pickle.loads, File(tmp_path)), WeakValueMapping())
    d["x"] = v = Value(1)
    assert d["x"] is v  # still alive: served from the weak cache
    del v
    gc.collect()
    assert "x" not in d.cache
    first = d["x"]
    assert first == Value(1)
    assert d["x"] is first  # cached again while alive
    d["s"] = "strings cannot be weakly referenced"
    assert d["s"] == "strings cannot be weakly referenced"
    assert "s" not in d.cache


def test_weakvaluemapping():
    class C:
        pass

    d = WeakValueMapping()
    assert isinstance(d, weakref.WeakValueDictionary)
    assert isinstance(d, ZictBase)
    assert d.lock is not None
    a = C()
    d["a"] = a
    assert d["a"] is a
    del a
    gc.collect()
    assert "a" not in d
    for bad in ("str", 1, b"bytes", (1, 2), None):
        d["b"] = bad
        assert "b" not in d
    # a key that held a live value does not keep it after a skipped write
    keep = C()
    d["k"] = keep
    d["k"] = "unreferenceable"
    assert "k" not in d
    d.update({"u": "x", "v": keep}, w=1)
    assert dict(d) == {"v": keep}
    assert d.setdefault("z", "x") == "x"
    assert "z" not in d
    assert d.setdefault("v", C()) is keep
    d |= {"q": 1, "r": keep}
    assert set(d) == {"v", "r"}
    assert WeakValueMapping({"x": keep}, y=keep, z=2) == {"x": keep, "y": keep}
    assert "WeakValueMapping" in str(d)
    d.discard("v")
    d.discard("v")
    assert "v" not in d
    d.close()


# races ----------------------------------------------------------------------


class Gate:
    """Blocks a call of the wrapped mapping until released."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def wait(self):
        self.entered.set()
        assert self.release.wait(5)


def make_slow(gates, when):
    class Slow(UserDict):
        def __getitem__(self, key):
            gate = gates.get("get")
            if gate is None:
                return self.data[key]
            if when["get"] == "before":
                try:
                    value = self.data[key]
                finally:
                    gate.wait()
                return value
            gate.wait()
            return self.data[key]

        def __setitem__(self, key, value):
            gate = gates.get(value)
            if gate is None:
                self.data[key] = value
                return
            if when[value] == "before":
                self.data[key] = value
                gate.wait()
            else:
                gate.wait()
                self.data[key] = value

    return Slow()


@pytest.mark.parametrize("update_on_set", [True, False])
@pytest.mark.parametrize("seed", [False, True])
@pytest.mark.parametrize("when", list(itertools.product(["before", "after"], repeat=3)))
@pytest.mark.parametrize("order", list(itertools.permutations(["get", 1, 2])))
def test_overlapping_get_and_sets(update_on_set, seed, when, order):
    """A read and two writes of one key all overlap, in every start/end order
    and with the data access before or after each pause: the cache stays empty
    or equal to data."""
    when = dict(zip(["get", 1, 2], when))
    gates = {}
    z = Cache(make_slow(gates, when), {}, update_on_set=update_on_set)
    if seed:
        z["x"] = 0
        z.cache.clear()  # so that the read goes to data
    gates.update({"get": Gate(), 1: Gate(), 2: Gate()})
    with ThreadPoolExecutor(3) as pool:
        futures = {}
        for op in order:  # start in this order
            if op == "get":
                futures[op] = pool.submit(z.get, "x")
            else:
                futures[op] = pool.submit(z.__setitem__, "x", op)
            assert gates[op].entered.wait(5)
        for op in reversed(order):  # end in the reverse order
            gates[op].release.set()
            futures[op].result()
    assert z.data.data["x"] in (1, 2)
    assert z.cache in ({}, z.data.data)
    assert set(z._last_updated) == {"x"}
    assert z["x"] == z.data.data["x"]


@pytest.mark.parametrize("update_on_set", [True, False])
@pytest.mark.parametrize("seed", [False, True])
@pytest.mark.parametrize("lands", ["before", "after"])
def test_delete_during_write(update_on_set, seed, lands):
    gates = {}
    z = Cache(make_slow(gates, {1: lands}), {}, update_on_set=update_on_set)
    if seed:
        z["x"] = 0
    gates[1] = Gate()
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(z.__setitem__, "x", 1)
        assert gates[1].entered.wait(5)
        try:
            del z["x"]
            deleted = True
        except KeyError:
            deleted = False
        gates[1].release.set()
        fut.result()
    if deleted:
        assert (z.data.data, z.cache, z._last_updated) == ({}, {}, {})
    else:
        assert z.data.data == {"x": 1}
        assert z.cache in ({}, {"x": 1})
        assert set(z._last_updated) == {"x"}


class SlowDict(UserDict):
    def __getitem__(self, key):
        time.sleep(random.random() * 0.0005)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        time.sleep(random.random() * 0.0005)
        super().__setitem__(key, value)


@pytest.mark.parametrize("update_on_set", [True, False])
def test_threads_same_key(update_on_set):
    """Writers, deleters and readers on a few keys: whenever the lock is free,
    the cache holds nothing data does not."""
    z = Cache(SlowDict(), {}, update_on_set=update_on_set)
    stop = time.monotonic() + 0.5
    errors = []

    def worker(i):
        r = random.Random(i)
        try:
            while time.monotonic() < stop:
                key = r.choice("ab")
                op = r.random()
                if op < 0.4:
                    z[key] = r.randrange(1000)
                elif op < 0.6:
                    z.discard(key)
                else:
                    z.get(key)
                with z.lock:
                    for k, v in z.cache.items():
                        assert z.data.data.get(k) == v
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    assert not errors, errors[0]
    for key in list(z.data):
        assert z[key] == z.data.data[key]
    assert set(z.cache) <= set(z.data.data)


@settings(deadline=None, max_examples=50)
@given(
    st.booleans(),
    st.lists(
        st.tuples(
            st.sampled_from(["set", "get", "del", "drop_cache"]),
            st.sampled_from("abc"),
            st.integers(0, 9),
        ),
        max_size=30,
    ),
)
def test_differential_against_zict(update_on_set, ops):
    assert_real_zict(zict)
    ours = Cache({}, {}, update_on_set=update_on_set)
    theirs = zict.Cache({}, {}, update_on_set=update_on_set)

    def apply(z, op, key, value):
        try:
            if op == "set":
                z[key] = value
            elif op == "get":
                return z[key]
            elif op == "del":
                del z[key]
            else:
                z.cache.pop(key, None)
        except KeyError:
            return KeyError
        return None

    for op in ops:
        assert apply(ours, *op) == apply(theirs, *op)
        assert (ours.data, ours.cache) == (theirs.data, theirs.cache)
        assert list(ours) == list(theirs)
        assert ours._last_updated.keys() == theirs._last_updated.keys()
