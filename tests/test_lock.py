"""The C-level reentrant lock (zict_core._base.RLock, the ``lock`` of every LRU).

Every test that involves another thread bounds its waits, so a broken lock fails
the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import UserDict
from pathlib import Path

import pytest
from lru_utils import Boom, join, start_thread

from zict_core import LRU
from zict_core._base import RLock

REPO = str(Path(__file__).resolve().parent.parent)


@pytest.fixture(params=["RLock()", "LRU.lock"])
def lock(request):
    if request.param == "RLock()":
        return RLock()
    return LRU(2, {}).lock


def held_elsewhere(lock):
    """Start a thread that takes *lock* and keeps it until the returned event is
    set; returns (event, thread, out)."""
    taken = threading.Event()
    release = threading.Event()

    def hold():
        with lock:
            taken.set()
            assert release.wait(10)

    t, out = start_thread(hold)
    assert taken.wait(10)
    return release, t, out


def free_elsewhere(lock) -> bool:
    """True if another thread can take *lock* right now (it releases it again)."""

    def probe():
        if lock.acquire(blocking=False):
            lock.release()
            return True
        return False

    t, out = start_thread(probe)
    return join(t, out)


def test_each_lru_has_its_own_rlock():
    a, b = LRU(2, {}), LRU(2, {})
    assert isinstance(a.lock, RLock)
    assert a.lock is not b.lock
    assert a.lock is a.lock
    with a.lock:
        assert free_elsewhere(b.lock)
        assert not free_elsewhere(a.lock)


def test_reentrancy(lock):
    assert lock.acquire() is True
    assert lock.acquire() is True
    assert lock.acquire(blocking=False) is True
    assert lock._is_owned()
    lock.release()
    lock.release()
    assert not free_elsewhere(lock)  # still held once
    lock.release()
    assert free_elsewhere(lock)
    assert not lock._is_owned()
    with pytest.raises(RuntimeError):
        lock.release()  # one release too many


def test_release_unheld_lock_raises(lock):
    with pytest.raises(RuntimeError):
        lock.release()
    assert free_elsewhere(lock)


def test_release_by_non_owner_raises(lock):
    release, t, out = held_elsewhere(lock)
    try:
        with pytest.raises(RuntimeError):
            lock.release()
        assert not lock._is_owned()
        # the owner still holds it
        assert lock.acquire(blocking=False) is False
    finally:
        release.set()
    join(t, out)
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_non_blocking_acquire_while_held_by_another_thread(lock):
    release, t, out = held_elsewhere(lock)
    try:
        t0 = time.monotonic()
        assert lock.acquire(blocking=False) is False
        assert lock.acquire(False) is False
        assert lock.acquire(timeout=0) is False
        assert time.monotonic() - t0 < 5  # did not wait for the holder
    finally:
        release.set()
    join(t, out)
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_acquire_timeout(lock):
    release, t, out = held_elsewhere(lock)
    try:
        t0 = time.monotonic()
        assert lock.acquire(timeout=0.2) is False
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.15, elapsed
        assert elapsed < 5, elapsed
    finally:
        release.set()
    join(t, out)
    # a timed acquire of a free lock succeeds at once
    assert lock.acquire(timeout=5) is True
    lock.release()


def test_timed_acquire_succeeds_when_released_meanwhile(lock):
    release, t, out = held_elsewhere(lock)
    threading.Timer(0.1, release.set).start()
    t0 = time.monotonic()
    assert lock.acquire(timeout=10) is True
    assert time.monotonic() - t0 < 9
    lock.release()
    join(t, out)


def test_blocking_acquire_waits_for_release(lock):
    release, t, out = held_elsewhere(lock)
    got = threading.Event()

    def waiter():
        with lock:
            got.set()

    t2, out2 = start_thread(waiter)
    assert not got.wait(0.2)  # blocked while held
    release.set()
    assert got.wait(10)
    join(t, out)
    join(t2, out2)


@pytest.mark.parametrize(
    "kwargs",
    [{"blocking": False, "timeout": 1}, {"timeout": -2}],
)
def test_invalid_acquire_arguments(lock, kwargs):
    """As threading.RLock: the arguments are checked whether or not the lock is
    free."""
    with pytest.raises(ValueError):
        threading.RLock().acquire(**kwargs)
    with pytest.raises(ValueError):
        lock.acquire(**kwargs)
    assert free_elsewhere(lock)


def test_invalid_acquire_arguments_while_held_elsewhere(lock):
    release, t, out = held_elsewhere(lock)
    try:
        with pytest.raises(ValueError):
            lock.acquire(blocking=False, timeout=1)
        with pytest.raises(ValueError):
            lock.acquire(timeout=-2)
    finally:
        release.set()
    join(t, out)


def test_context_manager(lock):
    with lock as entered:
        assert entered is True
        assert not free_elsewhere(lock)
        with lock:
            assert lock._is_owned()
        assert not free_elsewhere(lock)
    assert free_elsewhere(lock)
    with pytest.raises(Boom), lock:
        raise Boom()
    assert free_elsewhere(lock)


def test_mutual_exclusion(lock):
    counter = [0]
    nthreads, rounds = 4, 200

    def work():
        for _ in range(rounds):
            with lock:
                v = counter[0]
                time.sleep(0)  # invite a thread switch inside the section
                counter[0] = v + 1

    threads = [start_thread(work) for _ in range(nthreads)]
    for t, out in threads:
        join(t, out, timeout=60)
    assert counter[0] == nthreads * rounds


def test_lock_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(RLock())


def test_unlock_releases_and_retakes():
    lru = LRU(2, {})
    with lru.lock:
        with lru.unlock():
            assert free_elsewhere(lru.lock)
        assert not free_elsewhere(lru.lock)
        with pytest.raises(Boom), lru.unlock():
            raise Boom()
        assert lru.lock._is_owned()
        assert not free_elsewhere(lru.lock)
    assert free_elsewhere(lru.lock)


def test_lru_methods_hold_the_lock():
    """d's methods run under the LRU's lock (another thread cannot take it)."""
    seen = []

    class D(UserDict):
        def __getitem__(self, key):
            seen.append(("get", free_elsewhere(lru.lock)))
            return super().__getitem__(key)

        def __setitem__(self, key, value):
            seen.append(("set", free_elsewhere(lru.lock)))
            super().__setitem__(key, value)

    lru = LRU(2, D())
    lru["a"] = 1
    lru["a"]
    assert seen == [("set", False), ("get", False)]


# ------------------------------------------------------- THE deadlock test

# Runs in a subprocess: if a blocking acquire kept the GIL, no thread of the
# process (not even pytest-timeout's) could ever run again, so only a parent
# process with a timeout can report the hang instead of hanging with it.
DEADLOCK_SCRIPT = r"""
import json, sys, threading, time
from collections import UserDict
from pathlib import Path
from zict_core import LRU

class SlowDict(UserDict):
    # __getitem__ sleeps (releasing the GIL) while `delay` is set
    def __init__(self, *args, **kwargs):
        self.entered = threading.Event()
        self.delay = 0.0
        super().__init__(*args, **kwargs)

    def __getitem__(self, key):
        if self.delay:
            self.entered.set()
            time.sleep(self.delay)
        return super().__getitem__(key)

def run(op):
    d = SlowDict({"a": 1, "b": 2})
    lru = LRU(10, d)
    d.delay = 0.5
    out = {}

    def holder():
        out["a"] = lru["a"]

    def other():
        t0 = time.monotonic()
        if op == "get":
            r = lru["b"]
        elif op == "set":
            lru["c"] = 3
            r = d.data["c"]
        elif op == "del":
            del lru["b"]
            r = "b" in d.data
        elif op == "evict":
            r = list(lru.evict("b"))
        else:
            with lru.lock:
                r = "locked"
        out["b"] = r
        out["waited"] = time.monotonic() - t0

    t1 = threading.Thread(target=holder, daemon=True)
    t1.start()
    assert d.entered.wait(10)
    out["held"] = not lru.lock.acquire(blocking=False)
    d.delay = 0.0
    t2 = threading.Thread(target=other, daemon=True)
    t2.start()
    t1.join(20)
    t2.join(20)
    out["alive"] = [t1.is_alive(), t2.is_alive()]
    out["free"] = lru.lock.acquire(blocking=False)
    return out

print(json.dumps({op: run(op) for op in sys.argv[1:]}))
"""

DEADLOCK_OPS = {
    "get": 2,
    "set": 3,
    "del": False,
    "evict": ["b", 2, 1],
    "with-lock": "locked",
}


def test_waiting_for_the_lock_releases_the_gil():
    """Thread A holds the LRU lock inside a sleeping d.__getitem__; thread B then
    needs the lock (lru[k], lru[k] = v, del, evict, ``with lru.lock``). If B waited
    for it while holding the GIL, A could never wake up from time.sleep() to
    finish and release it: both would hang."""
    proc = subprocess.run(
        [sys.executable, "-c", DEADLOCK_SCRIPT, *DEADLOCK_OPS],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    for op, expected in DEADLOCK_OPS.items():
        r = results[op]
        assert r["held"], op  # A held the lock while it slept
        assert r["alive"] == [False, False], op
        assert r["a"] == 1 and r["b"] == expected, (op, r)
        assert r["waited"] > 0.05, (op, r)  # B really had to wait for A
        assert r["free"], op


def test_many_waiters_all_get_through():
    """Seven threads queue up behind a holder; each gets the lock in turn (run
    in-process: test_waiting_for_the_lock_releases_the_gil already proved that
    waiting does not keep the GIL)."""

    class SlowDict(UserDict):
        def __init__(self, *args):
            self.entered = threading.Event()
            self.delay = 0.0
            super().__init__(*args)

        def __getitem__(self, key):
            if self.delay:
                self.entered.set()
                time.sleep(self.delay)
            return super().__getitem__(key)

    d = SlowDict({i: i for i in range(8)})
    lru = LRU(100, d)
    d.delay = 0.3
    t1, out1 = start_thread(lru.__getitem__, 0)
    assert d.entered.wait(10)
    d.delay = 0.0
    waiters = [start_thread(lru.__getitem__, i) for i in range(1, 8)]
    assert join(t1, out1, timeout=20) == 0
    assert [join(t, out, timeout=20) for t, out in waiters] == list(range(1, 8))
    assert free_elsewhere(lru.lock)
