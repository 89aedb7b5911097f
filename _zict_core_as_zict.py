"""Start-up hook behind ``ZICT_CORE_AS_ZICT=1`` (installed with zict_core).

zict_core installs a one-line ``zict_core_as_zict.pth`` at the top of
site-packages. ``site`` runs it at every interpreter start; the line reads
``os.environ`` (already loaded by ``site``) and imports this module only when
``ZICT_CORE_AS_ZICT`` is set and not empty, so a process without the variable
pays one dictionary lookup.

With the variable on, :func:`activate` puts a finder first on ``sys.meta_path``
that turns the first ``import zict`` into ``zict_core.install_as_zict()``. Nothing
of zict_core is imported before that: processes of the environment that never
import zict (pip, linters, ...) do not load it, and a zict_core that fails to
import makes ``import zict`` fail loudly instead of every interpreter start.

This module is a top-level one on purpose: importing ``zict_core.<anything>``
would import the whole package at start-up.
"""

import os
import sys

ENV = "ZICT_CORE_AS_ZICT"
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"", "0", "false", "no", "off"})
_warned = False


class ZictCoreFinder:
    """Resolves the first ``import zict`` to zict_core, then leaves sys.meta_path.

    ``zict.<module>`` needs nothing here: Python imports ``zict`` first, and
    ``install_as_zict()`` registers every ``zict.<module>`` alias.
    """

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname != "zict":
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec("zict", self)

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        import zict_core

        zict_core.install_as_zict()  # sys.modules["zict"] is zict_core from here
        deactivate()
        return zict_core

    def exec_module(self, module) -> None:  # type: ignore[no-untyped-def]
        """Nothing to run: zict_core was executed once, under its own name."""


def enabled(value: "str | None" = None) -> bool:
    """Whether *value* (default: ``$ZICT_CORE_AS_ZICT``) turns the hook on.

    ``1``/``true``/``yes``/``on`` (any case) turn it on; unset, empty,
    ``0``/``false``/``no``/``off`` leave it off; anything else leaves it off
    and says so on stderr (a start-up hook must never stop Python from starting).
    """
    if value is None:
        value = os.environ.get(ENV, "")
    v = value.strip().lower()
    if v in _ON:
        return True
    global _warned
    if v not in _OFF and not _warned:
        _warned = True  # site may run the .pth twice (Python 3.11 venvs do)
        sys.stderr.write(
            f"zict_core: ignoring {ENV}={value!r}: set it to 1 to make "
            "`import zict` use zict_core, or unset it\n"
        )
    return False


def activate() -> None:
    """Called by ``zict_core_as_zict.pth``: install the finder if the variable
    turns the hook on. Harmless if zict (or zict_core as zict) is already
    imported or the finder already installed."""
    if not enabled():
        return
    if any(isinstance(f, ZictCoreFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, ZictCoreFinder())


def deactivate() -> None:
    """Remove the finder (done by the first ``import zict``)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ZictCoreFinder)]
