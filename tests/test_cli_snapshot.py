"""``godistcache inspect``, ``verify`` and ``export``, and the progress bar they draw.

The commands run in-process through ``godistcache.cli.main`` (stdout and
stderr captured by capsys), and a few through ``python -m godistcache`` in a
subprocess, as a user runs them.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache, _snapshot_file, snapshot
from godistcache._progress import ProgressBar
from godistcache.cli import _common as cli
from godistcache.cli import main
from godistcache.crypto import key_id

REPO = Path(__file__).resolve().parent.parent
T0_NS = 1_700_000_000 * 1_000_000_000  # conftest's frozen clock: 2023-11-14T22:13:20Z
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
KEY_ID = key_id(KEY).hex()
ENV = "GODISTCACHE_AES_CIPHER_KEY"


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a key its author did not set (Cache() would read one too)."""
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("GODISTCACHE_AES_CIPHER_IV", raising=False)


def _save(path: Path, entries: dict[Any, Any], *, key: bytes | None = None, allow_pickle: bool = False) -> Path:
    cache = Cache(cipher_key=key) if key is not None else Cache()
    cache.update(entries)
    cache.save(path, instance_id="test-writer", allow_pickle=allow_pickle)
    return path


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return _save(tmp_path / "plain.godistcache", {"a": 1, "b": "two", "c": [3.0]})


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    return _save(tmp_path / "sealed.godistcache", {"a": 1, "b": "two"}, key=KEY)


def _header_size(path: Path) -> int:
    with open(path, "rb") as f:
        return _snapshot_file.read_header(f, str(path), path.stat().st_size).size


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def _fields(out: str) -> dict[str, str]:
    """The ``name: value`` lines of inspect's report."""
    rows = {}
    for line in out.splitlines():
        name, sep, value = line.partition(":")
        assert sep, line
        rows[name] = value.strip()
    return rows


# --------------------------------------------------------------------------- inspect


def test_inspect_plain(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(plain)]) == 0
    out, err = capsys.readouterr()
    rows = _fields(out)
    assert rows["file"] == str(plain)
    assert rows["format version"] == "1"
    assert rows["instance id"] == "test-writer"
    assert rows["sealed"] == "no"
    assert rows["entries"] == "3"
    assert rows["file size"] == f"{plain.stat().st_size:,} bytes"
    assert rows["frames"] == "1"
    assert int(rows["payload bytes"]) > 0
    assert (rows["live now"], rows["expired now"], rows["pickled values"]) == ("3", "0", "0")
    assert rows["checked"] == "every frame checksummed"
    assert "note" not in rows
    created = datetime.datetime.fromisoformat(rows["created"])
    assert created.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(minutes=5)
    # Aligned: every value starts in the same column.
    columns = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in out.splitlines()}
    assert len(columns) == 1
    assert err == ""


def test_inspect_json_matches_the_file(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", str(plain)]) == 0
    doc = json.loads(capsys.readouterr().out)
    info = snapshot.inspect(plain)
    assert doc == {
        "path": str(plain),
        "format_version": 1,
        "created": info.header.created.isoformat(),
        "created_ns": info.header.created_ns,
        "instance_id": "test-writer",
        "sealed": False,
        "key_id": None,
        "entry_count": 3,
        "file_size": plain.stat().st_size,
        "frames": 1,
        "payload_bytes": info.payload_bytes,
        "live": 3,
        "expired": 0,
        "pickled": 0,
        "checked": "all",
        "authenticated": False,
        "note": None,
    }


def test_inspect_sealed_without_key_reads_the_header_only(sealed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(sealed)]) == 0
    rows = _fields(capsys.readouterr().out)
    assert rows["sealed"] == f"yes, key id {KEY_ID}"
    assert rows["entries"] == "2"
    assert rows["frames"] == rows["live now"] == rows["pickled values"] == "unknown"
    assert rows["checked"] == "header only (checksum ok)"
    assert "only the header could be read" in rows["note"] and f"{ENV} is not set" in rows["note"]

    assert main(["inspect", "--json", str(sealed)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checked"] == "header" and doc["authenticated"] is False
    assert doc["frames"] is None and doc["live"] is None and doc["expired"] is None
    assert doc["key_id"] == KEY_ID and doc["entry_count"] == 2
    assert "only the header could be read" in doc["note"]


def test_inspect_sealed_with_key(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY.hex())
    assert main(["inspect", str(sealed)]) == 0
    rows = _fields(capsys.readouterr().out)
    assert (rows["frames"], rows["live now"], rows["expired now"]) == ("1", "2", "0")
    assert rows["checked"] == "every frame authenticated"
    assert "note" not in rows


def test_inspect_sealed_with_another_key(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, OTHER_KEY.hex())
    assert main(["inspect", "--json", str(sealed)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checked"] == "header"
    assert KEY_ID in doc["note"] and key_id(OTHER_KEY).hex() in doc["note"]


def test_inspect_key_from_another_variable(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two keys, oldest first: the file's key is the old one (a rotation in progress).
    monkeypatch.setenv("MY_SNAPSHOT_KEYS", f"{KEY.hex()},{OTHER_KEY.hex()}")
    assert main(["inspect", "--json", "--key-env", "MY_SNAPSHOT_KEYS", str(sealed)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checked"] == "all" and doc["authenticated"] is True and doc["live"] == 2


def test_inspect_counts_expired_entries(tmp_path: Path, clock: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI has no cache: it judges expiry by the wall clock, where the fake timer ends up after the advance.
    start = (time.time_ns() // 10**9 - 50) * 10**9
    clock.set(start)
    cache = Cache()
    cache.put("short", 1, 10)
    cache.put("long", 2, 100)
    cache.put("forever", 3)
    path = tmp_path / "ttl.godistcache"
    cache.save(path, instance_id="")
    clock.advance(50)  # "short" has expired since the save; the others have not
    assert main(["inspect", str(path)]) == 0
    rows = _fields(capsys.readouterr().out)
    assert (rows["entries"], rows["live now"], rows["expired now"]) == ("3", "2", "1")
    assert rows["created"] == datetime.datetime.fromtimestamp(start // 10**9, datetime.timezone.utc).isoformat()
    assert rows["instance id"] == "(none)"


def test_inspect_counts_pickled_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(
        tmp_path / "p.godistcache", {"p": datetime.timezone(datetime.timedelta(hours=1)), "q": 1}, allow_pickle=True
    )
    assert main(["inspect", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["pickled"] == 1


def test_inspect_damaged(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _flip(plain, 20)  # inside the header
    assert main(["inspect", str(plain)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ") and str(plain) in err and "header checksum mismatch" in err


def test_inspect_not_a_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    assert main(["inspect", str(path)]) == 1
    assert "not a godistcache snapshot" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["inspect"], ["inspect", "a", "b"], ["inspect", "--key", "x", "f"]])
def test_inspect_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: godistcache" in err
    if "--key" in argv:  # no abbreviation of --key-env: a key typed there is never taken for a variable name
        assert "unrecognized arguments: --key" in err


def test_missing_file_is_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.godistcache"
    for command in (["inspect"], ["verify"], ["export", "--json"]):
        assert main([*command, str(missing)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"error: {missing}: No such file or directory\n"


def test_malformed_key_variable_is_status_2(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "secret-but-too-short")
    for command in (["inspect"], ["verify"], ["export", "--json"]):
        assert main([*command, str(sealed)]) == 2
        err = capsys.readouterr().err
        assert ENV in err and "cipher key must be" in err
        assert "secret-but-too-short" not in err  # never echo key material


# --------------------------------------------------------------------------- verify


def test_verify_plain(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(plain)]) == 0
    assert capsys.readouterr() == ("OK: 3 entries in 1 frame, checksummed\n", "")


def test_verify_sealed(sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, base64.b64encode(KEY).decode())
    assert main(["verify", str(sealed)]) == 0
    assert capsys.readouterr() == (f"OK: 2 entries in 1 frame, sealed with key id {KEY_ID}\n", "")


def test_verify_many_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "big.godistcache", {i: bytes(1000) for i in range(400)})  # > 128 KiB of payload
    frames = snapshot.verify(path).frames
    assert frames >= 3
    assert main(["verify", str(path)]) == 0
    assert capsys.readouterr().out == f"OK: 400 entries in {frames} frames, checksummed\n"


def test_verify_sealed_without_key_names_the_variable(sealed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(sealed)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("FAILED: ") and KEY_ID in err and f"set {ENV}" in err
    assert main(["verify", "--key-env", "MY_KEY", str(sealed)]) == 1
    assert "set MY_KEY to that key" in capsys.readouterr().err


def test_verify_sealed_with_the_wrong_key(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, OTHER_KEY.hex())
    assert main(["verify", str(sealed)]) == 1
    err = capsys.readouterr().err
    assert KEY_ID in err and key_id(OTHER_KEY).hex() in err


def test_verify_flipped_byte_plain(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame0 = _header_size(plain)
    _flip(plain, frame0 + 9 + 2)  # a payload byte of frame 0
    assert main(["verify", str(plain)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"FAILED: {plain}: checksum mismatch")
    assert f"(frame 0, byte {frame0})" in err


def test_verify_flipped_byte_sealed(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY.hex())
    frame0 = _header_size(sealed)
    _flip(sealed, frame0 + 9 + 2)  # a ciphertext byte of frame 0
    assert main(["verify", str(sealed)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"FAILED: {sealed}: frame 0 at byte {frame0} fails authentication")
    assert f"(frame 0, byte {frame0})" in err
    # inspect, given the key, checks every frame too, and fails the same way
    assert main(["inspect", str(sealed)]) == 1
    assert "fails authentication" in capsys.readouterr().err
    # without the key it reads the header only, which is intact
    monkeypatch.delenv(ENV)
    assert main(["inspect", str(sealed)]) == 0
    capsys.readouterr()


def test_verify_sealed_end_frame_tampered(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY.hex())
    _flip(sealed, sealed.stat().st_size - 3)  # the end frame's tag
    assert main(["verify", str(sealed)]) == 1
    assert "frame 1, byte " in capsys.readouterr().err


def test_verify_truncated(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = plain.read_bytes()
    plain.write_bytes(data[:-5])
    assert main(["verify", str(plain)]) == 1
    assert capsys.readouterr().err.startswith(f"FAILED: {plain}: ")


# --------------------------------------------------------------------------- export

#: Would create a directory if it were ever unpickled.
_MARKER_NAME = "unpickled-marker"


class _Trap:
    """Pickles to a call of os.mkdir: unpickling it has a visible side effect."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


def test_export_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    marker = tmp_path / _MARKER_NAME
    entries = {
        "bytes": b"\x00\xffraw",
        "tuple": (1, (2, "three")),
        "int keys": {1: "one", 2: "two"},
        "str keys": {"x": [1, 2]},
        "when": when,
        "trap": _Trap(str(marker)),
        ("tuple", "key"): None,
        b"bytes key": "ü",
    }
    path = _save(tmp_path / "types.godistcache", entries, allow_pickle=True)
    assert main(["export", "--json", str(path)]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["format"] == "godistcache-json" and doc["version"] == 1
    assert doc["instance_id"] == "test-writer" and doc["sealed"] is False
    assert "export: 8 entries to stdout" in err

    got = {json.dumps(e["key"], sort_keys=True): e for e in doc["entries"]}
    assert len(got) == 8

    def value(key: Any) -> Any:
        entry = got[json.dumps(key, sort_keys=True)]
        assert entry["expires"] is None and entry["expires_ns"] is None
        return entry["value"]

    assert value("bytes") == {"$bytes": base64.b64encode(b"\x00\xffraw").decode()}
    assert value("tuple") == [1, [2, "three"]]
    assert value("int keys") == {"$dict": [[1, "one"], [2, "two"]]}
    assert value("str keys") == {"x": [1, 2]}
    assert value("when") == {"$datetime": "2024-01-02T03:04:05+00:00"}
    assert value(["tuple", "key"]) is None
    assert value({"$bytes": base64.b64encode(b"bytes key").decode()}) == "ü"

    # A pickled object is part of its frame's shared pickle: exported as a placeholder.
    assert value("trap") == {"$pickle": None}
    # Exporting never unpickled it...
    assert not marker.exists()
    # ...and the pickle is live: loading the file with pickles allowed makes the marker.
    Cache().load(path, allow_pickle=True)
    assert marker.is_dir()


def test_export_expiry_times(tmp_path: Path, clock: Any, capsys: pytest.CaptureFixture[str]) -> None:
    start = (time.time_ns() // 10**9 - 30) * 10**9  # the CLI judges expiry by the wall clock
    clock.set(start)
    cache = Cache()
    cache.put("soon", 1, 10)
    cache.put("later", 2, 90)
    path = tmp_path / "ttl.godistcache"
    cache.save(path)
    clock.advance(30)  # "soon" has expired: export writes live entries only
    assert main(["export", "--json", "-q", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # -q: no summary line
    (entry,) = json.loads(out)["entries"]
    assert entry["key"] == "later"
    assert entry["expires_ns"] == start + 90 * 1_000_000_000
    assert entry["expires"] == datetime.datetime.fromtimestamp(start // 10**9 + 90, datetime.timezone.utc).isoformat()


def test_export_sealed(sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["export", "--json", str(sealed)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and f"set {ENV}" in err
    monkeypatch.setenv(ENV, KEY.hex())
    assert main(["export", "--json", str(sealed)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sealed"] is True
    assert {e["key"]: e["value"] for e in doc["entries"]} == {"a": 1, "b": "two"}


def test_export_to_file(plain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "out" / "plain.json"
    out_path.parent.mkdir()
    out_path.write_text("old contents")
    assert main(["export", "--json", "-o", str(out_path), str(plain)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"export: 3 entries to {out_path}" in err
    doc = json.loads(out_path.read_text(encoding="utf-8"))
    assert {e["key"]: e["value"] for e in doc["entries"]} == {"a": 1, "b": "two", "c": [3.0]}
    assert os.listdir(out_path.parent) == ["plain.json"]  # no temporary file left
    if os.name == "posix":
        assert out_path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_export_failure_leaves_no_file(
    plain: Path, tmp_path: Path, existing: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Damage the last frame (the end frame): the entries are exported before the damage is found.
    _flip(plain, plain.stat().st_size - 3)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out_path = out_dir / "plain.json"
    if existing:
        out_path.write_text("old contents")
    assert main(["export", "--json", "-o", str(out_path), str(plain)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    if existing:
        assert out_path.read_text() == "old contents"
        assert os.listdir(out_dir) == ["plain.json"]
    else:
        assert os.listdir(out_dir) == []

    # To stdout the document is streamed: it is cut short, and the status says so.
    assert main(["export", "--json", str(plain)]) == 1
    out, err = capsys.readouterr()
    assert '"key": "a"' in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    assert "checksum mismatch" in err


def test_export_sealed_without_key_leaves_no_file(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["export", "--json", "-o", str(out_dir / "x.json"), str(sealed)]) == 1
    assert os.listdir(out_dir) == []
    assert KEY_ID in capsys.readouterr().err


def test_export_requires_json(plain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", str(plain)])
    assert exc.value.code == 2
    assert "--json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "the only format" in capsys.readouterr().out


def test_no_key_option_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("inspect", "verify", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = capsys.readouterr().out
        assert "--key-env VAR" in help_text
        assert "--key " not in help_text and "--cipher-key" not in help_text


# --------------------------------------------------------------------------- subprocess


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GODISTCACHE_AES_")}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "godistcache", *args], capture_output=True, env=full_env, timeout=120)


def test_subprocess_commands(tmp_path: Path) -> None:
    assert (REPO / "godistcache" / "__main__.py").is_file()
    path = _save(tmp_path / "s.godistcache", {"ключ": "значение", "n": 1}, key=KEY)

    result = _run("verify", str(path))
    assert result.returncode == 1 and b"GODISTCACHE_AES_CIPHER_KEY" in result.stderr and result.stdout == b""

    result = _run("verify", str(path), env={ENV: KEY.hex()})
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"OK: 2 entries in 1 frame, sealed with key id {KEY_ID}\n"
    assert b"\r" not in result.stderr  # not a terminal: no progress bar

    # JSON is UTF-8 whatever the locale's encoding says.
    result = _run("export", "--json", str(path), env={ENV: KEY.hex(), "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.decode("utf-8"))
    assert {e["key"]: e["value"] for e in doc["entries"]} == {"ключ": "значение", "n": 1}

    result = _run("inspect", str(tmp_path / "missing.godistcache"))
    assert result.returncode == 2 and b"No such file or directory" in result.stderr


# --------------------------------------------------------------------------- progress bar


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_renders() -> None:
    out = io.StringIO()
    clock = _Clock()
    bar = ProgressBar(20_000_000, "verify", stream=out, enabled=True, clock=clock)
    clock.now += 1.0
    bar(10_000_000, 20_000_000)
    assert out.getvalue() == "\rverify:  50% 10.0/20.0 MB, 10.0 MB/s"

    # Throttled: no redraw within 0.1 s...
    clock.now += 0.05
    bar(12_000_000, 20_000_000)
    assert out.getvalue().count("\r") == 1
    # ...then one.
    clock.now += 0.95
    bar(15_000_000, 20_000_000)
    # one character shorter than the line before: padded with a space to wipe its tail
    assert out.getvalue().endswith("\rverify:  75% 15.0/20.0 MB, 7.5 MB/s ")

    # The end is always drawn, however soon.
    clock.now += 0.01
    bar(20_000_000, 20_000_000)
    line = "verify: 100% 20.0/20.0 MB, 10.0 MB/s"
    assert out.getvalue().endswith("\r" + line)
    assert out.getvalue().count("\r") == 3

    before = out.getvalue()
    bar.close()
    assert out.getvalue() == before + "\r" + " " * len(line) + "\r"
    bar.close()  # idempotent
    assert out.getvalue() == before + "\r" + " " * len(line) + "\r"


def test_progress_bar_pads_a_shorter_line() -> None:
    out = io.StringIO()
    clock = _Clock()
    bar = ProgressBar(0, "x", stream=out, enabled=True, clock=clock)
    clock.now += 1
    bar(123_000_000, 200_000_000)  # "x:  61% 123.0/200.0 MB, 123.0 MB/s"
    first = out.getvalue()
    clock.now += 1
    bar(1, 2)  # a shorter line must wipe the longer one's tail
    second = out.getvalue()[len(first) :]
    assert second.startswith("\rx:  50% 0.0/0.0 MB, 0.0 MB/s")
    assert len(second) == len(first)


def test_progress_bar_delay() -> None:
    out = io.StringIO()
    clock = _Clock()
    bar = ProgressBar(100, "slow", stream=out, enabled=True, delay=0.5, clock=clock)
    clock.now += 0.4
    bar(40, 100)
    assert out.getvalue() == ""  # too soon: work this quick shows no bar
    clock.now += 0.2
    bar(60, 100)
    assert out.getvalue().startswith("\rslow:  60% ")
    bar.close()

    quick = io.StringIO()
    with ProgressBar(100, "quick", stream=quick, enabled=True, delay=0.5, clock=clock) as bar:
        bar(100, 100)  # the last update is drawn even so
    assert quick.getvalue().startswith("\rquick: 100% ")


def test_progress_bar_zero_total_and_no_elapsed_time() -> None:
    out = io.StringIO()
    bar = ProgressBar(0, "empty", stream=out, enabled=True, clock=lambda: 5.0)
    bar(0, 0)
    assert out.getvalue() == "\rempty: 100% 0.0/0.0 MB, -- MB/s"


def test_progress_bar_silent_unless_a_terminal() -> None:
    for stream, enabled in [(io.StringIO(), None), (_Terminal(), False), (io.StringIO(), False)]:
        with ProgressBar(10, "quiet", stream=stream, enabled=enabled) as bar:
            bar(5, 10)
            bar(10, 10)
        assert stream.getvalue() == ""
    tty = _Terminal()
    with ProgressBar(10, "loud", stream=tty) as bar:
        assert bar.enabled
        bar(10, 10)
    assert tty.getvalue().startswith("\rloud: 100%")
    assert tty.getvalue().endswith("\r")


def _terminal(monkeypatch: pytest.MonkeyPatch) -> _Terminal:
    """Make stderr a terminal and every file large enough for a progress bar.

    Called in the test itself: pytest puts its own capture back on sys.stderr
    between a fixture's setup and the test's call.
    """
    tty = _Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    return tty


def test_commands_draw_progress_on_a_terminal(
    plain: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _terminal(monkeypatch)
    size = plain.stat().st_size
    assert main(["verify", str(plain)]) == 0
    drawn = terminal.getvalue()
    # snapshot's progress counts frame payloads, so a tiny file's bar stops short of 100%
    assert re.match(rf"\rverify: +\d+% \d+\.\d/{size / 1e6:.1f} MB, \d+\.\d MB/s\r", drawn), drawn
    last = drawn.rsplit("\r", 2)
    assert last[-1] == "" and last[-2].strip() == ""  # the line is wiped at the end
    assert capsys.readouterr().out == "OK: 3 entries in 1 frame, checksummed\n"  # never on stdout

    for command in (["inspect"], ["export", "--json"]):
        terminal.seek(0)
        terminal.truncate()
        assert main([*command, str(plain)]) == 0
        assert re.match(rf"\r{command[0]}: +\d+% ", terminal.getvalue())


def test_quiet_and_small_files_draw_no_progress(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _terminal(monkeypatch)
    assert sys.stderr is terminal
    assert main(["verify", "-q", str(plain)]) == 0
    assert terminal.getvalue() == ""
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 8 * 1024 * 1024)
    assert main(["verify", str(plain)]) == 0
    assert "\r" not in terminal.getvalue()
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", plain.stat().st_size)  # the threshold is inclusive
    assert main(["verify", str(plain)]) == 0
    assert terminal.getvalue().startswith("\rverify: ")
