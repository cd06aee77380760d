#!/usr/bin/env bash
# The test suite on CPython 3.14 built from source, as .ci/run runs it:
#
#   scripts/test-free-threaded.sh              3.14t (free-threaded), PYTHON_GIL=0, the whole suite
#   scripts/test-free-threaded.sh --gil        3.14 (the default build, with the GIL), the whole suite
#   scripts/test-free-threaded.sh --tsan       3.14t built with ThreadSanitizer, the extension too, the
#                                              threaded tests only (TSan runs ~10x slower); reports in
#                                              $GODISTCACHE_TSAN_LOG (default ./tsan-report/). It fails
#                                              first unless the extension is instrumented and a deliberate
#                                              race (a positive control) is reported.
#   scripts/test-free-threaded.sh --python-only [--gil|--tsan]
#                                              build (or find) the interpreter, print its path, stop
#
# Any further arguments go to pytest instead of the default selection.
#
# The interpreter is built once, by the CPython build script beside the 3.14.7 source
# ($GODISTCACHE_CPYTHON_SRC, default ../shared/cpython next to the checkout, else /work/shared/cpython;
# about 5-12 minutes on 2 cores), into $GODISTCACHE_PYTHON_CACHE (default ~/.cache/godistcache-cpython),
# and reused by every later run on the machine. Each run then makes a fresh virtual environment, installs
# the checkout with its test extras as the README says (pip's build isolation fetches setuptools and
# Cython) and runs pytest from the repository root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
variant=t
python_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --gil) variant=gil; shift ;;
        --tsan) variant=tsan; shift ;;
        --python-only) python_only=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done

cache="${GODISTCACHE_PYTHON_CACHE:-$HOME/.cache/godistcache-cpython}"
src="${GODISTCACHE_CPYTHON_SRC:-}"
if [ -z "$src" ]; then
    for d in "$ROOT/../shared/cpython" /work/shared/cpython; do
        if [ -f "$d/build.sh" ]; then src="$(cd "$d" && pwd)"; break; fi
    done
fi
case "$variant" in
    t) prefix="$cache/3.14.7t"; exe="$prefix/bin/python3.14t"; configure=(--disable-gil) ;;
    gil) prefix="$cache/3.14.7"; exe="$prefix/bin/python3.14"; configure=() ;;
    tsan) prefix="$cache/3.14.7t-tsan"; exe="$prefix/bin/python3.14t"; configure=(--disable-gil --with-thread-sanitizer) ;;
esac

if ! "$exe" -c 'import ssl, zlib, ctypes' 2>/dev/null; then
    if [ -z "$src" ]; then
        echo "no CPython 3.14 at $exe and no build script (set GODISTCACHE_CPYTHON_SRC to the folder of build.sh)" >&2
        exit 1
    fi
    echo "== building CPython 3.14.7 (${configure[*]:-default}) into $prefix: once per machine"
    mkdir -p "$cache"
    start=$SECONDS
    bash "$src/build.sh" "$prefix" "${configure[@]}"
    echo "== built in $((SECONDS - start)) s"
fi
"$exe" -c 'import sys, sysconfig; print("==", sys.version.split()[0], "free-threaded:", bool(sysconfig.get_config_var("Py_GIL_DISABLED")))'
if [ "$python_only" -eq 1 ]; then
    echo "$exe"
    exit 0
fi

export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_NO_BUILD_ISOLATION PIP_USER PYTHONPATH VIRTUAL_ENV GODISTCACHE_NO_EXTENSIONS
tmp="$(mktemp -d "${TMPDIR:-/tmp}/godistcache-314.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$exe" -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip install -q --upgrade pip
# How ThreadSanitizer runs, for the positive control and the tests alike: every report of the run, not the first
# (halt_on_error=0), written under $1; the suppressions name what is not ours.
tsan_options() { echo "halt_on_error=0 second_deadlock_stack=1 log_path=$1/tsan suppressions=$ROOT/scripts/tsan.supp"; }
if [ "$variant" = tsan ]; then
    # The extension is instrumented only if its compile line says -fsanitize=thread: setuptools does not always
    # take the interpreter's configure CFLAGS (which do), and an environment CFLAGS replaces them, so say it
    # here. Frame pointers and debug lines make the reports readable. Checked after the install, below.
    export CFLAGS="-fsanitize=thread -g -fno-omit-frame-pointer"
    export LDFLAGS="-fsanitize=thread"
fi
echo "== pip install '.[test]'"
start=$SECONDS
"$py" -m pip install -q "$ROOT[test]"
echo "== installed in $((SECONDS - start)) s"
if [ "$variant" = tsan ]; then
    # A report count of 0 means something only if ThreadSanitizer sees the extension's own memory accesses.
    for so in "$tmp"/venv/lib/python3.14t/site-packages/godistcache/_core/*.so; do
        # grep reads all of nm's output (no -q): an early exit would fail the pipeline with SIGPIPE (pipefail).
        if ! nm -D --undefined-only "$so" | grep __tsan_read >/dev/null; then
            echo "== $so is not instrumented by ThreadSanitizer (no __tsan_read calls): a clean report would mean nothing" >&2
            exit 1
        fi
    done
    echo "== the extension is instrumented (__tsan_read calls in every module)"
    # And 0 reports mean something only if a race does reach the report files: a positive control, a
    # two-thread unsynchronised counter in an instrumented library, run the way the tests are run.
    cat >"$tmp/race.c" <<'C'
#include <pthread.h>
static long counter;
static void *bump(void *arg) { for (int i = 0; i < 100000; i++) counter++; return arg; }
long race(void) {
    pthread_t a, b;
    pthread_create(&a, 0, bump, 0);
    pthread_create(&b, 0, bump, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    return counter;
}
C
    cc -fsanitize=thread -g -shared -fPIC -o "$tmp/librace.so" "$tmp/race.c" -lpthread
    mkdir -p "$tmp/control"
    TSAN_OPTIONS="$(tsan_options "$tmp/control")" PYTHON_GIL=0 \
        "$py" -c "import ctypes, sys; ctypes.CDLL(sys.argv[1]).race()" "$tmp/librace.so" || true  # 66: it reported
    if ! cat "$tmp"/control/tsan.* 2>/dev/null | grep '^WARNING: ThreadSanitizer: data race' >/dev/null; then
        echo "== ThreadSanitizer's positive control raced unreported: a report count of 0 would mean nothing" >&2
        exit 1
    fi
    echo "== positive control: a deliberate race was reported"
fi

cd "$ROOT"
case "$variant" in
    t)
        export PYTHON_GIL=0
        args=("$@")
        ;;
    gil)
        args=("$@")
        ;;
    tsan)
        export PYTHON_GIL=0
        report="${GODISTCACHE_TSAN_LOG:-$ROOT/tsan-report}"
        mkdir -p "$report"
        rm -f "$report"/tsan.*
        TSAN_OPTIONS="$(tsan_options "$report")"
        export TSAN_OPTIONS
        export GODISTCACHE_STRESS_SECONDS="${GODISTCACHE_STRESS_SECONDS:-10}"
        if [ $# -gt 0 ]; then
            args=("$@")
        else
            args=(tests/test_free_threading.py tests/test_threads.py tests/test_memo.py tests/test_sweep.py
                  tests/test_persist.py tests/test_crypto.py -p no:randomly)
        fi
        ;;
esac
echo "== PYTHON_GIL=${PYTHON_GIL:-unset} pytest ${args[*]}"
status=0
"$tmp/venv/bin/pytest" -p no:cacheprovider "${args[@]}" </dev/null || status=$?
if [ "$variant" = tsan ]; then
    n=$(cat "$report"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
    echo "== ThreadSanitizer: $n report(s) in $report"
    cat "$report"/tsan.* 2>/dev/null | grep -A12 '^WARNING: ThreadSanitizer' | grep -E '^WARNING|#[0-3] ' | head -80 || true
fi
exit "$status"
