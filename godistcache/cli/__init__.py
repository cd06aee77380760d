"""The ``godistcache`` console command.

The argparse tree is in :mod:`._parser`; each command group has a module of
its own (:mod:`._bench_cmd`, :mod:`._snapshot_cmd`, :mod:`._s3_cmd`) whose
``cmd_<name>(args) -> int`` functions the parser registers. Results go to
stdout; progress and diagnostics go to stderr through :mod:`logging` (``-q``
silences progress, ``-v`` adds detail).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from ._parser import build_parser

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``godistcache`` command.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 ok, 1 the command failed, 2 usage errors, 130 interrupted.
    """
    args = build_parser().parse_args(argv)
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
