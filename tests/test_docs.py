"""The documentation holds together: every relative link resolves, and the site builds with every page in it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build-docs.sh"

#: [text](target) and ![alt](target), outside code; the target ends at a space (a title) or ')'.
MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r'(?:href|src)="([^"]+)"')


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _relative(target: str) -> str | None:
    """The file part of a relative link, or None for a URL, a mail address or an anchor in the same page."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")):
        return None
    return target.split("#", 1)[0].split("?", 1)[0] or None


def _markdown_links(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)  # fenced code
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    return [t for t in (_relative(m) for m in MD_LINK.findall(text)) if t is not None]


needs_docs = pytest.mark.skipif(not (ROOT / "docs").is_dir(), reason="docs/ is not part of this checkout (an sdist)")


@needs_docs
def test_relative_links_resolve() -> None:
    broken = []
    for document in _documents():
        links = _markdown_links(document)
        for target in links:
            path = (document.parent / target).resolve()
            if not path.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_link_pattern_finds_links_and_skips_code(tmp_path: Path) -> None:
    # The check above is only as good as the pattern that feeds it.
    sample = tmp_path / "sample.md"
    sample.write_text(
        '[a](docs/a.md) ![c](c.png "t") [u](https://x.org/y.md) [s](#top) [b](b.md#part)\n'
        "`[not](inline.md)`\n```python\nx = [1](2)\n[no](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert _markdown_links(sample) == ["docs/a.md", "c.png", "b.md"]


@needs_docs
def test_every_page_is_in_the_index() -> None:
    index = ROOT / "docs" / "index.md"
    linked = {(index.parent / t).resolve() for t in _markdown_links(index)}
    orphans = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p != index and p.resolve() not in linked]
    assert not orphans, f"docs/index.md does not link {orphans}"


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash")
def test_site_builds(tmp_path: Path) -> None:
    pytest.importorskip("pdoc")
    if not SCRIPT.exists() or not (ROOT / "docs").is_dir():
        pytest.skip("scripts/ or docs/ is not part of this checkout (an installed wheel's tests)")
    out = tmp_path / "site"
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cache_page = (out / "godistcache" / "cache.html").read_text(encoding="utf-8")
    # Constructor arguments and inherited hot methods are documented, with their docstrings.
    for text in ("max_size", "on_evict", "sweep_interval", "put_safe", "get_or_set", "Store value under key"):
        assert text in cache_page, text
    for module in ("crypto", "snapshot", "s3", "persist", "sweep", "memo", "errors", "sealed", "cli"):
        assert (out / "godistcache" / f"{module}.html").stat().st_size > 1000, module

    # Every guide page is in the site, with its text, and the API pages link to it.
    for page in sorted((ROOT / "docs").glob("*.md")):
        built = out / f"{page.stem}.html"
        assert built.is_file(), built.name
        heading = re.search(r"^# (.+)$", page.read_text(encoding="utf-8"), re.M)
        assert heading and heading.group(1).split("`")[0][:20] in built.read_text(encoding="utf-8"), page.name
        assert f'href="../{built.name}"' in cache_page, f"godistcache/cache.html does not link {built.name}"
    assert "sealed-values.html" in (out / "index.html").read_text(encoding="utf-8")

    # Every relative link of every page of the site points at a file of the site.
    # pdoc's search script builds hrefs from ${url}.
    broken = []
    for html in sorted(out.rglob("*.html")):
        for target in HTML_LINK.findall(html.read_text(encoding="utf-8")):
            rel = _relative(target)
            if rel is None or "${" in rel:
                continue
            if not (html.parent / rel).resolve().is_file():
                broken.append(f"{html.relative_to(out)}: {target}")
    assert not broken, "site links to missing files:\n" + "\n".join(broken)
