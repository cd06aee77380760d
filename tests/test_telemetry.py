"""OpenTelemetry: spans and metrics with the SDK's in-memory exporters; nothing without the package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache, _telemetry

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()
_configured = False


@pytest.fixture
def otel() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    """The process-wide SDK providers (they can be set once), with the spans of earlier tests cleared."""
    global _configured
    if not _configured:
        provider = sdk_trace.TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
        _configured = True
    _EXPORTER.clear()
    yield _EXPORTER, _READER


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


def test_save_and_load_spans_and_counters(otel: Any, tmp_path: Path) -> None:
    exporter, reader = otel
    assert _telemetry.ENABLED
    c = Cache()
    for i in range(10):
        c[f"k{i}"] = i
    path = tmp_path / "t.godistcache"
    c.save(path)
    Cache.from_file(path)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    save, load = spans["godistcache.save"], spans["godistcache.load"]
    assert save.attributes["godistcache.entries"] == 10
    assert save.attributes["godistcache.bytes"] == path.stat().st_size
    assert save.attributes["godistcache.sealed"] is False
    assert load.attributes["godistcache.entries"] == 10 and load.attributes["godistcache.merge"] is False
    points = _points(reader)
    by_op = {p.attributes["operation"]: p.value for p in points["godistcache.snapshot.entries"]}
    assert by_op["save"] >= 10 and by_op["load"] >= 10


def test_failed_load_records_the_error(otel: Any, tmp_path: Path) -> None:
    exporter, _ = otel
    path = tmp_path / "bad.godistcache"
    path.write_bytes(b"not a snapshot")
    with pytest.raises(Exception, match="bad magic"):
        Cache().load(path)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "godistcache.load"]
    assert not span.status.is_ok
    assert any(e.name == "exception" for e in span.events)


def test_entries_hits_and_misses_of_watched_caches(otel: Any) -> None:
    _, reader = otel
    c = Cache()
    c.update({"a": 1, "b": 2, "c": 3})
    _telemetry.watch(c)
    before = _points(reader)
    hits0 = sum(p.value for p in before.get("godistcache.hits", []))
    misses0 = sum(p.value for p in before.get("godistcache.misses", []))
    for _ in range(5):
        c.get("a")
    c.get("zz")
    points = _points(reader)
    assert [p.value for p in points["godistcache.entries"]][-1] >= 3
    assert sum(p.value for p in points["godistcache.hits"]) - hits0 == 5
    assert sum(p.value for p in points["godistcache.misses"]) - misses0 == 1


def test_nothing_at_all_without_the_package(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError("blocked for the test")
                return None

        sys.meta_path.insert(0, Block())
        from godistcache import Cache, _telemetry
        assert not _telemetry.ENABLED
        c = Cache()
        c["a"] = 1
        c.save({str(tmp_path / "x.godistcache")!r})
        assert Cache.from_file({str(tmp_path / "x.godistcache")!r})["a"] == 1
        _telemetry.watch(c)
        _telemetry.count("bytes", 1, "upload")
        assert not any(m.startswith("opentelemetry") for m in sys.modules)
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.s3
def test_each_sync_cycle_is_a_span(otel: Any, s3server: Any) -> None:
    import uuid

    from godistcache import S3Store

    exporter, _ = otel
    obj = f"otel{uuid.uuid4().hex[:8]}"
    stores = [
        S3Store(s3server.url, s3server.bucket, s3server.access_key, s3server.secret_key, object_name=obj, instance_id=i)
        for i in ("a", "b")
    ]
    a, b = Cache(), Cache()
    with a.sync_with_s3(stores[0], interval=3600) as sa, b.sync_with_s3(stores[1], interval=3600) as sb:
        a.put("k", 1)
        sa.flush(timeout=30)
        a.put("k", 2)
        sa.flush(timeout=30)
        sb.flush(timeout=30)
    cycles = [s for s in exporter.get_finished_spans() if s.name == "godistcache.sync"]
    by_instance = {s.attributes["godistcache.instance"]: s for s in cycles}
    assert {"a", "b"} <= set(by_instance)
    reader_cycle = [s for s in cycles if s.attributes["godistcache.instance"] == "b"][0]
    assert reader_cycle.attributes["godistcache.applied"] >= 1 and reader_cycle.attributes["godistcache.merged"] >= 1
    assert b.get("k") == 2
