# cython: language_level=3
# Declarations of the compiled snapshot frame codec (_frames_c.pyx). No other
# compiled module calls into it, so it shares nothing at C level yet: its
# cdef class (Refs) and helpers stay private to the .pyx. It cimports the
# table (_table_c.pxd) and the value codec (_codec_c.pxd).
