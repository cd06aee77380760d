"""The argparse tree of the ``godistcache`` command: every subcommand, its options and its help."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._version import __version__
from ._bench_cmd import cmd_bench
from ._s3_cmd import cmd_ls, cmd_pull, cmd_push
from ._snapshot_cmd import cmd_export, cmd_inspect, cmd_verify

FILE_EXITS = (
    "Exit status: 0 ok; 1 the file is damaged, forged, or sealed with a key not given; 2 usage errors, "
    "a file that can't be opened, a malformed key variable."
)
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


def positive_int(text: str) -> int:
    """An int >= 1; accepts 10_000, 10k and 1M.

    Raises:
        argparse.ArgumentTypeError: text is not such a number.
    """
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


def key_counts(text: str) -> list[int]:
    """A comma-separated list of key counts, e.g. ``10000,1000000`` or ``10k,1M``."""
    return [positive_int(part) for part in text.split(",") if part.strip()] or [positive_int(text)]


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
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
        type=key_counts,
        metavar="N[,N...]",
        help="numbers of keys to measure at (default 10000,1000000; with --quick 1000,10000)",
    )
    bench.add_argument(
        "--rounds", type=positive_int, metavar="N", help="timed rounds; the best counts (default 5; with --quick 1)"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and one round: a smoke test")
    bench.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    bench.add_argument("--no-snapshot", action="store_true", help="skip the snapshot save/load measurement")
    bench.add_argument(
        "--dir", metavar="DIR", help="directory for the snapshot files (default: the system's temporary directory)"
    )
    bench.set_defaults(func=cmd_bench)


def _add_file_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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

    def file_command(
        name: str, func: Callable[[argparse.Namespace], int], summary: str, details: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            parents=[common, keys],
            allow_abbrev=False,  # --key must not pass for --key-env
            help=summary,
            description=details,
            epilog=FILE_EXITS,
        )
        command.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")
        command.set_defaults(func=func)
        return command

    inspect = file_command(
        "inspect",
        cmd_inspect,
        "describe a snapshot file without loading it",
        "Print a snapshot's header (format version, creation time, instance id, whether it is sealed "
        "and with which key id, entry count) and what reading it found: file size, frames, payload "
        "bytes, entries live and expired now, pickled values (counted, never unpickled). Every frame "
        "is checked. A sealed file is read in full only with its key; without it only the header is.",
    )
    inspect.add_argument("--json", action="store_true", help="print a JSON object instead of aligned lines")
    file_command(
        "verify",
        cmd_verify,
        "check a snapshot file's integrity and, if sealed, its authenticity",
        "Read every frame of a snapshot: checksums of a plain file, AES-GCM tags of a sealed one "
        "(which needs its key), entry totals, and that every entry decodes. Prints one OK line.",
    )
    export = file_command(
        "export",
        cmd_export,
        "write a snapshot file's live entries as JSON",
        "Write the live entries of a snapshot as one JSON document (UTF-8): types JSON lacks become "
        'one-key objects such as {"$bytes": base64}; pickled objects become {"$pickle": null} and are '
        "never unpickled. A sealed file needs its key. To stdout, the document is streamed and is cut "
        "short if the file turns out damaged; with -o it is written to a temporary file and renamed, "
        "so OUT is whole or untouched.",
    )
    export.add_argument(
        "--json", action="store_true", required=True, help="write JSON (required: the only format for now)"
    )
    export.add_argument("-o", "--output", metavar="OUT", help="write to OUT (mode 0600) instead of stdout")


def _add_s3(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    s3 = sub.add_parser(
        "s3",
        help="list, download and upload snapshots in an S3 bucket",
        description="Snapshots in an S3-compatible object store. " + S3_ENV_HELP,
        epilog=S3_EXITS,
    )
    s3_sub = s3.add_subparsers(dest="s3_command", metavar="ACTION", required=True)

    def s3_action(
        name: str, func: Callable[[argparse.Namespace], int], summary: str, details: str
    ) -> argparse.ArgumentParser:
        action = s3_sub.add_parser(
            name, parents=[common], help=summary, description=f"{details} {S3_ENV_HELP}", epilog=S3_EXITS
        )
        action.set_defaults(func=func)
        return action

    s3_ls = s3_action(
        "ls",
        cmd_ls,
        "list the dated backups and each instance's segments in the bucket",
        "Print one line per dated backup (<object>_<instance>_<YYYY-MM-DD>.godistcache): object name, "
        "instance, date, size in bytes. Then, for each instance, its segments "
        "(<object>/<instance>/<seq>-base.godistcache and -delta.godistcache), one line each: seq, kind, "
        "size in bytes, when the store wrote it (UTC); and a line summing them up: the newest base, the "
        "deltas after it, the segments and bytes in all.",
    )
    s3_ls.add_argument("--instance", metavar="ID", help="only the backups and segments of instance ID")
    s3_ls.add_argument(
        "--json", action="store_true", help="print one JSON document: backups, segments and a summary per instance"
    )
    s3_pull = s3_action(
        "pull",
        cmd_pull,
        "download a snapshot (the master by default) to a file",
        "Download an object, by default the master <object>.godistcache, to FILE through a temporary "
        "file renamed over it: FILE is whole or untouched.",
    )
    s3_pull.add_argument("--object", metavar="NAME", help="the object to download (default: the master)")
    s3_pull.add_argument("file", metavar="FILE", help="where to write it")
    s3_push = s3_action(
        "push",
        cmd_push,
        "upload a snapshot file as this instance's backup of today and make it the master",
        "Upload the snapshot FILE to <object>_<instance>_<YYYY-MM-DD>.godistcache (today, UTC), then "
        "refresh <object>.godistcache from it by a server-side copy.",
    )
    s3_push.add_argument("file", metavar="FILE", help="the snapshot (.godistcache) file")


def build_parser() -> argparse.ArgumentParser:
    """The ``godistcache`` parser: each subcommand's ``func`` default is the function that runs it."""
    # Options every subcommand takes, so they can follow the subcommand's name.
    common = argparse.ArgumentParser(add_help=False)
    noise = common.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    noise.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")

    parser = argparse.ArgumentParser(prog="godistcache", description="A dict-fast local cache with expiry.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_bench(sub, common)
    _add_file_commands(sub, common)
    _add_s3(sub, common)
    return parser
