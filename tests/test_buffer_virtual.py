"""Internal Buffer paths call a subclass's evict_until_below_target override."""

from __future__ import annotations

import pytest

from zict_core import Buffer


class Recording(Buffer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def evict_until_below_target(self, n=None):
        self.calls.append(n)
        super().evict_until_below_target(n)


def test_setitem_calls_override():
    buf = Recording({}, {}, 2)
    buf["a"] = 1
    buf["b"] = 2
    buf["c"] = 3
    assert buf.calls == [None, None, None]
    assert set(buf.slow) == {"a"} and set(buf.fast) == {"b", "c"}


def test_promotion_calls_override():
    buf = Recording({}, {}, 1)
    buf["a"] = 1
    buf["b"] = 2
    buf.calls.clear()
    assert buf["a"] == 1
    assert buf.calls == [None]
    assert set(buf.fast) == {"a"} and set(buf.slow) == {"b"}


def test_plain_buffer_does_not_need_override():
    buf = Buffer({}, {}, 1)
    buf["a"] = 1
    buf["b"] = 2
    assert set(buf.slow) == {"a"}


def test_override_failure_with_heavy_key_evicts_the_rest():
    class Failing(Recording):
        def fast_to_slow(self, key, value):
            if key == "big":
                raise OSError("disk full")
            super().fast_to_slow(key, value)

    buf = Failing({}, {}, 10, weight=lambda k, v: v)
    buf["a"] = 3
    buf["b"] = 3
    with pytest.raises(OSError, match="disk full"):
        buf["big"] = 20
    # the heavy key could not be spilled: the others were, to make room
    assert set(buf.fast) == {"big"}
    assert set(buf.slow) == {"a", "b"}


def test_promotion_whose_slow_delete_fails_leaves_key_in_slow_only():
    class StickySlow(dict):
        def __delitem__(self, key):
            raise OSError("read-only file system")

    buf = Buffer({}, StickySlow(), 2)
    dict.__setitem__(buf.slow, "a", 1)
    with pytest.raises(OSError, match="read-only"):
        buf["a"]
    assert "a" not in buf.fast
    assert dict(buf.slow) == {"a": 1}
    assert len(buf) == 1
