"""The Python examples of the README and of every docs/*.md page run as written, and type-check under mypy --strict.

Each ```python block runs on its own, in a fresh namespace, so a reader can paste any one of them; the blocks of
one document are type-checked together as one module. Blocks fenced as ```py are shown, never run: the S3
examples need a store and credentials.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _documents() -> list[Path]:
    """README.md, then docs/*.md by name (an sdist without docs/ has the README only)."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks(document: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", document.read_text(encoding="utf-8"), re.S | re.M)


def _examples() -> list[tuple[Path, int]]:
    return [(doc, index) for doc in _documents() for index in range(len(_python_blocks(doc)))]


def _name(document: Path) -> str:
    return document.relative_to(ROOT).as_posix()


def test_readme_has_python_examples() -> None:
    assert len(_python_blocks(README)) >= 1


def test_every_fenced_python_block_is_collected() -> None:
    # A block the pattern misses would go untested without anyone noticing.
    for document in _documents():
        opened = len(re.findall(r"^```python$", document.read_text(encoding="utf-8"), re.M))
        assert opened == len(_python_blocks(document)), _name(document)


@pytest.mark.parametrize(("document", "index"), _examples(), ids=[f"{_name(d)}-{i + 1}" for d, i in _examples()])
def test_example_runs(document: Path, index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(_python_blocks(document)[index], f"{_name(document)} example {index + 1}", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - our own documentation


@pytest.mark.slow
def test_package_and_examples_type_check(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    import godistcache

    examples = []
    for document in _documents():
        if _python_blocks(document):
            # One module per document: its blocks share one namespace for mypy, as a reader's session would.
            module = "examples_" + re.sub(r"\W", "_", _name(document).removesuffix(".md").lower())
            example = tmp_path / f"{module}.py"
            example.write_text("\n\n".join(_python_blocks(document)), encoding="utf-8")
            examples.append(str(example))
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / ".mypy_cache"))
    root = str(Path(godistcache.__file__).resolve().parent.parent)
    if "site-packages" not in root:  # imported from a source tree: mypy ignores PYTHONPATH
        env["MYPYPATH"] = root
    # From tmp_path, so what is checked is the package this test imported.
    for target in (["-p", "godistcache"], examples):
        proc = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", *target],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
