"""Every ``>>>`` example in zict_core's docstrings runs and prints what it shows.

``pytest --doctest-modules`` collects ``.py`` files only, and doctest's own finder
misses the properties of compiled classes (Cython getset descriptors), so the
docstrings are gathered here: each module's, and those of its classes and
functions and of every member of those classes, compiled modules included. Each
docstring runs in a scratch working directory (the File, Zip and LMDB examples
write relative paths) with its module's globals, as doctest would run it.

The examples of the documentation pages run under ``sphinx-build -b doctest``
(docs/, .ci/run).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from types import ModuleType

import pytest

import zict_core

COMPILED = ("_base", "_lru", "_buffer")
MODULE_NAMES = ["zict_core"] + [
    f"zict_core.{name}" for name in (*zict_core.MODULES, *COMPILED)
]
FLAGS = doctest.ELLIPSIS


def _is_member(obj: object) -> bool:
    """A class attribute whose docstring is its own: a routine or a descriptor
    (not a plain value, whose __doc__ is its type's)."""
    return (
        inspect.isroutine(obj)
        or isinstance(obj, (property, classmethod, staticmethod))
        or inspect.isgetsetdescriptor(obj)
        or inspect.ismemberdescriptor(obj)
        or inspect.isdatadescriptor(obj)
    )


def docstrings(module: ModuleType) -> dict[str, str]:
    """Qualified name -> docstring, for the module and what it defines."""
    found: dict[str, str] = {}

    def add(name: str, doc: object) -> None:
        if isinstance(doc, str):
            found[name] = doc

    add(module.__name__, module.__doc__)
    for name, obj in vars(module).items():
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere: tested there
        qualname = f"{module.__name__}.{name}"
        add(qualname, obj.__doc__)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr == "__init__" or not _is_member(member):
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                add(f"{qualname}.{attr}", member.__doc__)
    # doctest's own finder too (module-level __test__ and anything it knows how
    # to reach that the walk above does not)
    for test in doctest.DocTestFinder().find(module, module.__name__):
        if test.docstring is not None:
            found.setdefault(test.name, test.docstring)
    return found


def _collect() -> list[tuple[str, str]]:
    cases = []
    for module_name in MODULE_NAMES:
        module = importlib.import_module(module_name)
        for name, doc in docstrings(module).items():
            if doctest.DocTestParser().get_examples(doc):
                cases.append((module_name, name))
    return sorted(cases)


CASES = _collect()


def test_compiled_docstrings_are_found():
    """The walk reaches the compiled classes: a silently empty collection would
    pass every example."""
    names = {name for _, name in CASES}
    assert "zict_core._lru.LRU" in names
    assert "zict_core._buffer.Buffer" in names
    assert len(CASES) >= 10, CASES


@pytest.mark.parametrize(("module_name", "name"), CASES, ids=[n for _, n in CASES])
def test_docstring_examples(module_name, name, tmp_path, monkeypatch):
    if module_name == "zict_core.lmdb":
        pytest.importorskip("lmdb")
    module = importlib.import_module(module_name)
    doc = docstrings(module)[name]
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(
        doc, dict(vars(module)), name, getattr(module, "__file__", None), 0
    )
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    runner.run(test, out=out.append)
    results = runner.summarize(verbose=False)
    assert results.attempted == len(test.examples)
    assert not results.failed, "".join(out)
