"""Build of the compiled core. Metadata lives in pyproject.toml.

Environment switches:
  GODISTCACHE_NO_EXTENSIONS=1   install the pure-Python core only
  GODISTCACHE_DEBUG_BUILD=1     -O0 -g3 and Cython line tracing
"""

import os
import sys

from setuptools import Extension, setup

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")
DEBUG_BUILD = os.environ.get("GODISTCACHE_DEBUG_BUILD", "") not in ("", "0")

# The compiled twins, each beside its .pxd and its pure-Python twin in godistcache/_core/.
CORE_DIR = "godistcache/_core"
EXTENSIONS = [f"godistcache._core._{part}_c" for part in ("table", "codec", "frames", "seal", "memo")]


def extensions():
    if NO_EXTENSIONS:
        return []
    from Cython.Build import cythonize

    if sys.platform == "win32":
        cflags = ["/Od", "/Zi"] if DEBUG_BUILD else ["/O2"]
    else:
        cflags = ["-O0", "-g3"] if DEBUG_BUILD else ["-O3"]
    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if DEBUG_BUILD else []
    exts = [
        Extension(
            name,
            [f"{CORE_DIR}/{name.rsplit('.', 1)[1]}.pyx"],
            include_dirs=[CORE_DIR],  # gdc.h
            extra_compile_args=cflags,
            define_macros=macros,
        )
        for name in EXTENSIONS
    ]
    directives = {"language_level": "3", "embedsignature": True, "embedsignature.format": "clinic"}
    if DEBUG_BUILD:
        directives["linetrace"] = True
    return cythonize(exts, compiler_directives=directives, include_path=["."])


setup(ext_modules=extensions())
