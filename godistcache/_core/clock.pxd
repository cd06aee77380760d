# cython: language_level=3
# The wall clock used for expiry: Unix time in nanoseconds (gdc.h).

from libc.stdint cimport int64_t

cdef extern from "gdc.h":
    int64_t gdc_wall_ns() noexcept nogil
    int64_t gdc_now_ns() noexcept nogil
    bint gdc_clock_uses_tsc() noexcept nogil
    int64_t gdc_clock_resolution_ns() noexcept nogil
