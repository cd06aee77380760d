"""Run Django's and Flask-Caching's own cache backend tests against godistcache.contrib.

    python scripts/framework-tests.py [--json] [--only django|flask] [-v]

Downloads the pinned source distributions below with pip (once: they are kept in
$GODISTCACHE_FRAMEWORK_CACHE, else ~/.cache/godistcache-framework-tests, outside the repository), copies their
cache test modules into a temporary directory, and runs:

- Django: ``BaseCacheTests`` of ``tests/cache/tests.py`` (the generic tests every built-in backend passes),
  twice: with the default (objects stored as they are) and with ``OPTIONS={"COPY": True}`` (LocMemCache's
  pickled copies), through Django's own ``DiscoverRunner``.
- Flask-Caching: ``GenericCacheTests`` of ``tests/test_backend_cache.py``, through pytest.

The skipped tests and the reason for each are in SKIPS below, and nowhere else. The last line printed with
--json is a JSON object of counts per suite: {"django-objects": {"passed": n, "skipped": n, "failed": n,
"errors": n}, ...}. Exits 0 when nothing failed, 1 when something did, 2 when the installed framework is not
of the pinned series (the tests of one release against the code of another prove nothing), 3 when the download
failed (no network or registry). Needs django and flask-caching installed (the `test` extra has them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

DJANGO = "django==5.2.19"
FLASK_CACHING = "flask-caching==2.5.1"

# Every test left out, by suite, and why. A test named here that no longer exists fails the run.
SKIPS: dict[str, dict[str, str]] = {
    "django": {
        "test_cull": "counts the keys left after Django's batch cull of 1/CULL_FREQUENCY of the entries (29 of 49); "
        "godistcache evicts one entry per put beyond MAX_ENTRIES (S3-FIFO), so 30 are left",
        "test_zero_cull": "counts the keys left after CULL_FREQUENCY=0 empties the whole cache (19 of 49); "
        "godistcache evicts one entry per put beyond MAX_ENTRIES, so 30 are left",
    },
    # Only where values are stored as objects (the default): these assert the pickling of LocMemCache's copies.
    "django-objects": {
        "test_add_fail_on_pickleerror": "asserts that add() pickles the value; without COPY values are stored "
        "as objects, never pickled (the COPY run passes it)",
        "test_set_fail_on_pickleerror": "asserts that set() pickles the value; without COPY values are stored "
        "as objects, never pickled (the COPY run passes it)",
    },
    "flask": {},
}

_DJANGO_FILES = ["__init__.py", "tests.py", "models.py", "liberal_backend.py", "closeable_cache.py", "failing_cache.py"]

_DJANGO_SETTINGS = """
SECRET_KEY = "godistcache-framework-tests"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "cache"]
USE_TZ = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = None
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
"""

_DJANGO_TESTS = """
import unittest

from django.test import TestCase, override_settings

from cache.tests import BaseCacheTests, caches_setting_for_tests

SKIPS = {skips!r}


def _caches(location, **options):
    setting = caches_setting_for_tests(BACKEND="godistcache.contrib.django.GodistCache", LOCATION=location)
    for alias, params in setting.items():
        params["OPTIONS"] = {{**params.get("OPTIONS", {{}}), **options}}
        if alias in ("cull", "zero_cull"):  # a store of their own: MAX_ENTRIES is the store's bound
            params["LOCATION"] = location + "-" + alias
    return setting


def _skip(cls, skips):
    for name, reason in skips.items():
        if not hasattr(cls, name):
            raise AssertionError(f"{{name}} is listed in SKIPS but Django's BaseCacheTests has no such test")
        setattr(cls, name, unittest.skip(reason)(getattr(cls, name)))
    return cls


@override_settings(CACHES=_caches("objects"))
class GodistCacheObjectsTests(BaseCacheTests, TestCase):
    pass


@override_settings(CACHES=_caches("copies", COPY=True))
class GodistCacheCopyTests(BaseCacheTests, TestCase):
    pass


_skip(GodistCacheObjectsTests, {{**SKIPS["django"], **SKIPS["django-objects"]}})
_skip(GodistCacheCopyTests, SKIPS["django"])
"""

_DJANGO_RUNNER = """
import json, os, sys, unittest
os.environ["DJANGO_SETTINGS_MODULE"] = "gdc_settings"
import django
django.setup()
from django.test.runner import DiscoverRunner

class Runner(DiscoverRunner):
    def run_suite(self, suite, **kwargs):
        self.result = super().run_suite(suite, **kwargs)
        return self.result

def counts(result, prefix):
    def mine(test):
        return type(test).__name__ == prefix
    run = [t for t in result.collected if mine(t)]
    failed = sum(1 for t, _ in result.failures if mine(t)) + sum(1 for t in result.unexpectedSuccesses if mine(t))
    errors = sum(1 for t, _ in result.errors if mine(t))
    skipped = sum(1 for t, _ in result.skipped if mine(t))
    return {"passed": len(run) - failed - errors - skipped, "skipped": skipped, "failed": failed, "errors": errors}

class Collecting(unittest.TextTestResult):
    collected = []
    def startTest(self, test):
        self.collected.append(test)
        super().startTest(test)

runner = Runner(verbosity=int(sys.argv[1]), interactive=False)
runner.test_runner = type("R", (unittest.TextTestRunner,), {"resultclass": Collecting})
runner.run_tests(["godistcache_django_tests"])
print(json.dumps({
    "django-objects": counts(runner.result, "GodistCacheObjectsTests"),
    "django-copy": counts(runner.result, "GodistCacheCopyTests"),
}))
"""

_FLASK_CONFTEST = """
import pytest


@pytest.fixture
def clock():
    # Flask-Caching's fake clock patches cachelib's time(); godistcache keeps its own clock, so the
    # generic tests sleep for real (_can_use_fast_sleep = False below).
    return None
"""

_FLASK_TESTS = """
import pytest

from test_backend_cache import GenericCacheTests

from godistcache.contrib.flask import GodistCache


class TestGodistCache(GenericCacheTests):
    _can_use_fast_sleep = False

    @pytest.fixture
    def make_cache(self):
        return GodistCache


class TestGodistCacheCopy(GenericCacheTests):
    _can_use_fast_sleep = False

    @pytest.fixture
    def make_cache(self):
        return lambda: GodistCache(copy=True)
"""


def _cache_dir() -> Path:
    root = os.environ.get("GODISTCACHE_FRAMEWORK_CACHE") or Path.home() / ".cache" / "godistcache-framework-tests"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sdist(requirement: str) -> Path:
    """The sdist of requirement, downloaded once into the cache directory."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}"
    cache = _cache_dir()
    found = [p for p in cache.iterdir() if p.name.lower().startswith(stem.lower()) and p.name.endswith(".tar.gz")]
    if found:
        return found[0]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        + ["--dest", str(cache), requirement],
        capture_output=True,
        text=True,
    )
    found = [p for p in cache.iterdir() if p.name.lower().startswith(stem.lower()) and p.name.endswith(".tar.gz")]
    if proc.returncode != 0 or not found:
        raise _Unreachable(f"pip download {requirement} failed:\n{proc.stderr[-2000:]}")
    return found[0]


class _Unreachable(Exception):
    pass


class _Mismatch(Exception):
    pass


def _check_installed(requirement: str) -> None:
    """Refuse to run the tests of the pinned release against an installed release of another series."""
    from importlib import metadata

    name, version = requirement.split("==")
    series = ".".join(version.split(".")[:2]) + "."
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        raise _Mismatch(f"{name} is not installed: pip install '.[test]'") from None
    if not installed.startswith(series):
        raise _Mismatch(f"the tests are {requirement}'s, but {name} {installed} is installed: pip install '.[test]'")


def _extract(sdist: Path, members: dict[str, str], into: Path) -> None:
    """Copy sdist members (paths under its top directory) to paths under into."""
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        for member, target in members.items():
            source = tar.extractfile(f"{top}/{member}")
            if source is None:
                raise FileNotFoundError(f"{member} in {sdist.name}")
            path = into / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read())


def _env(work: Path) -> dict[str, str]:
    repo = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([str(work), repo, os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")


def run_django(work: Path, verbosity: int) -> dict[str, dict[str, int]]:
    _check_installed(DJANGO)
    _extract(_sdist(DJANGO), {f"tests/cache/{name}": f"cache/{name}" for name in _DJANGO_FILES}, work)
    (work / "gdc_settings.py").write_text(_DJANGO_SETTINGS)
    (work / "godistcache_django_tests.py").write_text(_DJANGO_TESTS.format(skips=SKIPS))
    (work / "run_django.py").write_text(_DJANGO_RUNNER)
    proc = subprocess.run(
        [sys.executable, "run_django.py", str(verbosity)], cwd=work, env=_env(work), capture_output=True, text=True
    )
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    try:
        counts: dict[str, dict[str, int]] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"Django's run printed no counts (exit {proc.returncode}):\n{proc.stdout[-3000:]}") from None
    return counts


def run_flask(work: Path, verbosity: int) -> dict[str, dict[str, int]]:
    _check_installed(FLASK_CACHING)
    _extract(_sdist(FLASK_CACHING), {"tests/test_backend_cache.py": "flask/test_backend_cache.py"}, work)
    (work / "flask" / "conftest.py").write_text(_FLASK_CONFTEST)
    (work / "flask" / "test_godistcache_flask.py").write_text(_FLASK_TESTS)
    report = work / "flask-report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(work / "flask")]
        + ["-o", "addopts=", "-o", "filterwarnings=", "--junitxml", str(report)]
        + (["-v"] if verbosity > 1 else ["-q"])
        + ["test_godistcache_flask.py"],
        cwd=work / "flask",
        env=_env(work / "flask"),
        capture_output=True,
        text=True,
    )
    sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-2000:])
    counts: dict[str, dict[str, int]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        suite = "flask-copy" if case.get("classname", "").endswith("TestGodistCacheCopy") else "flask-objects"
        tally = counts.setdefault(suite, {"passed": 0, "skipped": 0, "failed": 0, "errors": 0})
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        tally[{"failure": "failed", "error": "errors", "skipped": "skipped", "passed": "passed"}[outcome]] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the counts as JSON on the last line")
    parser.add_argument("--only", choices=["django", "flask"], help="run one framework's tests")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every test")
    args = parser.parse_args()
    verbosity = 2 if args.verbose else 1
    work = Path(tempfile.mkdtemp(prefix="godistcache-framework-tests-"))
    counts: dict[str, dict[str, int]] = {}
    try:
        if args.only in (None, "django"):
            counts.update(run_django(work, verbosity))
        if args.only in (None, "flask"):
            counts.update(run_flask(work, verbosity))
    except _Mismatch as exc:
        print(exc, file=sys.stderr)
        return 2
    except _Unreachable as exc:
        print(exc, file=sys.stderr)
        return 3
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for suite, tally in counts.items():
        print(f"{suite}: " + ", ".join(f"{n} {what}" for what, n in tally.items()), file=sys.stderr)
    if args.json:
        print(json.dumps(counts))
    return 1 if any(t["failed"] or t["errors"] for t in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
