"""zict_core.LRU under threads: a seeded stress test and forced races.

The stress test runs for ZICT_CORE_STRESS_SECONDS (default 3 s); a failure prints
the seed (replay the operation choices with ZICT_CORE_SEED=<seed>; the thread
interleaving itself cannot be replayed).
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
import zict
from lru_utils import assert_real_zict, check_consistent, join, start_thread

from zict_core import LRU

assert_real_zict(zict)

STRESS_SECONDS = float(os.environ.get("ZICT_CORE_STRESS_SECONDS", "3"))
NTHREADS = 4
KEYS_PER_THREAD = 6
# Multiples of 0.5: float sums are exact, so total_weight can be compared exactly.
WEIGHTS = [1, 2, 3, 0.5, 1.5, 7]


class Value:
    """A unique value; its weight is chosen by the writer."""

    __slots__ = ("seq", "tid", "weight")

    def __init__(self, tid, seq, weight):
        self.tid, self.seq, self.weight = tid, seq, weight

    def __repr__(self):
        return f"V({self.tid}, {self.seq}, w={self.weight})"


class SlowSetDict(dict):
    """A dict subclass (no fast path) whose writes sometimes take a while: the
    LRU lock is then held long enough for evicting threads to queue up for it,
    which widens the window of the race tested below."""

    def __init__(self, seed):
        super().__init__()
        self.rng = random.Random(seed)

    def __setitem__(self, key, value):
        if self.rng.random() < 0.2:
            time.sleep(0.0005)
        super().__setitem__(key, value)


@pytest.mark.stress
@pytest.mark.parametrize("mapping", ["dict", "slow-dict-subclass"])
def test_stress(seed, mapping):
    log_lock = threading.Lock()
    evicting = []  # (key, value) whose on_evict callbacks ran
    cancelled = []  # (key, value) whose eviction was cancelled
    cb_rng = random.Random(seed ^ 0x5EED)

    def on_evict(k, v):
        with log_lock:
            evicting.append((k, v))
            delay = cb_rng.random() * 0.002
        time.sleep(delay)  # slow, with the LRU lock released

    def on_cancel_evict(k, v):
        with log_lock:
            cancelled.append((k, v))

    lru = LRU(
        20,
        {} if mapping == "dict" else SlowSetDict(seed),
        weight=lambda k, v: v.weight,
        on_evict=on_evict,
        on_cancel_evict=on_cancel_evict,
    )
    deadline = time.monotonic() + STRESS_SECONDS
    all_keys = [f"k{t}-{i}" for t in range(NTHREADS) for i in range(KEYS_PER_THREAD)]
    # Each key has a single writer thread (so its history is sequential); any
    # thread may read or evict any key.
    last = {}  # key -> last value set by its writer, or None if deleted
    stale_reads = []
    counts = [0] * NTHREADS

    def worker(tid):
        rng = random.Random(seed + tid)
        mine = [f"k{tid}-{i}" for i in range(KEYS_PER_THREAD)]
        seq = 0
        while time.monotonic() < deadline:
            counts[tid] += 1
            op = rng.random()
            if op < 0.35:
                k = rng.choice(mine)
                seq += 1
                v = Value(tid, seq, rng.choice(WEIGHTS))
                if rng.random() < 0.8:
                    lru[k] = v
                else:
                    lru.set_noevict(k, v)
                last[k] = v
            elif op < 0.50:
                # a writer reading its own key sees its latest write, or nothing
                k = rng.choice(mine)
                try:
                    got = lru[k]
                except KeyError:
                    pass
                else:
                    if got is not last.get(k):
                        stale_reads.append((k, got, last.get(k)))
            elif op < 0.65:
                try:
                    lru[rng.choice(all_keys)]
                except KeyError:
                    pass
            elif op < 0.72:
                k = rng.choice(mine)
                last[k] = None
                try:
                    del lru[k]
                except KeyError:
                    pass
            elif op < 0.76:
                try:
                    lru.evict()
                except KeyError:
                    pass
            elif op < 0.80:
                try:
                    lru.evict(rng.choice(all_keys))
                except KeyError:
                    pass
            elif op < 0.85:
                lru.evict_until_below_target()
            elif op < 0.90:
                lru.n = rng.choice([10, 20, 40, 60])
            else:
                try:
                    lru.get_all_or_nothing(rng.sample(all_keys, 2))
                except KeyError:
                    pass

    bad_snapshots = []

    def checker():
        # Whenever the lock is free the bookkeeping is consistent.
        while time.monotonic() < deadline:
            with lru.lock:
                try:
                    check_consistent(lru)
                    weights = dict(lru.weights)
                    if lru.total_weight != sum(weights.values()):
                        raise AssertionError(("total", lru.total_weight, weights))
                except AssertionError as e:
                    bad_snapshots.append(e)
            time.sleep(0.01)

    threads = [start_thread(worker, tid) for tid in range(NTHREADS)]
    threads.append(start_thread(checker))
    for t, out in threads:
        join(t, out, timeout=STRESS_SECONDS + 60)

    assert min(counts) > 0
    # every eviction whose callbacks ran either completed or was cancelled
    assert lru.stats.evictions == len(evicting) - len(cancelled)
    assert not bad_snapshots, bad_snapshots[:3]
    assert not stale_reads, stale_reads[:5]
    check_consistent(lru)
    weights = dict(lru.weights)
    assert lru.total_weight == sum(weights.values())
    assert set(weights) == set(lru.d)
    assert all(weights[k] == v.weight for k, v in lru.d.items())

    evicted = set(evicting) - set(cancelled)
    assert set(cancelled) <= set(evicting)  # only evictions under way are cancelled
    for k in all_keys:
        v = last.get(k)
        if v is None:
            assert k not in lru.d, k
        elif (k, v) in evicted:
            assert k not in lru.d, (k, v)
        else:
            # set, never deleted, its eviction never completed: still there
            assert k in lru.d, (k, v)
            assert lru.d[k] is v, (k, lru.d[k], v)
    # nothing in the LRU that was not the last write of its key
    assert all(last.get(k) is v for k, v in lru.d.items())
    # and it is still a working LRU
    lru.n = 3
    lru.evict_until_below_target()
    assert lru.total_weight <= 3
    check_consistent(lru)


# ---------------------------------------------------------- forced races


class Gate:
    """An on_evict callback that reports it started and waits to be let go."""

    def __init__(self):
        self.started = threading.Event()
        self.go = threading.Event()
        self.returned = threading.Event()

    def __call__(self, k, v):
        self.started.set()
        assert self.go.wait(10), "gate never opened"

    def after(self, k, v):
        self.returned.set()


@pytest.mark.parametrize("change", ["set", "set_noevict", "del"])
def test_key_changed_after_callbacks_returned_is_not_lost(change):
    """The race CONTRACT.md "Invariants under threads" describes: the callbacks of
    an eviction have returned and the evicting thread is about to take the lock
    back, when another thread replaces (or deletes) the key. Whether the key
    leaves must be decided under the lock: the newer value stays."""
    gate = Gate()
    cancels = []
    lru = LRU(
        10,
        {},
        weight=lambda k, v: len(v),
        on_evict=[gate, gate.after],
        on_cancel_evict=lambda k, v: cancels.append((k, v)),
    )
    lru["x"] = "old"
    lru["y"] = "y"
    t, out = start_thread(lru.evict, "x")
    assert gate.started.wait(10)
    # Hold the lock while the callbacks return: the evictor must then wait for
    # it, and we change the key while it waits.
    with lru.lock:
        gate.go.set()
        assert gate.returned.wait(10)
        time.sleep(0.05)  # let the evictor reach its wait for the lock
        assert t.is_alive()
        if change == "set":
            lru["x"] = "newer"
        elif change == "set_noevict":
            lru.set_noevict("x", "newer")
        else:
            del lru["x"]
    assert join(t, out) == (None, None, 0)
    assert cancels == [("x", "old")]
    if change == "del":
        assert dict(lru) == {"y": "y"}
    else:
        assert dict(lru) == {"y": "y", "x": "newer"}
        assert lru.weights["x"] == 5
        assert list(lru.order) == ["y", "x"]
    assert lru.total_weight == sum(lru.weights.values())
    check_consistent(lru)


class HookedRLock:
    """A Python RLock that runs a hook just before one chosen thread's next
    acquire (to stop zict's evicting thread right before it re-takes its lock)."""

    def __init__(self):
        self._lock = threading.RLock()
        self.hook = None  # (thread, callable)

    def acquire(self, *args, **kwargs):
        hook = self.hook
        if hook is not None and hook[0] is threading.current_thread():
            self.hook = None
            hook[1]()
        return self._lock.acquire(*args, **kwargs)

    def release(self):
        self._lock.release()

    def __enter__(self):
        self.acquire()

    def __exit__(self, *exc):
        self.release()


def test_zict_loses_a_key_replaced_after_callbacks_returned():
    """The same interleaving, forced deterministically on zict 3.0.0: it checks
    for a cancellation before re-taking the lock, then deletes the newer value
    (and reports the old value with the new weight)."""
    window = threading.Event()
    resume = threading.Event()

    def stop_before_relock():
        window.set()
        assert resume.wait(10)

    def arm(k, v):
        # runs last, in the evicting thread, with the lock released
        lock.hook = (threading.current_thread(), stop_before_relock)

    cancels = []
    lru = zict.LRU(
        10,
        {},
        weight=lambda k, v: len(v),
        on_evict=arm,
        on_cancel_evict=lambda k, v: cancels.append((k, v)),
    )
    lock = lru.lock = HookedRLock()
    lru["x"] = "old"
    lru["y"] = "y"
    t, out = start_thread(lru.evict, "x")
    assert window.wait(10)
    lru["x"] = "newer"  # the lock is free: the evictor has not re-taken it yet
    resume.set()
    result = join(t, out)
    assert result == ("x", "old", 5)
    assert cancels == []
    assert "x" not in lru  # the newer value is lost
    assert dict(lru) == {"y": "y"}


def test_concurrent_eviction_loops_do_not_evict_more_than_needed():
    """While one thread's eviction is under way, another thread's
    evict_until_below_target counts that key as gone: it neither evicts an
    extra key nor spins waiting for it."""
    gate = Gate()
    evicted = []
    lru = LRU(3, {}, on_evict=[gate, lambda k, v: evicted.append(k)])
    for k in "abc":
        lru[k] = k
    lru.set_noevict("d", "d")  # 4 > 3: one key must go
    t, out = start_thread(lru.evict_until_below_target)
    assert gate.started.wait(10)  # evicting "a", callbacks running
    t2, out2 = start_thread(lru.evict_until_below_target)
    join(t2, out2, timeout=10)  # returns without waiting for the gate
    assert t.is_alive()
    assert evicted == []
    assert set(lru) == {"a", "b", "c", "d"}
    gate.go.set()
    join(t, out)
    assert evicted == ["a"]
    assert dict(lru) == {"b": "b", "c": "c", "d": "d"}
    check_consistent(lru)


def test_second_evict_of_a_key_under_eviction_returns_none():
    gate = Gate()
    lru = LRU(10, {}, on_evict=gate)
    lru["x"] = 1
    t, out = start_thread(lru.evict, "x")
    assert gate.started.wait(10)
    assert lru.evict("x") == (None, None, 0)
    assert lru.evict() == (None, None, 0)  # the only key is already going
    assert "x" in lru
    gate.go.set()
    assert join(t, out) == ("x", 1, 1)
    assert len(lru) == 0


def test_key_present_while_callbacks_run_and_gone_after():
    gate = Gate()
    lru = LRU(1, {}, on_evict=gate)
    lru["x"] = 1
    t, out = start_thread(lru.__setitem__, "y", 2)
    assert gate.started.wait(10)
    # the key being evicted is still readable and counted
    assert lru["x"] == 1
    assert lru.total_weight == 2 and len(lru) == 2
    gate.go.set()
    join(t, out)
    assert dict(lru) == {"y": 2}
