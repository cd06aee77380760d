"""The parts of ``benchmarks/compare.py``: a package of its own because ``benchmarks/`` is not one.

- :mod:`.libraries`: each cache library compared, its natural calls (adapters) and its hit-ratio policy;
- :mod:`.measure`: the timing loops of the four sections, returning plain records;
- :mod:`.report`: those records as text and Markdown tables, and ``performance.md``;
- :mod:`.charts`: the same records as matplotlib charts (``docs/*.png``).

``compare.py`` puts ``benchmarks/`` on ``sys.path`` and imports ``_compare`` from there.
"""
