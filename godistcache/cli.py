"""The ``godistcache`` console command.

Each subcommand is a ``_cmd_<name>(args) -> int`` function registered in
:func:`_build_parser`. Results go to stdout; progress and diagnostics go to
stderr through :mod:`logging` (``-q`` silences progress, ``-v`` adds detail).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence

from . import __version__

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
    print("\n".join(out))
    sys.stdout.flush()
    return 0


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
        help="measure throughput and memory against a plain dict",
        description=(
            "Time GET, PUT and PUT_SAFE on godistcache.Cache beside a plain dict doing the same work "
            "in the same rounds, then measure the memory each entry costs. Only the ratios are "
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
    bench.set_defaults(func=_cmd_bench)
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
