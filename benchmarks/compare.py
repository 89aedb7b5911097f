"""Side-by-side timings: zict_core vs zict 3.0.0 vs a plain dict, in one process.

    python benchmarks/compare.py            # full table (about a minute)
    python benchmarks/compare.py --quick    # smaller sizes, for CI smoke runs
    python benchmarks/compare.py --markdown # the table as Markdown (for README)

Each case runs the same loop over the same keys on every implementation and
reports nanoseconds per operation (best of several repeats) and the ratio to
zict. Absolute numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable

import zict

import zict_core

assert not zict.__file__.startswith(zict_core.__path__[0]), "zict must be the real zict"


def best_ns_per_op(fn: Callable[[], int], repeat: int) -> float:
    """Run fn (which returns the number of operations it did) and keep the best."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter_ns()
        ops = fn()
        best = min(best, (time.perf_counter_ns() - t0) / ops)
    return best


def keys_for(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


# ----------------------------------------------------------------------- LRU


def lru_get_hit(impl, n: int, repeat: int) -> float:
    keys = keys_for(n)
    m = impl.LRU(n + 1, {}) if impl is not dict else {}
    for k in keys:
        m[k] = 1
    probe = keys * max(1, 200_000 // n)

    def run() -> int:
        for k in probe:
            m[k]
        return len(probe)

    return best_ns_per_op(run, repeat)


def lru_insert_evict(impl, n: int, repeat: int, ops: int = 100_000) -> float:
    keys = keys_for(n)
    fresh = keys_for(ops, "new")
    if impl is dict:
        # the floor: a dict insert plus a dict delete of the oldest key

        def run_dict() -> int:
            d = dict.fromkeys(keys, 1)
            old = iter(keys + fresh)
            t0 = time.perf_counter_ns()
            for k in fresh:
                d[k] = 1
                del d[next(old)]
            return time.perf_counter_ns() - t0

        return min(run_dict() for _ in range(repeat)) / len(fresh)

    def run() -> int:
        m = impl.LRU(n, {})
        for k in keys:
            m[k] = 1
        t0 = time.perf_counter_ns()
        for k in fresh:
            m[k] = 1
        return time.perf_counter_ns() - t0

    return min(run() for _ in range(repeat)) / len(fresh)


def lru_insert_weighted(impl, n: int, repeat: int) -> float:
    keys = keys_for(n)
    value = b"x" * 10

    def weight(k, v):
        return len(v)

    def run() -> int:
        if impl is dict:
            m: dict = {}
        else:
            m = impl.LRU(10 * n, {}, weight=weight)
        t0 = time.perf_counter_ns()
        for k in keys:
            m[k] = value
        return time.perf_counter_ns() - t0

    return min(run() for _ in range(repeat)) / len(keys)


def overhead_bytes_per_key(impl, n: int) -> float:
    keys = keys_for(n)
    gc.collect()
    tracemalloc.start()
    d: dict = {}
    for k in keys:
        d[k] = 1
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del d
    if impl is dict:
        return 0.0
    gc.collect()
    tracemalloc.start()
    m = impl.LRU(n + 1, {})
    for k in keys:
        m[k] = 1
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del m
    return (used - base) / n


# -------------------------------------------------------------------- Buffer


def make_buffer(impl, n_fast: int, n_keys: int):
    if impl is dict:
        return None
    b = impl.Buffer({}, {}, n_fast)
    for k in keys_for(n_keys):
        b[k] = 1
    return b


def buffer_get_hit(impl, n: int, repeat: int) -> float:
    keys = keys_for(n)
    if impl is dict:
        m: object = dict.fromkeys(keys, 1)
    else:
        m = make_buffer(impl, n + 1, n)
    probe = keys * max(1, 200_000 // n)

    def run() -> int:
        for k in probe:
            m[k]  # type: ignore[index]
        return len(probe)

    return best_ns_per_op(run, repeat)


def buffer_promote(impl, n: int, repeat: int) -> float:
    """Working set twice the fast tier: every read promotes one key from slow and
    spills one to slow."""
    if impl is dict:
        return float("nan")
    keys = keys_for(n)
    m = make_buffer(impl, n // 2, n)
    probe = keys * max(1, 100_000 // n)

    def run() -> int:
        for k in probe:
            m[k]
        return len(probe)

    return best_ns_per_op(run, repeat)


def buffer_set_spill(impl, n: int, repeat: int, ops: int = 50_000) -> float:
    if impl is dict:
        return float("nan")
    fresh = keys_for(ops, "new")

    def run() -> int:
        m = make_buffer(impl, n, n)
        t0 = time.perf_counter_ns()
        for k in fresh:
            m[k] = 1
        return time.perf_counter_ns() - t0

    return min(run() for _ in range(repeat)) / ops


def buffer_set_delete(impl, n: int, repeat: int) -> float:
    keys = keys_for(n, "tmp")
    if impl is dict:
        m: object = {}
    else:
        m = make_buffer(impl, n, n)

    def run() -> int:
        for k in keys:
            m[k] = 1  # type: ignore[index]
            del m[k]  # type: ignore[attr-defined]
        return 2 * len(keys)

    return best_ns_per_op(run, repeat)


# ---------------------------------------------------------------------- main

IMPLS = [("zict_core", zict_core), ("zict", zict), ("dict", dict)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    repeat = 2 if args.quick else 5
    sizes_evict = [100, 10_000] if args.quick else [100, 10_000, 1_000_000]
    sizes_buf = [1_000] if args.quick else [1_000, 100_000]

    cases: list[tuple[str, Callable[[object], float]]] = [
        ("LRU get (hit), 10,000 keys", lambda i: lru_get_hit(i, 10_000, repeat)),
    ]
    for n in sizes_evict:
        cases.append(
            (f"LRU insert with eviction, {n:,} keys", lambda i, n=n: lru_insert_evict(i, n, repeat))
        )
    cases.append(
        ("LRU insert, weight function, 10,000 keys", lambda i: lru_insert_weighted(i, 10_000, repeat))
    )
    for n in sizes_buf:
        cases += [
            (f"Buffer get (hit), {n:,} keys", lambda i, n=n: buffer_get_hit(i, n, repeat)),
            (f"Buffer get with promotion+spill, {n:,} keys", lambda i, n=n: buffer_promote(i, n, repeat)),
            (f"Buffer set with spill, {n:,} keys", lambda i, n=n: buffer_set_spill(i, n, repeat)),
            (f"Buffer set+delete, {n:,} keys", lambda i, n=n: buffer_set_delete(i, n, repeat)),
        ]

    rows = []
    for name, fn in cases:
        res = {label: fn(impl) for label, impl in IMPLS}
        rows.append((name, res))
        if not args.markdown:
            core, ref, floor = res["zict_core"], res["zict"], res["dict"]
            print(
                f"{name:45s} zict_core {core:9.0f} ns  zict {ref:9.0f} ns  dict {floor:7.0f} ns"
                f"  speed-up x{ref / core:6.1f}  vs dict x{core / floor:5.2f}",
                flush=True,
            )
    mem_n = 10_000 if args.quick else 1_000_000
    mem = {label: overhead_bytes_per_key(impl, mem_n) for label, impl in IMPLS[:2]}
    mem_small = {label: overhead_bytes_per_key(impl, 10_000) for label, impl in IMPLS[:2]}

    if args.markdown:
        print("| operation | zict_core ns/op | zict ns/op | dict ns/op | zict / zict_core | zict_core / dict |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, res in rows:
            core, ref, floor = res["zict_core"], res["zict"], res["dict"]
            fl = "n/a" if floor != floor else f"{floor:.0f}"
            rel = "n/a" if floor != floor else f"{core / floor:.2f}"
            print(f"| {name} | {core:.0f} | {ref:.0f} | {fl} | {ref / core:.1f}x | {rel} |")
        for n_, m in ((10_000, mem_small), (mem_n, mem)):
            print(
                f"| LRU overhead per key, {n_:,} keys (bytes, tracemalloc) | "
                f"{m['zict_core']:.1f} | {m['zict']:.1f} | 0 | | |"
            )
    else:
        for n_, m in ((10_000, mem_small), (mem_n, mem)):
            print(
                f"LRU overhead per key at {n_:,} keys: zict_core {m['zict_core']:.1f} B, "
                f"zict {m['zict']:.1f} B"
            )
    print(f"# Python {sys.version.split()[0]}, zict_core {zict_core.__version__}, zict {zict.__version__}")


if __name__ == "__main__":
    main()
