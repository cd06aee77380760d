"""The import layers drawn in docs/layers.md are the source's, and the source has no import cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "import-layers.py"


@pytest.mark.skipif(
    not SCRIPT.exists() or not (ROOT / "docs" / "layers.md").exists() or not (ROOT / "godistcache").is_dir(),
    reason="needs the source checkout (scripts/, docs/ and the package source)",
)
def test_layers_picture_is_current_and_acyclic() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not SCRIPT.exists() or not (ROOT / "godistcache").is_dir(), reason="needs the source checkout")
def test_no_private_name_is_imported_across_modules() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--private"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
