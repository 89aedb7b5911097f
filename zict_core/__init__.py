"""zict_core: composable mutable mappings, a drop-in zict with a compiled core.

``import zict_core as zict`` gives every class of zict 3.0.0 under the same names;
:func:`install_as_zict` makes libraries that ``import zict`` themselves run on
zict_core.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

from zict_core._version import __version__
from zict_core.async_buffer import AsyncBuffer
from zict_core.buffer import Buffer
from zict_core.cache import Cache, WeakValueMapping
from zict_core.file import File
from zict_core.func import Func
from zict_core.keymap import KeyMap
from zict_core.lmdb import LMDB
from zict_core.lru import LRU
from zict_core.sieve import Sieve
from zict_core.utils import InsertionSortedSet
from zict_core.zip import Zip

__all__ = [
    "LMDB",
    "LRU",
    "AsyncBuffer",
    "Buffer",
    "Cache",
    "File",
    "Func",
    "InsertionSortedSet",
    "KeyMap",
    "Sieve",
    "WeakValueMapping",
    "Zip",
    "__version__",
    "install_as_zict",
]

#: The public modules of zict, each mirrored by ``zict_core.<name>``.
MODULES = (
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
)


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``zict.X`` to the already-imported module ``zict_core.X``, so no
    module (and so no class) of zict_core is ever loaded twice under two names."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if not fullname.startswith("zict.") or sys.modules.get("zict") is not _this():
            return None
        try:
            importlib.import_module("zict_core." + fullname[len("zict.") :])
        except ModuleNotFoundError:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return sys.modules["zict_core." + spec.name[len("zict.") :]]

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was executed once, as zict_core.X."""


def _this() -> ModuleType:
    return sys.modules[__name__]


def install_as_zict() -> None:
    """Make ``import zict`` (and ``import zict.<module>``) give zict_core.

    Call it before anything imports zict: afterwards ``sys.modules["zict"]`` is
    this package and ``zict.lru`` is ``zict_core.lru`` (the same module objects,
    so ``zict.LRU is zict_core.LRU``). ``zict.__name__`` is then ``"zict_core"``
    and ``zict.__version__`` is zict_core's version: they tell what runs.
    ``importlib.metadata.version("zict")`` still reports the zict distribution
    installed, if any (its code is unused). Calling it again is harmless; calling
    it after the real zict was imported raises RuntimeError, since two
    implementations would then coexist.

    For processes started by others (dask's worker processes), set
    ``ZICT_CORE_AS_ZICT=1`` in their environment instead: zict_core's start-up
    hook then calls this at their first ``import zict``.
    """
    this = _this()
    current = sys.modules.get("zict")
    if current is this:
        return
    loaded = sorted(
        name for name in sys.modules if name == "zict" or name.startswith("zict.")
    )
    if loaded:
        raise RuntimeError(
            "install_as_zict() must run before zict is imported, but "
            f"{', '.join(loaded)} is already imported; call it first thing "
            "(or set ZICT_CORE_AS_ZICT=1 in the environment)"
        )
    sys.modules["zict"] = this
    for name in MODULES:
        sys.modules["zict." + name] = importlib.import_module("zict_core." + name)
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
