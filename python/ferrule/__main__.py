"""``python -m ferrule demo [--dsn URL]``: the showcase."""

from __future__ import annotations

import argparse
import asyncio
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ferrule")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the showcase")
    demo.add_argument("--dsn", help="database URL (default: a throwaway local database)")
    demo.add_argument("--requests", type=int, default=500, help="requests in the web simulation")
    args = parser.parse_args(argv)
    from ferrule import _demo

    return asyncio.run(_demo.main(args.dsn, args.requests))


if __name__ == "__main__":
    sys.exit(main())
