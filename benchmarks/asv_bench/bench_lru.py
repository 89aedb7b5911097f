"""LRU: get (hit), insert with eviction, insert with a weight function, delete,
and memory per key; zict_core against zict 3.0.0 at 100 ... 1,000,000 keys.

Times are per call of 1,000 operations: asv's "us" read as ns per operation.
"""

from __future__ import annotations

import gc
import tracemalloc

from ._common import (
    BATCH,
    IMPLS,
    cached,
    fresh_pool,
    impl,
    key_counts,
    keys,
    overhead_bytes_per_key,
    sample,
)

KEYS = key_counts()


def _filled_lru(mod, n_keys: int, capacity: int, **kwargs):
    m = mod.LRU(capacity, {}, **kwargs)
    for k in keys(n_keys):
        m[k] = 1
    return m


class LRUGetHit:
    """``lru[key]`` for keys present (random order; each read reorders the LRU)."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600

    def setup(self, n, name):
        mod = impl(name)

        def build():
            return _filled_lru(mod, n, n + 1), sample(keys(n))

        self.m, self.probe = cached(("lru-get", n, name), build)

    def time_get_hit(self, n, name):
        m = self.m
        for k in self.probe:
            m[k]


class LRUInsertEvict:
    """``lru[new_key] = 1`` on a full LRU of n keys: every insert evicts the oldest."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600

    def setup(self, n, name):
        mod = impl(name)
        self.m, self.pool = cached(
            ("lru-insert", n, name), lambda: (_filled_lru(mod, n, n), fresh_pool(n))
        )

    def time_insert_evict(self, n, name):
        m = self.m
        for k in self.pool.next():
            m[k] = 1


def _weight(key, value):
    return len(value)


class LRUInsertWeighted:
    """``lru[new_key] = value`` with ``weight=lambda k, v: len(v)`` (10 per key) on a
    full LRU of n keys: one Python weight call and one eviction per insert."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600
    value = b"0123456789"

    def setup(self, n, name):
        mod = impl(name)

        def build():
            m = mod.LRU(10 * n, {}, weight=_weight)
            for k in keys(n):
                m[k] = self.value
            return m, fresh_pool(n)

        self.m, self.pool = cached(("lru-weighted", n, name), build)

    def time_insert_weighted(self, n, name):
        m, v = self.m, self.value
        for k in self.pool.next():
            m[k] = v


class LRUDelete:
    """``del lru[key]`` of 1,000 keys from an LRU holding n + 1,000 keys (set-up puts
    them back before each timed call)."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600
    number = 1  # each call needs the keys put back by setup
    repeat = (3, 20, 20.0)

    def setup(self, n, name):
        mod = impl(name)

        def build():
            victims = keys(BATCH, "del")
            m = mod.LRU(n + BATCH, {})
            # the keys to delete sit among the others, not in one block
            step = max(1, n // BATCH)
            v = iter(victims)
            for i, k in enumerate(keys(n)):
                m[k] = 1
                if i % step == 0:
                    m[next(v, k)] = 1
            for k in v:
                m[k] = 1
            return m, victims

        self.m, self.victims = cached(("lru-delete", n, name), build)
        for k in self.victims:
            if k not in self.m:
                self.m[k] = 1

    def time_delete(self, n, name):
        m = self.m
        for k in self.victims:
            del m[k]


class LRUMemory:
    """Memory per key of an LRU holding n keys (values: the int 1)."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 900

    def setup(self, n, name):
        self.mod = impl(name)
        self.keys = keys(n)

    def _build(self):
        m = self.mod.LRU(len(self.keys) + 1, {})
        for k in self.keys:
            m[k] = 1
        return m

    def track_overhead_bytes_per_key(self, n, name):
        """The LRU's own bookkeeping: traced bytes of LRU(n, d) minus those of a
        plain dict holding the same keys (tracemalloc; keys allocated before)."""
        return overhead_bytes_per_key(self._build, self.keys)

    track_overhead_bytes_per_key.unit = "bytes/key"

    def track_peak_bytes_per_key(self, n, name):
        """Peak traced bytes while filling the LRU (its dict included), per key."""
        gc.collect()
        tracemalloc.start()
        m = self._build()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del m
        return peak / n

    track_peak_bytes_per_key.unit = "bytes/key"

    def peakmem_build(self, n, name):
        """Peak RSS of the benchmark process while building the LRU."""
        self._build()
