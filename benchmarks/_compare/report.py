"""The comparison's records as tables: text for the terminal, Markdown for ``docs/performance.md``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from godistcache._bench import environment, text_table

from .libraries import HIT_POLICIES, LIBRARIES, NA, NOT_INSTALLED, OPERATIONS
from .measure import ROUND_SECONDS, HitRatioResult, Rate, SealedRate, SnapshotRow


def plural(n: int, word: str) -> str:
    """``1 round``, ``2 rounds``, ``2 passes``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('s') else 's'}"


@dataclass(frozen=True)
class Section:
    """One table: printed as text, written as Markdown, with how it was measured."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]
    method: str  # how this section's figures were taken, one or two sentences
    left: int = 1  # the first `left` columns are left-aligned
    #: (header, rows) of a second, Markdown-only table (the calls behind the throughput figures).
    details: tuple[list[str], list[list[str]]] | None = None

    def text(self) -> list[str]:
        lines = [f"{self.title}:", *text_table(self.header, self.rows, self.left), "", *self.notes]
        if self.details is not None:
            lines += text_table(*self.details, left=len(self.details[0]))
        return lines

    def markdown(self) -> list[str]:
        lines = [*_md_table(self.header, self.rows, self.left), "", *(f"- {n}" for n in self.notes)]
        if self.details is not None:
            lines += ["", *_md_table(*self.details, left=len(self.details[0]), code=True)]
        return lines


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int, code: bool = False) -> list[str]:
    def cell(c: str, i: int) -> str:
        c = c.replace("|", "\\|")
        return f"`{c}`" if code and i > 0 and c not in ("", NA) else c

    def line(cells: Sequence[str], body: bool = True) -> str:
        return "| " + " | ".join(cell(c, i) if body else c for i, c in enumerate(cells)) + " |"

    align = ["---" if i < left else "---:" for i in range(len(header))]
    return [line(header, False), line(align, False), *(line(r) for r in rows)]


def _mops_cell(rate: Rate) -> str:
    if rate.mops is None:
        return rate.status
    ratio = "" if rate.ratio is None else f" ({rate.ratio:.2f}x)"
    return f"{rate.mops:.2f}{ratio}"


def throughput_method(rounds: int, round_seconds: float) -> str:
    return (
        f"Throughput: best of {plural(rounds, 'round')} timed with time.perf_counter, after one untimed warm-up pass;"
        f" each round repeats its pass over the keys until it lasts at least {round_seconds:g} s; the libraries take"
        " turns in an order rotated every round; gc enabled, collected before each round; ratios to dict from the"
        " same rounds."
    )


def throughput_section(rates: Sequence[Rate], rounds: int, round_seconds: float = ROUND_SECONDS) -> Section:
    by_key = {(r.library, r.op, r.keys): r for r in rates}
    sizes = sorted({r.keys for r in rates})
    names = list(dict.fromkeys(r.library for r in rates))
    rows = [
        [f"{n:,}", name, *(_mops_cell(by_key[(name, op, n)]) for op in OPERATIONS)] for n in sizes for name in names
    ]
    calls = [
        [
            name,
            LIBRARIES[name].get_call,
            *(LIBRARIES[name].ops[o].call if o in LIBRARIES[name].ops else NA for o in OPERATIONS if o != "GET"),
        ]
        for name in names
    ]
    return Section(
        f"Throughput, M ops/s (ratio to dict), best of {plural(rounds, 'round')}",
        ["keys", "library", *OPERATIONS.values()],
        rows,
        [
            "ratio: to dict.get(k) for GET, to d[k] = v for every PUT, measured in the same rounds.",
            (
                'keys "key:<i>", values ("One", i, 3.3); GET over the keys in shuffled order, all hits, on the'
                " container the PUT filled (no TTL); each PUT pass into a fresh container (growth included)."
            ),
            "TTL per entry: a 60 s TTL given with each put; per cache: a 60 s TTL set once on the container.",
            f"{NA}: the library has no such operation; {NOT_INSTALLED}: not importable here.",
            "calls (n = number of keys):",
        ],
        throughput_method(rounds, round_seconds),
        left=2,
        details=(["library", *OPERATIONS.values()], calls),
    )


def hit_ratio_method(result: HitRatioResult) -> str:
    return (
        f"Hit ratio: one Zipf trace (benchmarks/hit_ratio.py's zipf_trace: {result.requests:,} requests over"
        f" {result.keys:,} keys, alpha {result.alpha:g}, seed {result.seed}) through every cache, read-through;"
        " counts, not timings."
    )


def hit_ratio_section(result: HitRatioResult) -> Section:
    caps = list(result.ratios)
    rows = []
    for policy in result.policies:
        cells = []
        for cap in caps:
            ratio = result.ratios[cap].get(policy)
            cells.append(NOT_INSTALLED if ratio is None else f"{ratio:.2%}")
        rows.append([HIT_POLICIES[policy][1], *cells])
    header = ["policy", *(f"capacity {c:,} ({c / result.keys:.0%})" for c in caps)]
    return Section(
        "Hit ratio, read-through on a Zipf trace",
        header,
        rows,
        [
            (
                f"{result.requests:,} requests over {result.keys:,} keys, Zipf alpha {result.alpha:g},"
                f" seed {result.seed} ({result.distinct:,} distinct keys requested):"
                " benchmarks/hit_ratio.py's trace and hit_ratios()."
            ),
            "Each request: a get, and on a miss a put of the key; hit ratio = hits / requests, cold misses included.",
            f"A cache holding every key would score {(result.requests - result.distinct) / result.requests:.2%}.",
        ],
        hit_ratio_method(result),
    )


def snapshot_method(rounds: int) -> str:
    return (
        f"Snapshots: best of {plural(rounds, 'round')} timed with time.perf_counter, gc collected before each;"
        " ours and pickle on the same data and the same disk (a temporary directory)."
    )


def snapshot_section(rows: Sequence[SnapshotRow]) -> Section:
    rounds = rows[0].rounds if rows else 0
    table = [
        [
            r.op,
            f"{r.entries:,}",
            f"{r.ours_s * 1e3:.0f} ms",
            f"{r.entries / r.ours_s / 1e6:.2f}",
            r.ref_name,
            f"{r.ref_s * 1e3:.0f} ms",
            f"{r.speedup:.2f}x",
        ]
        for r in rows
    ]
    return Section(
        f"Snapshots, best of {plural(rounds, 'round')}",
        ["snapshot", "entries", "godistcache", "M entries/s", "reference", "reference time", "speed vs reference"],
        table,
        [
            (
                'entries: str keys "key:<i>", values ("One", i, 3.3), each with a TTL (godistcache._bench_snapshot\'s'
                " data); the reference pickles (protocol 5) the equivalent {key: (value, expires_ns)} dict."
            ),
            "save: cache.save(path) (temp file, fsync, rename, directory fsync) beside pickle.dumps + write + fsync.",
            (
                "load: Cache.from_file(path) (read, check every frame, fill a new table) beside reading the file and"
                " pickle.loads; what each returns is freed after the timer stops."
            ),
            "sealed: AES-256-GCM frames under a key, beside the same (unsealed) pickle reference.",
            "speed vs reference: reference time / our time (above 1: ours is faster).",
        ],
        snapshot_method(rounds),
    )


def sealed_method(rounds: int) -> str:
    return (
        f"Sealed values: best of {plural(rounds, 'pass')} over 10K keys timed with time.perf_counter, the bare loop"
        " and ours alternating who goes first."
    )


def sealed_section(rates: Sequence[SealedRate]) -> Section:
    rounds = rates[0].rounds if rates else 0
    rows = [
        [f"{r.op} ({r.kind})", f"{r.keys:,}", f"{r.bare_kops:,.0f}", f"{r.ours_kops:,.0f}", f"{r.ratio:.2f}x"]
        for r in rates
    ]
    return Section(
        f"Sealed values, k ops/s, best of {plural(rounds, 'pass')}",
        ["operation (values)", "keys", "bare AESGCM", "godistcache", "ratio"],
        rows,
        [
            (
                "bare AESGCM: cryptography's AESGCM(key).encrypt/decrypt over the plaintexts put_crypt seals, with the"
                " same associated data and nonce scheme, and nothing else"
                " (benchmarks/test_crypt_bench.py's loops and data)."
            ),
            "godistcache: cache.put_crypt(k, v) (encode, seal, put) and cache.get_crypt(k) (get, open, decode).",
            'values: 50-character str, or ("One", i, 3.3) tuples; ratio: godistcache / bare (1.00x: no overhead).',
        ],
        sealed_method(rounds),
    )


# -- environment, Markdown, charts --------------------------------------------------------------------------


def environment_text(versions: dict[str, str], quick: bool = False) -> str:
    """Machine, interpreter, hash seed and library versions, in one sentence."""
    env = environment()
    load = f" (load average {os.getloadavg()[0]:.2f} at the start)" if hasattr(os, "getloadavg") else ""
    libs = ", ".join(f"{name} {v}" for name, v in versions.items())
    return (
        f"{'Quick (smoke) run, not for publishing. ' if quick else ''}{env['machine']}{load}; {env['python']};"
        f" PYTHONHASHSEED={env['PYTHONHASHSEED']}; {libs}; all in one process and one run."
    )


def write_markdown(path: Path, env_text: str, sections: Sequence[tuple[Section, str | None]]) -> None:
    """performance.md: the method paragraph, then each table with its chart and notes."""
    lines = [
        "# Performance beside other Python caches",
        "",
        "Written by `PYTHONHASHSEED=0 python benchmarks/compare.py` (regenerate it rather than editing it).",
        "",
        f"**Method.** {env_text} " + " ".join(s.method for s, _ in sections),
        "",
        "Only ratios measured in the same run carry over to another machine, and on a shared machine even they move",
        "from run to run (by about 0.1 for the throughput ratios).",
    ]
    for section, chart in sections:
        lines += ["", f"## {section.title}", ""]
        if chart:
            lines += [f"![{section.title}]({chart})", ""]
        lines += section.markdown()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
