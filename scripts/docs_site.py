"""Build the documentation site: the Markdown guide (docs/*.md) beside pdoc's API reference.

Run by ``scripts/build-docs.sh``; ``python scripts/docs_site.py ROOT OUT MODULE...``. One directory comes out:
``index.html`` (docs/index.md), one page per guide page, the README, CHANGELOG and CONTRIBUTING, the charts, and
pdoc's ``godistcache.html`` and ``godistcache/*.html``. Every API page's navigation lists the guide, and every
guide page's lists the guide and the API reference, so each is reachable from the other.

The guide goes through pdoc's own Markdown renderer (markdown2 with pdoc's extras) and page frame, so the build
needs nothing beyond pdoc. Links between Markdown files are rewritten to the pages they became; a link to a file
the site does not carry is left as it is, and ``tests/test_docs.py`` fails on it.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pdoc
import pdoc.render
from pdoc.render_helpers import to_html

# API pages: the guide goes first in the navigation. pdoc nests submodules one directory down.
MODULE_TEMPLATE = """{% extends "default/module.html.jinja2" %}
{% block nav_title %}
    {{ super() }}
    <h2>Guide</h2>
    <ul>
    {% for href, title in guide_pages %}
        <li><a href="{{ "../" * module.modulename.count(".") }}{{ href }}">{{ title }}</a></li>
    {% endfor %}
    </ul>
{% endblock %}
"""

PAGE_TEMPLATE = """{% extends "frame.html.jinja2" %}
{% block title %}{{ title }} - godistcache{% endblock %}
{% block nav %}
    <h2>Guide</h2>
    <ul>
    {% for href, page_title in guide_pages %}
        <li><a href="{{ href }}">{{ page_title }}</a></li>
    {% endfor %}
    </ul>
    <h2>API reference</h2>
    <ul><li><a href="godistcache.html">godistcache</a></li></ul>
    {% if toc %}<h2>Contents</h2>{{ toc | safe }}{% endif %}
{% endblock %}
{% block content %}
    <main class="pdoc"><section class="module-info"><div class="docstring">{{ body | safe }}</div></section></main>
{% endblock %}
"""

LINK = re.compile(r'(?P<attr>href|src)="(?P<target>[^"#:?]+)(?P<anchor>#[^"]*)?"')


def site_files(root: Path) -> dict[Path, str]:
    """Map each source file the site carries (relative to root) to its name in the site.

    Args:
        root: The repository root.

    Returns:
        Markdown sources map to ``.html`` pages, charts and the license to copies of themselves.
    """
    files: dict[Path, str] = {}
    for name in ("README.md", "CHANGELOG.md", "CONTRIBUTING.md"):
        if (root / name).is_file():
            files[Path(name)] = name.removesuffix(".md").lower() + ".html"
    if (root / "LICENSE").is_file():
        files[Path("LICENSE")] = "LICENSE.txt"
    for path in sorted((root / "docs").iterdir()):
        if path.suffix == ".md":
            files[path.relative_to(root)] = path.stem + ".html"
        elif path.suffix in (".png", ".svg"):
            files[path.relative_to(root)] = path.name
    return files


def title_of(markdown: str, fallback: str) -> str:
    """The text of the first level-1 heading, or fallback."""
    match = re.search(r"^# (.+)$", markdown, re.M)
    return match.group(1).strip() if match else fallback


def rewrite_links(html: str, source: Path, files: dict[Path, str], root: Path) -> str:
    """Point each relative link of a page rendered from source at the site's copy of its target."""

    def replace(match: re.Match[str]) -> str:
        target = (root / source.parent / match["target"]).resolve()
        try:
            name = files.get(target.relative_to(root.resolve()))
        except ValueError:  # outside the repository
            name = None
        if name is None:
            return match.group(0)
        return f'{match["attr"]}="{name}{match["anchor"] or ""}"'

    return LINK.sub(replace, html)


def build(root: Path, out: Path, modules: list[str]) -> list[str]:
    """Write the API reference and the guide into out.

    Args:
        root: The repository root (README.md and docs/ are read from it).
        out: The output directory, created if missing.
        modules: The modules pdoc documents.

    Returns:
        The site names of the pages written from Markdown.
    """
    files = site_files(root)
    markdown = {src: (root / src).read_text(encoding="utf-8") for src in files if src.suffix == ".md"}
    guide = [src for src in files if src.parent == Path("docs") and src.suffix == ".md"]
    # docs/index.md first, then the pages in the order docs/index.md links them.
    order = markdown.get(Path("docs/index.md"), "")
    guide.sort(key=lambda src: (src.name != "index.md", order.find(f"]({src.name}") % (len(order) + 1), src.name))
    guide_pages = [(files[src], title_of(markdown[src], src.stem)) for src in guide]

    with tempfile.TemporaryDirectory() as templates:
        Path(templates, "module.html.jinja2").write_text(MODULE_TEMPLATE, encoding="utf-8")
        pdoc.render.configure(docformat="google", show_source=False, template_directory=Path(templates))
        pdoc.render.env.globals["guide_pages"] = guide_pages
        pdoc.pdoc(*modules, output_directory=out)
        page = pdoc.render.env.from_string(PAGE_TEMPLATE)
        written = []
        for src, name in files.items():
            if src.suffix == ".md":
                rendered = to_html(markdown[src])
                body = rewrite_links(str(rendered), src, files, root)
                toc = getattr(rendered, "toc_html", None)
                html = page.render(title=title_of(markdown[src], src.stem), body=body, toc=toc)
                (out / name).write_text(html, encoding="utf-8")  # index.html replaces pdoc's redirect
                written.append(name)
            else:
                (out / name).write_bytes((root / src).read_bytes())
    return written


def main(argv: list[str]) -> int:
    """``docs_site.py ROOT OUT MODULE...``: build the site, print where it is."""
    if len(argv) < 3:
        print("usage: docs_site.py ROOT OUT MODULE...", file=sys.stderr)
        return 2
    root, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    pages = build(root, out, argv[2:])
    print(f"{len(pages)} guide pages and the API reference: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
