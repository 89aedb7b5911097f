"""Shared set-up for the asv suite: key counts, implementations, per-process state.

State is built once per benchmark process and reused by every timed call: the
operations are chosen so that the mapping is in the same state after a call as
before it (inserts cycle through a pool of keys larger than the LRU, reads
cycle through a working set twice the fast tier, deletions are undone by the
set-up). That keeps the set-up cheap even when the asv runner re-runs ``setup``
before each timed call, and correct when it calls the benchmark many times per
``setup``.
"""

from __future__ import annotations

import atexit
import gc
import math
import os
import random
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable
from typing import Any

#: Operations per timed call: asv's "us" per call are then ns per operation.
BATCH = 1000

ALL_KEY_COUNTS = [100, 1_000, 10_000, 100_000, 1_000_000]
IMPLS = ["zict_core", "zict"]


def max_keys() -> int:
    """The cap on the number of keys (ZICT_CORE_ASV_MAX_KEYS, default none)."""
    raw = os.environ.get("ZICT_CORE_ASV_MAX_KEYS", "").replace("_", "").replace(",", "")
    return int(raw) if raw else ALL_KEY_COUNTS[-1]


def key_counts(
    upto: int = ALL_KEY_COUNTS[-1], counts: list[int] = ALL_KEY_COUNTS
) -> list[int]:
    """The key counts up to ``upto`` and the cap (at least the smallest one)."""
    cap = min(upto, max_keys())
    return [n for n in counts if n <= cap] or [counts[0]]


def impl(name: str) -> Any:
    """The module under test; NotImplementedError (asv: skipped) if unavailable."""
    import zict_core

    if name == "zict_core":
        return zict_core
    try:
        import zict
    except ImportError:
        raise NotImplementedError("zict 3.0.0 is not installed") from None
    if zict is zict_core or getattr(zict, "LRU", None) is zict_core.LRU:
        raise NotImplementedError("'import zict' gives zict_core (install_as_zict)")
    return zict


def overhead_bytes_per_key(build: Callable[[], Any], key_list: list[str]) -> float:
    """Traced bytes of the mapping ``build()`` returns, minus those of a plain dict
    holding the same keys, per key (tracemalloc; the keys exist beforehand)."""
    gc.collect()
    tracemalloc.start()
    d = dict.fromkeys(key_list, 1)
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del d
    gc.collect()
    tracemalloc.start()
    m = build()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del m
    return (used - base) / len(key_list)


def keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def sample(population: list[str], k: int = BATCH, seed: int = 0) -> list[str]:
    """k keys drawn (with replacement) from population, the same on every run."""
    return random.Random(seed).choices(population, k=k)


class Cycle:
    """Hands out consecutive batches of ``seq`` (len(seq) a multiple of BATCH), wrapping."""

    def __init__(self, seq: list[str], batch: int = BATCH) -> None:
        self.batches = [seq[i : i + batch] for i in range(0, len(seq), batch)]
        self.i = 0

    def next(self) -> list[str]:
        b = self.batches[self.i]
        self.i = (self.i + 1) % len(self.batches)
        return b


def round_robin(ks: list[str], batch: int = BATCH) -> Cycle:
    """Batches that walk ``ks`` in order, over and over (a multiple of both lengths)."""
    reps = math.lcm(len(ks), batch) // len(ks)
    return Cycle(ks * reps, batch)


def fresh_pool(n: int, batch: int = BATCH) -> Cycle:
    """Batches of keys such that each inserted key was evicted from an LRU of n
    keys long ago: the pool is larger than the LRU by at least two batches."""
    size = max(2 * n, n + 2 * batch)
    size = -(-size // batch) * batch
    return Cycle(keys(size, "new"), batch)


_STATE: dict[tuple, Any] = {}


def cached(key: tuple, build: Callable[[], Any]) -> Any:
    """Per-process state, built on first use."""
    try:
        return _STATE[key]
    except KeyError:
        _STATE[key] = value = build()
        return value


def scratch_dir() -> str:
    """A new directory for File data. Under asv the working directory is a
    temporary directory that asv removes after the benchmark (its processes end
    with os._exit, so atexit does not run there); elsewhere atexit cleans up."""
    d = tempfile.mkdtemp(prefix="zict_core_asv_", dir=os.getcwd())
    atexit.register(shutil.rmtree, d, True)
    return d
