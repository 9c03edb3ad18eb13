"""The showcase run by ``make demo``: a few queries, then concurrency against sequential
execution, with a table of timings. Works on any backend ferrule supports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import ferrule


def _bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stdout.write(f"\r  {label:<34} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stdout.write("\n")
    sys.stdout.flush()


@contextlib.asynccontextmanager
async def _default_database() -> AsyncIterator[str]:
    """A throwaway PostgreSQL from the repository's test harness."""
    root = os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from tests.common.pg_cluster import get_cluster
    except ImportError as e:
        raise SystemExit(
            "no --dsn given and no local database to start: run from the repository root "
            f"or pass --dsn ({e})"
        ) from None
    print("  starting a throwaway PostgreSQL server ...")
    cluster = await asyncio.to_thread(get_cluster)
    yield cluster.dsn(sslmode="disable")


async def _timed(label: str, n: int, run: Callable[[Callable[[], None]], Awaitable[None]]) -> float:
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % max(n // 30, 1) == 0 or done == n:
            _bar(done, n, label)

    start = time.perf_counter()
    await run(tick)
    return time.perf_counter() - start


async def _showcase(dsn: str, requests: int) -> None:
    conn = await ferrule.connect(dsn)
    try:
        print(f"\n  connected: {conn!r}")
        row = await conn.fetchrow("SELECT 42 AS answer, 'ferrule' AS name")
        assert row is not None
        print(f"  fetchrow  -> {row!r}   row['answer'] = {row['answer']}")
        print(f"  fetchval  -> {await conn.fetchval('SELECT $1::int * 2', 21)}")
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE demo_items (id int PRIMARY KEY, name text)")
            await conn.executemany(
                "INSERT INTO demo_items VALUES ($1, $2)", [(i, f"item {i}") for i in range(1000)]
            )
            count = await conn.fetchval("SELECT count(*) FROM demo_items")
        print(f"  executemany 1,000 rows in a transaction -> count = {count}")
        try:
            await conn.execute("INSERT INTO demo_items VALUES ($1, $2)", 1, "again")
        except ferrule.UniqueViolationError as e:
            print(f"  duplicate key -> {type(e).__name__} (code {e.code})")
        try:
            await conn.fetchval("SELECT pg_sleep(5)", timeout=0.2)
        except ferrule.TimeoutError:
            print("  timeout=0.2 on a 5 s query -> TimeoutError, cancelled on the server")
        print(f"  and the connection still works -> {await conn.fetchval('SELECT 1')}\n")

        async def sequential(tick: Callable[[], None]) -> None:
            for i in range(requests):
                await conn.fetchval("SELECT name FROM demo_items WHERE id = $1", i % 1000)
                tick()

        async def concurrent(tick: Callable[[], None]) -> None:
            async def one(i: int) -> None:
                await conn.fetchval("SELECT name FROM demo_items WHERE id = $1", i % 1000)
                tick()

            await asyncio.gather(*(one(i) for i in range(requests)))

        async def slow_sequential(tick: Callable[[], None]) -> None:
            for _ in range(10):
                await conn.execute("SELECT pg_sleep(0.05)")
                tick()

        async def slow_concurrent(tick: Callable[[], None]) -> None:
            conns = [await ferrule.connect(dsn) for _ in range(10)]
            try:

                async def one(c: Any) -> None:
                    await c.execute("SELECT pg_sleep(0.05)")
                    tick()

                await asyncio.gather(*(one(c) for c in conns))
            finally:
                for c in conns:
                    await c.close()

        results = [
            (f"{requests} point queries, one at a time", requests, sequential),
            (f"{requests} point queries, all at once", requests, concurrent),
            ("10 x 50 ms queries, one at a time", 10, slow_sequential),
            ("10 x 50 ms queries, 10 connections", 10, slow_concurrent),
        ]
        rows = [(label, n, await _timed(label, n, run)) for label, n, run in results]
        print("\n  " + f"{'workload':<38}{'total':>10}{'per call':>12}")
        for label, n, seconds in rows:
            print(f"  {label:<38}{seconds * 1e3:>8.1f}ms{seconds / n * 1e6:>10.1f}us")
        print()
    finally:
        await conn.close()


async def main(dsn: str | None, requests: int = 500) -> int:
    print(f"ferrule {ferrule.__version__} showcase")
    if dsn:
        await _showcase(dsn, requests)
    else:
        async with _default_database() as local:
            await _showcase(local, requests)
    return 0
