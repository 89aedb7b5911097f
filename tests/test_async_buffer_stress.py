"""AsyncBuffer under an event loop and worker threads at once, as dask runs it.

The loop writes (spills start in the AsyncBuffer's executor) and awaits
``async_get``; plain threads read, write (spilling synchronously), delete and
change ``n`` meanwhile, over a
slow tier that sleeps and sometimes fails to write. Afterwards every key written
and not deleted is in exactly one tier with its last value, and the counters add
up. The seed is printed (replay with ZICT_CORE_SEED=<seed>).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time

import pytest

from zict_core import AsyncBuffer, Buffer

STRESS_SECONDS = float(os.environ.get("ZICT_CORE_STRESS_SECONDS", "3"))


class FlakySlow(dict):
    """Sleeps on every read/write; a write raises OSError with probability p."""

    def __init__(self, seed: int, p: float) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.p = p
        self.rng_lock = threading.Lock()

    def _roll(self) -> float:
        with self.rng_lock:
            return self.rng.random()

    def __setitem__(self, key, value):
        time.sleep(0.0002)
        if self._roll() < self.p:
            raise OSError("disk full (injected)")
        super().__setitem__(key, value)

    def __getitem__(self, key):
        time.sleep(0.0002)
        return super().__getitem__(key)


@pytest.mark.stress
@pytest.mark.timeout(120)
def test_async_buffer_loop_and_threads(seed):
    buf = AsyncBuffer({}, FlakySlow(seed, p=0.05), n=20, nthreads=2)
    keys = [f"k{i}" for i in range(60)]
    last: dict[str, object] = {}
    deleted: set[str] = set()
    book = threading.Lock()  # serialises each write with its bookkeeping
    stop = threading.Event()
    errors: list[BaseException] = []
    gets = {"ok": 0}

    def write(rng: random.Random, key: str, setter) -> None:
        with book:
            value = (key, rng.random())
            try:
                setter(key, value)
            except OSError:
                pass  # an older key's spill failed: this write itself happened
            last[key] = value
            deleted.discard(key)

    def thread_work(i: int) -> None:
        rng = random.Random(f"{seed}-t{i}")
        try:
            while not stop.is_set():
                key = rng.choice(keys)
                r = rng.random()
                if r < 0.35:
                    # AsyncBuffer.__setitem__ schedules its spill on the running
                    # loop, so outside the loop threads use the synchronous path
                    write(rng, key, lambda k, v: Buffer.__setitem__(buf, k, v))
                elif r < 0.75:
                    try:
                        buf[key]
                        gets["ok"] += 1
                    except (KeyError, OSError):
                        pass
                elif r < 0.85:
                    with book:
                        try:
                            del buf[key]
                        except KeyError:
                            pass
                        last.pop(key, None)
                        deleted.add(key)
                else:
                    buf.n = rng.choice([5, 20, 40])
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)
            stop.set()

    async def loop_work() -> None:
        rng = random.Random(f"{seed}-loop")
        deadline = time.monotonic() + STRESS_SECONDS
        while time.monotonic() < deadline and not stop.is_set():
            key = rng.choice(keys)
            if rng.random() < 0.5:
                write(rng, key, buf.__setitem__)  # spills in the executor
                for f in [f for f in buf.futures if f.done() and not f.cancelled()]:
                    f.exception()  # retrieved: an injected OSError is expected
            else:
                want = rng.sample(keys, 3)
                try:
                    got = await buf.async_get(want, missing="omit")
                except (KeyError, OSError):
                    got = {}
                assert set(got) <= set(want)
            await asyncio.sleep(0)
        while buf.futures:
            done, _ = await asyncio.wait(list(buf.futures))
            for f in done:  # background spills may fail (injected OSError)
                if not f.cancelled() and f.exception() is not None:
                    assert isinstance(f.exception(), OSError), f.exception()

    threads = [
        threading.Thread(target=thread_work, args=(i,), daemon=True) for i in range(3)
    ]
    for t in threads:
        t.start()
    # A loop of our own, closed here, leaving the policy's current loop alone:
    # asyncio.run() would reset it, orphaning (and leaking) a loop that
    # pytest-asyncio set for earlier tests on Python 3.9.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(loop_work())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive(), "a worker thread hung"
    if errors:
        raise errors[0]

    # every key written and not deleted: in exactly one tier, with its last value
    fast, slow = dict(buf.fast.d), dict(buf.slow)
    assert not (set(fast) & set(slow)), "a key is in both tiers"
    assert set(fast) | set(slow) == set(last)
    for key, value in last.items():
        assert (fast[key] if key in fast else slow[key]) == value
    assert not (deleted & (set(fast) | set(slow)))
    assert len(buf) == len(last)
    # weights and counters add up
    assert buf.fast.total_weight == sum(buf.fast.weights.values()) == len(fast)
    stats = buf.stats
    assert stats.spills == buf.fast.stats.evictions  # every completed eviction spilled
    assert stats.spilled_weight == stats.spills  # unit weights
    assert stats.spill_failures > 0 and stats.spills > 0
    buf.close()
