"""Rows as Python classes: ferrule's `as_class=` and `record_class=` against plain Records,
and against what peers offer (asyncpg Records turned into dataclasses, psqlpy `as_class`).

Usage: .venv/bin/python bench/pg_rowclass.py [--rows N] [--rounds R]

Each variant fetches the same N rows x 4 columns; variants run interleaved, R rounds; the
table shows the median time per fetch and per row.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ferrule  # noqa: E402
from tests.common.pg_cluster import get_cluster  # noqa: E402

SQL = "SELECT g AS id, 'name ' || g AS name, g * 0.5 AS score, g % 2 = 0 AS even "
SQL += "FROM generate_series(1, $1::int) g"


@dataclasses.dataclass(slots=True)
class Item:
    id: int
    name: str
    score: Any
    even: bool


@dataclasses.dataclass(slots=True)
class ByName:
    """Fields in another order than the columns: built with keyword arguments."""

    even: bool
    score: Any
    name: str
    id: int


class SlotRecord(ferrule.Record):
    __slots__ = ()


async def main(rows: int, rounds: int) -> None:
    import asyncpg
    import psqlpy

    dsn = get_cluster().dsn()
    fc = await ferrule.connect(dsn)
    ac = await asyncpg.connect(dsn)
    pc = await psqlpy.connect(dsn)
    psql_sql = SQL.replace("$1::int", "$1")

    async def pq_as_class() -> list[Any]:
        result = await pc.fetch(psql_sql, [rows])
        return list(result.as_class(as_class=Item))

    async def ap_dataclass() -> list[Any]:
        return [Item(*r) for r in await ac.fetch(SQL, rows)]

    variants: dict[str, Callable[[], Awaitable[list[Any]]]] = {
        "ferrule Records": lambda: fc.fetch(SQL, rows),
        "ferrule as_class=Item": lambda: fc.fetch(SQL, rows, as_class=Item),
        "ferrule as_class=Item (keywords)": lambda: fc.fetch(SQL, rows, as_class=ByName),
        "ferrule record_class=": lambda: fc.fetch(SQL, rows, record_class=SlotRecord),
        "ferrule Records -> Item(*r)": lambda: _to_items(fc.fetch(SQL, rows)),
        "asyncpg Records": lambda: ac.fetch(SQL, rows),
        "asyncpg Records -> Item(*r)": ap_dataclass,
        "psqlpy as_class": pq_as_class,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fetch in variants.values():
        await fetch()  # warm up: statement caches, type lookups
    for _ in range(rounds):
        for name, fetch in variants.items():
            started = time.perf_counter()
            got = await fetch()
            times[name].append(time.perf_counter() - started)
            assert len(got) == rows, name
            del got
    base = statistics.median(times["ferrule Records"])
    print(f"{rows} rows x 4 columns, median of {rounds} interleaved rounds")
    print(f"{'variant':32} {'ms/fetch':>9} {'ns/row':>8} {'vs Records':>11}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:32} {m * 1e3:9.1f} {m / rows * 1e9:8.0f} {m / base:10.2f}x")
    await fc.close()
    await ac.close()
    pc.close()


async def _to_items(fut: Awaitable[list[Any]]) -> list[Item]:
    return [Item(*r) for r in await fut]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.rounds))
