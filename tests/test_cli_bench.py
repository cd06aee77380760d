"""``godistcache bench``: the command runs, prints every row, and its numbers are sane.

No timing thresholds: the machine may be busy. Only shape and sign are checked.
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

import godistcache
from godistcache import _bench
from godistcache.cli import main
from godistcache.cli._parser import key_counts as _key_counts

# operation, keys, godistcache M ops/s, dict M ops/s, ratio, Go original
THROUGHPUT_ROW = re.compile(r"^(GET|PUT|PUT_SAFE) +([\d,]+) +(\S+) +(\S+) +(\S+)x +(\S+)$", re.MULTILINE)
MEMORY_ROW = re.compile(
    r"^(dict|Cache\(\)|Cache\(\), ttl 3600|Cache\(\), ttl 3600, write times) +(\S+) +(\S+)$", re.MULTILINE
)

REPO = Path(__file__).resolve().parent.parent


def _positive(text: str) -> float:
    value = float(text)
    assert math.isfinite(value) and value > 0, text
    return value


def _throughput_rows(out: str) -> dict[tuple[str, int], re.Match[str]]:
    return {(m[1], int(m[2].replace(",", ""))): m for m in THROUGHPUT_ROW.finditer(out)}


def test_bench_quick_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--no-memory"]) == 0
    out, err = capsys.readouterr()

    rows = _throughput_rows(out)
    assert set(rows) == {(op, n) for op in _bench.OPERATIONS for n in _bench.QUICK_KEYS}
    for m in rows.values():
        ours, ref, ratio = _positive(m[3]), _positive(m[4]), _positive(m[5])
        # The ratio is computed from the unrounded rates: allow for the printed rounding.
        assert ratio == pytest.approx(ours / ref, rel=0.05, abs=0.011)
        assert m[6] == "-"  # the Go original's figures belong to the 1M rows only

    assert f"core: {godistcache.CORE}" in out
    assert platform.python_version() in out
    assert "machine: " in out
    assert "Go original" in out and "M1 Pro" in out
    assert "bytes/entry" not in out
    # Progress goes to stderr, never into the report.
    assert "GET" in err and "keys" in err
    assert "keys:" not in out


# snapshot, entries, our time, M items/s, reference, its time, speed ratio, Go original
SNAPSHOT_ROW = re.compile(
    r"^(save|load|save sealed|load sealed|save pickled values|load pickled values) +([\d,]+) +(\d+) ms +(\S+) +"
    r"(pickle\.dumps \+ write|pickle\.loads|save|load) +(\d+) ms +(\S+)x +(- *|\S+ \(\S+\))$",
    re.MULTILINE,
)


def test_bench_snapshot_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["bench", "--keys", "3000", "--rounds", "1", "--no-memory", "-q", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {m[1]: m for m in SNAPSHOT_ROW.finditer(out)}
    assert list(rows) == ["save", "load", "save sealed", "load sealed", "save pickled values", "load pickled values"]
    assert rows["save"][2] == "3,000" and rows["save pickled values"][2] == "600"
    for m in rows.values():
        _positive(m[4])
        _positive(m[7])
    assert (rows["save"][8], rows["load"][8], rows["save sealed"][8]) == ("2.75 (0.47)", "2.00 (0.46)", "-")
    assert os.listdir(tmp_path) == []  # the bench's files are cleaned up
    assert main(["bench", "--keys", "1000", "--rounds", "1", "--no-memory", "-q", "--no-snapshot"]) == 0
    assert "snapshots" not in capsys.readouterr().out


def test_bench_keys_and_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--keys", "500,1500", "--rounds", "2", "--no-memory", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert set(_throughput_rows(out)) == {(op, n) for op in _bench.OPERATIONS for n in (500, 1500)}
    assert "best of 2 round(s)" in out
    assert err == ""


def test_bench_with_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--keys", "2000", "-q"]) == 0
    out, _ = capsys.readouterr()
    assert set(_throughput_rows(out)) == {(op, 2000) for op in _bench.OPERATIONS}
    labels = [m[1] for m in MEMORY_ROW.finditer(out)]
    assert labels == ["dict", "Cache()", "Cache(), ttl 3600", "Cache(), ttl 3600, write times"]
    assert "2,000 entries" in out


@pytest.mark.parametrize(
    "argv",
    [[], ["bench", "--keys", "0"], ["bench", "--keys", "ten"], ["bench", "--rounds", "0"], ["bench", "-q", "-v"]],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err


def test_key_counts_accept_suffixes() -> None:
    assert _key_counts("10000,1000000") == [10_000, 1_000_000]
    assert _key_counts("10k, 1M") == [10_000, 1_000_000]
    assert _key_counts("1_000") == [1_000]


def test_go_column_only_at_one_million() -> None:
    rows = [_bench.Throughput(op, n, 2.0, 4.0) for op in _bench.OPERATIONS for n in (10_000, 1_000_000)]
    out = "\n".join(_bench.format_throughput(rows))
    parsed = _throughput_rows(out)
    assert len(parsed) == 6
    for (op, n), m in parsed.items():
        assert m[5] == "0.50"
        assert m[6] == ("-" if n != 1_000_000 else f"{_bench.GO_ORIGINAL_MOPS[op]:.1f}")


def test_measure_memory_in_fresh_processes() -> None:
    results = _bench.measure_memory(50_000)
    assert [r.container for r in results] == list(_bench.MEMORY_CONTAINERS)
    for r in results:
        assert r.entries == 50_000
        assert r.core == godistcache.CORE
        if r.source == "unavailable":
            assert r.bytes_per_entry is None
            continue
        assert r.bytes_per_entry is not None and math.isfinite(r.bytes_per_entry)
        # A fill that grew nothing would mean the reading was taken wrong (the peak RSS
        # fallback can hide growth under an earlier peak, so only Linux must show it).
        if r.source == "statm":
            assert r.bytes_per_entry > 0
        else:
            assert r.bytes_per_entry >= 0
    table = "\n".join(_bench.format_memory(results))
    assert [m[1] for m in MEMORY_ROW.finditer(table)] == [
        "dict",
        "Cache()",
        "Cache(), ttl 3600",
        "Cache(), ttl 3600, write times",
    ]


def test_measure_memory_rejects_unknown_container() -> None:
    with pytest.raises(ValueError, match="containers must be among"):
        _bench.measure_memory(10, ["list"])


@pytest.mark.skipif(not (REPO / "benchmarks" / "memory.py").exists(), reason="no benchmarks folder (installed package)")
def test_memory_script_runs() -> None:
    # The script must import the godistcache under test, not whatever the source tree holds.
    root = str(Path(godistcache.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "memory.py"), "--keys", "20000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [m[1] for m in MEMORY_ROW.finditer(proc.stdout)] == [
        "dict",
        "Cache()",
        "Cache(), ttl 3600",
        "Cache(), ttl 3600, write times",
    ]
