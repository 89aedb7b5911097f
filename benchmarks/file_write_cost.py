"""What crash-safe writes cost: zict_core.File (temp file + rename) against
zict.File (writes the final file directly), in the same process.

    python benchmarks/file_write_cost.py [--dir DIR ...] [--rounds 15]

For each directory (default: the system temp dir, plus /dev/shm when it exists,
a RAM file system that shows the pure CPU and system-call cost without disk
noise) and each value size, it times ``File[key] = value`` on new keys (the
spill pattern: Buffer deletes a key before writing it again). Rounds of the two
implementations alternate, so that noise from other processes hits both alike;
it prints the best and the median microseconds per write and the ratio of the
medians, zict_core / zict. ``fsync=True`` (opt-in, dominated by the device's
flush latency) is shown for reference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import zict

import zict_core

SIZES = {"1 KiB": (2**10, 500), "1 MiB": (2**20, 40)}


def one_round(make, value: bytes, count: int, root: str) -> float:
    """Seconds per write for *count* writes of *value* to new keys."""
    directory = tempfile.mkdtemp(dir=root)
    z = make(directory)
    keys = [f"key-{i}" for i in range(count)]
    start = time.perf_counter()
    for key in keys:
        z[key] = value
    elapsed = time.perf_counter() - start
    shutil.rmtree(directory)
    return elapsed / count


def compare(root: str, rounds: int, with_fsync: bool) -> None:
    print(f"\ndirectory: {root}")
    print(
        f"{'value':>6} | {'zict.File best/median':>22} | "
        f"{'zict_core best/median':>22} | {'ratio':>6} | {'fsync=True':>10}"
    )
    print("-" * 80)
    impls = {"zict": zict.File, "zict_core": zict_core.File}
    for label, (size, count) in SIZES.items():
        value = os.urandom(size)
        times: dict[str, list[float]] = {name: [] for name in impls}
        for _ in range(rounds):
            for name, make in impls.items():
                times[name].append(one_round(make, value, count, root))
        best = {n: min(t) * 1e6 for n, t in times.items()}
        med = {n: statistics.median(t) * 1e6 for n, t in times.items()}
        synced = "-"
        if with_fsync:
            t = min(
                one_round(lambda d: zict_core.File(d, fsync=True), value, 10, root)
                for _ in range(3)
            )
            synced = f"{t * 1e6:.0f}us"
        print(
            f"{label:>6} | {best['zict']:8.1f} / {med['zict']:8.1f} us | "
            f"{best['zict_core']:8.1f} / {med['zict_core']:8.1f} us | "
            f"{med['zict_core'] / med['zict']:5.2f}x | {synced:>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", action="append", help="where to write (repeatable)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-fsync", action="store_true", help="skip fsync=True")
    args = parser.parse_args()
    assert zict.File is not zict_core.File and "zict_core" not in zict.__file__
    dirs = args.dir or [tempfile.gettempdir()] + (
        ["/dev/shm"] if os.path.isdir("/dev/shm") else []
    )
    print(f"python {sys.version.split()[0]}, zict {zict.__version__}")
    for d in dirs:
        root = tempfile.mkdtemp(dir=d, prefix="file_write_cost-")
        try:
            compare(root, args.rounds, with_fsync=not args.no_fsync)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
