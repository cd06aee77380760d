"""Cache backends for web frameworks, on top of :class:`godistcache.Cache`.

- :mod:`godistcache.contrib.django`: a Django cache backend (``pip install 'godistcache[django]'``).
- :mod:`godistcache.contrib.flask`: a Flask-Caching backend (``pip install 'godistcache[flask]'``).

Each module imports its framework, so import the one you use; this package imports neither.
"""

from __future__ import annotations

__all__: list[str] = []
