"""Memory per entry of dict, Cache() and Cache() with a TTL, each in a fresh process.

Run it as a script::

    PYTHONHASHSEED=0 python benchmarks/memory.py            # 1M entries
    python benchmarks/memory.py --keys 100000

or import :func:`measure` for the numbers. Each container is filled in a
fresh interpreter that first builds the keys and values, reads its RSS,
fills the container and reads the RSS again: (after - before) / N is what
the container costs per entry. The implementation lives in
``godistcache._bench`` (``godistcache bench`` prints the same table); this
file is its command-line face for the benchmarks folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from godistcache._bench import MEMORY_CONTAINERS, MemoryUse, format_memory, measure_memory

__all__ = ["MemoryUse", "main", "measure"]


def measure(n: int = 1_000_000) -> list[MemoryUse]:
    """RSS growth per entry of each container at n entries (see ``godistcache._bench.measure_memory``)."""
    return measure_memory(n, tuple(MEMORY_CONTAINERS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Memory per entry of dict, Cache() and Cache() with a TTL.")
    parser.add_argument(
        "--keys", type=int, default=1_000_000, metavar="N", help="entries per container (default 1000000)"
    )
    args = parser.parse_args(argv)
    if args.keys < 1:
        parser.error(f"--keys must be >= 1, got {args.keys}")
    print("\n".join(format_memory(measure(args.keys))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
