"""The asyncpg side of the PostgreSQL workloads (and the shape ferrule's adapter shares)."""

from __future__ import annotations

import importlib
from time import perf_counter_ns
from typing import Any


class AsyncpgClient:
    """Each method is what an asyncpg user would write for that step, nothing more."""

    name = "asyncpg"
    package = "asyncpg"
    # Workloads the library cannot run, with the reason reported instead of a number.
    unsupported: dict[str, str] = {}

    def __init__(self) -> None:
        self.lib: Any = None

    def load(self) -> None:
        self.lib = importlib.import_module(self.package)

    def placeholders(self, sql: str) -> str:
        return sql

    async def connect(self, dsn: str) -> Any:
        return await self.lib.connect(dsn)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def create_pool(self, dsn: str, size: int) -> Any:
        return await self.lib.create_pool(dsn, min_size=size, max_size=size)

    async def close_pool(self, pool: Any) -> None:
        await pool.close()

    async def run_script(self, conn: Any, sql: str) -> None:
        await conn.execute(sql)

    async def select_loop(self, conn: Any, sql: str, n: int, latencies: list[int]) -> None:
        fetchval = conn.fetchval
        for i in range(n):
            started = perf_counter_ns()
            await fetchval(sql)
            latencies[i] = perf_counter_ns() - started

    async def fetch_all(self, conn: Any, sql: str, arg: Any) -> list[Any]:
        return await conn.fetch(sql, arg)

    async def execute(self, conn: Any, sql: str, args: tuple[Any, ...]) -> None:
        await conn.execute(sql, *args)

    async def executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await conn.executemany(sql, rows)

    async def copy_in(
        self,
        conn: Any,
        table: str,
        columns: tuple[str, ...],
        types: tuple[str, ...],
        records: list[tuple[Any, ...]],
    ) -> int:
        """Binary COPY from the records (the column types come from the table)."""
        status = await conn.copy_records_to_table(table, records=records, columns=columns)
        return int(status.split()[-1])

    async def copy_out(self, conn: Any, table: str, chunks: list[bytes]) -> int:
        """Binary COPY into `chunks` through an async callable, the in-memory sink."""

        async def sink(data: bytes) -> None:
            chunks.append(data)

        status = await conn.copy_from_table(table, output=sink, format="binary")
        return int(status.split()[-1])

    async def pool_loop(self, pool: Any, sql: str, arg: Any, n: int) -> None:
        for _ in range(n):
            await pool.fetchval(sql, arg)

    async def pool_fetchval(self, pool: Any, sql: str, arg: Any) -> Any:
        return await pool.fetchval(sql, arg)

    async def pool_execute(self, pool: Any, sql: str, args: tuple[Any, ...]) -> None:
        await pool.execute(sql, *args)
