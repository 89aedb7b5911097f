"""On-disk storage: Func(pickle) + File round trips, and the spill stack
Buffer -> Func -> File; zict_core against zict 3.0.0, data in a temporary
directory (asv runs each benchmark in a scratch working directory it removes).

zict_core.File writes a temporary file and renames it (crash-safe); zict.File
writes the final file directly. Times are per call (see each class).
"""

from __future__ import annotations

import os
import pickle

from ._common import IMPLS, cached, impl, key_counts, keys, round_robin, scratch_dir

#: Disk operations per timed call (a file write costs tens of microseconds).
DISK_BATCH = 100

KIB = 1024
MIB = 1024 * 1024


def _pickled_file(mod):
    return mod.Func(pickle.dumps, pickle.loads, mod.File(scratch_dir()))


class _RoundTrip:
    """``f[key] = value; f[key]; del f[key]`` for ``batch`` keys, on a Func(pickle)
    over File already holding n values of the same size (the spill cycle:
    written on spill, read back and deleted on promotion)."""

    params: tuple = ()
    param_names = ("keys", "impl")
    timeout = 900
    size = KIB
    batch = 100

    def setup(self, n, name):
        mod = impl(name)
        value = os.urandom(self.size)

        def build():
            f = _pickled_file(mod)
            for k in keys(n):
                f[k] = value
            return f, keys(self.batch, "rt")

        self.f, self.trip = cached(("file", self.size, n, name), build)
        self.value = value

    def time_round_trip(self, n, name):
        f, v = self.f, self.value
        for k in self.trip:
            f[k] = v
        for k in self.trip:
            f[k]
            del f[k]


class FileRoundTrip1KiB(_RoundTrip):
    __doc__ = _RoundTrip.__doc__ + "\n    1 KiB values; 100 round trips per call."
    params = (key_counts(100_000), IMPLS)
    size = KIB
    batch = 100


class FileRoundTrip1MiB(_RoundTrip):
    __doc__ = _RoundTrip.__doc__ + "\n    1 MiB values; 10 round trips per call."
    params = (key_counts(100, [10, 100]), IMPLS)
    size = MIB
    batch = 10


class SpillStack:
    """Buffer(fast={}, slow=Func(pickle.dumps, pickle.loads, File(dir)), n // 2)
    holding n keys of 1 KiB (the older half on disk), walked in order so that
    every operation moves a key each way: 100 operations per call."""

    params = (key_counts(100_000), IMPLS)
    param_names = ("keys", "impl")
    timeout = 900

    def setup(self, n, name):
        mod = impl(name)
        value = os.urandom(KIB)

        def build():
            b = mod.Buffer({}, _pickled_file(mod), n // 2)
            ks = keys(n)
            for k in ks:
                b[k] = value
            return b, round_robin(ks, DISK_BATCH)

        # get and set share one stack: both keep it in the same state
        self.b, self.walk = cached(("spill", n, name), build)
        self.value = value

    def time_get_promote(self, n, name):
        """``buf[key]`` of a key on disk: read + unpickle + delete its file, and
        spill the oldest fast key (pickle + write)."""
        b = self.b
        for k in self.walk.next():
            b[k]

    def time_set_spill(self, n, name):
        """``buf[key] = value`` of a key on disk: delete its file, insert in fast,
        spill the oldest fast key (pickle + write)."""
        b, v = self.b, self.value
        for k in self.walk.next():
            b[k] = v
