"""Side-by-side timings: zict_core vs zict 3.0.0 vs other LRUs vs a plain dict, in one process.

    python benchmarks/compare.py                   # full table (a few minutes)
    python benchmarks/compare.py --quick           # smaller sizes, for CI smoke runs
    python benchmarks/compare.py --markdown        # the table as Markdown (for README)
    python benchmarks/compare.py --chart out.png   # also a PNG of ns/op against keys

Each case runs the same loop over the same keys on every implementation and
reports nanoseconds per operation. The implementations take turns: every round
measures each of them once (in a rotating order), and the best of the rounds is
kept, so that noise from other processes hits all of them alike. Absolute
numbers depend on the machine; the ratios are what to compare.

Peers in the LRU cases, beside zict 3.0.0: lru-dict (``from lru import LRU``, a C
extension) and cachetools (``cachetools.LRUCache``, pure Python), when installed
(``pip install -e '.[bench]'``); a plain dict is the floor. Neither peer has
callbacks, a lock or (lru-dict) weights. The chart needs matplotlib.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, MutableMapping
from typing import Any

import zict

import zict_core

assert not zict.__file__.startswith(zict_core.__path__[0]), "zict must be the real zict"

try:
    from lru import LRU as LruDict
except ImportError:  # pragma: no cover - optional peer
    LruDict = None
try:
    import cachetools
except ImportError:  # pragma: no cover - optional peer
    cachetools = None


# ---------------------------------------------------------- implementations


class Impl:
    """What a case needs from an implementation; None where it has no such thing."""

    label = ""
    available = True

    def lru(self, n: int) -> MutableMapping | None:
        return None

    def weighted_lru(
        self, cap: int, weight: Callable[[Any, Any], int]
    ) -> MutableMapping | None:
        return None

    def buffer(self, n_fast: int) -> MutableMapping | None:
        return None


class Zict(Impl):
    def __init__(self, label: str, mod: Any) -> None:
        self.label, self.mod = label, mod

    def lru(self, n):
        return self.mod.LRU(n, {})

    def weighted_lru(self, cap, weight):
        return self.mod.LRU(cap, {}, weight=weight)

    def buffer(self, n_fast):
        return self.mod.Buffer({}, {}, n_fast)


class LruDictImpl(Impl):
    label = "lru-dict"
    available = LruDict is not None

    def lru(self, n):
        return LruDict(n)  # no weights: weighted_lru stays None


class CachetoolsImpl(Impl):
    label = "cachetools"
    available = cachetools is not None

    def lru(self, n):
        return cachetools.LRUCache(maxsize=n)

    def weighted_lru(self, cap, weight):
        return cachetools.LRUCache(maxsize=cap, getsizeof=lambda v: weight(None, v))


class Dict(Impl):
    """The floor: each case says what a plain dict does in its place."""

    label = "dict"


CORE, ZICT, DICT = Zict("zict_core", zict_core), Zict("zict", zict), Dict()
IMPLS: list[Impl] = [CORE, ZICT, LruDictImpl(), CachetoolsImpl(), DICT]
LABELS = [i.label for i in IMPLS]

# A prepared case: one call = one measurement, in ns per operation.
Measure = Callable[[], float]


def keys_for(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def timed(loop: Callable[[], int]) -> float:
    """ns per operation of loop() (which returns how many operations it did)."""
    t0 = time.perf_counter_ns()
    ops = loop()
    return (time.perf_counter_ns() - t0) / ops


def fill(m: MutableMapping, keys: list[str], value: Any = 1) -> MutableMapping:
    for k in keys:
        m[k] = value
    return m


class Pool:
    """Fresh keys for an LRU of n keys, in batches of ``ops``: a key comes back only
    after more than n other inserts, so it was evicted meanwhile."""

    def __init__(self, n: int, ops: int) -> None:
        size = -(-max(2 * n, n + 2 * ops) // ops) * ops
        self.keys = keys_for(size, "new")
        self.i = 0
        self.ops = ops

    def next(self) -> list[str]:
        b = self.keys[self.i : self.i + self.ops]
        self.i = (self.i + self.ops) % len(self.keys)
        return b


# ----------------------------------------------------------------- LRU cases


def lru_get_hit(impl: Impl, n: int) -> Measure | None:
    keys = keys_for(n)
    m = dict.fromkeys(keys, 1) if impl is DICT else impl.lru(n + 1)
    if m is None:
        return None
    fill(m, keys)
    probe = keys * max(1, 200_000 // n)

    def loop() -> int:
        for k in probe:
            m[k]
        return len(probe)

    return lambda: timed(loop)


def lru_insert_evict(impl: Impl, n: int, ops: int = 100_000) -> Measure | None:
    keys = keys_for(n)
    if impl is DICT:
        # the floor: a dict insert plus a dict delete of the oldest key
        fresh = keys_for(ops, "new")
        order = keys + fresh

        def measure_dict() -> float:
            d = dict.fromkeys(keys, 1)
            old = iter(order)

            def loop() -> int:
                for k in fresh:
                    d[k] = 1
                    del d[next(old)]
                return len(fresh)

            return timed(loop)

        return measure_dict
    m = impl.lru(n)
    if m is None:
        return None
    fill(m, keys)
    pool = Pool(n, ops)

    def measure() -> float:
        batch = pool.next()

        def loop() -> int:
            for k in batch:
                m[k] = 1
            return len(batch)

        return timed(loop)

    return measure


def _weight(k: Any, v: bytes) -> int:
    return len(v)


def lru_insert_weighted(impl: Impl, n: int, ops: int = 100_000) -> Measure | None:
    """Insert with a weight function (10 per key) into a full LRU of n keys:
    one weight call and one eviction per insert."""
    keys = keys_for(n)
    value = b"x" * 10
    if impl is DICT:
        return lru_insert_evict(impl, n, ops)
    m = impl.weighted_lru(10 * n, _weight)
    if m is None:
        return None
    fill(m, keys, value)
    pool = Pool(n, ops)

    def measure() -> float:
        batch = pool.next()

        def loop() -> int:
            for k in batch:
                m[k] = value
            return len(batch)

        return timed(loop)

    return measure


def overhead_bytes_per_key(impl: Impl, n: int) -> float | None:
    """Traced bytes of the LRU holding n keys minus those of a plain dict of the
    same keys (keys allocated beforehand), per key."""
    if impl is DICT:
        return 0.0
    if impl.lru(1) is None:
        return None
    keys = keys_for(n)
    gc.collect()
    tracemalloc.start()
    d = dict.fromkeys(keys, 1)
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del d
    gc.collect()
    tracemalloc.start()
    m = fill(impl.lru(n + 1), keys)  # type: ignore[arg-type]
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del m
    return (used - base) / n


# -------------------------------------------------------------- Buffer cases


def make_buffer(impl: Impl, n_fast: int, n_keys: int):
    b = impl.buffer(n_fast)
    return None if b is None else fill(b, keys_for(n_keys))


def buffer_get_hit(impl: Impl, n: int) -> Measure | None:
    keys = keys_for(n)
    m = dict.fromkeys(keys, 1) if impl is DICT else make_buffer(impl, n + 1, n)
    if m is None:
        return None
    probe = keys * max(1, 200_000 // n)

    def loop() -> int:
        for k in probe:
            m[k]
        return len(probe)

    return lambda: timed(loop)


def buffer_promote(impl: Impl, n: int) -> Measure | None:
    """Working set twice the fast tier: every read promotes one key from slow and
    spills one to slow."""
    m = make_buffer(impl, n // 2, n)
    if m is None:
        return None
    probe = keys_for(n) * max(1, 100_000 // n)

    def loop() -> int:
        for k in probe:
            m[k]
        return len(probe)

    return lambda: timed(loop)


def buffer_set_spill(impl: Impl, n: int, ops: int = 50_000) -> Measure | None:
    """New keys into a Buffer whose fast tier is full: every insert spills one."""
    if impl.buffer(1) is None:
        return None
    fresh = keys_for(ops, "new")

    def measure() -> float:
        m = make_buffer(impl, n, n)

        def loop() -> int:
            for k in fresh:
                m[k] = 1  # type: ignore[index]
            return len(fresh)

        return timed(loop)

    return measure


def buffer_set_delete(impl: Impl, n: int) -> Measure | None:
    keys = keys_for(n, "tmp")
    m = {} if impl is DICT else make_buffer(impl, n, n)
    if m is None:
        return None

    def loop() -> int:
        for k in keys:
            m[k] = 1
            del m[k]
        return 2 * len(keys)

    return lambda: timed(loop)


# ---------------------------------------------------------------------- run


def measure_case(
    prepare: Callable[[Impl], Measure | None], impls: list[Impl], rounds: int
) -> dict[str, float]:
    """Best ns/op per implementation, the implementations taking turns each round."""
    prepared = []
    for impl in impls:
        fn = prepare(impl) if impl.available else None
        if fn is not None:
            prepared.append((impl.label, fn))
    best = {label: math.inf for label, _ in prepared}
    for r in range(rounds):
        shift = r % len(prepared)
        for label, fn in prepared[shift:] + prepared[:shift]:
            gc.collect()
            best[label] = min(best[label], fn())
    del prepared
    gc.collect()
    return {i.label: best.get(i.label, math.nan) for i in impls}


def fmt_ns(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.0f}"


def fmt_ratio(a: float, b: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(a) or math.isnan(b) else f"{a / b:.{digits}f}x"


def write_chart(
    path: str, sweep: dict[str, dict[int, dict[str, float]]], note: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "zict_core": ("tab:blue", "o", 2.4),
        "zict": ("tab:red", "s", 1.6),
        "lru-dict": ("tab:green", "^", 1.6),
        "cachetools": ("tab:orange", "v", 1.6),
        "dict": ("0.35", "", 1.2),
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, (title, series) in zip(axes, sweep.items()):
        sizes = sorted(series)
        for label in LABELS:
            ys = [series[n].get(label, math.nan) for n in sizes]
            if all(math.isnan(y) for y in ys):
                continue
            color, marker, lw = styles[label]
            name = "dict (floor)" if label == "dict" else label
            ax.plot(
                sizes,
                ys,
                label=name,
                color=color,
                marker=marker or None,
                linewidth=lw,
                linestyle="--" if label == "dict" else "-",
                markersize=5,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("number of keys")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", axis="y", alpha=0.12)
    axes[0].set_ylabel("ns per operation (log scale, lower is better)")
    axes[0].legend(fontsize=9, loc="upper left")
    fig.suptitle(note, fontsize=8, y=0.005, va="bottom", color="0.3")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument(
        "--rounds", type=int, help="rounds per case, best kept (default 5; --quick 2)"
    )
    ap.add_argument(
        "--chart",
        metavar="PATH",
        help="write a PNG of ns/op against the number of keys",
    )
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    sizes_evict = [100, 10_000] if args.quick else [100, 10_000, 1_000_000]
    sizes_buf = [1_000] if args.quick else [1_000, 100_000]
    sizes_chart = (
        [100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000, 1_000_000]
    )
    load_before = os.getloadavg()[0]

    done: dict[tuple[str, int], dict[str, float]] = {}

    def run(kind: str, n: int) -> dict[str, float]:
        if (kind, n) not in done:
            fn = CASES[kind]
            done[kind, n] = measure_case(lambda i: fn(i, n), IMPLS, rounds)
        return done[kind, n]

    table: list[tuple[str, str, int]] = [("LRU get (hit), {n:,} keys", "get", 10_000)]
    table += [("LRU insert with eviction, {n:,} keys", "evict", n) for n in sizes_evict]
    table.append(
        ("LRU insert with eviction, weight function, {n:,} keys", "weighted", 10_000)
    )
    for n in sizes_buf:
        table += [
            ("Buffer get (hit), {n:,} keys", "buf-get", n),
            ("Buffer get with promotion+spill, {n:,} keys", "buf-promote", n),
            ("Buffer set with spill, {n:,} keys", "buf-spill", n),
            ("Buffer set+delete, {n:,} keys", "buf-setdel", n),
        ]

    rows = []
    for title, kind, n in table:
        name = title.format(n=n)
        res = run(kind, n)
        rows.append((name, res))
        if not args.markdown:
            core = res["zict_core"]
            peers = "  ".join(f"{lab} {fmt_ns(res[lab]):>6}" for lab in LABELS[1:])
            print(
                f"{name:45s} zict_core {fmt_ns(core):>6} ns  {peers}"
                f"  | zict/core {fmt_ratio(res['zict'], core):>6}  core/dict {fmt_ratio(core, res['dict'], 2):>6}",
                flush=True,
            )

    sweep: dict[str, dict[int, dict[str, float]]] = {}
    if args.chart:
        sweep = {"LRU get (hit)": {}, "LRU insert with eviction": {}}
        for n in sizes_chart:
            sweep["LRU get (hit)"][n] = run("get", n)
            sweep["LRU insert with eviction"][n] = run("evict", n)
            if not args.markdown:
                print(f"chart: {n:,} keys done", flush=True)

    mem_sizes = [10_000] if args.quick else [10_000, 1_000_000]
    mem = {
        n: {i.label: overhead_bytes_per_key(i, n) for i in IMPLS if i.available}
        for n in mem_sizes
    }
    load_after = os.getloadavg()[0]
    env = (
        f"Python {sys.version.split()[0]}, zict_core {zict_core.__version__}, zict {zict.__version__}"
        + (f", lru-dict {_version('lru-dict')}" if LruDict else "")
        + (f", cachetools {cachetools.__version__}" if cachetools else "")
        + f"; best of {rounds} interleaved rounds; load average {load_before:.2f} -> {load_after:.2f}"
    )

    if args.markdown:
        print(
            "| operation | zict_core ns/op | zict ns/op | lru-dict ns/op | cachetools ns/op | dict ns/op "
            "| zict / zict_core | zict_core / dict | zict_core / lru-dict |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, res in rows:
            core = res["zict_core"]
            cells = " | ".join(fmt_ns(res[lab]) for lab in LABELS)
            print(
                f"| {name} | {cells} | {fmt_ratio(res['zict'], core)} "
                f"| {fmt_ratio(core, res['dict'], 2)} | {fmt_ratio(core, res['lru-dict'], 2)} |"
            )
        for n, m in mem.items():
            cells = " | ".join(
                "n/a" if m.get(lab) is None else f"{m[lab]:.1f}" for lab in LABELS[:-1]
            )
            print(
                f"| LRU overhead per key, {n:,} keys (bytes, tracemalloc) | {cells} | 0 | | | |"
            )
    else:
        for n, m in mem.items():
            cells = ", ".join(
                f"{lab} {v:.1f} B"
                for lab, v in m.items()
                if v is not None and lab != "dict"
            )
            print(f"LRU overhead per key at {n:,} keys: {cells}")
    print(f"# {env}")

    if args.chart:
        write_chart(args.chart, sweep, env)
        print(f"# chart written to {args.chart}", file=sys.stderr)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


CASES: dict[str, Callable[[Impl, int], Measure | None]] = {
    "get": lru_get_hit,
    "evict": lru_insert_evict,
    "weighted": lru_insert_weighted,
    "buf-get": buffer_get_hit,
    "buf-promote": buffer_promote,
    "buf-spill": buffer_set_spill,
    "buf-setdel": buffer_set_delete,
}


if __name__ == "__main__":
    main()
