"""The ZICT_CORE_AS_ZICT=1 environment opt-in: zict_core_as_zict.pth, installed at
the top of site-packages, and the _zict_core_as_zict start-up hook it loads.

The hook acts when an interpreter starts, so every check runs in a fresh one:
in this environment (where zict_core is installed, editable in development and
CI, from the wheel under cibuildwheel), and, for the two install modes, in new
virtual environments that get a wheel or an editable install of this tree.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

import zict_core

ROOT = Path(__file__).resolve().parent.parent
ENV = "ZICT_CORE_AS_ZICT"
PTH = "zict_core_as_zict.pth"
HOOK = "_zict_core_as_zict"
HAVE_SOURCE_TREE = (ROOT / "setup.py").is_file() and (ROOT / "zict_core").is_dir()


def run_py(
    code: str | Path,
    value: str | None = None,
    python: str = sys.executable,
    *,
    isolated_from_this_env: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run *code* (or the script at that path) in a new interpreter with
    ZICT_CORE_AS_ZICT=*value* (unset if None), from a directory that holds no
    zict or zict_core."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if isolated_from_this_env:
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
    if value is not None:
        env[ENV] = value
    return subprocess.run(
        [python, str(code)]
        if isinstance(code, Path)
        else [python, "-c", textwrap.dedent(code)],
        check=False,
        env=env,
        cwd=Path(sysconfig.get_paths()["stdlib"]).anchor or "/",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(code: str | Path, value: str | None = None, **kw) -> dict:  # type: ignore[no-untyped-def]
    proc = run_py(code, value, **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# What a process sees of zict, printed as JSON.
PROBE = """
    import json, sys
    before = {
        "hook_loaded": "_zict_core_as_zict" in sys.modules,
        "zict_core_loaded": "zict_core" in sys.modules,
        "finders": [type(f).__name__ for f in sys.meta_path],
    }
    try:
        import zict
    except ImportError as e:
        print(json.dumps({"before": before, "zict": None, "error": repr(e)}))
        raise SystemExit(0)
    import zict.lru, zict.buffer
    import zict_core
    print(json.dumps({
        "before": before,
        "zict": zict.__name__,
        "is_zict_core": zict is zict_core,
        "version": zict.__version__,
        "zict_core_version": zict_core.__version__,
        "zict_core_file": zict_core.__file__,
        "submodules": zict.lru is zict_core.lru and zict.buffer is zict_core.buffer,
        "Buffer": zict.Buffer is zict_core.Buffer,
        "finders_after": [type(f).__name__ for f in sys.meta_path],
    }))
"""


# ------------------------------------------------------- this environment


def installed_pth() -> Path | None:
    """The hook's .pth in one of this interpreter's site directories (the only
    places where site runs .pth files)."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    for d in dirs:
        if (Path(d) / PTH).is_file():
            return Path(d) / PTH
    return None


def test_pth_is_installed_at_the_top_of_site_packages():
    pth = installed_pth()
    assert pth is not None, (
        f"no {PTH} in this environment's site-packages: reinstall zict_core "
        "(pip install -e . or the wheel) with a build that ships the hook"
    )
    assert pth.parent.resolve() in {Path(p).resolve() for p in sys.path if p}
    text = pth.read_text()
    assert text.startswith("import ") and ENV in text and HOOK in text
    assert len(text.splitlines()) == 1


@pytest.mark.parametrize("value", [None, "", "0", "false", "OFF", "no"])
def test_off_loads_nothing_and_zict_is_zict(value):
    out = run_json(PROBE, value)
    # without the variable the .pth imports nothing: no start-up cost
    assert out["before"]["hook_loaded"] is (value not in (None, ""))
    assert not out["before"]["zict_core_loaded"]
    assert "ZictCoreFinder" not in out["before"]["finders"]
    assert out["zict"] == "zict"
    assert out["version"] == importlib.metadata.version("zict")


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_on_makes_import_zict_give_zict_core(value):
    out = run_json(PROBE, value)
    before = out["before"]
    # lazy: only a finder at start-up, zict_core is imported by `import zict`
    assert before["hook_loaded"] and not before["zict_core_loaded"]
    assert before["finders"][0] == "ZictCoreFinder"
    assert out["is_zict_core"] and out["zict"] == "zict_core"
    assert out["submodules"] and out["Buffer"]
    assert "ZictCoreFinder" not in out["finders_after"]  # it left after its job


def test_zict_version_is_zict_cores_and_metadata_is_untouched():
    """README: zict.__version__ tells what runs (zict_core's version); the
    installed zict distribution's metadata is left as it is."""
    out = run_json(
        """
        import importlib.metadata, json
        import zict, zict_core
        print(json.dumps({
            "name": zict.__name__,
            "version": zict.__version__,
            "zict_core": zict_core.__version__,
            "dist": importlib.metadata.version("zict"),
        }))
        """,
        "1",
    )
    assert out["name"] == "zict_core"
    assert out["version"] == out["zict_core"] == zict_core.__version__
    assert out["dist"] == importlib.metadata.version("zict") == "3.0.0"
    assert out["version"] != out["dist"]


def test_find_spec_does_not_import_zict_core():
    # libraries probe for optional packages with find_spec: no side effect
    out = run_json(
        """
        import importlib.util, json, sys
        spec = importlib.util.find_spec("zict")
        print(json.dumps([spec is not None, "zict_core" in sys.modules,
                          "zict" in sys.modules]))
        """,
        "1",
    )
    assert out == [True, False, False]


def test_install_as_zict_after_the_hook_is_harmless():
    out = run_json(
        """
        import json, sys, zict_core
        zict_core.install_as_zict()   # before `import zict`: the finder stays idle
        zict_core.install_as_zict()
        import zict, zict.lru
        zict_core.install_as_zict()
        print(json.dumps([zict is zict_core, zict.lru is zict_core.lru]))
        """,
        "1",
    )
    assert out == [True, True]


def test_unknown_value_warns_once_and_stays_off():
    proc = run_py(PROBE, "maybe")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["zict"] == "zict"
    assert proc.stderr.count(f"ignoring {ENV}='maybe'") == 1, proc.stderr


def test_spawned_children_inherit_it(tmp_path):
    """What dask's nanny does: multiprocessing's spawn starts a fresh interpreter
    that inherits os.environ, so setting the variable before starting workers is
    enough (the parent itself keeps its zict)."""
    script = tmp_path / "spawn_child.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, multiprocessing, os

            def child(q):
                import zict
                q.put(zict.__name__)

            if __name__ == "__main__":
                import zict
                os.environ["ZICT_CORE_AS_ZICT"] = "1"
                ctx = multiprocessing.get_context("spawn")
                q = ctx.Queue()
                p = ctx.Process(target=child, args=(q,))
                p.start()
                got = q.get(timeout=60)
                p.join(60)
                print(json.dumps({"parent": zict.__name__, "child": got}))
            """
        )
    )
    out = run_json(script)
    assert out == {"parent": "zict", "child": "zict_core"}


def test_buffer_alive_at_interpreter_exit_is_quiet():
    """A Buffer still referenced when Python shuts down (dask workers keep their
    SpillBuffer to the end) must not print to stderr: zict 3.0.0 prints nothing.
    """
    code = "import sys, {m}; sys._kept = {m}.Buffer({{}}, {{}}, n=10)"
    for module in ("zict", "zict_core"):
        proc = run_py(code.format(m=module))
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", f"{module} at exit printed:\n{proc.stderr}"


# ---------------------------------------------- wheel and editable installs

needs_tree = pytest.mark.skipif(
    not HAVE_SOURCE_TREE, reason="needs the source tree (tests run from a copy)"
)


def copy_tree(dest: Path) -> Path:
    """The working tree without VCS data, caches and build output. File times
    are kept, so the in-place compiled extensions stay up to date and setuptools
    does not rebuild them."""
    ignore = shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache",
        ".hypothesis", ".benchmarks", ".asv", "wheelhouse", ".venv*", ".tox",
    )  # fmt: skip
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def make_venv(path: Path) -> tuple[str, Path]:
    """A bare virtual environment (no pip, no system site-packages)."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(path)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return str(python), Path(purelib)


OFFLINE = ("--quiet", "--no-deps", "--no-index", "--no-build-isolation")


def pip(*args: str, venv_python: str | None = None, cwd: Path, **extra_env: str) -> str:
    """Run this environment's pip, acting on the venv of *venv_python* if given
    (pip --python). A build without isolation in the venv (editable install)
    gets this environment's setuptools and Cython on PYTHONPATH; nothing else
    does, so pip never sees this environment's own zict-core."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra_env)
    cmd = [sys.executable, "-m", "pip"]
    if venv_python is not None:
        cmd += ["--python", venv_python]
        if "--editable" in args:
            tools = set()
            for name in ("setuptools", "Cython"):
                # located, not imported (importing setuptools warns about distutils)
                spec = importlib.util.find_spec(name)
                assert spec is not None and spec.origin, f"{name} is needed to build"
                tools.add(str(Path(spec.origin).parent.parent))
            env["PYTHONPATH"] = os.pathsep.join(sorted(tools))
    proc = subprocess.run(
        [*cmd, *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def check_venv(python: str, purelib: Path, package_dir: Path) -> None:
    """The .pth sits at the top of the venv's site-packages and does its job
    there; zict itself is not installed in the venv."""
    assert (purelib / PTH).is_file(), sorted(p.name for p in purelib.iterdir())
    off = run_json(PROBE, None, python=python, isolated_from_this_env=True)
    assert not off["before"]["hook_loaded"]
    assert off["zict"] is None and "zict" in off["error"]  # not installed there
    on = run_json(PROBE, "1", python=python, isolated_from_this_env=True)
    assert on["before"]["hook_loaded"] and not on["before"]["zict_core_loaded"]
    assert on["is_zict_core"] and on["submodules"]
    assert package_dir in Path(on["zict_core_file"]).parents


@needs_tree
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_install(tmp_path):
    src = copy_tree(tmp_path / "src")
    # Reuse the in-place extensions as the wheel build's output (only the
    # packaging of the hook is under test here; test_packaging builds from
    # scratch): setuptools skips an extension whose output is newer than its
    # sources.
    build_cmd = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from setuptools.dist import Distribution;"
                "c = Distribution().get_command_obj('build'); c.finalize_options();"
                "print(c.build_platlib)"
            ),
        ],
        cwd=src,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    platlib = src / build_cmd.stdout.strip() / "zict_core"
    platlib.mkdir(parents=True)
    for so in (src / "zict_core").iterdir():
        if so.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            shutil.copy(so, platlib / so.name)  # a fresh mtime: newer than sources
    dist = tmp_path / "dist"
    pip("wheel", *OFFLINE, "-w", str(dist), str(src), cwd=tmp_path)
    (wheel,) = dist.glob("zict_core-*.whl")

    python, purelib = make_venv(tmp_path / "venv")
    pip("install", *OFFLINE, str(wheel), venv_python=python, cwd=tmp_path)
    check_venv(python, purelib, purelib / "zict_core")

    pip("uninstall", "--yes", "zict-core", venv_python=python, cwd=tmp_path)
    assert not (purelib / PTH).exists()
    assert not (purelib / f"{HOOK}.py").exists()


@needs_tree
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_editable_install(tmp_path):
    src = copy_tree(tmp_path / "src")
    python, purelib = make_venv(tmp_path / "venv")
    # An editable build always compiles the extensions afresh (in a temporary
    # build directory): -O0 (setup.py's debug build) halves the time.
    pip(
        "install",
        *OFFLINE,
        "--editable",
        str(src),
        venv_python=python,
        cwd=tmp_path,
        ZICT_CORE_DEBUG="1",
    )
    check_venv(python, purelib, src / "zict_core")
    # editable: the hook module is the tree's own file
    out = run_json(
        "import json, _zict_core_as_zict as h; print(json.dumps(h.__file__))",
        python=python,
        isolated_from_this_env=True,
    )
    assert Path(out) == src / f"{HOOK}.py"
