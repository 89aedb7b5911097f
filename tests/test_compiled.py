"""Fail loudly if zict_core runs without its compiled core.

A green suite on a silently pure-Python (or stale) build would prove nothing
about the code that ships, so check that the extension modules really loaded and
that the public names are the compiled types.
"""

from __future__ import annotations

import importlib.machinery
import inspect
import types

import pytest

import zict_core
import zict_core._base
import zict_core._lru
import zict_core.common
import zict_core.lru

EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
# Types of methods defined in C: Cython's binding functions or CPython's own.
COMPILED_CALLABLES = {
    "cython_function_or_method",
    "method_descriptor",
    "wrapper_descriptor",
    "builtin_function_or_method",
}


@pytest.mark.parametrize("module", [zict_core._base, zict_core._lru])
def test_extension_module_loaded(module):
    assert module.__file__.endswith(EXTENSION_SUFFIXES), module.__file__
    assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader)
    assert module.__spec__.origin == module.__file__


def test_public_lru_is_the_compiled_type():
    assert zict_core.LRU is zict_core._lru.LRU
    assert zict_core.lru.LRU is zict_core._lru.LRU
    assert zict_core.LRU.__module__ == "zict_core._lru"
    # an extension type: no instance __dict__ slot machinery of a Python class,
    # and not a heap type created by a class statement in a .py file
    assert not inspect.isfunction(zict_core.LRU.__init__)
    assert "__pyx_vtable__" in vars(zict_core.LRU)


@pytest.mark.parametrize(
    "name",
    ["__getitem__", "__setitem__", "__delitem__", "__len__", "__contains__"],
)
def test_hot_methods_are_c_slots(name):
    method = getattr(zict_core.LRU, name)
    assert not inspect.isfunction(method), method
    assert isinstance(method, types.WrapperDescriptorType), type(method)


@pytest.mark.parametrize(
    "name", ["evict", "set_noevict", "get_all_or_nothing", "evict_until_below_target"]
)
def test_methods_are_not_python_functions(name):
    method = getattr(zict_core.LRU, name)
    assert not inspect.isfunction(method), method
    assert type(method).__name__ in COMPILED_CALLABLES, type(method)


def test_lock_is_the_c_rlock():
    lru = zict_core.LRU(2, {})
    assert type(lru.lock) is zict_core._base.RLock
    assert zict_core._base.RLock.__module__ == "zict_core._base"
    for name in ("acquire", "release", "__enter__", "__exit__"):
        method = getattr(zict_core._base.RLock, name)
        assert not inspect.isfunction(method), method
        assert type(method).__name__ in COMPILED_CALLABLES, type(method)


def test_compiled_lru_is_a_zictbase():
    assert issubclass(zict_core.LRU, zict_core.common.ZictBase)
    # registered, not inherited: the compiled type has no Python base class
    assert zict_core.common.ZictBase not in zict_core.LRU.__mro__
