#!/usr/bin/env bash
# Build the documentation site: the guide (docs/*.md, the README, CHANGELOG) and
# the API reference from the docstrings, in one directory: docs/api/index.html.
#
#   python -m pip install '.[docs]' && bash scripts/build-docs.sh [OUTPUT_DIR]
#
# pdoc imports the installed package (or the one PYTHONPATH names); the public
# modules are every godistcache/<name>.py whose name has no leading underscore,
# and the public subpackages (godistcache.cli).
# scripts/docs_site.py renders the Markdown with pdoc's own renderer and frame.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/docs/api}"
PYTHON="${PYTHON:-python3}"

modules=(godistcache godistcache.cli)
for f in "$root"/godistcache/[a-z]*.py; do
    name="$(basename "$f" .py)"
    modules+=("godistcache.$name")
done
# The framework backends, where their framework is installed (the docs extra alone has neither).
for name in django flask; do
    if "$PYTHON" -c "import godistcache.contrib.$name" 2>/dev/null; then
        modules+=("godistcache.contrib.$name")
    fi
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# From outside the tree, so that what pdoc imports is the installed package: a
# source checkout's godistcache/ has no compiled core unless built in place.
cd "${TMPDIR:-/tmp}"
"$PYTHON" "$root/scripts/docs_site.py" "$root" "$out" "${modules[@]}"
