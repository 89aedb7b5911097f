"""zict_core quickstart: keep 100 values in memory, spill the rest compressed to disk.

Run: python examples/quickstart.py
"""

import pickle
import tempfile
import zlib

import zict_core as zict

with tempfile.TemporaryDirectory() as directory:
    # The classic spill stack: values beyond the 100 most recently used are
    # pickled, compressed and written to files in `directory`.
    disk = zict.Func(
        pickle.dumps,
        pickle.loads,
        zict.Func(zlib.compress, zlib.decompress, zict.File(directory)),
    )
    buf = zict.Buffer({}, disk, n=100)

    for i in range(1_000):
        buf[f"x{i}"] = list(range(i % 50))

    assert len(buf) == 1_000
    assert len(buf.fast) == 100 and len(buf.slow) == 900
    print(f"{len(buf.fast)} keys in memory, {len(buf.slow)} spilled to {directory}")

    # Reading a spilled key brings it back into memory (and spills the oldest).
    assert buf["x0"] == []
    assert "x0" in buf.fast
    print("read back x0 from disk:", buf["x0"], "| stats:", buf.stats)

    # An LRU on its own *deletes* what it evicts: it does not spill anywhere.
    lru = zict.LRU(2, {})
    lru["a"], lru["b"], lru["c"] = 1, 2, 3
    assert "a" not in lru
    print("LRU kept", sorted(lru), "and dropped 'a'")
