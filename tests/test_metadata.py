"""Distribution metadata of the installed zict-core, and where it was imported from.

Runs against whatever installed zict_core (editable in a checkout, a wheel in
tools/check_dist.py and cibuildwheel): the version has one source
(zict_core/_version.py), and the metadata says what pyproject.toml declares.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import os
import sysconfig
from pathlib import Path

import pytest

import zict_core

DIST = importlib.metadata.distribution("zict-core")
PACKAGE_DIR = Path(zict_core.__file__).resolve().parent


def test_version_is_single_sourced():
    from zict_core._version import __version__

    assert importlib.metadata.version("zict-core") == zict_core.__version__
    assert zict_core.__version__ == __version__


def test_metadata():
    md = DIST.metadata
    assert md["Name"] == "zict-core"
    assert md["Requires-Python"] == ">=3.9"
    # PEP 639: an SPDX expression (older setuptools wrote it to License)
    assert (md.get("License-Expression") or md.get("License")) == "BSD-3-Clause"
    classifiers = set(md.get_all("Classifier"))
    for minor in range(9, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = dict(u.split(", ", 1) for u in md.get_all("Project-URL"))
    assert {"Homepage", "Source", "Changelog", "Issues"} <= set(urls)
    # README.md is the long description
    assert md["Description-Content-Type"] == "text/markdown"
    description = md.get("Description") or md.get_payload()
    assert description.lstrip().startswith("# zict_core")


def test_license_file_is_installed():
    names = {Path(str(f)).name for f in DIST.files or ()}
    assert "LICENSE" in names, sorted(names)


def test_stubs_and_marker_sit_next_to_the_modules():
    """py.typed and one .pyi per compiled module, beside the extension modules
    (PEP 561: type checkers read them from the installed package)."""
    assert (PACKAGE_DIR / "py.typed").is_file()
    for name in ("_base", "_lru", "_buffer"):
        assert (PACKAGE_DIR / f"{name}.pyi").is_file(), name
        compiled = [
            p
            for p in PACKAGE_DIR.iterdir()
            if p.name.startswith(name + ".")
            and p.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        ]
        assert compiled, f"no compiled {name} in {PACKAGE_DIR}"


@pytest.mark.skipif(
    os.environ.get("ZICT_CORE_EXPECT_INSTALLED") != "1",
    reason="set ZICT_CORE_EXPECT_INSTALLED=1 when testing an installed wheel",
)
def test_imported_from_the_installed_wheel():
    """Under tools/check_dist.py and cibuildwheel the suite must exercise the wheel:
    zict_core comes from site-packages, not from a source tree on sys.path."""
    site_dirs = {
        Path(sysconfig.get_paths()[name]).resolve() for name in ("purelib", "platlib")
    }
    assert PACKAGE_DIR.parent in site_dirs, (PACKAGE_DIR, site_dirs)
    assert not (PACKAGE_DIR.parent / "setup.py").exists()
    assert not list(PACKAGE_DIR.glob("*.pyx")), "source files in the installed package"
    assert DIST.locate_file("zict_core").resolve() == PACKAGE_DIR
