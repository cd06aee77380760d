"""What the file and store commands share: failures as exit statuses, snapshot headers, progress bars."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

from .._files import open_regular
from .._progress import ProgressBar
from .._snapshot_file import Header, read_header
from ..errors import ConfigurationError, DecryptionError, SnapshotError

logger = logging.getLogger(__name__)

#: Files at least this large get a progress bar (on a terminal, without -q).
PROGRESS_MIN_BYTES = 8 * 1024 * 1024
#: ...and only once they have taken this many seconds: no bar flashes past.
PROGRESS_DELAY = 0.5


class Failed(Exception):
    """A command's own failure: the message for stderr and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def run_command(args: argparse.Namespace, body: Callable[[argparse.Namespace], int], prefix: str = "error") -> int:
    """Run body(args), turning the errors a file command expects into a one-line message and a status.

    Args:
        args: The parsed command line.
        body: The command itself.
        prefix: What the message of a failure (status 1) starts with.

    Returns:
        body's status; 1 when the file was read and is damaged, forged, or can't be opened with the keys
        given (or with none); 2 when the command could not start: the file can't be opened, a key variable
        is malformed, the output can't be written.
    """
    try:
        return body(args)
    except Failed as exc:
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


def stat_header(path: str) -> tuple[Header, int]:
    """The header of the snapshot at path, and the file's size."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        return read_header(f, path, size), size


def plural(n: int, one: str, many: str) -> str:
    """n with thousands separators and the noun that agrees with it: ``1 entry``, ``1,000 entries``."""
    return f"{n:,} {one if n == 1 else many}"


def progress_bar(args: argparse.Namespace, size: int, label: str) -> ProgressBar:
    """A progress bar for reading a file of size bytes: on a terminal only, not with -q, not for a small file."""
    quiet = bool(getattr(args, "quiet", False))
    enabled = False if quiet or size < PROGRESS_MIN_BYTES else None  # None: only on a terminal
    return ProgressBar(size, label, enabled=enabled, delay=PROGRESS_DELAY)


def transfer_bar(args: argparse.Namespace, label: str) -> ProgressBar:
    """A progress bar for a transfer: on a terminal only, not with -q, and not for one over in half a second."""
    enabled = False if getattr(args, "quiet", False) else None
    return ProgressBar(0, label, enabled=enabled, delay=PROGRESS_DELAY)
