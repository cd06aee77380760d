# cython: language_level=3
# Declarations of the compiled sealing core (_seal_c.pyx). No other compiled
# module calls into it, so it shares nothing at C level yet: KeyringCore and
# the put_crypt/get_crypt bodies stay private to the .pyx. It cimports the
# table (_table_c.pxd) and the value codec (_codec_c.pxd).
