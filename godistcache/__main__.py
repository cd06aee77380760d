"""``python -m godistcache``: the ``godistcache`` console command."""

from .cli import main

raise SystemExit(main())
