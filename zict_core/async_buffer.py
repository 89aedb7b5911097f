"""AsyncBuffer: a Buffer whose slow reads and writes run in worker threads
(mirrors ``zict.async_buffer``)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Collection
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from zict_core.buffer import Buffer

T = TypeVar("T")


class AsyncBuffer(Buffer):
    """A :class:`~zict_core.Buffer` that can move keys between the tiers in a
    worker thread, so an event loop never waits for the slow mapping.

    ``fast`` must be thread-safe (a plain dict is). ``slow.__getitem__`` and
    ``slow.__setitem__`` run in the worker threads; every other method of ``slow``
    runs in the caller's thread.

    Parameters
    ----------
    *args, **kwargs:
        As for :class:`~zict_core.Buffer`.
    executor: concurrent.futures.Executor, optional
        Where to run slow I/O (it must not pickle its arguments). By default an
        internal ThreadPoolExecutor, created on first use and shut down by
        :meth:`close`.
    nthreads: int
        Threads of the internal executor (default 1); ignored with ``executor``.

    Examples
    --------
    Setting a key and :meth:`async_get` need a running event loop:

    >>> import asyncio
    >>> async def main():
    ...     with AsyncBuffer({}, {}, n=2) as buf:
    ...         buf["x"] = 1
    ...         buf["y"] = 2
    ...         buf["z"] = 3  # over n: "x" is spilled in a worker thread
    ...         await asyncio.gather(*buf.futures)
    ...         print(sorted(buf.fast), sorted(buf.slow))
    ...         print(await buf.async_get(["x", "y"]))  # "x" read back in a thread
    ...         print(sorted(buf.fast), sorted(buf.slow))
    >>> asyncio.run(main())
    ['y', 'z'] ['x']
    {'x': 1, 'y': 2}
    ['x', 'y'] ['z']
    """

    #: Where slow I/O runs: the executor passed in, or the internal one (None
    #: until first used, and again after :meth:`close`).
    executor: Executor | None
    #: Threads of the internal executor; None when an executor was passed in.
    nthreads: int | None
    #: The Futures of the reads and spills running in the executor.
    futures: set[asyncio.Future]
    #: Each running spill's Future -> the total weight it spills down to.
    evicting: dict[asyncio.Future, float]

    def __init__(
        self,
        *args: Any,
        executor: Executor | None = None,
        nthreads: int = 1,
        **kwargs: Any,
    ) -> None:
        if executor is None and (not isinstance(nthreads, int) or nthreads < 1):
            raise ValueError(f"nthreads must be a positive int, got {nthreads!r}")
        super().__init__(*args, **kwargs)
        self.executor = executor
        self.nthreads = None if executor is not None else nthreads
        self.futures = set()
        self.evicting = {}
        self._jobs: dict[asyncio.Future, _EvictJob] = {}

    def close(self) -> None:
        """Close both tiers, cancel pending futures, and shut down the internal
        executor (an executor passed in is left running)."""
        super().close()
        for future in list(self.futures):
            future.cancel()
        if self.executor is not None and self.nthreads is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def _offload(self, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        if self.executor is None:
            if self.nthreads is None:
                raise RuntimeError("AsyncBuffer is closed")
            self.executor = ThreadPoolExecutor(
                self.nthreads, thread_name_prefix="zict_core.AsyncBuffer"
            )
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        future = loop.run_in_executor(self.executor, ctx.run, func, *args)
        self.futures.add(future)
        future.add_done_callback(self.futures.discard)
        return future

    def async_get(
        self, keys: Collection[Any], missing: Literal["raise", "omit"] = "raise"
    ) -> asyncio.Future[dict[Any, Any]]:
        """Fetch *keys*; returns an asyncio Future of ``{key: value}``.

        If every key is in fast, the Future is already done. Otherwise the keys
        are read in a worker thread (promoting them, which may spill others).
        ``missing="raise"`` raises KeyError for an absent key (at once if it is
        absent now; from the Future if it is deleted meanwhile);
        ``missing="omit"`` leaves absent keys out of the result.
        """
        with self.lock:
            if missing == "omit":
                keys = [key for key in keys if key in self]
            elif missing == "raise":
                keys = list(keys)
                for key in keys:
                    if key not in self:
                        raise KeyError(key)
            else:
                raise ValueError(f"missing must be 'raise' or 'omit', got {missing!r}")

            try:
                found = self.fast.get_all_or_nothing(keys)
            except KeyError:
                pass
            else:
                done: asyncio.Future[dict[Any, Any]] = asyncio.Future()
                done.set_result(found)
                return done

            def fetch() -> dict[Any, Any]:
                out = {}
                for key in keys:
                    if self.fast.closed:
                        raise asyncio.CancelledError()
                    try:
                        out[key] = self[key]
                    except KeyError:
                        if missing == "raise":
                            raise
                return out

            return self._offload(fetch)

    def __setitem__(self, key: Any, value: Any) -> None:
        """Store *key* in fast at once; if fast overflows, spill in a worker."""
        self.set_noevict(key, value)
        self.async_evict_until_below_target()

    def async_evict_until_below_target(self, n: float | None = None) -> None:
        """If fast weighs more than *n* (default ``self.n``), start spilling in a
        worker thread, unless a spill that is still running already targets *n*
        or lower."""
        with self.lock:
            if n is None:
                n = self.n
            n = max(0.0, n)
            running = [job.n for job in self._jobs.values() if not job.finished]
            if min([self.fast.total_weight, *running]) <= n:
                return
            job = _EvictJob(n)
            future = self._offload(self._run_evict_job, job)
            self.evicting[future] = n
            self._jobs[future] = job
            future.add_done_callback(self._forget_evict_job)

    def _run_evict_job(self, job: _EvictJob) -> None:
        # Runs in a worker. It only declares itself finished, under the lock,
        # once fast fits its target: a write that comes in before that is seen
        # by this job; one that comes after sees a finished job and starts a
        # new one. (zict's version could drop a request that raced the end of
        # a spill, leaving fast over n.)
        while True:
            self.evict_until_below_target(job.n)
            with self.lock:
                if self.fast.closed or (
                    self.fast.total_weight + self.fast.offset <= job.n
                ):
                    job.finished = True
                    return

    def _forget_evict_job(self, future: asyncio.Future) -> None:
        del self.evicting[future]
        del self._jobs[future]


class _EvictJob:
    __slots__ = ("finished", "n")

    def __init__(self, n: float) -> None:
        self.n = n
        self.finished = False
