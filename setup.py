"""Extension declarations only; metadata lives in pyproject.toml."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

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


setup(
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
