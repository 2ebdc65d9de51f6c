# src_ext/_openmp_helpers.pyx: what the OpenMP runtime reports, for choosing thread counts.
# cython: language_level=3

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SKADV_OPENMP 1
    #else
    #define SKADV_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int omp_get_max_threads() nogil
    int SKADV_OPENMP


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(SKADV_OPENMP)


def max_threads():
    """``omp_get_max_threads()``: 1 inside joblib/loky workers, all cores otherwise."""
    return omp_get_max_threads()
