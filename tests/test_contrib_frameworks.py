"""Django's and Flask-Caching's own cache backend tests pass against godistcache.contrib.

scripts/framework-tests.py fetches the pinned source distributions (once; cached outside the repository),
runs the frameworks' generic backend test classes against our backends and prints the counts. The tests it
skips, and why, are listed in its SKIPS, in one place. Needs the network the first time: without it these
tests skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "framework-tests.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SCRIPT.exists(), reason="scripts/ is not part of this checkout (an installed wheel's tests)"
    ),
]


def _run(framework: str) -> dict[str, dict[str, int]]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--only", framework],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode == 3:
        pytest.skip(f"the {framework} sdist could not be downloaded (no network or package registry): {proc.stderr}")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    counts: dict[str, dict[str, int]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return counts


def test_djangos_generic_cache_tests_pass() -> None:
    pytest.importorskip("django", reason="the test extra installs Django 5.2 on Python >= 3.10 only")
    counts = _run("django")
    # BaseCacheTests of Django 5.2 holds 54 tests. Both runs skip the two culling-count tests; the objects run
    # also skips the two that assert set()/add() pickle the value (the copy run passes them).
    assert counts == {
        "django-objects": {"passed": 50, "skipped": 4, "failed": 0, "errors": 0},
        "django-copy": {"passed": 52, "skipped": 2, "failed": 0, "errors": 0},
    }


def test_flask_cachings_generic_backend_tests_pass() -> None:
    pytest.importorskip("flask_caching")
    counts = _run("flask")
    assert counts == {
        "flask-objects": {"passed": 13, "skipped": 0, "failed": 0, "errors": 0},
        "flask-copy": {"passed": 13, "skipped": 0, "failed": 0, "errors": 0},
    }
