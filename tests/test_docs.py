"""The API reference builds from the docstrings with the one documented command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build-docs.sh"


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash")
def test_api_reference_builds(tmp_path: Path) -> None:
    pytest.importorskip("pdoc")
    if not SCRIPT.exists():
        pytest.skip("scripts/ is not part of this checkout (an installed wheel's tests)")
    out = tmp_path / "api"
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cache_page = (out / "godistcache" / "cache.html").read_text(encoding="utf-8")
    # Constructor arguments and inherited hot methods are documented, with their docstrings.
    for text in ("max_size", "on_evict", "sweep_interval", "put_safe", "get_or_set", "Store value under key"):
        assert text in cache_page, text
    for module in ("crypto", "snapshot", "s3", "persist", "sweep", "memo", "errors"):
        assert (out / "godistcache" / f"{module}.html").stat().st_size > 1000, module
    assert (out / "index.html").exists()
