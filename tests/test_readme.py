"""The README's Python examples run as written, and type-check under mypy --strict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples() -> None:
    assert len(_python_blocks()) >= 1


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(_python_blocks()[index], f"README.md example {index + 1}", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - our own documentation


@pytest.mark.slow
def test_package_and_readme_type_check(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    import godistcache

    example = tmp_path / "readme_examples.py"
    example.write_text("\n\n".join(_python_blocks()), encoding="utf-8")
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / ".mypy_cache"))
    root = str(Path(godistcache.__file__).resolve().parent.parent)
    if "site-packages" not in root:  # imported from a source tree: mypy ignores PYTHONPATH
        env["MYPYPATH"] = root
    # From tmp_path, so what is checked is the package this test imported.
    for target in (["-p", "godistcache"], [str(example)]):
        proc = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", *target],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
