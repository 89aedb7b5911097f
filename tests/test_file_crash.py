"""Crash safety of File: a child process writes large values in a loop and is
killed with SIGKILL at random moments; after each kill the directory is reopened
and every key present must hold one complete value written for it.

Seeded: the seed is printed (shown by pytest on failure); rerun one with
``ZICT_CORE_CRASH_SEED=<seed>``. ``ZICT_CORE_CRASH_ROUNDS`` sets the number of
kills (default 8).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

import zict_core.file
from zict_core import File

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)"
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each value describes itself: a header naming its key, then a payload derived
# from the header. A torn or mixed-up value cannot pass check_value().
CHILD = r"""
import hashlib, importlib, random, sys
sys.path.insert(0, sys.argv[1])
directory, seed, tag, module = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
File = importlib.import_module(module).File
r = random.Random(seed)
z = File(directory)
print("ready", flush=True)
i = 0
while True:
    key = f"k{r.randrange(6)}"
    size = r.randrange(2**16, 6 * 2**20)
    header = f"{key}|{tag}|{i}|{size}|".encode()
    block = hashlib.shake_128(header).digest(4096)
    payload = (block * (size // 4096 + 1))[: size - len(header)]
    if r.random() < 0.5:
        z[key] = header + payload
    else:
        cut = r.randrange(len(payload) + 1)
        z[key] = [header, payload[:cut], memoryview(payload)[cut:]]
    if r.random() < 0.1:
        del z[key]
    i += 1
"""


def check_value(key: str, value: bytes) -> None:
    fields = value.split(b"|", 4)
    assert len(fields) == 5, f"{key}: no header, {len(value)} bytes"
    vkey, _tag, _i, size, _ = fields
    assert vkey.decode() == key, f"{key} holds a value of {vkey!r}"
    assert len(value) == int(size), f"{key}: {len(value)} bytes of {int(size)}"
    header = b"|".join(fields[:4]) + b"|"
    block = hashlib.shake_128(header).digest(4096)
    payload = (block * (int(size) // 4096 + 1))[: int(size) - len(header)]
    assert value[len(header) :] == payload, f"{key}: corrupt payload"


def run_rounds(directory: str, seed: int, rounds: int, module: str) -> dict:
    r = random.Random(seed)
    stats = {"keys_checked": 0, "leftover_temps": 0}
    for round_ in range(rounds):
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                ROOT,
                directory,
                str(r.randrange(2**32)),
                str(round_),
                module,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert child.stdout.readline() == b"ready\n", child.stderr.read()
            time.sleep(r.uniform(0.05, 0.4))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL

        stats["leftover_temps"] += sum(
            name.startswith(zict_core.file.TEMP_PREFIX)
            for name in os.listdir(directory)
        )
        z = File(directory)
        names = os.listdir(directory)
        assert not any(n.startswith(zict_core.file.TEMP_PREFIX) for n in names)
        assert sorted(names) == sorted(z.filenames.values())
        for key in z:
            check_value(key, bytes(z[key]))
            stats["keys_checked"] += 1
    return stats


def test_sigkill_during_writes(tmp_path):
    seed = int(os.environ.get("ZICT_CORE_CRASH_SEED") or random.randrange(2**32))
    rounds = int(os.environ.get("ZICT_CORE_CRASH_ROUNDS", "8"))
    print(f"crash test seed: {seed} (rerun with ZICT_CORE_CRASH_SEED={seed})")
    stats = run_rounds(str(tmp_path), seed, rounds, "zict_core")
    print(f"crash test seed {seed}: {stats}")
    assert stats["keys_checked"] > 0, f"seed {seed}: the child never wrote a value"


def test_check_value_detects_torn_values():
    """The checker itself: a truncated, extended or misattributed value fails."""
    header = b"k1|0|0|10000|"
    block = hashlib.shake_128(header).digest(4096)
    value = header + (block * 3)[: 10000 - len(header)]
    check_value("k1", value)
    for bad_key, bad in [
        ("k1", value[:5000]),
        ("k1", value + b"x"),
        ("k2", value),
        ("k1", value[:-1] + bytes([value[-1] ^ 1])),
        ("k1", b""),
    ]:
        with pytest.raises(AssertionError):
            check_value(bad_key, bad)
