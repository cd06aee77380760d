"""Smoke test of ``benchmarks/decode_budget.py``: it runs, at a tiny size, and hostile files are refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def test_decode_budget_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("decode_budget", Path(__file__).parent / "decode_budget.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--entries", "400000", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "load 400000 entries" in out
    for line in out.splitlines():
        if "hostile" in line:
            assert line.rstrip().endswith("SnapshotError"), line
        elif "x  " in line:
            assert line.rstrip().endswith("loaded"), line
