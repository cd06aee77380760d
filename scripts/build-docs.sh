#!/usr/bin/env bash
# Build the API reference from the docstrings: docs/api/index.html.
#
#   python -m pip install '.[docs]' && bash scripts/build-docs.sh [OUTPUT_DIR]
#
# pdoc imports the installed package (or the one PYTHONPATH names); the public
# modules are every godistcache/<name>.py whose name has no leading underscore.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/docs/api}"
PYTHON="${PYTHON:-python3}"

modules=(godistcache)
for f in "$root"/godistcache/[a-z]*.py; do
    name="$(basename "$f" .py)"
    modules+=("godistcache.$name")
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# From outside the tree: `python -m` puts the current directory first on
# sys.path, and a source checkout's godistcache/ has no compiled core.
cd "${TMPDIR:-/tmp}"
"$PYTHON" -m pdoc --docformat google --no-show-source --output-directory "$out" "${modules[@]}"
echo "API reference: $out/index.html"
