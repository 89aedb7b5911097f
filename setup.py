"""Extension declarations, plus the build step that ships the ZICT_CORE_AS_ZICT
start-up hook; metadata lives in pyproject.toml."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HEADERS = [os.path.join("src", name) for name in sorted(os.listdir("src"))]
# ZICT_CORE_DEBUG=1 builds with assertions and no optimisation (for valgrind/ASan).
DEBUG = os.environ.get("ZICT_CORE_DEBUG") == "1"
CFLAGS = ["-O0", "-g", "-UNDEBUG"] if DEBUG and os.name != "nt" else []


def ext(name: str) -> Extension:
    return Extension(
        f"zict_core.{name}",
        [f"zict_core/{name}.pyx"],
        include_dirs=["src"],
        depends=HEADERS,
        extra_compile_args=CFLAGS,
    )


# The ZICT_CORE_AS_ZICT=1 opt-in needs a .pth file at the top of site-packages
# (site runs .pth files only there), which package data cannot express. build_py
# writes it next to the top-level modules: into build_lib for a wheel (the wheel
# root is site-packages), and for an editable install (PEP 660), where setuptools
# sets editable_mode and points the install command's install_lib at the root of
# the editable wheel it is assembling, into that root. The line imports the hook
# module (_zict_core_as_zict.py) only when the variable is set and not empty.
PTH_NAME = "zict_core_as_zict.pth"
PTH_LINE = (
    "import os; os.environ.get('ZICT_CORE_AS_ZICT') "
    "and __import__('_zict_core_as_zict').activate()\n"
)


class build_py_with_pth(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            target = self.get_finalized_command("install").install_lib
        else:
            target = self.build_lib
        self.mkpath(target)
        with open(os.path.join(target, PTH_NAME), "w", encoding="utf-8") as f:
            f.write(PTH_LINE)


setup(
    cmdclass={"build_py": build_py_with_pth},
    ext_modules=cythonize(
        [ext("_base"), ext("_lru"), ext("_buffer")],
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
        annotate=os.environ.get("ZICT_CORE_ANNOTATE") == "1",
    ),
)
