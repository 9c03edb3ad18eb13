"""The psqlpy side of the PostgreSQL workloads."""

from __future__ import annotations

import importlib
from contextlib import AsyncExitStack
from time import perf_counter_ns
from typing import Any


class PsqlpyClient:
    """psqlpy returns a QueryResult; rows become Python objects only in `.result()`.

    Rows are taken as tuples (`as_tuple=True`), its fastest form and the closest to a Record.
    """

    name = "psqlpy"
    package = "psqlpy"
    unsupported: dict[str, str] = {
        # Seen with psqlpy 0.13.1: from 100,000 records on, its event-loop thread blocks on
        # a channel lock held by a runtime thread that waits for the event loop, forever.
        "copy_in": "psqlpy's copy_records_to_table deadlocks from 100,000 records on",
        "copy_out": "psqlpy has no COPY TO",
    }

    def __init__(self) -> None:
        self.lib: Any = None

    def load(self) -> None:
        self.lib = importlib.import_module(self.package)

    def placeholders(self, sql: str) -> str:
        return sql

    async def connect(self, dsn: str) -> Any:
        return await self.lib.connect(dsn)

    async def close(self, conn: Any) -> None:
        conn.close()

    async def create_pool(self, dsn: str, size: int) -> Any:
        pool = self.lib.ConnectionPool(dsn=dsn, max_db_pool_size=size)
        # psqlpy connects on demand; hold `size` connections at once so all exist before timing.
        async with AsyncExitStack() as held:
            for _ in range(size):
                conn = await held.enter_async_context(pool.acquire())
                await conn.fetch_val("SELECT 1")
        return pool

    async def close_pool(self, pool: Any) -> None:
        pool.close()

    async def run_script(self, conn: Any, sql: str) -> None:
        await conn.execute_batch(sql)

    async def select_loop(self, conn: Any, sql: str, n: int, latencies: list[int]) -> None:
        fetch_val = conn.fetch_val
        for i in range(n):
            started = perf_counter_ns()
            await fetch_val(sql)
            latencies[i] = perf_counter_ns() - started

    async def fetch_all(self, conn: Any, sql: str, arg: Any) -> list[Any]:
        result = await conn.fetch(sql, [arg])
        return result.result(as_tuple=True)

    async def execute(self, conn: Any, sql: str, args: tuple[Any, ...]) -> None:
        await conn.execute(sql, list(args))

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await conn.execute_many(sql, rows)

    async def pool_loop(self, pool: Any, sql: str, arg: Any, n: int) -> None:
        for _ in range(n):
            async with pool.acquire() as conn:
                await conn.fetch_val(sql, [arg])

    async def pool_fetchval(self, pool: Any, sql: str, arg: Any) -> Any:
        async with pool.acquire() as conn:
            return await conn.fetch_val(sql, [arg])

    async def pool_execute(self, pool: Any, sql: str, args: tuple[Any, ...]) -> None:
        async with pool.acquire() as conn:
            await conn.execute(sql, list(args))
