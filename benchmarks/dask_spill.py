"""A spill-heavy dask workload on stock zict and on zict_core, side by side.

    python benchmarks/dask_spill.py              # 3,000 keys of 2 KB, 3 rounds
    python benchmarks/dask_spill.py --quick      # a smoke run (1,000 keys, 1 round)
    python benchmarks/dask_spill.py --markdown   # the table as Markdown (for README)

Each run is a fresh process that starts a LocalCluster (one worker process, one
thread) whose SpillBuffer target is a fifth of the data, so most keys go to disk
and come back. zict_core runs through the ZICT_CORE_AS_ZICT=1 opt-in (the run's
process and its worker get it at start-up); the zict runs have the variable
removed. Runs alternate between the two and the table shows the median of the
rounds, in seconds of wall time, with the CPU time the worker spent (less
sensitive to other load on the machine):

- ``graph``: ``client.map(make)`` of every key (persisted: spills as the data
  grows past the target), then ``client.map(crc)`` over them and a ``sum``
  (every part is read back: unspills and more spills). Scheduler and
  communication costs are part of it, as they are for a dask user.
- ``SpillBuffer``: inside the worker, distributed's own SpillBuffer alone: set
  every key, read them all back in insertion order (each read unspills one key
  and spills another), delete them.

Absolute numbers depend on the machine and its load; compare the columns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import zlib

ENV = "ZICT_CORE_AS_ZICT"
MEMORY_LIMIT = 1 << 30


def make(i: int, size: int) -> bytes:
    return i.to_bytes(4, "little") * (size // 4)


def crc(b: bytes) -> int:
    return zlib.crc32(b)


def describe(dask_worker) -> dict:  # type: ignore[no-untyped-def]
    import zict

    data = dask_worker.data
    return {
        "zict": zict.__name__,
        "data": [f"{c.__module__}.{c.__qualname__}" for c in type(data).__mro__][:2],
        "target": data.fast.n,
    }


def spill_counts(dask_worker) -> dict:  # type: ignore[no-untyped-def]
    m = dask_worker.data.cumulative_metrics
    return {
        "spills": int(m.get(("disk-write", "count"), 0)),
        "unspills": int(m.get(("disk-read", "count"), 0)),
    }


def spillbuffer_loop(n_keys: int, size: int, target: int, where: str | None) -> dict:
    """distributed's SpillBuffer on whatever zict this process has."""
    import tempfile

    from distributed.spill import SpillBuffer

    values = [make(i, size) for i in range(n_keys)]
    keys = [("part", i) for i in range(n_keys)]
    with tempfile.TemporaryDirectory(dir=where) as d:
        buf = SpillBuffer(os.path.join(d, "spill"), target=target)
        t0 = time.perf_counter()
        c0 = time.thread_time()
        for k, v in zip(keys, values):
            buf[k] = v
        for k, v in zip(keys, values):
            if buf[k] != v:
                raise AssertionError(k)
        for k in keys:
            del buf[k]
        cpu = time.thread_time() - c0
        elapsed = time.perf_counter() - t0
        spilled = buf.cumulative_metrics.get(("disk-write", "count"), 0)
    return {"seconds": elapsed, "cpu": cpu, "spills": int(spilled)}


def cpu_seconds() -> float:
    return time.process_time()


def child(impl: str, n_keys: int, size: int, where: str | None) -> None:
    """One measured run: prints a JSON line."""
    import logging

    import dask
    from distributed import Client, LocalCluster, wait

    target = n_keys * size // 5
    dask.config.set(
        {
            "distributed.worker.memory.target": target / MEMORY_LIMIT,
            # neither pause nor kill the worker, and keep the process-memory
            # monitor out of the way: the SpillBuffer target decides
            "distributed.worker.memory.spill": 0.95,
            "distributed.worker.memory.pause": False,
            "distributed.worker.memory.terminate": False,
        }
    )
    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        memory_limit=MEMORY_LIMIT,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        local_directory=where,
    )
    with cluster, Client(cluster) as client:
        (info,) = client.run(describe).values()
        if info["zict"] != impl:
            raise SystemExit(f"wanted {impl}, the worker runs {info['zict']}")
        (cpu0,) = client.run(cpu_seconds).values()
        t0 = time.perf_counter()
        parts = client.map(make, range(n_keys), size=size, pure=False)
        wait(parts)
        crcs = client.map(crc, parts, pure=False)
        total = client.submit(sum, crcs, pure=False).result()
        graph = time.perf_counter() - t0
        (cpu1,) = client.run(cpu_seconds).values()
        (counts,) = client.run(spill_counts).values()
        del parts, crcs
        (loop,) = client.run(spillbuffer_loop, n_keys, size, target, where).values()
    expected = sum(crc(make(i, size)) for i in range(n_keys))
    if total != expected:
        raise SystemExit(f"wrong result on {impl}: {total} != {expected}")
    print(
        json.dumps(
            {
                "impl": impl,
                "graph_s": graph,
                "graph_worker_cpu_s": cpu1 - cpu0,
                "loop_s": loop["seconds"],
                "loop_cpu_s": loop["cpu"],
                "loop_spills": loop["spills"],
                "target": info["target"],
                **counts,
            }
        )
    )


def run(impl: str, n_keys: int, size: int, where: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if impl == "zict_core":
        env[ENV] = "1"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", impl, str(n_keys), str(size)]
        + ([where] if where else []),
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"{impl} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        where = sys.argv[5] if len(sys.argv) > 5 else None
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), where)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run")
    p.add_argument("--keys", type=int, default=None, help="number of keys")
    p.add_argument("--size", type=int, default=2048, help="bytes per key")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument(
        "--local-directory",
        default=None,
        help="where the worker spills (default: dask's, under the temp directory);"
        " /dev/shm takes the disk out of the figures",
    )
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    n_keys = args.keys or (1000 if args.quick else 3000)
    rounds = args.rounds or (1 if args.quick else 3)

    results: dict[str, list[dict]] = {"zict": [], "zict_core": []}
    for r in range(rounds):
        for impl in ("zict", "zict_core") if r % 2 == 0 else ("zict_core", "zict"):
            out = run(impl, n_keys, args.size, args.local_directory)
            results[impl].append(out)
            print(
                f"round {r + 1} {impl:9s}: graph {out['graph_s']:6.2f} s "
                f"(worker CPU {out['graph_worker_cpu_s']:5.2f} s), SpillBuffer "
                f"{out['loop_s']:5.2f} s (CPU {out['loop_cpu_s']:5.2f} s) "
                f"({out['spills']} spills, {out['unspills']} unspills in the graph)",
                file=sys.stderr,
            )

    def med(impl: str, field: str) -> float:
        return statistics.median(o[field] for o in results[impl])

    mb = n_keys * args.size / 1e6
    target_mb = results["zict"][0]["target"] / 1e6
    where = args.local_directory or "the temp directory"
    title = (
        f"{n_keys:,} keys of {args.size:,} bytes ({mb:.1f} MB; SpillBuffer target "
        f"{target_mb:.1f} MB), spilled to {where}, 1 worker x 1 thread, "
        f"median of {rounds}"
    )
    rows = [
        ("graph: map, map, sum (wall s)", "graph_s"),
        ("graph: worker process CPU s", "graph_worker_cpu_s"),
        ("SpillBuffer alone: set, get, del (wall s)", "loop_s"),
        ("SpillBuffer alone: thread CPU s", "loop_cpu_s"),
    ]
    if args.markdown:
        print(f"{title}:\n")
        print("| dask workload | zict 3.0.0 | zict_core | zict / zict_core |")
        print("|---|---:|---:|---:|")
        for label, field in rows:
            z, c = med("zict", field), med("zict_core", field)
            print(f"| {label} | {z:.2f} | {c:.2f} | {z / c:.2f}x |")
    else:
        print(title)
        print(f"{'':44s}{'zict':>9s}{'zict_core':>11s}{'ratio':>8s}")
        for label, field in rows:
            z, c = med("zict", field), med("zict_core", field)
            print(f"{label:44s}{z:9.2f}{c:11.2f}{z / c:7.2f}x")


if __name__ == "__main__":
    main()
