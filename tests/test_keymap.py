"""zict_core.KeyMap (zict's main-branch API: fn, d, keymap)."""

from __future__ import annotations

import threading
import time
from collections import UserDict
from concurrent.futures import ThreadPoolExecutor

import pytest

from zict_core import File, KeyMap
from zict_core.common import ZictBase

try:
    from tests.storage_utils import (
        check_mapping,
        check_threads_different_keys,
        check_threads_same_key,
        fd_leaks,
    )
except ImportError:
    from storage_utils import (  # type: ignore[no-redef]
        check_mapping,
        check_threads_different_keys,
        check_threads_same_key,
        fd_leaks,
    )

__all__ = ["fd_leaks"]


class SlowDict(UserDict):
    def __getitem__(self, key):
        time.sleep(0.0005)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        time.sleep(0.0005)
        super().__setitem__(key, value)


def test_simple():
    d = {}
    z = KeyMap(str, d)
    assert (z.fn, z.d, z.keymap) == (str, d, {})
    z[1] = 10
    assert d == {"1": 10}
    assert z.keymap == {1: "1"}
    assert 1 in z
    assert 2 not in z
    assert "1" not in z  # only the original keys are visible
    assert list(z) == [1]
    assert len(z) == 1
    assert z[1] == 10
    with pytest.raises(KeyError):
        z[2]
    z[1] = 11
    assert d == {"1": 11}
    del z[1]
    assert 1 not in z
    assert z.keymap == {}
    assert d == {}
    with pytest.raises(KeyError):
        del z[1]


def test_mapping():
    z = KeyMap(str.upper, {})
    check_mapping(z)
    assert isinstance(z, ZictBase)
    assert KeyMap[int, str, bytes] is not None
    assert "KeyMap" in str(z) and "upper" in repr(z)


def test_any_key_over_file(tmp_path, fd_leaks):
    z = KeyMap(repr, File(tmp_path))
    z[("x", 1)] = b"a"
    z[2] = b"b"
    assert z[("x", 1)] == b"a"
    assert list(z) == [("x", 1), 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "%28%27x%27%2C%201%29#0",
        "2#1",
    ]
    del z[("x", 1)]
    assert [p.name for p in tmp_path.iterdir()] == ["2#1"]


def test_fn_error_leaves_mapping_unchanged():
    z = KeyMap(lambda k: "k" + k, {})
    z["a"] = 1
    with pytest.raises(TypeError):
        z[1] = 2
    assert z.keymap == {"a": "ka"}
    assert z.d == {"ka": 1}


def test_failed_write_forgets_key():
    class Refuse(dict):
        def __setitem__(self, key, value):
            if value == "bad":
                raise ValueError(value)
            super().__setitem__(key, value)

    z = KeyMap(str, Refuse())
    with pytest.raises(ValueError):
        z[1] = "bad"
    assert z.keymap == {}
    z[1] = "good"
    with pytest.raises(ValueError):
        z[1] = "bad"
    # the wrapped mapping kept the old value: so does the KeyMap
    assert dict(z) == {1: "good"}


@pytest.mark.parametrize("lands", ["before", "after"])
def test_delete_during_write_wins(lands):
    """A delete that comes while d.__setitem__ runs removes the value it writes,
    whether the value lands before or after the delete."""
    entered, release = threading.Event(), threading.Event()

    class Blocking(UserDict):
        def __setitem__(self, key, value):
            if lands == "before":
                self.data[key] = value
            entered.set()
            assert release.wait(5)
            if lands == "after":
                self.data[key] = value

    z = KeyMap(str, Blocking())
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(z.__setitem__, 1, "v")
        assert entered.wait(5)
        del z[1]  # registered when the write started: the delete finds it
        release.set()
        fut.result()
    assert z.keymap == {}
    assert z.d.data == {}


def test_threads():
    check_threads_different_keys(KeyMap(str, SlowDict()))
    z = KeyMap(str, SlowDict())
    check_threads_same_key(z)
    assert z.keymap == {}
    assert not z.d


def test_flush_close():
    calls = []

    class Spy(dict):
        def flush(self):
            calls.append("flush")

        def close(self):
            calls.append("close")

    with KeyMap(str, Spy()) as z:
        z.flush()
    assert calls == ["flush", "close"]
