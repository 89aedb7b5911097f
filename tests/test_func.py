"""zict_core.Func: value transforms, streaming update, and zict.Func parity."""

from __future__ import annotations

import gc
import pickle
import tracemalloc
import zlib
from collections.abc import MutableMapping
from functools import partial

import pytest
import zict
from hypothesis import given, settings
from hypothesis import strategies as st

from zict_core import LMDB, File, Func
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


def inc(x):
    return x + 1


def dec(x):
    return x - 1


def rotl(b):
    return b[1:] + b[:1]


def rotr(b):
    return b[-1:] + b[:-1]


def test_simple():
    d = {}
    f = Func(inc, dec, d)
    assert (f.dump, f.load, f.d) == (inc, dec, d)
    f["x"] = 10
    assert d == {"x": 11}
    assert f["x"] == 10
    assert "x" in f
    assert list(f) == ["x"]
    assert list(f.items()) == [("x", 10)]
    assert len(f) == 1
    for s in (str(f), repr(f)):
        assert "Func" in s and "inc" in s and "dec" in s and "x" in s
    del f["x"]
    assert d == {}
    with pytest.raises(KeyError):
        f["x"]


def test_mapping():
    f = Func(rotl, rotr, {})
    check_mapping(f)
    assert isinstance(f, ZictBase)
    assert Func[str, bytes, bytes] is not None


def test_funcname_sees_through_partial():
    f = Func(partial(pickle.dumps, protocol=5), pickle.loads, {})
    assert "dumps<->loads" in str(f)

    class Callable:
        def __call__(self, x):
            return x

    assert "Callable object" in str(Func(Callable(), Callable(), {}))


def test_dump_error_leaves_mapping_unchanged():
    d = {"x": 1}
    f = Func(inc, dec, d)
    with pytest.raises(TypeError):
        f["x"] = "not a number"
    assert d == {"x": 1}


@pytest.mark.parametrize("base", [MutableMapping, ZictBase])
def test_update_streams(base):
    """update() dumps a value only when the wrapped mapping takes it."""
    alive = []

    class Dumped:
        def __init__(self):
            gc.collect()
            alive.append(1)
            assert len(alive) < 3, "update() held several dumped values"

        def __del__(self):
            alive.pop()

    class Sink(base):
        def __setitem__(self, key, value):
            pass

        def __getitem__(self, key):
            raise KeyError(key)

        def __delitem__(self, key):
            raise KeyError(key)

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

    f = Func(lambda v: Dumped(), lambda w: None, Sink())
    f.update(dict.fromkeys(range(20)))
    f.update(((i, None) for i in range(20)), k=None)


@pytest.mark.parametrize("store", ["file", "lmdb"])
def test_update_streams_into_storage(tmp_path, fd_leaks, store):
    """Func(…, File) and Func(…, LMDB): peak memory of update() is about one
    dumped value, not all of them."""
    d = File(tmp_path) if store == "file" else LMDB(tmp_path, map_size=2**28)
    f = Func(lambda n: bytes(n), len, d)
    tracemalloc.start()
    try:
        f.update((f"k{i}", 2**20) for i in range(20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak
    assert f["k7"] == 2**20
    assert len(f) == 20
    f.close()


def test_spill_stack_round_trip(tmp_path, fd_leaks):
    f = Func(
        pickle.dumps, pickle.loads, Func(zlib.compress, zlib.decompress, File(tmp_path))
    )
    value = {"a": list(range(1000)), "b": "x" * 10_000}
    f["k"] = value
    assert f["k"] == value
    assert len(list(tmp_path.iterdir())) == 1
    assert (tmp_path / "k#0").stat().st_size < 5000  # compressed on disk


def test_flush_and_close_pass_through():
    calls = []

    class Spy(dict):
        def flush(self):
            calls.append("flush")

        def close(self):
            calls.append("close")

    f = Func(inc, dec, Spy())
    f.flush()
    f.close()
    assert calls == ["flush", "close"]
    with Func(inc, dec, Spy()):
        pass
    assert calls[-1] == "close"
    Func(inc, dec, {}).close()  # nothing to close: fine


@settings(deadline=None, max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "get", "del", "update"]),
            st.sampled_from("abc"),
            st.integers(-5, 5),
        ),
        max_size=30,
    )
)
def test_differential_against_zict(ops):
    assert_real_zict(zict)
    ours, theirs = Func(inc, dec, {}), zict.Func(inc, dec, {})

    def apply(f, op, key, value):
        try:
            if op == "set":
                f[key] = value
            elif op == "get":
                return f[key]
            elif op == "del":
                del f[key]
            else:
                f.update({key: value}, z=value)
        except KeyError:
            return KeyError
        return None

    for op in ops:
        assert apply(ours, *op) == apply(theirs, *op)
        assert ours.d == theirs.d
        assert list(ours.items()) == list(theirs.items())
    assert str(ours) == str(theirs)
