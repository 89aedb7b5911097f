"""Typed use of zict_core, checked by ``mypy --strict`` in test_typing.py.

Not a test module (pytest does not collect it): it proves the stubs of the compiled
LRU and Buffer are generic over key and value types, so user code like this
type-checks against an installed zict_core.
"""

from __future__ import annotations

import pickle
from collections.abc import MutableMapping

import zict_core
from zict_core import LRU, Buffer, File, Func
from zict_core.buffer import BufferStats
from zict_core.lru import LRUStats


def size(key: str, value: bytes) -> int:
    return len(value)


def log_eviction(key: str, value: bytes) -> None:
    print("evicted", key, len(value))


lru: zict_core.LRU[str, bytes] = zict_core.LRU(
    1_000_000, {}, weight=size, on_evict=[log_eviction]
)
lru["x"] = b"abc"
value: bytes = lru["x"]
maybe: bytes | None = lru.get("y")
lru.set_noevict("y", b"defg")
key, evicted, weight = lru.evict()
lru.evict_until_below_target(10)
lru.n = 2_000_000.5
lru.on_evict = log_eviction  # a single callable is accepted and listed
total: float = lru.total_weight + lru.offset
weights: dict[str, float] = dict(lru.weights)
oldest: list[str] = list(lru.order)
heavy: set[str] = set(lru.heavy)
stats: LRUStats = lru.stats
hits: int = stats.hits + lru.stats.evictions
as_mapping: MutableMapping[str, bytes] = lru
with lru.lock:
    pass
with lru:
    lru.discard("x")

disk: Func[str, object, bytes] = Func(pickle.dumps, pickle.loads, File("/tmp/zc"))
buf: Buffer[str, object] = Buffer({}, disk, n=100)
buf["k"] = [1, 2, 3]
obj: object = buf["k"]
fast: LRU[str, object] = buf.fast
slow: MutableMapping[str, object] = buf.slow
pairs: list[tuple[str, object]] = list(buf.items())
bstats: BufferStats = buf.stats
spilled: float = bstats.spilled_weight + buf.stats.spills
buf.fast_to_slow_callbacks = [lambda k, v: None]
buf.close()
