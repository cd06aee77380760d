"""godistcache beside a plain ``dict`` and other Python caches, in one process and one run.

Four sections, each printed as a table, written to ``docs/performance.md`` and
drawn as a chart (``docs/*.png``, matplotlib's Agg backend):

1. Throughput: GET, PUT, and PUT with a 60 s TTL (given with each put, and
   set once per container) at 10K and 1M keys, for
   ``dict``, godistcache, cachebox, cachetools, theine, moka-py and lru-dict,
   each through its own natural API and unbounded (or exactly large enough)
   container. The keys, values and loops are ``godistcache._bench``'s:
   ``"key:<i>"`` strings, ``("One", i, 3.3)`` values, GET over the keys in
   shuffled order, each PUT pass into a fresh container. Best of N rounds,
   timed with ``time.perf_counter``, the libraries interleaved round by round
   in a rotating order; M ops/s and the ratio to ``dict`` in the same run.
   An operation a library does not have is "n/a", never emulated.
2. Hit ratio on a Zipf trace (``benchmarks/hit_ratio.py``'s trace and
   ``hit_ratios``), read-through, at capacities of 1% and 10% of the keys.
3. Snapshots: ``cache.save``/``Cache.from_file`` of 1M entries beside
   ``pickle.dumps`` + write + fsync and read + ``pickle.loads`` of the
   equivalent dict (``godistcache._bench_snapshot``'s data and helpers).
4. Sealed values: ``put_crypt``/``get_crypt`` of 10K values beside a bare
   ``AESGCM.encrypt``/``decrypt`` loop over the same data
   (``benchmarks/test_crypt_bench.py``'s loops and data).

    PYTHONHASHSEED=0 python benchmarks/compare.py          # full run, a few minutes
    python benchmarks/compare.py --quick --no-plots        # smoke run, seconds

A library that is not installed gets a "not installed" row. Only ratios
measured in the same run mean anything across machines; absolute figures
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS_DIR = HERE.parent / "docs"

# benchmarks/ is not a package: this script's parts live in benchmarks/_compare/, found through this
# directory, which is sys.path[0] when the script runs and is added (last, shadowing nothing) when the
# script is loaded by path, as benchmarks/test_compare_smoke.py does.
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))

from _compare.charts import write_charts  # noqa: E402
from _compare.libraries import (  # noqa: E402
    LIBRARIES,
    NA,
    NOT_INSTALLED,
    OPERATIONS,
    Library,
    hit_ratio_module,
    library_versions,
)
from _compare.measure import (  # noqa: E402
    FULL_ROUNDS,
    FULL_SIZES,
    FULL_TRACE,
    QUICK_ROUND_SECONDS,
    QUICK_SIZES,
    QUICK_TRACE,
    ROUND_SECONDS,
    SEALED_ROUNDS,
    SNAPSHOT_ENTRIES,
    SNAPSHOT_ROUNDS,
    HitRatioResult,
    Rate,
    SealedRate,
    SnapshotRow,
    measure_hit_ratio,
    measure_sealed,
    measure_snapshot,
    measure_throughput,
)
from _compare.report import (  # noqa: E402
    Section,
    environment_text,
    hit_ratio_section,
    sealed_section,
    snapshot_section,
    throughput_section,
    write_markdown,
)

from godistcache import _bench_snapshot as snap  # noqa: E402

# The names the smoke test (benchmarks/test_compare_smoke.py) and other callers reach through this script.
__all__ = [
    "LIBRARIES",
    "NA",
    "NOT_INSTALLED",
    "OPERATIONS",
    "HitRatioResult",
    "Library",
    "Rate",
    "SealedRate",
    "Section",
    "SnapshotRow",
    "environment_text",
    "hit_ratio_module",
    "hit_ratio_section",
    "library_versions",
    "main",
    "measure_hit_ratio",
    "measure_sealed",
    "measure_snapshot",
    "measure_throughput",
    "sealed_section",
    "snapshot_section",
    "throughput_section",
    "write_charts",
    "write_markdown",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="10K keys, 1 round, a small trace and snapshot: a smoke run"
    )
    parser.add_argument("--no-plots", action="store_true", help="print the tables and write performance.md, no PNGs")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where performance.md and the PNGs go (default {DOCS_DIR}; with --quick, a temporary directory)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"throughput rounds (default {FULL_ROUNDS}; 1 with --quick)"
    )
    parser.add_argument(
        "--libraries", default=",".join(LIBRARIES), help="comma-separated subset for the throughput table"
    )
    args = parser.parse_args(argv)
    libraries = [s.strip() for s in args.libraries.split(",") if s.strip()]
    bad = [s for s in libraries if s not in LIBRARIES]
    if bad or not libraries:
        parser.error(f"unknown or no libraries {bad}; choose among {', '.join(LIBRARIES)}")
    quick: bool = args.quick
    rounds: int = args.rounds if args.rounds is not None else (1 if quick else FULL_ROUNDS)
    if rounds < 1:
        parser.error("--rounds must be >= 1")
    default_out = Path(tempfile.gettempdir()) / "godistcache-compare-quick" if quick else DOCS_DIR
    out: Path = args.out if args.out is not None else default_out
    out.mkdir(parents=True, exist_ok=True)
    round_seconds = QUICK_ROUND_SECONDS if quick else ROUND_SECONDS

    started = time.perf_counter()
    env_text = environment_text(library_versions(libraries), quick)
    print(env_text, flush=True)

    def log(message: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    def show(section: Section) -> None:
        print("\n" + "\n".join(section.text()), flush=True)

    sections: list[tuple[Section, str]] = []
    rates = measure_throughput(libraries, QUICK_SIZES if quick else FULL_SIZES, rounds, round_seconds, log)
    sections.append((throughput_section(rates, rounds, round_seconds), "throughput.png"))
    show(sections[-1][0])

    trace = QUICK_TRACE if quick else FULL_TRACE
    log(f"hit ratio: {trace['requests']:,} requests over {trace['keys']:,} keys")
    hit = measure_hit_ratio(int(trace["requests"]), int(trace["keys"]), float(trace["alpha"]), int(trace["seed"]))
    sections.append((hit_ratio_section(hit), "hit_ratio.png"))
    show(sections[-1][0])

    entries = snap.QUICK_ENTRIES if quick else SNAPSHOT_ENTRIES
    log(f"snapshots: {entries:,} entries")
    snapshot = measure_snapshot(entries, 1 if quick else SNAPSHOT_ROUNDS)
    sections.append((snapshot_section(snapshot), "snapshot.png"))
    show(sections[-1][0])

    log("sealed values")
    sealed: list[SealedRate] = []
    try:
        sealed = measure_sealed(1 if quick else SEALED_ROUNDS)
    except ImportError as exc:
        print(f"\nsealed values: skipped, {exc}")
    else:
        sections.append((sealed_section(sealed), "sealed.png"))
        show(sections[-1][0])

    charts: dict[str, Path] = {}
    if not args.no_plots:
        try:
            charts = write_charts(out, env_text, rates, hit, snapshot, sealed, rounds, round_seconds)
        except ImportError as exc:
            print(f"\ncharts: skipped, matplotlib is not installed ({exc}); pip install matplotlib")
    chart_names = {p.name for p in charts.values()}
    write_markdown(out / "performance.md", env_text, [(s, c if c in chart_names else None) for s, c in sections])
    print(f"\nwrote {out / 'performance.md'}" + "".join(f", {p}" for p in charts.values()))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
