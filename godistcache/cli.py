"""The ``godistcache`` console command.

Each subcommand is a ``_cmd_<name>(args) -> int`` function registered in
:func:`_build_parser`. Results go to stdout; progress and diagnostics go to
stderr through :mod:`logging` (``-q`` silences progress, ``-v`` adds detail).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, cast

from . import __version__
from ._files import atomic_write, open_regular

if TYPE_CHECKING:
    from ._progress import ProgressBar
    from .crypto import Keyring
    from .snapshot import Header

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _positive_int(text: str) -> int:
    """An int >= 1; accepts 10_000, 10k and 1M."""
    s = text.strip().lower().replace("_", "")
    scale = 1
    if s.endswith("k"):
        s, scale = s[:-1], 1_000
    elif s.endswith("m"):
        s, scale = s[:-1], 1_000_000
    try:
        value = int(s) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 10000, 10k or 1M, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def _key_counts(text: str) -> list[int]:
    """A comma-separated list of key counts, e.g. ``10000,1000000`` or ``10k,1M``."""
    return [_positive_int(part) for part in text.split(",") if part.strip()] or [_positive_int(text)]


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import _bench

    sizes = args.keys or list(_bench.QUICK_KEYS if args.quick else _bench.DEFAULT_KEYS)
    rounds = args.rounds or (1 if args.quick else _bench.DEFAULT_ROUNDS)
    min_ops = _bench.QUICK_MIN_OPS_PER_ROUND if args.quick else _bench.MIN_OPS_PER_ROUND

    env = _bench.environment()
    start = time.perf_counter()
    throughput = _bench.measure_throughput(sizes, rounds=rounds, min_ops=min_ops)
    memory = None if args.no_memory else _bench.measure_memory(max(sizes))
    snapshots = None
    if not args.no_snapshot:
        from . import _bench_snapshot

        n = max(sizes) if args.keys else (_bench_snapshot.QUICK_ENTRIES if args.quick else _bench_snapshot.DEFAULT_ENTRIES)
        logger.info("bench: snapshots of %d entries", n)
        snapshots = _bench_snapshot.measure_snapshot(n, rounds=min(rounds, 3), directory=args.dir)
    logger.info("bench: done in %.1f s", time.perf_counter() - start)

    out = [
        f"godistcache {env['godistcache']} bench, core: {env['core']}",
        f"python: {env['python']}, PYTHONHASHSEED={env['PYTHONHASHSEED']}",
        f"machine: {env['machine']}",
        f'best of {rounds} round(s); str keys "key:<i>", values ("One", i, 3.3)',
        "",
        *_bench.format_throughput(throughput),
    ]
    if memory is not None:
        out += ["", *_bench.format_memory(memory)]
    if snapshots is not None:
        from . import _bench_snapshot

        out += ["", *_bench_snapshot.format_snapshot(snapshots)]
    print("\n".join(out))
    sys.stdout.flush()
    return 0

# --------------------------------------------------------------------------- snapshot files

#: Files at least this large get a progress bar (on a terminal, without -q).
PROGRESS_MIN_BYTES = 8 * 1024 * 1024
#: ...and only once they have taken this many seconds: no bar flashes past.
PROGRESS_DELAY = 0.5


class _Failed(Exception):
    """A command's own failure: the message for stderr and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _snapshot_command(args: argparse.Namespace, body: Callable[[argparse.Namespace], int], prefix: str = "error") -> int:
    """Run body(args), turning the errors a snapshot command expects into a one-line message and a status.

    1: the file was read and is damaged, forged, or can't be opened with the keys given
    (or with none). 2: the command could not start: the file can't be opened, a key
    variable is malformed, the output can't be written.
    """
    from .errors import ConfigurationError, DecryptionError, SnapshotError

    try:
        return body(args)
    except _Failed as exc:
        logger.error("%s: %s", prefix, exc)
        return exc.status
    except (SnapshotError, DecryptionError) as exc:  # SnapshotAuthenticationError is both
        logger.error("%s: %s", prefix, exc)
        return 1
    except ConfigurationError as exc:
        logger.error("error: %s", exc)
        return 2
    except BrokenPipeError:
        raise  # main() ends quietly when the reader goes away (| head)
    except OSError as exc:
        if exc.filename is not None and exc.strerror:
            logger.error("error: %s: %s", exc.filename, exc.strerror)
        else:
            logger.error("error: %s", exc)
        return 2


def _stat_header(path: str) -> tuple[Header, int]:
    """The header of the snapshot at path, and the file's size."""
    from . import snapshot

    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        return snapshot.read_header(f, path, size), size


def _keyring_from_env(var: str) -> Optional[Keyring]:
    """The keyring in environment variable var (keys separated by commas, oldest first), or None if unset or empty.

    Keys are read from the environment only, never from the command line,
    where they would land in the shell's history and in ``ps``.
    """
    from .crypto import Keyring

    value = os.environ.get(var, "")
    return Keyring._from_variable(var, value) if value else None


def _key_id(header: Header) -> str:
    """The key id a file is sealed with, in hex ("" when not sealed)."""
    return header.key_id.hex() if header.key_id is not None else ""


def _no_key(var: str) -> str:
    return f"{var} is set but empty" if var in os.environ else f"{var} is not set"


def _required_keyring(args: argparse.Namespace, header: Header, path: str) -> Optional[Keyring]:
    """The keyring a sealed file needs (None for a file that is not sealed); _Failed without one."""
    if not header.sealed:
        return None
    keyring = _keyring_from_env(args.key_env)
    if keyring is None:
        raise _Failed(
            f"{path}: the snapshot is sealed with key id {_key_id(header)}: set {args.key_env} to that key "
            f"({_no_key(args.key_env)}; --key-env VAR names another variable)"
        )
    if _key_id(header) not in keyring.key_ids:
        raise _Failed(
            f"{path}: the snapshot is sealed with key id {_key_id(header)}, which is not among the keys in "
            f"{args.key_env} (key ids {', '.join(keyring.key_ids)})"
        )
    return keyring


def _progress_bar(args: argparse.Namespace, size: int, label: str) -> ProgressBar:
    from ._progress import ProgressBar

    quiet = bool(getattr(args, "quiet", False))
    enabled = False if quiet or size < PROGRESS_MIN_BYTES else None  # None: only on a terminal
    return ProgressBar(size, label, enabled=enabled, delay=PROGRESS_DELAY)


def _inspect(args: argparse.Namespace) -> int:
    from . import snapshot

    path: str = args.file
    header, size = _stat_header(path)
    keyring = None
    unread: Optional[str] = None  # why only the header was read
    if header.sealed:
        keyring = _keyring_from_env(args.key_env)
        kid = _key_id(header)
        if keyring is None:
            unread = f"sealed, and {_no_key(args.key_env)}"
        elif kid not in keyring.key_ids:
            unread = f"sealed with key id {kid}, which is not among {args.key_env}'s ({', '.join(keyring.key_ids)})"
            keyring = None
    with _progress_bar(args, size, "inspect") as bar:
        info = snapshot.inspect(path, keyring, progress=bar)

    read_all = unread is None
    doc: dict[str, Any] = {
        "path": path,
        "format_version": header.version,
        "created": header.created.isoformat(),
        "created_ns": header.created_ns,
        "instance_id": header.instance_id,
        "sealed": header.sealed,
        "key_id": _key_id(header) if header.sealed else None,
        "entry_count": header.entry_count,
        "file_size": info.file_size,
        "frames": info.frames if read_all else None,
        "payload_bytes": info.payload_bytes if read_all else None,
        "live": info.live if read_all else None,
        "expired": info.expired if read_all else None,
        "pickled": info.pickled if read_all else None,
        "checked": "all" if read_all else "header",
        "authenticated": info.authenticated,
        "note": None if read_all else f"only the header could be read: {unread}",
    }
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0

    def count(n: Optional[int]) -> str:
        return "unknown" if n is None else f"{n:,}"

    if header.sealed:
        checked = "every frame authenticated" if read_all else "header only (checksum ok)"
    else:
        checked = "every frame checksummed"
    rows = [
        ("file", path),
        ("format version", str(header.version)),
        ("created", doc["created"]),
        ("instance id", header.instance_id or "(none)"),
        ("sealed", f"yes, key id {doc['key_id']}" if header.sealed else "no"),
        ("entries", f"{header.entry_count:,}"),
        ("file size", f"{info.file_size:,} bytes"),
        ("frames", count(doc["frames"])),
        ("payload bytes", count(doc["payload_bytes"])),
        ("live now", count(doc["live"])),
        ("expired now", count(doc["expired"])),
        ("pickled values", count(doc["pickled"])),
        ("checked", checked),
    ]
    if doc["note"] is not None:
        rows.append(("note", doc["note"]))
    width = max(len(name) for name, _ in rows) + 1
    print("\n".join(f"{name + ':':<{width}} {value}" for name, value in rows))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    return _snapshot_command(args, _inspect)


def _verify(args: argparse.Namespace) -> int:
    from . import snapshot

    path: str = args.file
    header, size = _stat_header(path)
    keyring = _required_keyring(args, header, path)
    with _progress_bar(args, size, "verify") as bar:
        info = snapshot.verify(path, keyring, progress=bar)
    how = f"sealed with key id {_key_id(header)}" if header.sealed else "checksummed"
    print(f"OK: {_plural(info.entries, 'entry', 'entries')} in {_plural(info.frames, 'frame', 'frames')}, {how}")
    return 0


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _cmd_verify(args: argparse.Namespace) -> int:
    return _snapshot_command(args, _verify, prefix="FAILED")


@contextlib.contextmanager
def _utf8_stdout() -> Iterator[IO[str]]:
    """sys.stdout, as a stream that writes UTF-8 whatever the locale (JSON is UTF-8)."""
    stream = sys.stdout
    try:
        utf8 = codecs.lookup(stream.encoding or "").name == "utf-8"
    except (LookupError, AttributeError):
        utf8 = False
    buffer = getattr(stream, "buffer", None)
    if utf8 or buffer is None:
        yield stream
        stream.flush()
        return
    stream.flush()
    # A StreamWriter has no buffer of its own and never closes stdout's.
    yield cast(IO[str], codecs.getwriter("utf-8")(buffer))
    buffer.flush()


def _export_to_file(path: str, output: str, keyring: Optional[Keyring], bar: ProgressBar) -> int:
    """export_json into output, through a temporary file renamed over it: never a half-written output."""
    from . import snapshot

    with atomic_write(output, "w", encoding="utf-8", newline="\n") as f:
        return snapshot.export_json(path, f, keyring, progress=bar)


def _export(args: argparse.Namespace) -> int:
    from . import snapshot

    path: str = args.file
    header, size = _stat_header(path)
    keyring = _required_keyring(args, header, path)
    with _progress_bar(args, size, "export") as bar:
        if args.output in (None, "-"):
            with _utf8_stdout() as out:
                n = snapshot.export_json(path, out, keyring, progress=bar)
            where = "stdout"
        else:
            n = _export_to_file(path, args.output, keyring, bar)
            where = args.output
    logger.info("export: %s to %s", _plural(n, "entry", "entries"), where)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    return _snapshot_command(args, _export)


# --------------------------------------------------------------------------- s3

S3_EXITS = (
    "Exit status: 0 ok; 1 the store failed or refused (wrong credentials, no such bucket or object, "
    "unreachable endpoint), or FILE is not a snapshot; 2 usage errors, an S3 variable unset or malformed, "
    "a local file that can't be opened or written."
)
S3_ENV_HELP = (
    "The store comes from the environment: GODISTCACHE_S3_ENDPOINT (host:port or http(s)://host:port), "
    "GODISTCACHE_S3_BUCKET, GODISTCACHE_S3_ACCESS_KEY and GODISTCACHE_S3_SECRET_KEY (required), "
    "GODISTCACHE_S3_OBJECT (default cache), GODISTCACHE_S3_SSL (true/false; default from the endpoint, "
    "else true), GODISTCACHE_INSTANCE_ID (default the host name), GODISTCACHE_S3_CONNECT_TIMEOUT and "
    "GODISTCACHE_S3_READ_TIMEOUT (seconds; default 2 and 3: an endpoint that is down or silent fails within "
    "10 s) and GODISTCACHE_S3_RETRIES (default 1). Credentials are never taken on the command line."
)


def _s3_command(args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """As _snapshot_command, and a SyncError (the store failed or refused) is status 1."""
    from .errors import SyncError

    def run(ns: argparse.Namespace) -> int:
        try:
            return body(ns)
        except SyncError as exc:
            raise _Failed(str(exc), 1) from exc

    return _snapshot_command(args, run)


def _transfer_bar(args: argparse.Namespace, label: str) -> ProgressBar:
    """A progress bar for a transfer: on a terminal only, not with -q, and not for one over in half a second."""
    from ._progress import ProgressBar

    enabled = False if getattr(args, "quiet", False) else None
    return ProgressBar(0, label, enabled=enabled, delay=PROGRESS_DELAY)


def _s3_store() -> Any:
    from .s3 import S3Store

    return S3Store.from_env()


def _s3_ls(args: argparse.Namespace) -> int:
    store = _s3_store()
    backups = store.backups(args.instance)
    if not backups:
        who = f" of instance {args.instance}" if args.instance else ""
        logger.info("no backups%s under %s/%s_*%s", who, store.bucket, store.object_name, ".godistcache")
        return 0
    rows = [(b.object_name, b.instance_id, b.date.isoformat(), f"{b.size:,}") for b in backups]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for name, instance, day, size in rows:
        print(f"{name:<{widths[0]}}  {instance:<{widths[1]}}  {day:<{widths[2]}}  {size:>{widths[3]}}")
    return 0


def _cmd_s3_ls(args: argparse.Namespace) -> int:
    return _s3_command(args, _s3_ls)


def _s3_pull(args: argparse.Namespace) -> int:
    store = _s3_store()
    name = args.object or store.master_name
    with _transfer_bar(args, "pull") as bar:
        size = store.download(name, args.file, progress=bar)
    print(f"pulled {store.bucket}/{name} to {args.file} ({_plural(size, 'byte', 'bytes')})")
    return 0


def _cmd_s3_pull(args: argparse.Namespace) -> int:
    return _s3_command(args, _s3_pull)


def _s3_push(args: argparse.Namespace) -> int:
    path: str = args.file
    _stat_header(path)  # only snapshot files go up: SnapshotError (1) or OSError (2) otherwise
    store = _s3_store()
    with _transfer_bar(args, "push") as bar:
        name = store.upload(path, progress=bar)
    size = bar.total
    print(f"pushed {path} to {store.bucket}/{name} ({_plural(size, 'byte', 'bytes')}); {store.bucket}/{store.master_name} refreshed")
    return 0


def _cmd_s3_push(args: argparse.Namespace) -> int:
    return _s3_command(args, _s3_push)


def _build_parser() -> argparse.ArgumentParser:
    # Options every subcommand takes, so they can follow the subcommand's name.
    common = argparse.ArgumentParser(add_help=False)
    noise = common.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    noise.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")

    parser = argparse.ArgumentParser(prog="godistcache", description="A dict-fast local cache with expiry.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    bench = sub.add_parser(
        "bench",
        parents=[common],
        help="measure throughput, memory and snapshots against a plain dict and pickle",
        description=(
            "Time GET, PUT and PUT_SAFE on godistcache.Cache beside a plain dict doing the same work "
            "in the same rounds, measure the memory each entry costs, then time snapshot save and load "
            "beside pickle of the same entries. Only the ratios are "
            "stable on a busy machine. Progress goes to stderr, the report to stdout."
        ),
    )
    bench.add_argument(
        "--keys",
        type=_key_counts,
        metavar="N[,N...]",
        help="numbers of keys to measure at (default 10000,1000000; with --quick 1000,10000)",
    )
    bench.add_argument(
        "--rounds", type=_positive_int, metavar="N", help="timed rounds; the best counts (default 5; with --quick 1)"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and one round: a smoke test")
    bench.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    bench.add_argument("--no-snapshot", action="store_true", help="skip the snapshot save/load measurement")
    bench.add_argument(
        "--dir", metavar="DIR", help="directory for the snapshot files (default: the system's temporary directory)"
    )
    bench.set_defaults(func=_cmd_bench)

    # Keys come from the environment only: key material on the command line lands in the
    # shell's history and in ps.
    keys = argparse.ArgumentParser(add_help=False)
    keys.add_argument(
        "--key-env",
        metavar="VAR",
        default="GODISTCACHE_AES_CIPHER_KEY",
        help=(
            "environment variable holding the key of a sealed file, or several separated by commas "
            "(default GODISTCACHE_AES_CIPHER_KEY); keys are never taken on the command line"
        ),
    )
    exits = "Exit status: 0 ok; 1 the file is damaged, forged, or sealed with a key not given; 2 usage errors, a file that can't be opened, a malformed key variable."

    inspect = sub.add_parser(
        "inspect",
        parents=[common, keys],
        allow_abbrev=False,  # --key must not pass for --key-env
        help="describe a snapshot file without loading it",
        description=(
            "Print a snapshot's header (format version, creation time, instance id, whether it is sealed "
            "and with which key id, entry count) and what reading it found: file size, frames, payload "
            "bytes, entries live and expired now, pickled values (counted, never unpickled). Every frame "
            "is checked. A sealed file is read in full only with its key; without it only the header is."
        ),
        epilog=exits,
    )
    inspect.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")
    inspect.add_argument("--json", action="store_true", help="print a JSON object instead of aligned lines")
    inspect.set_defaults(func=_cmd_inspect)

    verify = sub.add_parser(
        "verify",
        parents=[common, keys],
        allow_abbrev=False,  # --key must not pass for --key-env
        help="check a snapshot file's integrity and, if sealed, its authenticity",
        description=(
            "Read every frame of a snapshot: checksums of a plain file, AES-GCM tags of a sealed one "
            "(which needs its key), entry totals, and that every entry decodes. Prints one OK line."
        ),
        epilog=exits,
    )
    verify.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")
    verify.set_defaults(func=_cmd_verify)

    export = sub.add_parser(
        "export",
        parents=[common, keys],
        allow_abbrev=False,  # --key must not pass for --key-env
        help="write a snapshot file's live entries as JSON",
        description=(
            "Write the live entries of a snapshot as one JSON document (UTF-8): types JSON lacks become "
            'one-key objects such as {"$bytes": base64}; pickled objects become {"$pickle": null} and are '
            "never unpickled. A sealed file needs its key. To stdout, the document is streamed and is cut "
            "short if the file turns out damaged; with -o it is written to a temporary file and renamed, "
            "so OUT is whole or untouched."
        ),
        epilog=exits,
    )
    export.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")
    export.add_argument(
        "--json", action="store_true", required=True, help="write JSON (required: the only format for now)"
    )
    export.add_argument("-o", "--output", metavar="OUT", help="write to OUT (mode 0600) instead of stdout")
    export.set_defaults(func=_cmd_export)

    s3 = sub.add_parser(
        "s3",
        help="list, download and upload snapshots in an S3 bucket",
        description="Snapshots in an S3-compatible object store. " + S3_ENV_HELP,
        epilog=S3_EXITS,
    )
    s3_sub = s3.add_subparsers(dest="s3_command", metavar="ACTION", required=True)

    def s3_action(name: str, func: Callable[[argparse.Namespace], int], summary: str, details: str) -> argparse.ArgumentParser:
        action = s3_sub.add_parser(
            name, parents=[common], help=summary, description=f"{details} {S3_ENV_HELP}", epilog=S3_EXITS
        )
        action.set_defaults(func=func)
        return action

    s3_ls = s3_action(
        "ls",
        _cmd_s3_ls,
        "list the dated backups in the bucket",
        "Print one line per dated backup (<object>_<instance>_<YYYY-MM-DD>.godistcache): object name, "
        "instance, date, size in bytes.",
    )
    s3_ls.add_argument("--instance", metavar="ID", help="only the backups of instance ID")
    s3_pull = s3_action(
        "pull",
        _cmd_s3_pull,
        "download a snapshot (the master by default) to a file",
        "Download an object, by default the master <object>.godistcache, to FILE through a temporary "
        "file renamed over it: FILE is whole or untouched.",
    )
    s3_pull.add_argument("--object", metavar="NAME", help="the object to download (default: the master)")
    s3_pull.add_argument("file", metavar="FILE", help="where to write it")
    s3_push = s3_action(
        "push",
        _cmd_s3_push,
        "upload a snapshot file as this instance's backup of today and make it the master",
        "Upload the snapshot FILE to <object>_<instance>_<YYYY-MM-DD>.godistcache (today, UTC), then "
        "refresh <object>.godistcache from it by a server-side copy.",
    )
    s3_push.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``godistcache`` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    # Only this package's loggers, and only for this call: main() may run inside another program.
    pkg_logger = logging.getLogger("godistcache")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level = pkg_logger.level
    pkg_logger.addHandler(handler)
    pkg_logger.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    try:
        status: int = args.func(args)
        return status
    except KeyboardInterrupt:
        logger.warning("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): exit quietly, as other command-line tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            pass
        return 1
    finally:
        pkg_logger.removeHandler(handler)
        pkg_logger.setLevel(old_level)


if __name__ == "__main__":
    sys.exit(main())
