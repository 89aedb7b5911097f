"""Helpers shared by the LRU tests (test_lru*.py, test_lock.py)."""

from __future__ import annotations

import threading
from collections import UserDict
from typing import Any, Callable

import zict_core


def assert_real_zict(module: Any) -> None:
    """The oracle of a differential test must be zict 3.0.0 itself, not zict_core
    installed under the name ``zict``."""
    assert module.__name__ == "zict"
    assert module is not zict_core
    assert getattr(module, "__version__", None) == "3.0.0"
    # not a module file of the zict_core package (whatever the directory names)
    assert not module.__file__.startswith(zict_core.__path__[0])
    assert module.LRU is not zict_core.LRU
    assert module.LRU.__module__ == "zict.lru"


def snapshot(lru: Any) -> dict[str, Any]:
    """Everything observable about an LRU (types of the numbers included)."""
    return {
        "d": list(lru.d.items()),
        "iter": list(lru),
        "order": list(lru.order),
        "heavy": list(lru.heavy),
        "weights": [(k, w, type(w)) for k, w in lru.weights.items()],
        "total_weight": (lru.total_weight, type(lru.total_weight)),
        "n": (lru.n, type(lru.n)),
        "offset": (lru.offset, type(lru.offset)),
        "len": len(lru),
        "closed": lru.closed,
    }


def check_consistent(lru: Any) -> None:
    """The LRU's bookkeeping agrees with its values' mapping (call it while no
    eviction is under way)."""
    keys = set(lru.d.keys())
    weights = dict(lru.weights)
    order = list(lru.order)
    heavy = list(lru.heavy)
    assert set(weights) == keys, set(weights) ^ keys
    assert len(order) == len(set(order)) == len(keys)
    assert set(order) == keys
    assert len(heavy) == len(set(heavy))
    assert set(heavy) <= keys
    assert len(lru) == len(keys)
    total = lru.total_weight
    expect = sum(weights.values())
    if isinstance(total, float) or isinstance(expect, float):
        # A running float total (zict's too) drifts from a fresh sum by rounding.
        assert abs(total - expect) <= 1e-9 * max(1.0, abs(expect))
    else:
        # exact types (int, Fraction, Decimal) match exactly
        assert total == expect


class LoggingDict(UserDict):
    """A MutableMapping (not a dict) that logs every item access."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.log: list[tuple[str, Any]] = []
        super().__init__(*args, **kwargs)
        self.log.clear()

    def __getitem__(self, key: Any) -> Any:
        self.log.append(("get", key))
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.log.append(("set", key))
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.log.append(("del", key))
        super().__delitem__(key)


class LoggingDictSubclass(dict):
    """A dict subclass that logs every item access (no fast path allowed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[tuple[str, Any]] = []

    def __getitem__(self, key: Any) -> Any:
        self.log.append(("get", key))
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.log.append(("set", key))
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.log.append(("del", key))
        super().__delitem__(key)


class Boom(Exception):
    """The exception tests inject."""


def start_thread(
    target: Callable[..., Any], *args: Any
) -> tuple[threading.Thread, dict]:
    """Run target(*args) in a daemon thread; the returned dict receives
    ``result`` or ``error`` once it ends."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def join(t: threading.Thread, out: dict, timeout: float = 10.0) -> Any:
    """Join a thread from start_thread; fail (not hang) if it is stuck and re-raise
    its exception."""
    t.join(timeout)
    assert not t.is_alive(), f"thread {t.name} still running after {timeout}s"
    if "error" in out:
        raise out["error"]
    return out.get("result")
