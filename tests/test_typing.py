"""The type stubs of the compiled modules (zict_core/_base.pyi, _lru.pyi, _buffer.pyi).

mypy runs in a subprocess on the zict_core that this suite imports: against an
installed wheel it finds the package through PEP 561 (so this also proves the wheel
ships py.typed and the stubs); in a source checkout (editable installs use an import
hook mypy cannot follow) through MYPYPATH. Skipped where mypy is not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import zict_core

pytestmark = pytest.mark.slow
pytest.importorskip("mypy")

HERE = Path(__file__).resolve().parent
PACKAGE_PARENT = Path(zict_core.__file__).resolve().parent.parent


def _installed() -> bool:
    site_dirs = {sysconfig.get_paths()[name] for name in ("purelib", "platlib")}
    return any(PACKAGE_PARENT == Path(d).resolve() for d in site_dirs)


def run_mypy(
    tmp_path: Path, *args: str, module: str = "mypy"
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if not _installed():
        env["MYPYPATH"] = str(PACKAGE_PARENT)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        check=False,
        # outside any checkout, so no project config and no local zict_core
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def mypy_strict(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return run_mypy(
        tmp_path,
        "--strict",
        "--follow-imports=silent",  # report the example's errors, not zict_core's
        "--no-color-output",
        "--cache-dir",
        str(tmp_path / ".mypy_cache"),
        str(path),
    )


def test_typed_example_passes_mypy_strict(tmp_path):
    """tests/typing_example.py: LRU[str, bytes], Buffer[str, object], stats,
    views, callbacks and properties type-check under --strict."""
    proc = mypy_strict(tmp_path, HERE / "typing_example.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr


MISUSE = """
import zict_core
from zict_core.lru import LRUStats

def size(key: str, value: bytes) -> int:
    return len(value)

lru: zict_core.LRU[str, bytes] = zict_core.LRU(10, {}, weight=size)
reveal_type(lru["k"])  # R: bytes
reveal_type(lru.stats)  # R: tuple[int, int, int, fallback=zict_core._lru.LRUStats]
reveal_type(lru.weights["k"])  # R: float
reveal_type(list(lru.order))  # R: list[str]
reveal_type(lru.evict())  # R: tuple[str, bytes, float] | tuple[None, None, float]
lru[1] = b"x"  # E: key of the wrong type
lru["k"] = "text"  # E: value of the wrong type
lru.n = "big"  # E: n is a number
lru.d = {}  # E: d is read-only
zict_core.LRU(10, {}, weight=lambda k, v: "heavy")  # E: weight returns a number
lru.on_evict = 42  # E: callbacks are callables
buf: zict_core.Buffer[str, int] = zict_core.Buffer({}, {}, 10)
reveal_type(buf.fast)  # R: zict_core._lru.LRU[str, int]
reveal_type(buf.stats.spilled_weight)  # R: float
buf["k"] = "no"  # E: value of the wrong type
buf.fast["k"] = "no"  # E: fast holds the same types
buf.fast = zict_core.LRU(1, {})  # E: fast is read-only
spills: str = buf.stats.spills  # E: counters are ints
"""


def test_misuse_is_rejected_and_types_are_inferred(tmp_path):
    """Without generic stubs every line below would be Any and pass: each '# E' line
    must be an error (and no other line), each '# R' reveal the stated type."""
    path = tmp_path / "misuse.py"
    source = textwrap.dedent(MISUSE)
    path.write_text(source)
    proc = mypy_strict(tmp_path, path)
    lines = source.splitlines()
    expected_errors = {i for i, line in enumerate(lines, 1) if "# E:" in line}
    expected_reveals = {
        i: line.split("# R: ")[1] for i, line in enumerate(lines, 1) if "# R: " in line
    }
    errors, reveals = set(), {}
    for out in proc.stdout.splitlines():
        m = re.match(r".*misuse\.py:(\d+): (error|note): (.*)", out)
        if not m:
            continue
        lineno, kind, message = int(m[1]), m[2], m[3]
        if kind == "error":
            errors.add(lineno)
        elif message.startswith("Revealed type is"):
            # older mypy spells builtins with their module name
            reveals[lineno] = message.split('"')[1].replace("builtins.", "")
    assert errors == expected_errors, proc.stdout
    assert reveals == expected_reveals, proc.stdout


def test_stubs_match_the_compiled_modules(tmp_path):
    """mypy.stubtest imports the compiled modules and compares every class, method,
    property and signature with the stubs; tests/stubtest_allowlist.txt lists the
    deliberate differences, each with its reason."""
    proc = run_mypy(
        tmp_path,
        "--allowlist",
        str(HERE / "stubtest_allowlist.txt"),
        "zict_core._base",
        "zict_core._lru",
        "zict_core._buffer",
        module="mypy.stubtest",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
