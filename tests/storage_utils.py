"""Helpers shared by the storage-layer tests (File, Func, Sieve, KeyMap, LMDB, Zip,
Cache): generic mapping checks, bad-input checks, thread checks and fixtures.

Test modules import the fixtures by name (``from storage_utils import fd_leaks``)
so that pytest finds them without a conftest.py.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import threading
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from concurrent.futures import ThreadPoolExecutor

import pytest

try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None


def assert_real_zict(module) -> None:
    """The differential tests are worthless if ``zict`` is zict_core in disguise."""
    import zict_core

    assert module.__name__ == "zict"
    assert getattr(module, "__version__", None) == "3.0.0"
    assert module is not zict_core
    # not a module file of the zict_core package (whatever the directory names)
    assert not module.__file__.startswith(zict_core.__path__[0])


def open_fds() -> int:
    gc.collect()
    return psutil.Process().num_fds()


@pytest.fixture
def fd_leaks():
    """Fail the test if it leaves file descriptors open (checked after a GC)."""
    if psutil is None or sys.platform == "win32":
        yield
        return
    before = open_fds()
    yield
    after = open_fds()
    assert after == before, f"{after - before} file descriptor(s) leaked"


def check_views(z: MutableMapping, expected: dict) -> None:
    """Every way of reading the mapping agrees with *expected*, in one order."""
    items = list(z.items())
    assert len(items) == len(expected) == len(z)
    assert dict(items) == expected
    assert [k for k, _ in items] == list(z) == list(z.keys())
    assert [v for _, v in items] == list(z.values())
    assert isinstance(z.keys(), KeysView)
    assert isinstance(z.values(), ValuesView)
    assert isinstance(z.items(), ItemsView)
    for k, v in expected.items():
        assert k in z
        assert k in z.keys()  # noqa: SIM118 (the view itself)
        assert (k, v) in z.items()
        assert v in z.values()
        assert z[k] == v
        assert z.get(k) == v
    sentinel = object()
    assert sentinel not in z
    assert sentinel not in z.keys()  # noqa: SIM118 (the view itself)
    assert sentinel not in z.values()
    assert (sentinel, sentinel) not in z.items()
    assert z.get("no such key") is None
    assert z.get("no such key", sentinel) is sentinel


def check_mapping(
    z: MutableMapping,
    *,
    can_delete: bool = True,
    can_overwrite: bool = True,
    empty_key: bool = True,
) -> None:
    """The MutableMapping behaviour of a str -> bytes mapping, starting empty."""
    name = type(z).__name__
    assert name in str(z)
    assert name in repr(z)
    assert isinstance(z, MutableMapping)
    assert not z
    check_views(z, {})
    with pytest.raises(KeyError):
        z["missing"]

    expected = {"abc": b"456", "xyz": b"12", "e": b""}
    if empty_key:
        expected[""] = b"empty key"
    for k, v in expected.items():
        z[k] = v
    check_views(z, expected)

    if can_overwrite:
        z.update({"xyz": b"707"}, uvw=b"000")
        expected.update(xyz=b"707", uvw=b"000")
        check_views(z, expected)
        z.update([("xyz", b"654"), ("uvw", b"999")])
        expected.update(xyz=b"654", uvw=b"999")
        check_views(z, expected)
        z.update(iter([("foo", b"132"), ("bar", b"887")]))  # a one-shot iterator
        expected.update(foo=b"132", bar=b"887")
        check_views(z, expected)
        z["abc"] = b"overwritten"
        expected["abc"] = b"overwritten"
        check_views(z, expected)
    else:
        z.update({"new1": b"1"}, new2=b"2")
        expected.update(new1=b"1", new2=b"2")
        check_views(z, expected)

    if not can_delete:
        return
    del z["abc"]
    del expected["abc"]
    with pytest.raises(KeyError):
        z["abc"]
    with pytest.raises(KeyError):
        del z["abc"]
    assert "abc" not in z
    check_views(z, expected)
    assert z.pop("xyz") == expected.pop("xyz")
    assert z.pop("xyz", None) is None
    assert z.setdefault("new", b"n") == b"n"
    expected["new"] = b"n"
    check_views(z, expected)
    del z["new"]
    del expected["new"]
    check_views(z, expected)

    # shuffle values between keys a few times
    r = random.Random(0)
    keys = [f"k{i}" for i in range(20)]
    for _ in range(3):
        values = [bytes(r.randrange(256) for _ in range(r.randrange(8))) for _ in keys]
        for k, v in zip(keys, values):
            z[k] = v
        expected.update(zip(keys, values))
        check_views(z, expected)
        r.shuffle(values)
        z.update(zip(keys, values))
        expected.update(zip(keys, values))
        check_views(z, expected)

    z.clear()
    assert not z
    check_views(z, {})


def check_bad_keys(z: MutableMapping, *, can_delete: bool = True) -> None:
    """Non-str keys: TypeError naming the type on writes, KeyError on reads, and
    the mapping is left unchanged."""
    before = dict(z.items())
    for bad in (object(), 1, b"bytes", ("a", "tuple")):
        assert bad not in z
        assert bad not in z.keys()  # noqa: SIM118 (the view itself)
        assert (bad, b"1") not in z.items()
        with pytest.raises(TypeError, match=type(bad).__name__):
            z[bad] = b"123"
        with pytest.raises(TypeError, match=type(bad).__name__):
            z.update({bad: b"123"})
        with pytest.raises(KeyError):
            z[bad]
        if can_delete:
            with pytest.raises(KeyError):
                del z[bad]
        assert dict(z.items()) == before


def check_bad_values(z: MutableMapping) -> None:
    """Values of the wrong type: TypeError naming the type, mapping unchanged."""
    before = dict(z.items())
    for bad in (object(), 123, "a str", None):
        assert bad not in z.values()
        assert ("x", bad) not in z.items()
        with pytest.raises(TypeError, match=type(bad).__name__):
            z["x"] = bad
        with pytest.raises(TypeError, match=type(bad).__name__):
            z.update({"x": bad})
        assert dict(z.items()) == before


def check_threads_different_keys(z: MutableMapping, rounds: int = 30) -> None:
    """Two threads set/get/delete their own key: never see each other's value."""
    start = threading.Barrier(2)

    def worker(key: str, value: bytes) -> None:
        start.wait()
        for _ in range(rounds):
            z[key] = value
            assert z[key] == value
            assert key in z
            del z[key]
            assert key not in z
            with pytest.raises(KeyError):
                z[key]
            assert len(z) in (0, 1)

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(worker, "x", b"123"), pool.submit(worker, "y", b"45")]
        for f in futures:
            f.result()
    assert not z


def check_threads_same_key(z: MutableMapping, rounds: int = 30) -> None:
    """Setters, updaters, deleters and readers hammer one key: a read sees one of
    the values written, the mapping stays consistent."""
    start = threading.Barrier(4)
    values = (b"123", b"4567")

    def setter():
        start.wait()
        for _ in range(rounds):
            z["x"] = values[0]

    def updater():
        start.wait()
        for _ in range(rounds):
            z.update(x=values[1])

    def deleter():
        start.wait()
        for _ in range(rounds):
            try:
                del z["x"]
            except KeyError:
                pass

    def reader():
        start.wait()
        for _ in range(rounds):
            try:
                assert z["x"] in values
            except KeyError:
                pass

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(f) for f in (setter, updater, deleter, reader)]
        for f in futures:
            f.result()
    assert list(z) in ([], ["x"])
    if "x" in z:
        assert z["x"] in values
    z.pop("x", None)
    assert not z


def listdir(path) -> list[str]:
    return sorted(os.listdir(path))
