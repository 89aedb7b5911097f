"""Helpers shared by the Buffer tests (test_buffer*.py, test_async_buffer.py)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import zict_core

#: Seconds any test waits for an Event / a join before declaring a hang.
WAIT = 10.0


def assert_real_zict(module: Any) -> None:
    """A differential oracle must be zict 3.0.0 itself, not zict_core aliased as
    ``zict`` by install_as_zict()."""
    assert module.__name__ == "zict"
    assert module is not zict_core
    assert module.__version__ == "3.0.0"
    # not a module file of the zict_core package (whatever the directory names)
    assert not module.__file__.startswith(zict_core.__path__[0])
    assert module.Buffer is not zict_core.Buffer
    assert module.Buffer.__module__ == "zict.buffer"
    assert module.LRU.__module__ == "zict.lru"


class NoOverwriteDict(dict):
    """A slow tier that fails the test if a key is ever written over an existing
    one (dask asserts this in its spill buffer)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        assert key not in self, f"slow already holds {key!r}"
        super().__setitem__(key, value)


class FaultDict(dict):
    """A slow tier whose writes/reads fail on cue.

    - ``fail_set``: a set of keys whose writes raise; or ``fail_next_set`` > 0
      fails that many upcoming writes.
    - ``fail_get``: keys whose reads raise.
    - ``store_then_fail``: writes store the value, then raise (a partial write).
    The exceptions raised are kept in ``raised`` (to check identity).
    """

    def __init__(
        self, *args: Any, exc: Callable[[], BaseException] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.exc = exc or (lambda: OSError(28, "No space left on device"))
        self.fail_set: set[Any] = set()
        self.fail_get: set[Any] = set()
        self.fail_next_set = 0
        self.store_then_fail = False
        self.raised: list[BaseException] = []
        self.sets: list[Any] = []
        self.gets: list[Any] = []

    def _fail(self) -> None:
        e = self.exc()
        self.raised.append(e)
        raise e

    def __setitem__(self, key: Any, value: Any) -> None:
        self.sets.append(key)
        fail = key in self.fail_set
        if self.fail_next_set > 0:
            self.fail_next_set -= 1
            fail = True
        if fail:
            if self.store_then_fail:
                super().__setitem__(key, value)
            self._fail()
        super().__setitem__(key, value)

    def __getitem__(self, key: Any) -> Any:
        self.gets.append(key)
        if key in self.fail_get and key in self:
            self._fail()
        return super().__getitem__(key)


class NoReadDict(dict):
    """A slow tier that must never be read (``__contains__`` is fine)."""

    def __getitem__(self, key: Any) -> Any:
        raise AssertionError(f"slow[{key!r}] was read")

    def get(self, key: Any, default: Any = None) -> Any:
        raise AssertionError(f"slow.get({key!r}) was read")


class NoReadFast(dict):
    """A fast tier that must never be read through __getitem__/get."""

    def __getitem__(self, key: Any) -> Any:
        raise AssertionError(f"fast[{key!r}] was read")

    def get(self, key: Any, default: Any = None) -> Any:
        raise AssertionError(f"fast.get({key!r}) was read")


class Recorder:
    """A callback recording its calls as (key, value)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, key: Any, value: Any) -> None:
        self.calls.append((key, value))


class GatedSlow(dict):
    """A slow tier that parks one chosen access until the test releases it.

    ``arm("set"|"get", key, when="before"|"after")``: the next matching access
    sets ``entered`` and waits for ``release``; "before" blocks before the dict
    operation, "after" once it is done (for a read: the value is already read).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.armed: tuple[str, Any, str] | None = None
        self.entered = threading.Event()
        self.release = threading.Event()

    def arm(self, op: str, key: Any, when: str = "before") -> None:
        self.entered.clear()
        self.release.clear()
        self.armed = (op, key, when)

    def _gate(self, op: str, key: Any, when: str) -> None:
        if self.armed == (op, key, when):
            self.armed = None
            self.entered.set()
            assert self.release.wait(WAIT), "test never released the gate"

    def __setitem__(self, key: Any, value: Any) -> None:
        self._gate("set", key, "before")
        super().__setitem__(key, value)
        self._gate("set", key, "after")

    def __getitem__(self, key: Any) -> Any:
        self._gate("get", key, "before")
        value = super().__getitem__(key)
        self._gate("get", key, "after")
        return value


class SleepySlow(dict):
    """A slow tier for the stress tests: every read and write sleeps (a random
    time up to twice ``sleep``, so that concurrent writes finish out of order);
    writes raise OSError with probability ``p_fail``. Each thread sets its own
    seeded Random as ``slow.rng.r``; threads without one sleep ``sleep`` and
    never fail."""

    def __init__(self, sleep: float = 0.0005, p_fail: float = 0.0) -> None:
        super().__init__()
        self.sleep = sleep
        self.p_fail = p_fail
        self.rng = threading.local()
        self.failures = 0
        self._count_lock = threading.Lock()

    def _nap(self) -> Any:
        rng = getattr(self.rng, "r", None)
        time.sleep(self.sleep if rng is None else rng.uniform(0, 2 * self.sleep))
        return rng

    def __setitem__(self, key: Any, value: Any) -> None:
        rng = self._nap()
        if rng is not None and rng.random() < self.p_fail:
            with self._count_lock:
                self.failures += 1
            raise OSError(28, "No space left on device (injected)")
        super().__setitem__(key, value)

    def __getitem__(self, key: Any) -> Any:
        self._nap()
        return super().__getitem__(key)


def join_all(threads: Iterable[threading.Thread], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        assert not t.is_alive(), f"thread {t.name} hung"


def check_consistent(buf: Any) -> None:
    """Bookkeeping of a quiescent Buffer (no thread inside it)."""
    fast = buf.fast
    keys = list(fast.d)
    assert set(fast.weights) == set(keys)
    assert sorted(map(repr, fast.order)) == sorted(map(repr, keys))
    total = fast.total_weight
    expect = sum(fast.weights.values())
    if isinstance(total, float) or isinstance(expect, float):
        assert math.isclose(total, expect, abs_tol=1e-9)
    else:
        assert total == expect
    both = set(keys) & set(buf.slow.keys())
    assert not both, f"keys in both tiers: {both}"
    assert len(buf) == len(keys) + len(buf.slow)
    assert sorted(map(repr, buf)) == sorted(map(repr, keys + list(buf.slow.keys())))
