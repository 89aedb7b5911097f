"""Build the wheel from a clean copy of the tracked sources and check what ships.

setuptools' automatic discovery would take ``src/`` (C headers only) for a
src-layout and build a wheel without the package: this catches that, a wheel
without its compiled modules, and sources leaking into it.
"""

from __future__ import annotations

import email.parser
import importlib.machinery
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)

pytestmark = [
    pytest.mark.slow,
    # It builds from the checkout's tracked files: nothing to do when the tests
    # run from a copy against an installed wheel (tools/check_dist.py, the
    # cibuildwheel test step), where the wheel's contents are checked there.
    pytest.mark.skipif(
        not (REPO / ".git").exists(), reason="needs a git checkout of the sources"
    ),
]


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    try:
        import build  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "build"], check=True
        )
    src = tmp_path_factory.mktemp("src")
    for name in tracked_files():
        path = REPO / name
        if path.is_file():  # tracked but deleted in the working tree: skip
            dest = src / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(src),
        ],
        check=False,
        cwd=src,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_wheel_name(wheel):
    import zict_core

    assert wheel.name.startswith(f"zict_core-{zict_core.__version__}-")


def test_wheel_holds_the_package(names):
    assert "zict_core/__init__.py" in names
    tracked_py = [
        f for f in tracked_files() if f.startswith("zict_core/") and f.endswith(".py")
    ]
    assert tracked_py
    missing = [f for f in tracked_py if f not in names]
    assert not missing, missing


@pytest.mark.parametrize("module", ["_base", "_lru"])
def test_wheel_holds_compiled_modules(names, module):
    compiled = [
        n
        for n in names
        if n.startswith(f"zict_core/{module}.") and n.endswith(EXTENSION_SUFFIXES)
    ]
    assert len(compiled) == 1, (module, names)


def test_every_tracked_pyx_is_compiled(names):
    pyx = [
        f for f in tracked_files() if f.startswith("zict_core/") and f.endswith(".pyx")
    ]
    for f in pyx:
        stem = f[: -len(".pyx")]
        assert any(
            n.startswith(stem + ".") and n.endswith(EXTENSION_SUFFIXES) for n in names
        ), f


def test_wheel_holds_typing_files_if_the_repo_has_them(names):
    tracked = tracked_files()
    for f in tracked:
        if f.startswith("zict_core/") and f.endswith((".pyi", "py.typed")):
            assert f in names, f


def test_wheel_holds_no_sources_or_build_junk(names):
    bad = [
        n
        for n in names
        if n.endswith((".pyx", ".pxd", ".c", ".h", ".html", ".o"))
        or n.startswith(("tests/", "src/", "benchmarks/", "build/"))
        or "__pycache__" in n
    ]
    assert not bad, bad


def test_wheel_metadata(wheel, names):
    import zict_core

    meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as zf:
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    assert meta["Name"] in ("zict-core", "zict_core")
    assert meta["Version"] == zict_core.__version__
    assert meta["Requires-Python"] == ">=3.9"


def test_installed_wheel_imports_its_compiled_core(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(target)
    env.pop("ZICT_CORE_AS_ZICT", None)
    code = (
        "import zict_core, zict_core._lru as m;"
        "assert zict_core.LRU is m.LRU;"
        "lru = zict_core.LRU(2, {}); lru['a'] = 1; lru['b'] = 2; lru['c'] = 3;"
        "assert dict(lru) == {'b': 2, 'c': 3};"
        "print(m.__file__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,  # not the repo: the in-place build must not be picked up
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = Path(proc.stdout.strip())
    assert target in loaded.parents
    assert loaded.name.endswith(EXTENSION_SUFFIXES)
