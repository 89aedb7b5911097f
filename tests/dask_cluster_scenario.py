"""A real LocalCluster whose worker processes run on zict_core through the
ZICT_CORE_AS_ZICT start-up hook, with data several times the workers' memory
target. Run as a script by test_dask_dropin.py; prints one JSON line.

    python tests/dask_cluster_scenario.py

This process keeps the zict it was started with (the variable is set in
os.environ after start-up, for the worker processes the nanny spawns), as a dask
client does under README's LocalCluster recipe.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import zlib

os.environ["ZICT_CORE_AS_ZICT"] = "1"  # inherited by the spawned worker processes

import dask
from distributed import Client, LocalCluster, wait

N_KEYS = 400
SIZE = 50_000  # 20 MB in all, 10 MB per worker
MEMORY_LIMIT = 1 << 30
TARGET = 0.0025  # SpillBuffer target: 2.7 MB per worker, a quarter of its data


def make(i: int) -> bytes:
    return bytes([i % 251]) * SIZE + i.to_bytes(4, "little")


def crc(b: bytes) -> int:
    return zlib.crc32(b)


def inspect(dask_worker) -> dict:  # type: ignore[no-untyped-def]
    import sys

    import zict

    import zict_core

    data = dask_worker.data
    return {
        "zict": zict.__name__,
        "zict_is_zict_core": zict is zict_core,
        "hook_loaded": "_zict_core_as_zict" in sys.modules,
        "data_type": [f"{c.__module__}.{c.__qualname__}" for c in type(data).__mro__],
        "is_zict_core_buffer": isinstance(data, zict_core.Buffer),
        "target": data.fast.n,
        "fast_weight": data.fast.total_weight,
        "fast": len(data.fast),
        "slow": len(data.slow),
        "spills": data.stats.spills,
        "unspills": data.stats.misses,
        "spill_failures": data.stats.spill_failures,
    }


def main() -> None:
    dask.config.set(
        {
            "distributed.worker.memory.target": TARGET,
            # the memory monitor neither pauses nor kills the workers, and its
            # process-memory spill threshold is out of reach: the SpillBuffer's
            # own target decides what goes to disk
            "distributed.worker.memory.spill": 0.95,
            "distributed.worker.memory.pause": False,
            "distributed.worker.memory.terminate": False,
            "distributed.scheduler.active-memory-manager.start": False,
        }
    )
    out: dict = {"client_zict": sys.modules["zict"].__name__}
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=MEMORY_LIMIT,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        out["startup_s"] = round(time.perf_counter() - t0, 2)
        parts = client.map(make, range(N_KEYS))
        wait(parts)
        out["after_persist"] = client.run(inspect)
        crcs = client.map(crc, parts)  # reads every part back, spilled or not
        total = client.submit(sum, crcs).result()
        gathered = client.gather(parts)  # served from the workers' SpillBuffers
        out["total"] = total
        out["gathered_ok"] = gathered == [make(i) for i in range(N_KEYS)]
        out["after_compute"] = client.run(inspect)
    out["expected_total"] = sum(crc(make(i)) for i in range(N_KEYS))
    out["n_keys"] = N_KEYS
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
