"""Child processes the tests start import the same build as the tests, never the source tree."""

from __future__ import annotations

import os
import subprocess
import sys

import godistcache


def test_a_child_process_imports_the_build_under_test() -> None:
    # `python -c` puts the working directory first on sys.path: from a checkout's root it would
    # import the uncompiled source tree (conftest's session fixture moves the session away).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(
        [sys.executable, "-c", "import godistcache; print(godistcache.__file__, godistcache.CORE)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "failed to import" not in done.stderr
    path, core = done.stdout.split()
    assert (os.path.realpath(path), core) == (os.path.realpath(godistcache.__file__), godistcache.CORE)
