"""Buffer (slow = a dict): get (hit), get with promotion and eviction, set with
spill, and memory per key; zict_core against zict 3.0.0 at 100 ... 1,000,000 keys.

Times are per call of 1,000 operations: asv's "us" read as ns per operation.
"""

from __future__ import annotations

from ._common import (
    IMPLS,
    cached,
    impl,
    key_counts,
    keys,
    overhead_bytes_per_key,
    round_robin,
    sample,
)

KEYS = key_counts()


def _half_spilled(mod, n: int):
    """A Buffer of n keys whose fast tier holds n // 2: the older half is in slow."""
    b = mod.Buffer({}, {}, n // 2)
    ks = keys(n)
    for k in ks:
        b[k] = 1
    return b, round_robin(ks)


class BufferGetHit:
    """``buf[key]`` for keys in the fast tier (all n keys fit)."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600

    def setup(self, n, name):
        mod = impl(name)

        def build():
            b = mod.Buffer({}, {}, n + 1)
            ks = keys(n)
            for k in ks:
                b[k] = 1
            return b, sample(ks)

        self.b, self.probe = cached(("buf-get", n, name), build)

    def time_get_hit(self, n, name):
        b = self.b
        for k in self.probe:
            b[k]


class BufferGetPromote:
    """``buf[key]`` walking n keys in order with a fast tier of n // 2 (working set
    twice the fast tier): every read promotes a key from slow and spills one."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600

    def setup(self, n, name):
        mod = impl(name)
        self.b, self.walk = cached(
            ("buf-promote", n, name), lambda: _half_spilled(mod, n)
        )

    def time_get_promote(self, n, name):
        b = self.b
        for k in self.walk.next():
            b[k]


class BufferSetSpill:
    """``buf[key] = 1`` walking n keys in order with a fast tier of n // 2: every
    key set was last set n sets ago, so it is in slow; setting it deletes it from
    slow, inserts it in fast and spills the oldest fast key."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 600

    def setup(self, n, name):
        mod = impl(name)
        self.b, self.walk = cached(("buf-set", n, name), lambda: _half_spilled(mod, n))

    def time_set_spill(self, n, name):
        b = self.b
        for k in self.walk.next():
            b[k] = 1


class BufferMemory:
    """Memory per key of a Buffer holding n keys, all in fast (values: the int 1)."""

    params = (KEYS, IMPLS)
    param_names = ("keys", "impl")
    timeout = 900

    def setup(self, n, name):
        self.mod = impl(name)
        self.keys = keys(n)

    def _build(self):
        b = self.mod.Buffer({}, {}, len(self.keys) + 1)
        for k in self.keys:
            b[k] = 1
        return b

    def track_overhead_bytes_per_key(self, n, name):
        """Traced bytes of the Buffer minus those of a plain dict of the same keys."""
        return overhead_bytes_per_key(self._build, self.keys)

    track_overhead_bytes_per_key.unit = "bytes/key"

    def peakmem_build(self, n, name):
        """Peak RSS of the benchmark process while building the Buffer."""
        self._build()
