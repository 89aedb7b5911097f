"""zict_core.AsyncBuffer under asyncio: slow I/O in the executor, futures,
missing keys, async eviction, close()."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from buffer_utils import WAIT, check_consistent

from zict_core import AsyncBuffer


class ThreadSlow(dict):
    """Records the thread of every read and write; a read of a key in
    ``block`` waits for ``release`` (a threading.Event)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_threads = []
        self.write_threads = []
        self.block = set()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getitem__(self, key):
        self.read_threads.append(threading.current_thread())
        if key in self.block:
            self.entered.set()
            assert self.release.wait(WAIT)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        self.write_threads.append(threading.current_thread())
        super().__setitem__(key, value)


@pytest.fixture
def no_thread_leaks():
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before]
    assert not leaked, f"leaked threads: {leaked}"


async def wait_event(event):
    """Wait for a threading.Event without blocking the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not event.is_set():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def spilled_buffer(**kwargs):
    """AsyncBuffer with c, d in fast and a, b in slow (spilled synchronously)."""
    slow = ThreadSlow()
    buf = AsyncBuffer({}, slow, 2, **kwargs)
    for k, v in zip("abcd", (1, 2, 3, 4)):
        buf.set_noevict(k, v)
    buf.evict_until_below_target()  # in this thread: not what the tests look at
    slow.write_threads.clear()
    assert set(buf.fast) == {"c", "d"} and set(slow) == {"a", "b"}
    return buf, slow


# ------------------------------------------------------------------ async_get


@pytest.mark.asyncio
async def test_async_get_all_in_fast_is_done_at_once(no_thread_leaks):
    with AsyncBuffer({}, ThreadSlow(), 3) as buf:
        buf["a"] = 1
        buf["b"] = 2
        buf["c"] = 3
        assert list(buf.fast.order) == ["a", "b", "c"]
        fut = buf.async_get(["b", "a"])
        assert isinstance(fut, asyncio.Future)
        assert fut.done()
        assert fut.result() == {"b": 2, "a": 1}
        assert await fut == {"b": 2, "a": 1}
        # made most recent, in the order asked
        assert list(buf.fast.order) == ["c", "b", "a"]
        assert not buf.futures
        assert buf.executor is None  # no thread was needed
        fut = buf.async_get([])
        assert fut.done() and fut.result() == {}


@pytest.mark.asyncio
async def test_async_get_reads_slow_in_executor_thread(no_thread_leaks):
    buf, slow = spilled_buffer()
    with buf:
        fut = buf.async_get(["a", "c"])
        assert isinstance(fut, asyncio.Future)
        assert not fut.done()
        assert fut in buf.futures
        assert await fut == {"a": 1, "c": 3}
        assert not buf.futures
        me = threading.current_thread()
        assert slow.read_threads and all(t is not me for t in slow.read_threads)
        # the promotion of a spilled d, also in the worker
        assert slow.write_threads and all(t is not me for t in slow.write_threads)
        worker = slow.read_threads[0]
        assert worker in buf.executor._threads
        assert set(buf.fast) == {"a", "c"} and set(slow) == {"b", "d"}
        check_consistent(buf)


@pytest.mark.asyncio
async def test_async_get_missing_raise_is_immediate_and_reorders_nothing(
    no_thread_leaks,
):
    buf, slow = spilled_buffer()
    with buf:
        order = list(buf.fast.order)
        with pytest.raises(KeyError, match="zz"):
            buf.async_get(["c", "a", "zz"], missing="raise")
        with pytest.raises(KeyError):
            buf.async_get(["zz"])  # "raise" is the default
        assert list(buf.fast.order) == order
        assert not buf.futures and not slow.read_threads
        assert buf.executor is None


@pytest.mark.asyncio
async def test_async_get_missing_omit(no_thread_leaks):
    buf, slow = spilled_buffer()
    slow.block = {"zz"}  # never read: absent keys are dropped up front
    with buf:
        fut = buf.async_get(["d", "zz"], missing="omit")
        assert fut.done() and fut.result() == {"d": 4}
        fut = buf.async_get(["zz"], missing="omit")
        assert fut.done() and fut.result() == {}
        fut = buf.async_get(["a", "zz", "c"], missing="omit")
        assert not fut.done()
        assert await fut == {"a": 1, "c": 3}


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["misspelt", None, "RAISE"])
async def test_async_get_bad_missing(missing, no_thread_leaks):
    with AsyncBuffer({}, {}, 2) as buf:
        buf["a"] = 1
        with pytest.raises(ValueError):
            buf.async_get(["a"], missing=missing)
        assert not buf.futures


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["raise", "omit"])
async def test_async_get_key_deleted_while_fetching(missing, no_thread_leaks):
    buf, slow = spilled_buffer()
    with buf:
        slow.block = {"a"}
        fut = buf.async_get(["a", "b"], missing=missing)
        await wait_event(slow.entered)  # the worker is reading a
        del buf["b"]
        slow.release.set()
        if missing == "raise":
            with pytest.raises(KeyError, match="b"):
                await fut
        else:
            assert await fut == {"a": 1}
        assert "b" not in buf
        assert buf["a"] == 1


@pytest.mark.asyncio
async def test_async_get_propagates_contextvars(no_thread_leaks):
    var = contextvars.ContextVar("var", default="unset")
    seen = []

    class CtxSlow(dict):
        def __getitem__(self, key):
            seen.append(var.get())
            return super().__getitem__(key)

    with AsyncBuffer({}, CtxSlow(), 1) as buf:
        buf.set_noevict("a", 1)
        buf.set_noevict("b", 2)
        buf.evict_until_below_target()
        var.set("set-in-task")
        assert await buf.async_get(["a"]) == {"a": 1}
    assert seen == ["set-in-task"]


# ------------------------------------------------------------ async eviction


class GatedWrite(ThreadSlow):
    """Writes wait for ``release`` (set by the test) after flagging ``entered``."""

    def __setitem__(self, key, value):
        self.entered.set()
        assert self.release.wait(WAIT)
        super().__setitem__(key, value)


@pytest.mark.asyncio
async def test_setitem_and_async_evict_spill_in_worker(no_thread_leaks):
    slow = GatedWrite()
    with AsyncBuffer({}, slow, 3) as buf:
        for k in "abc":
            buf[k] = k
        assert not buf.futures and not buf.evicting
        buf["d"] = "d"  # over n: the caller spills nothing, a worker does
        assert len(buf.futures) == 1
        (fut,) = buf.futures
        assert buf.evicting == {fut: 3}
        await wait_event(slow.entered)  # the worker is writing a
        assert set(buf.fast) == {"a", "b", "c", "d"}
        assert not slow
        slow.release.set()
        await asyncio.wait(buf.futures)
        assert set(buf.fast) == {"b", "c", "d"} and set(slow) == {"a"}
        assert not buf.evicting and not buf.futures
        me = threading.current_thread()
        assert slow.write_threads and all(t is not me for t in slow.write_threads)

        # at or under the target: no future
        buf.async_evict_until_below_target()
        buf.async_evict_until_below_target(10)
        assert not buf.futures
        slow.release.clear()
        slow.entered.clear()
        buf.async_evict_until_below_target(1)
        assert len(buf.futures) == 1
        await wait_event(slow.entered)
        # an eviction to 1 is under way: asking for 2 adds nothing, 0 does
        buf.async_evict_until_below_target(2)
        assert len(buf.futures) == 1
        buf.async_evict_until_below_target(0)
        assert len(buf.futures) == 2
        assert sorted(buf.evicting.values()) == [0, 1]
        slow.release.set()
        await asyncio.wait(buf.futures)
        assert not buf.fast and set(slow) == set("abcd")
        assert buf.fast.total_weight == 0
        check_consistent(buf)


@pytest.mark.asyncio
async def test_async_evict_calls_overridden_evict_until_below_target(no_thread_leaks):
    calls = []

    class Sub(AsyncBuffer):
        def evict_until_below_target(self, n=None):
            calls.append((n, threading.current_thread()))
            super().evict_until_below_target(n)

    with Sub({}, {}, 2) as buf:
        for k in "abc":
            buf[k] = k
        await asyncio.wait(buf.futures)
        buf["d"] = "d"
        await asyncio.wait(buf.futures)
        assert len(calls) == 2
        assert all(n == 2 and t is not threading.current_thread() for n, t in calls)
        assert set(buf.slow) == {"a", "b"}


@pytest.mark.asyncio
async def test_async_evict_request_not_lost_when_previous_one_just_finished(
    no_thread_leaks,
):
    # An eviction to n finished in the worker, but its future is not done
    # yet as far as the loop knows (its callbacks run on the next loop turn).
    # A write that pushes fast over n again must still get a spill started:
    # "if the total weight exceeds n, start moving keys in a worker".
    finished = threading.Event()

    class Sub(AsyncBuffer):
        def evict_until_below_target(self, n=None):
            super().evict_until_below_target(n)
            finished.set()

    with Sub({}, {}, 2) as buf:
        for k in "abc":
            buf[k] = k
        assert finished.wait(WAIT)  # (blocks the loop on purpose)
        assert set(buf.fast) == {"b", "c"}
        buf["d"] = "d"
        while buf.futures:
            await asyncio.wait(buf.futures)
        assert buf.fast.total_weight <= buf.n, dict(buf.fast.d)
        assert set(buf.slow) == {"a", "b"}


@pytest.mark.asyncio
async def test_async_evict_failure_keeps_key(no_thread_leaks):
    class Full(dict):
        def __setitem__(self, key, value):
            raise OSError(28, "disk full")

    with AsyncBuffer({}, Full(), 1) as buf:
        buf["a"] = 1
        buf["b"] = 2
        (fut,) = buf.futures
        with pytest.raises(OSError):
            await fut
        assert dict(buf.fast.d) == {"a": 1, "b": 2}
        assert buf.stats.spill_failures == 1
        assert not buf.evicting


# ---------------------------------------------------------------- close()


@pytest.mark.asyncio
async def test_close_cancels_futures_and_shuts_down_executor():
    before = set(threading.enumerate())

    class WaitClosed(ThreadSlow):
        def __getitem__(self, key):
            self.entered.set()
            # hold the only worker until close() has started
            for _ in range(int(WAIT / 0.005)):
                if buf.fast.closed:
                    break
                threading.Event().wait(0.005)
            return dict.__getitem__(self, key)

    slow = WaitClosed()
    buf = AsyncBuffer({}, slow, 1)
    for k in "abc":
        buf.set_noevict(k, k)
    buf.evict_until_below_target()
    assert set(slow) == {"a", "b"}
    running = buf.async_get(["a", "b"])
    await wait_event(slow.entered)
    queued = buf.async_get(["b"])  # waits behind the only worker thread
    assert not running.done() and not queued.done()
    executor = buf.executor
    assert executor is not None
    assert set(threading.enumerate()) - before  # the worker exists

    buf.close()
    assert buf.fast.closed
    assert buf.executor is None
    assert queued.cancelled()
    with pytest.raises(asyncio.CancelledError):
        await running
    with pytest.raises(asyncio.CancelledError):
        await queued
    with pytest.raises(RuntimeError):
        executor.submit(print)  # shut down
    leaked = [t for t in threading.enumerate() if t not in before]
    assert not leaked, leaked
    # nothing was lost by the cancelled reads
    assert set(buf.fast) | set(slow) == {"a", "b", "c"}


@pytest.mark.asyncio
async def test_close_stops_async_eviction(no_thread_leaks):
    class SlowWrite(ThreadSlow):
        def __setitem__(self, key, value):
            self.entered.set()
            assert self.release.wait(WAIT)
            super().__setitem__(key, value)

    slow = SlowWrite()
    buf = AsyncBuffer({}, slow, 0)
    for k in "abcdef":
        buf.set_noevict(k, k)
    buf.async_evict_until_below_target()
    (fut,) = buf.futures
    await wait_event(slow.entered)
    threading.Timer(0.05, slow.release.set).start()
    buf.close()  # waits for the write in progress, then the loop stops
    await asyncio.wait([fut])
    # the eviction stopped early: far from everything went to slow
    assert 1 <= len(slow) < 6
    assert set(buf.fast) | set(slow) == set("abcdef")
    assert not set(buf.fast) & set(slow)


@pytest.mark.asyncio
async def test_external_executor_is_not_shut_down(no_thread_leaks):
    with ThreadPoolExecutor(1, thread_name_prefix="external") as ex:
        buf, slow = spilled_buffer(executor=ex)
        assert buf.executor is ex
        assert buf.nthreads is None
        assert await buf.async_get(["a"]) == {"a": 1}
        assert slow.read_threads[0].name.startswith("external")
        buf.close()
        assert buf.executor is ex  # left alone
        assert ex.submit(lambda: 42).result(WAIT) == 42


@pytest.mark.asyncio
async def test_nthreads_runs_reads_in_parallel(no_thread_leaks):
    barrier = threading.Barrier(2, timeout=WAIT)

    class Meet(dict):
        def __getitem__(self, key):
            barrier.wait()  # both reads must be in flight at once
            return super().__getitem__(key)

    with AsyncBuffer({}, Meet(), 10, nthreads=2) as buf:
        assert buf.nthreads == 2
        dict.__setitem__(buf.slow, "a", 1)
        dict.__setitem__(buf.slow, "b", 2)
        f1 = buf.async_get(["a"])
        f2 = buf.async_get(["b"])
        assert await f1 == {"a": 1}
        assert await f2 == {"b": 2}
        assert dict(buf.fast.d) == {"a": 1, "b": 2}
