"""Build script for skadv's compiled kernels.

Every ``src_ext/<name>.pyx`` is compiled into ``skadv._ext.<name>``. OpenMP is used when the
compiler accepts ``-fopenmp``; otherwise the kernels are built serially and one warning is printed.
Set ``SKADV_CYTHON_DEBUG=1`` to re-enable bounds and wraparound checks.
"""

import os
import sys
import tempfile
import warnings
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("SKADV_CYTHON_DEBUG", "0") == "1"

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}


def _has_openmp(compiler):
    """Compile and link a tiny OpenMP program with the build's compiler."""
    if sys.platform == "win32":
        return True  # MSVC: /openmp always exists
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(
                objs, os.path.join(tmp, "omp_test"), extra_postargs=["-fopenmp"]
            )
        except Exception:  # any compiler or linker failure means "no OpenMP"
            return False
    return True


class BuildExt(build_ext):
    """Add OpenMP and optimisation flags the compiler supports (portable flags only)."""

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        openmp = _has_openmp(self.compiler) if not msvc else True
        if not openmp:
            warnings.warn(
                "skadv: the C compiler does not support OpenMP; kernels are built serially "
                "and n_jobs has no effect.",
                stacklevel=1,
            )
        for ext in self.extensions:
            if msvc:
                ext.extra_compile_args += ["/O2"] + (["/openmp"] if openmp else [])
            else:
                # -O3 lets gcc vectorize the multi-accumulator dot products; -fno-math-errno
                # lets it inline sqrt (errno is never read; NaN/inf semantics are kept). No
                # -ffast-math (it drops NaN checks) and no -march=native (wheels must stay
                # portable).
                ext.extra_compile_args += ["-O3", "-fno-math-errno"] + (
                    ["-fopenmp"] if openmp else []
                )
                ext.extra_link_args += ["-fopenmp"] if openmp else []
        super().build_extensions()


def _extensions():
    exts = []
    for pyx in sorted(glob(os.path.join("src_ext", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        exts.append(
            Extension(
                f"skadv._ext.{name}",
                [pyx],
                include_dirs=[np.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return cythonize(exts, compiler_directives=COMPILER_DIRECTIVES, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
