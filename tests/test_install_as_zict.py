"""zict_core.install_as_zict(), each case in a fresh interpreter.

The test process itself imports the real zict (the differential tests' oracle),
so every check runs in a subprocess where nothing imported zict yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

MODULES = [
    "common",
    "utils",
    "lru",
    "buffer",
    "async_buffer",
    "cache",
    "file",
    "func",
    "keymap",
    "lmdb",
    "sieve",
    "zip",
]


def run(code: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("ZICT_CORE_AS_ZICT", None)  # only the explicit call under test
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def run_json(code: str):
    return json.loads(run(code).stdout.strip().splitlines()[-1])


def test_zict_resolves_to_zict_core_modules():
    out = run_json(
        f"""
        import json, sys
        import zict_core
        assert "zict" not in sys.modules
        zict_core.install_as_zict()

        import zict
        import zict.lru
        import zict.common
        from zict.lru import LRU
        from zict import LRU as LRU2
        from zict.common import ZictBase
        import importlib
        checks = {{
            "zict": zict is zict_core,
            "zict.lru": zict.lru is zict_core.lru,
            "zict.common": zict.common is zict_core.common,
            "from zict.lru import LRU": LRU is zict_core.LRU,
            "from zict import LRU": LRU2 is zict_core.LRU,
            "compiled": LRU is zict_core._lru.LRU,
            "ZictBase": ZictBase is zict_core.common.ZictBase,
            "version": zict.__version__ == zict_core.__version__,
        }}
        for name in {MODULES!r}:
            mod = importlib.import_module("zict." + name)
            checks["zict." + name] = (
                mod is importlib.import_module("zict_core." + name)
                and sys.modules["zict." + name] is mod
            )
        # no module of zict_core was loaded twice under another name
        files = {{}}
        for name, mod in list(sys.modules.items()):
            f = getattr(mod, "__file__", None)
            if f and "zict_core" in f:
                files.setdefault(f, set()).add(id(mod))
        checks["single copies"] = all(len(ids) == 1 for ids in files.values())
        # a library written for zict runs on zict_core
        lru = zict.LRU(2, {{}})
        lru["a"] = 1; lru["b"] = 2; lru["c"] = 3
        checks["works"] = dict(lru) == {{"b": 2, "c": 3}}
        checks["isinstance"] = isinstance(lru, zict.common.ZictBase)
        print(json.dumps(checks))
        """
    )
    assert out and all(out.values()), {k: v for k, v in out.items() if not v}
    assert set(out) >= {"zict." + m for m in MODULES}


def test_version_matches():
    out = run_json(
        """
        import json, zict_core
        zict_core.install_as_zict()
        import zict
        print(json.dumps([zict.__version__, zict_core.__version__]))
        """
    )
    import zict_core

    assert out == [zict_core.__version__, zict_core.__version__]


def test_calling_twice_is_harmless():
    out = run_json(
        """
        import json, sys, zict_core
        zict_core.install_as_zict()
        import zict.lru
        first = (sys.modules["zict"], sys.modules["zict.lru"])
        zict_core.install_as_zict()
        import zict.lru
        second = (sys.modules["zict"], sys.modules["zict.lru"])
        finders = [f for f in sys.meta_path if type(f).__module__ == "zict_core"]
        print(json.dumps({
            "same": first[0] is second[0] and first[1] is second[1],
            "is_core": second[0] is zict_core,
            "finders": len(finders),
        }))
        """
    )
    assert out["same"] and out["is_core"]
    assert out["finders"] <= 1


@pytest.mark.parametrize(
    "first_import", ["import zict", "import zict.lru", "from zict import LRU"]
)
def test_after_real_zict_raises_runtime_error(first_import):
    proc = run(
        f"""
        import sys
        {first_import}
        real = sys.modules["zict"]
        import zict_core
        try:
            zict_core.install_as_zict()
        except RuntimeError as e:
            print("RuntimeError:", e)
        else:
            print("no error")
        # the real zict is left in place
        assert sys.modules["zict"] is real
        assert sys.modules["zict"] is not zict_core
        import zict.lru
        assert zict.lru.LRU is not zict_core.LRU
        """
    )
    out = proc.stdout
    assert out.startswith("RuntimeError:"), out
    message = out.lower()
    assert "before" in message and "zict" in message and "import" in message


def test_unknown_submodule_is_not_found():
    proc = run(
        """
        import zict_core
        zict_core.install_as_zict()
        for name in ("zict.no_such_module", "zict.tests"):
            try:
                __import__(name)
            except ModuleNotFoundError:
                print("ok", name)
            else:
                print("imported", name)
        """
    )
    assert proc.stdout.split("\n")[:2] == ["ok zict.no_such_module", "ok zict.tests"]


def test_pickles_made_under_zict_names_load_as_zict_core():
    """Objects pickled by a process where ``zict`` is zict_core refer to the
    zict_core classes and load back unchanged."""
    out = run_json(
        """
        import json, pickle, zict_core
        zict_core.install_as_zict()
        import zict
        lru = zict.LRU(3, {"a": 1, "b": 2})
        lru["a"]
        lru2 = pickle.loads(pickle.dumps(lru))
        print(json.dumps([type(lru2) is zict_core.LRU, list(lru2.order)]))
        """
    )
    assert out == [True, ["b", "a"]]
